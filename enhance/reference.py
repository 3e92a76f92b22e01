"""The textbook version of each fast algorithm in ``enhance``: read these first.

The fast versions look pixels up and count them two at a time (a table of level pairs), and blur
with banded matrix products over strips of rows; these do the same work the plain way.  Each fast
function names its reference, and ``tests/enhance/test_reference.py`` proves them equal (bit for
bit on integer images).
"""
from __future__ import annotations

import numpy as np

from .filters import fixed_point_kernel, gaussian_kernel, kernel_size


def lookup(table, image):
    """Each pixel through a table with one entry per level: ``table[image]``
    (fast: :func:`enhance._tables.lookup` and ``lookup_channels``)."""
    return np.asarray(table)[image]


def histogram(levels, bins: int):
    """How many pixels have each level: ``np.bincount`` (fast: :func:`enhance._tables.histogram`)."""
    return np.bincount(np.asarray(levels).reshape(-1), minlength=bins)[:bins].astype(np.int64)


def channel_histograms(image, bins: int):
    """One histogram per channel of an ``(H, W, C)`` image (fast: ``enhance._tables.channel_histograms``)."""
    return np.stack([histogram(image[..., c], bins) for c in range(image.shape[-1])])


def gaussian_blur(image, sigma: float):
    """OpenCV's Gaussian blur the direct way: pad by reflection (reflect-101), multiply-add the
    taps along the rows, then along the columns (fast: :func:`enhance.gaussian_blur`).

    uint8 and uint16 use OpenCV's fixed-point arithmetic: taps with 8 (16) fractional bits, exact
    integer sums, and ``(sum + 2^(2b-1)) >> 2b`` at the end; floats are summed in float64.
    """
    image = np.asarray(image)
    size = kernel_size(sigma, image.dtype)
    kernel = gaussian_kernel(size, sigma)
    half = size // 2
    squeeze = image.ndim == 2
    work = image[..., None] if squeeze else image
    if image.dtype.kind == "u":
        bits = 8 if image.dtype == np.uint8 else 16
        taps = fixed_point_kernel(kernel, bits).astype(object if bits == 16 else np.int64)
        values = work.astype(object if bits == 16 else np.int64)
    else:
        taps, values = kernel, work.astype(np.float64)
    height, width = values.shape[:2]
    # numpy's "reflect" is OpenCV's reflect-101 (the edge pixel is not repeated)
    padded = np.pad(values, ((half if height > 1 else 0,) * 2, (half if width > 1 else 0,) * 2, (0, 0)), mode="reflect")
    if width > 1:
        rows = sum(taps[k] * padded[:, k:k + width] for k in range(size))
    else:
        rows = padded * (1 << bits if image.dtype.kind == "u" else 1)
    if height > 1:
        both = sum(taps[k] * rows[k:k + height] for k in range(size))
    else:
        both = rows * (1 << bits if image.dtype.kind == "u" else 1)
    if image.dtype.kind == "u":
        shift = 2 * bits
        result = ((both + (1 << (shift - 1))) >> shift).astype(np.int64)
        result = np.clip(result, 0, np.iinfo(image.dtype).max).astype(image.dtype)
    else:
        result = np.clip(both, 0, 1).astype(image.dtype)
    return result[..., 0] if squeeze else result


def blend(degenerate, image, factor: float):
    """Pillow's ``Image.blend``, pixel by pixel: ``degenerate + factor · (image - degenerate)`` in float32,
    clipped, and truncated for integer images (fast: :func:`enhance.point.blend`, a table of pairs)."""
    image = np.asarray(image)
    low = np.broadcast_to(np.asarray(degenerate), image.shape)
    out = np.empty(image.shape, dtype=image.dtype)
    top = np.iinfo(image.dtype).max if image.dtype.kind == "u" else 1.0
    for index in np.ndindex(image.shape):
        if image.dtype.kind == "u":
            value = np.float32(low[index]) + np.float32(factor) * (np.float32(image[index]) - np.float32(low[index]))
            out[index] = int(min(max(value, 0), top))            # C's cast truncates
        else:
            out[index] = min(max(low[index] + factor * (image[index] - low[index]), 0.0), 1.0)
    return out


