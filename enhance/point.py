"""Point operations: each output pixel depends only on the input pixel (and global statistics).

Brightness, contrast and saturation follow Pillow's ``ImageEnhance``: each
blends the image with a "degenerate" version of itself,

    out = degenerate + factor * (image - degenerate)

computed in float32 and truncated to the integer type, as Pillow's
``Image.blend`` does (factor 0 gives the degenerate image, 1 the original,
above 1 extrapolates).  ``scale_abs`` follows OpenCV's ``convertScaleAbs``;
``gamma`` and ``log_transform`` scikit-image's ``adjust_gamma`` / ``adjust_log``.
"""
from __future__ import annotations

import numpy as np

from nnscratch.backend import asnumpy, get_array_module

from .image import (FACTOR_LIMIT, check_image, check_number, is_colour, join_alpha, max_value, pillow_luma,
                     pillow_luma_chunks, saturate, split_alpha)
from ._tables import CHUNK, channel_histograms, lookup, lookup_channels


def fma32(values, scale: float, offset):
    """``fma(values, float32(scale), float32(offset))`` rounded once to float32, as SIMD code computes it.

    ``offset`` is a number or a float32 array of the values' shape.  The
    product of a small integer (or float32) and a float32 is exact in
    float64, so adding in float64 and rounding once gives the fused result.
    """
    offset = offset.astype(np.float64) if hasattr(offset, "astype") else float(np.float32(offset))
    exact = values.astype(np.float64) * float(np.float32(scale)) + offset
    return exact.astype(np.float32)


def blend(degenerate, image, factor: float):
    """Pillow's ``Image.blend(degenerate, image, factor)``: ``degenerate + factor * (image - degenerate)``.

    ``degenerate`` is an array of the image's shape and dtype or a single level.
    Integers: float32 arithmetic, clipped to the range and truncated (bit-exact
    with Pillow on uint8).  As the result depends only on the pair of input
    levels, integer images go through a table of every pair: one look-up per
    pixel instead of the float arithmetic.  Floats: the formula in the image's
    precision, clipped to [0, 1].  Textbook version: :func:`enhance.reference.blend`.
    """
    if image.dtype.kind != "u":
        return saturate(degenerate + factor * (image - degenerate), image.dtype)
    xp = get_array_module(image)
    if getattr(degenerate, "ndim", 0) == 0:          # one level: a table over the image's levels
        levels = np.arange(int(max_value(image.dtype)) + 1, dtype=np.float32)
        return lookup(_blend_levels(np.float32(degenerate), levels, factor, image.dtype), image)
    if image.dtype == np.uint8:                       # a table over all 256 x 256 pairs
        return _pair_lookup(xp.asarray(blend_table(factor)), degenerate, image)
    return _blend_levels(degenerate.astype(np.float32), image.astype(np.float32), factor, image.dtype)


def _blend_levels(low, high, factor: float, dtype):
    """Pillow's blend of float32 levels, ``low + factor * (high - low)``, clipped and truncated to ``dtype``."""
    return saturate(low + np.float32(factor) * (high - low), dtype, rounding="trunc")


def blend_table(factor: float) -> np.ndarray:
    """uint8 ``blend(low, high, factor)`` for every pair of levels, at index ``low << 8 | high``."""
    levels = np.arange(256, dtype=np.float32)
    return _blend_levels(np.repeat(levels, 256), np.tile(levels, 256), factor, np.uint8)


