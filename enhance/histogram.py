"""Histogram equalization, global (``equalize_hist``) and contrast-limited adaptive (``clahe``).

Both follow OpenCV's integer-defined algorithms and are bit-exact with
``cv2.equalizeHist`` and ``cv2.createCLAHE`` on uint8 gray images.  uint16
uses 65536 bins; float images are equalized through 16-bit levels; colour
images are equalized on their luma Y (of YCrCb) with the chroma kept, i.e.
each channel moves by the change of Y.
"""
from __future__ import annotations

import numpy as np

from nnscratch.backend import get_array_module

from .image import TooSmallForSetting, check_image, check_number, is_colour, join_alpha, saturate, split_alpha
from ._tables import histogram, lookup


def _bins(dtype) -> int:
    return 256 if np.dtype(dtype) == np.uint8 else 65536


def _to_levels(channel):
    """Integer levels for histogramming: uint8/uint16 as they are, floats as 16-bit levels."""
    if channel.dtype.kind == "u":
        return channel
    xp = get_array_module(channel)
    return xp.rint(xp.clip(channel, 0, 1) * 65535).astype(np.uint16)


def _from_levels(levels, dtype):
    if np.dtype(dtype).kind == "u":
        return levels
    return (levels.astype(np.float64) / 65535).astype(dtype)


def opencv_luma(rgb):
    """Y of OpenCV's RGB -> YCrCb: fixed point ``(4899 R + 9617 G + 1868 B + 2^13) >> 14`` on uint8,
    ``0.299 R + 0.587 G + 0.114 B`` (rounded for uint16) otherwise."""
    if rgb.dtype == np.uint8:
        wide = rgb.astype(np.int32)
        return ((wide[..., 0] * 4899 + wide[..., 1] * 9617 + wide[..., 2] * 1868 + (1 << 13)) >> 14).astype(np.uint8)
    luma = rgb[..., 0].astype(np.float64) * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    return saturate(luma, rgb.dtype) if rgb.dtype.kind == "u" else luma.astype(rgb.dtype)


def _through_luma(colour, equalize_gray):
    """Equalize Y and add its change to every channel (keeps Cr and Cb, the chroma)."""
    luma = opencv_luma(colour)
    if luma.dtype.kind == "f":
        new_luma = _from_levels(equalize_gray(_to_levels(luma)), np.float64)
    else:
        new_luma = equalize_gray(luma)
    change = new_luma.astype(np.float64) - luma.astype(np.float64)
    return saturate(colour.astype(np.float64) + change[..., None], colour.dtype)


def _apply(image, name, equalize_gray):
    colour, alpha = split_alpha(image)
    squeeze = colour.ndim == 3 and colour.shape[2] == 1
    work = colour[..., 0] if squeeze else colour
    if is_colour(work):
        out = _through_luma(work, equalize_gray)
    else:
        out = _from_levels(equalize_gray(_to_levels(work)), work.dtype) if work.dtype.kind == "f" else equalize_gray(work)
    if squeeze:
        out = out[..., None]
    return join_alpha(out, alpha)


def _equalize_levels(levels):
    """``cv2.equalizeHist`` generalised to uint16: the first occupied level maps to 0."""
    bins = _bins(levels.dtype)
    counts = histogram(levels, bins)
    counts = counts.get() if hasattr(counts, "get") else counts   # 256 or 65536 numbers: the table is built on the host
    total = levels.size
    first = int(np.argmax(counts > 0))
    first_count = int(counts[first])
    if first_count == total:
        return levels.copy()
    scale = np.float32(bins - 1) / np.float32(total - first_count)
    cumulative = np.cumsum(counts) - first_count          # sum of the bins after the first occupied one
    table = saturate(cumulative.astype(np.float32) * scale, levels.dtype)
    table[:first] = 0
    return lookup(table, levels)


def equalize_hist(image):
    """Spread the levels so the cumulative histogram becomes a straight line.

    uint8 gray is bit-exact with ``cv2.equalizeHist`` (a constant image is
    returned unchanged); colour goes through luma, within one level of
    OpenCV's YCrCb pipeline.
    """
    check_image(image, "equalize_hist")
    return _apply(image, "equalize_hist", _equalize_levels)