def clahe(gray, clip_limit: float = 2.0, tiles=(8, 8)):
    """Contrast-limited adaptive histogram equalization of a uint8 or uint16 gray image, as OpenCV
    defines it, written tile by tile and pixel by pixel (fast: :func:`enhance.clahe`).

    1. Pad (reflect-101) to whole tiles when the size does not divide.
    2. Per tile: the histogram; bins above ``limit = max(int(clip_limit · area / bins), 1)`` are cut
       to it, the excess spread evenly over all bins and its remainder one by one at a regular step.
    3. Per tile: the table ``cumulative histogram · (bins - 1) / area``, rounded.
    4. Per pixel: the tables of the four nearest tile centres, blended bilinearly in float32.
    """
    gray = np.asarray(gray)
    bins = 256 if gray.dtype == np.uint8 else 65536
    tiles_x, tiles_y = tiles
    height, width = gray.shape
    padded = gray
    if height % tiles_y or width % tiles_x:
        padded = np.pad(gray, ((0, tiles_y - height % tiles_y), (0, tiles_x - width % tiles_x)), mode="reflect")
    tile_h, tile_w = padded.shape[0] // tiles_y, padded.shape[1] // tiles_x
    area = tile_h * tile_w
    tables = {}
    for ty in range(tiles_y):
        for tx in range(tiles_x):
            counts = histogram(padded[ty * tile_h:(ty + 1) * tile_h, tx * tile_w:(tx + 1) * tile_w], bins)
            if clip_limit > 0:
                limit = max(int(clip_limit * area / bins), 1)
                excess = int(np.maximum(counts - limit, 0).sum())
                counts = np.minimum(counts, limit) + excess // bins
                residual = excess % bins
                step = max(bins // max(residual, 1), 1)
                for i in range(0, bins, step):
                    if residual == 0:
                        break
                    counts[i] += 1
                    residual -= 1
            scale = np.float32(bins - 1) / np.float32(area)
            table = np.rint(np.cumsum(counts).astype(np.float32) * scale)
            tables[ty, tx] = np.clip(table, 0, bins - 1).astype(np.float32)
    out = np.empty_like(gray)
    one = np.float32(1)
    for y in range(height):
        fy = np.float32(y) * (one / np.float32(tile_h)) - np.float32(0.5)
        y1 = int(np.floor(fy))
        wy = np.float32(fy - np.float32(y1))
        y1, y2 = max(y1, 0), min(y1 + 1, tiles_y - 1)
        for x in range(width):
            fx = np.float32(x) * (one / np.float32(tile_w)) - np.float32(0.5)
            x1 = int(np.floor(fx))
            wx = np.float32(fx - np.float32(x1))
            x1, x2 = max(x1, 0), min(x1 + 1, tiles_x - 1)
            v = gray[y, x]
            upper = tables[y1, x1][v] * (one - wx) + tables[y1, x2][v] * wx
            lower = tables[y2, x1][v] * (one - wx) + tables[y2, x2][v] * wx
            value = np.float32(upper * (one - wy)) + np.float32(lower * wy)
            out[y, x] = min(max(int(np.rint(value)), 0), bins - 1)
    return out


def compare(seed: int = 0) -> list[tuple[str, bool, float, float]]:
    """Each fast path against its textbook version here: (name, equal, fast s, reference s)."""
    import time

    from . import _tables, clahe as fast_clahe, gaussian_blur as fast_blur
    from .point import blend as fast_blend

    def best(function, repeats):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            result = function()
            times.append(time.perf_counter() - start)
        return result, min(times)

    rng = np.random.default_rng(seed)
    photo = rng.integers(0, 256, (1000, 1000, 3)).astype(np.uint8)       # 1 megapixel RGB
    table = rng.integers(0, 256, 256).astype(np.uint8)
    small = photo[:64, :64]
    gray = photo[:128, :128, 1]
    cases = [("table look-up, 1 MP RGB", lambda: _tables.lookup(table, photo), lambda: lookup(table, photo), 5),
             ("histograms, 1 MP RGB", lambda: _tables.channel_histograms(photo, 256),
              lambda: channel_histograms(photo, 256), 5),
             ("Gaussian blur sigma 2, 1 MP RGB", lambda: fast_blur(photo, 2.0), lambda: gaussian_blur(photo, 2.0), 2),
             ("Pillow blend, 64x64 RGB", lambda: fast_blend(small[::-1], small, 0.7), lambda: blend(small[::-1], small, 0.7), 3),
             ("CLAHE 8x8 tiles, 128x128 gray", lambda: fast_clahe(gray, 2.0), lambda: clahe(gray, 2.0), 1)]
    rows = []
    for name, fast, slow, repeats in cases:
        fast_result, fast_time = best(fast, max(repeats, 3))
        slow_result, slow_time = best(slow, repeats)
        rows.append((name, bool(np.array_equal(fast_result, slow_result)), fast_time, slow_time))
    return rows


def main() -> int:
    """``python -m enhance.reference``: the fast paths against these, equal and timed."""
    print(f"{'operation':<34} {'equal':>5} {'fast ms':>9} {'reference ms':>13} {'speed-up':>9}")
    rows = compare()
    for name, equal, fast, slow in rows:
        print(f"{name:<34} {'yes' if equal else 'NO':>5} {fast * 1e3:9.2f} {slow * 1e3:13.1f} {slow / fast:8.1f}x")
    return 0 if all(row[1] for row in rows) else 1


if __name__ == "__main__":
    import sys

    sys.exit(main())