def _pair_lookup(table, degenerate, image):
    """``table[degenerate << 8 | image]`` for uint8 arrays, chunk by chunk; ``degenerate`` may have
    one channel where the image has several (it is repeated across them)."""
    xp = get_array_module(image)
    channels = image.shape[-1] if image.ndim == 3 else 1
    pixels = xp.ascontiguousarray(image).reshape(-1)
    under = xp.ascontiguousarray(degenerate).reshape(-1)
    repeat = pixels.shape[0] // under.shape[0]
    out = xp.empty(pixels.shape, dtype=table.dtype)
    rows = max(CHUNK // channels, 1)
    index = xp.empty(min(rows * channels, pixels.shape[0]), dtype=np.uint16)
    for start in range(0, pixels.shape[0], rows * channels):
        stop = min(pixels.shape[0], start + rows * channels)
        part = index[:stop - start]
        low = under[start // repeat:stop // repeat]
        xp.left_shift(xp.repeat(low, repeat) if repeat > 1 else low, 8, out=part, dtype=np.uint16)
        part |= pixels[start:stop]
        xp.take(table, part, out=out[start:stop])
    return out.reshape(image.shape)


def pillow_enhance(image, name, make_degenerate, factor):
    """A ``PIL.ImageEnhance`` operation: ``blend(make_degenerate(colour), colour, factor)`` on the colour
    part (alpha handed back untouched); ``name`` is used in error messages."""
    check_image(image, name)
    factor = check_number(factor, f"{name} factor", minimum=-FACTOR_LIMIT, maximum=FACTOR_LIMIT)
    colour, alpha = split_alpha(image)
    squeeze = colour.ndim == 3 and colour.shape[2] == 1
    if squeeze:
        colour = colour[..., 0]
    out = blend(make_degenerate(colour), colour, factor)
    if squeeze:
        out = out[..., None]
    return join_alpha(out, alpha)


def brightness(image, factor: float):
    """Scale brightness: ``factor`` 0 is black, 1 the original (``PIL.ImageEnhance.Brightness``)."""
    return pillow_enhance(image, "brightness", lambda colour: 0, factor)


def contrast(image, factor: float):
    """Scale contrast about the mean gray level: ``factor`` 0 is flat gray (``PIL.ImageEnhance.Contrast``).

    The gray level is ``int(mean(L) + 0.5)`` with Pillow's integer luma for uint8.
    """
    def flat_gray(colour):
        luma = pillow_luma(colour) if is_colour(colour) else colour
        if colour.dtype.kind == "u":
            return int(float(luma.sum(dtype=np.int64)) / luma.size + 0.5)
        return float(luma.mean(dtype=np.float64))
    return pillow_enhance(image, "contrast", flat_gray, factor)


def saturation(image, factor: float):
    """Scale colourfulness: ``factor`` 0 is gray, 1 the original (``PIL.ImageEnhance.Color``)."""
    def gray(colour):
        if not is_colour(colour):
            return colour
        return pillow_luma(colour)[..., None]
    colour = split_alpha(check_image(image, "saturation"))[0]
    if colour.dtype == np.uint8 and is_colour(colour):
        factor = check_number(factor, "saturation factor", minimum=-FACTOR_LIMIT, maximum=FACTOR_LIMIT)
        colour, alpha = split_alpha(image)
        return join_alpha(_blend_with_luma(colour, factor), alpha)
    return pillow_enhance(image, "saturation", gray, factor)


def _blend_with_luma(rgb, factor: float):
    """``blend(luma, rgb, factor)`` for uint8 RGB in one chunked pass, in Pillow's float32 arithmetic.

    Per chunk (:func:`enhance.image.pillow_luma_chunks`): Pillow's luma, copied into each
    channel's column (a broadcast over three channels would make numpy's inner loop three values
    long), then ``luma + factor * (level - luma)``, clipped and truncated as ``Image.blend`` does.
    """
    xp = get_array_module(rgb)
    weight = np.float32(factor)
    pixels = xp.ascontiguousarray(rgb).reshape(-1, 3)
    out = xp.empty(pixels.shape, dtype=np.uint8)
    spread = xp.empty((min(CHUNK, pixels.shape[0]), 3), dtype=np.float32)
    for start, stop, levels, gray in pillow_luma_chunks(pixels):
        grays = spread[:stop - start]
        for channel in range(3):
            grays[:, channel] = gray
        levels -= grays
        levels *= weight
        levels += grays
        xp.clip(levels, 0, 255, out=levels)
        xp.copyto(out[start:stop], levels, casting="unsafe")      # truncation, as Pillow's cast
    return out.reshape(rgb.shape)


def scale_abs(image, alpha: float = 1.0, beta: float = 0.0):
    """``|image * alpha + beta|`` saturated to the dtype (OpenCV's ``convertScaleAbs`` on uint8).

    Integers are rounded half to even; alpha channels pass through.
    """
    check_image(image, "scale_abs")
    alpha = check_number(alpha, "alpha", minimum=-1e6, maximum=1e6)
    beta = check_number(beta, "beta", minimum=-1e6, maximum=1e6)
    colour, alpha_channel = split_alpha(image)
    xp = get_array_module(colour)
    if colour.dtype == np.uint8:
        # OpenCV evaluates fma(src, alpha, beta) in float32: one rounding of the exact value;
        # as the result depends on the level alone, uint8 goes through a table of the 256 levels.
        table = saturate(np.abs(fma32(np.arange(256), alpha, beta)), np.uint8)
        return join_alpha(lookup(table, colour), alpha_channel)
    values = xp.abs(colour.astype(np.float64) * alpha + beta)
    return join_alpha(saturate(values, colour.dtype), alpha_channel)


def invert(image):
    """The negative: ``max - x`` for integers (``cv2.bitwise_not``), ``1 - x`` for floats."""
    check_image(image, "invert")
    colour, alpha = split_alpha(image)
    if colour.dtype.kind == "u":
        out = ~colour
    else:
        out = 1 - colour
    return join_alpha(out, alpha)


def gamma(image, gamma: float, gain: float = 1.0):
    """Power law ``out = gain * (x / max) ** gamma * max`` (``skimage.exposure.adjust_gamma``).

    gamma > 1 darkens, gamma < 1 brightens.  uint8 goes through a 256-entry
    table rounded half to even (bit-exact with scikit-image); uint16 is
    truncated like scikit-image; all results saturate to the dtype's range
    (scikit-image leaves floats above 1 when gain > 1; we clip).
    """
    check_image(image, "gamma")
    gamma = check_number(gamma, "gamma", minimum=0, maximum=100)
    gain = check_number(gain, "gain", minimum=0, maximum=FACTOR_LIMIT)
    colour, alpha = split_alpha(image)
    top = max_value(colour.dtype)

    def curve(values):
        return (values.astype(np.float64) / top) ** gamma * top * gain
    if colour.dtype == np.uint8:
        table = np.minimum(np.rint(255 * gain * np.linspace(0, 1, 256) ** gamma), 255).astype(np.uint8)
        out = lookup(table, colour)
    elif colour.dtype == np.uint16:        # the curve at every level, then a look-up
        out = lookup(saturate(curve(np.arange(65536)), colour.dtype, rounding="trunc"), colour)
    else:
        out = saturate(curve(colour), colour.dtype, rounding="trunc")
    return join_alpha(out, alpha)


def log_transform(image, gain: float = 1.0, inverse: bool = False):
    """Logarithmic ``gain * log2(1 + x / max) * max`` or, with ``inverse``, ``gain * (2 ** (x / max) - 1) * max``.

    Matches ``skimage.exposure.adjust_log`` (truncation to integers) wherever
    that stays in range; where scikit-image's integer result would wrap
    around (gain > 1 on uint8), ours saturates at the maximum instead.
    """
    check_image(image, "log_transform")
    gain = check_number(gain, "gain", minimum=0, maximum=FACTOR_LIMIT)
    colour, alpha = split_alpha(image)
    top = max_value(colour.dtype)

    def curve(values):
        xp = get_array_module(values)
        work = values.astype(np.float64) / top
        curved = (2 ** work - 1) * top * gain if inverse else xp.log2(1 + work) * top * gain
        return saturate(curved, colour.dtype, rounding="trunc")
    if colour.dtype.kind == "u":           # integers: the curve at every level, then a look-up
        return join_alpha(lookup(curve(np.arange(int(top) + 1)), colour), alpha)
    return join_alpha(curve(colour), alpha)


def autocontrast(image, cutoff: float | tuple[float, float] = 0):
    """Stretch each channel so its darkest level maps to 0 and its lightest to the maximum.

    ``cutoff`` percent of pixels (or a (low, high) pair) are ignored at each
    end first.  uint8 is bit-exact with ``PIL.ImageOps.autocontrast``
    (truncating look-up table); other dtypes use the same rule on their own range.
    """
    check_image(image, "autocontrast")
    low_cut, high_cut = cutoff if isinstance(cutoff, (tuple, list)) else (cutoff, cutoff)
    low_cut = check_number(low_cut, "cutoff", 0, 100)
    high_cut = check_number(high_cut, "cutoff", 0, 100)
    colour, alpha = split_alpha(image)
    xp = get_array_module(colour)
    if colour.dtype == np.uint8:        # every channel's histogram in one pass, then one table per channel
        planes = colour[..., None] if colour.ndim == 2 else colour
        histograms = asnumpy(channel_histograms(planes, 256))
        tables = np.stack([_autocontrast_table(h, low_cut, high_cut) for h in histograms])
        out = lookup_channels(tables, planes)
        return join_alpha(out[..., 0] if colour.ndim == 2 else out, alpha)
    channels = [colour] if colour.ndim == 2 else [colour[..., c] for c in range(colour.shape[2])]
    results = [_autocontrast_channel(xp, channel, low_cut, high_cut) for channel in channels]
    out = results[0] if colour.ndim == 2 else xp.stack(results, axis=-1)
    return join_alpha(out, alpha)


def _autocontrast_table(histogram, low_cut, high_cut):
    """Pillow's uint8 table: the trimmed range stretched to 0..255, truncated (identity when flat)."""
    low, high = _trimmed_range(histogram, low_cut, high_cut)
    if high <= low:
        return np.arange(256, dtype=np.uint8)
    scale = 255.0 / (high - low)
    offset = -low * scale
    return np.clip((np.arange(256) * scale + offset).astype(np.int64), 0, 255).astype(np.uint8)  # int() truncates


def _autocontrast_channel(xp, channel, low_cut, high_cut):
    """uint16 and float channels: Pillow's rule on 65536 (uint16) or 256 (float) levels."""
    top = max_value(channel.dtype)
    levels = 65536 if channel.dtype == np.uint16 else 256
    index = channel if channel.dtype == np.uint16 else xp.rint(channel * (levels - 1)).astype(np.int64)
    low, high = _trimmed_range(asnumpy(xp.bincount(index.ravel(), minlength=levels)), low_cut, high_cut)
    if high <= low:
        return channel.copy()
    scale = (levels - 1) / (high - low)
    stretched = (channel.astype(np.float64) * ((levels - 1) / top) - low) * scale * (top / (levels - 1))
    return saturate(stretched, channel.dtype, rounding="trunc")


def _trimmed_range(histogram: np.ndarray, low_cut: float, high_cut: float) -> tuple[int, int]:
    """Lowest and highest occupied levels after removing the cut-off pixel counts (Pillow's rule)."""
    histogram = histogram.astype(np.int64).copy()
    total = int(histogram.sum())
    for cut_percent, order in ((low_cut, range(len(histogram))), (high_cut, range(len(histogram) - 1, -1, -1))):
        cut = int(total * cut_percent // 100)
        if cut <= 0:
            continue
        for level in order:
            if cut > histogram[level]:
                cut -= int(histogram[level])
                histogram[level] = 0
            else:
                histogram[level] -= cut
                break
    occupied = np.flatnonzero(histogram)
    if occupied.size == 0:
        return 0, 0
    return int(occupied[0]), int(occupied[-1])