def clahe(image, clip_limit: float = 2.0, tile_grid_size=(8, 8)):
    """Contrast-limited adaptive histogram equalization (``cv2.createCLAHE(clip_limit, tile_grid_size)``).

    The image is cut into ``tiles_x x tiles_y`` tiles (padded at the bottom
    and right by reflection when the size does not divide); each tile's
    histogram is clipped at ``clip_limit * area / bins``, the excess spread
    over all bins, and turned into a look-up table; each pixel blends the
    tables of its four nearest tiles bilinearly.  Bit-exact with OpenCV on
    uint8 and uint16 gray; ``clip_limit <= 0`` disables clipping.
    Textbook version: :func:`enhance.reference.clahe` (tile by tile, pixel by pixel; tested equal).
    """
    check_image(image, "clahe")
    clip_limit = check_number(clip_limit, "clip_limit", maximum=1e6)
    if isinstance(tile_grid_size, (int, np.integer)):
        tile_grid_size = (int(tile_grid_size), int(tile_grid_size))
    tiles_x, tiles_y = (int(t) for t in tile_grid_size)
    if tiles_x < 1 or tiles_y < 1:
        raise ValueError(f"tile_grid_size must be positive, got {tile_grid_size}")
    height, width = image.shape[:2]
    most_x, most_y = max(64, width // 8), max(64, height // 8)
    if tiles_x > most_x or tiles_y > most_y:
        raise TooSmallForSetting(f"tile_grid_size {tiles_x}x{tiles_y} is too fine for a {width}x{height} image: at most "
                         f"{most_x}x{most_y} (64 per side, or more where tiles keep at least 8 pixels)")
    return _apply(image, "clahe", lambda levels: _clahe_levels(levels, clip_limit, tiles_x, tiles_y))


def _clahe_levels(levels, clip_limit: float, tiles_x: int, tiles_y: int):
    xp = get_array_module(levels)
    bins = _bins(levels.dtype)
    height, width = levels.shape
    if height % tiles_y or width % tiles_x:
        # OpenCV pads both directions whenever either does not divide (a full tile if it does).
        padded = xp.pad(levels, ((0, tiles_y - height % tiles_y), (0, tiles_x - width % tiles_x)), mode="reflect")
    else:
        padded = levels
    tile_h, tile_w = padded.shape[0] // tiles_y, padded.shape[1] // tiles_x
    area = tile_h * tile_w
    histograms = xp.stack([histogram(padded[row * tile_h:(row + 1) * tile_h, col * tile_w:(col + 1) * tile_w], bins)
                           for row in range(tiles_y) for col in range(tiles_x)])

    if clip_limit > 0:
        limit = max(int(clip_limit * area / bins), 1)
        excess = xp.maximum(histograms - limit, 0).sum(axis=1)
        histograms = xp.minimum(histograms, limit)
        batch, residual = excess // bins, excess % bins
        histograms += batch[:, None]
        step = xp.maximum(bins // xp.maximum(residual, 1), 1)[:, None]
        index = xp.arange(bins)[None, :]
        histograms += ((residual[:, None] > 0) & (index % step == 0) & (index // step < residual[:, None]))
    scale = np.float32(bins - 1) / np.float32(area)
    tables = saturate(xp.cumsum(histograms, axis=1).astype(np.float32) * scale, levels.dtype)

    return _interpolate_tables(levels, tables.astype(np.float32), tiles_x, tiles_y, tile_w, tile_h)


def _axis_weights(size: int, tile: int, count: int):
    """For each pixel along one axis: the two nearest tile centres and the weight of the second (float32, OpenCV's)."""
    position = np.arange(size).astype(np.float32) * (np.float32(1.0) / np.float32(tile)) - np.float32(0.5)
    first = np.floor(position)
    weight = (position - first).astype(np.float32)
    first = first.astype(np.int64)
    return np.maximum(first, 0), np.minimum(first + 1, count - 1), weight


def _interpolate_tables(levels, tables, tiles_x: int, tiles_y: int, tile_w: int, tile_h: int):
    """Each pixel blends the tables of its four nearest tiles bilinearly (float32, OpenCV's order).

    Pixels between the same four tile centres form a block that shares its tables, so
    the work goes block by block: four look-ups and the weighted sums, all in cache.
    """
    xp = get_array_module(levels)
    height, width = levels.shape
    x1, x2, xa = _axis_weights(width, tile_w, tiles_x)
    y1, y2, ya = _axis_weights(height, tile_h, tiles_y)
    x_weight, x_rest = xp.asarray(xa[None, :]), xp.asarray((np.float32(1) - xa)[None, :])
    y_weight, y_rest = xp.asarray(ya[:, None]), xp.asarray((np.float32(1) - ya)[:, None])
    out = xp.empty_like(levels)

    def runs(first, second):              # [start, stop) ranges with the same pair of tiles
        edges = np.flatnonzero(np.diff(first) | np.diff(second)) + 1
        return list(zip(np.concatenate([[0], edges]), np.concatenate([edges, [len(first)]])))

    for top, bottom in runs(y1, y2):
        for left, right in runs(x1, x2):
            block = levels[top:bottom, left:right]
            a, b = y1[top] * tiles_x, y2[top] * tiles_x

            def value(tile):
                return xp.take(tables[tile], block)
            xs, xr = x_weight[:, left:right], x_rest[:, left:right]
            upper = value(a + x1[left]) * xr
            upper += value(a + x2[left]) * xs
            lower = value(b + x1[left]) * xr
            lower += value(b + x2[left]) * xs
            upper *= y_rest[top:bottom]
            lower *= y_weight[top:bottom]
            upper += lower
            out[top:bottom, left:right] = saturate(upper, levels.dtype)
    return out
