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

from nnscratch.backend import get_array_module

from ._image import (check_image, check_number, is_colour, join_alpha, max_value, pillow_luma, saturate,
                     split_alpha)


def fma32(values, scale: float, offset: float):
    """``fma(values, float32(scale), float32(offset))`` rounded once to float32, as SIMD code computes it.

    The product of a small integer (or float32) and a float32 is exact in
    float64, so adding in float64 and rounding once gives the fused result.
    """
    exact = values.astype(np.float64) * float(np.float32(scale)) + float(np.float32(offset))
    return exact.astype(np.float32)


def blend(degenerate, image, factor: float):
    """Pillow's ``Image.blend(degenerate, image, factor)``: ``degenerate + factor * (image - degenerate)``.

    ``degenerate`` is an array of the image's shape and dtype or a single level.
    Integers: float32 arithmetic, clipped to the range and truncated (bit-exact
    with Pillow on uint8).  As the result depends only on the pair of input
    levels, integer images go through a table of every pair: one look-up per
    pixel instead of the float arithmetic.  Floats: the formula in the image's
    precision, clipped to [0, 1].
    """
    if image.dtype.kind != "u":
        return saturate(degenerate + factor * (image - degenerate), image.dtype)
    xp = get_array_module(image)
    weight = np.float32(factor)

    def mixed(low, high):
        return saturate(low + weight * (high - low), image.dtype, rounding="trunc")

    levels = np.arange(int(max_value(image.dtype)) + 1, dtype=np.float32)
    if getattr(degenerate, "ndim", 0) == 0:          # one level: a table over the image's levels
        return xp.asarray(mixed(np.float32(degenerate), levels)).take(image)
    if image.dtype == np.uint8:                       # a table over all 256 x 256 pairs
        table = mixed(np.repeat(levels, 256), np.tile(levels, 256))
        index = degenerate.astype(np.uint16)
        index <<= 8
        index |= image
        return xp.asarray(table).take(index)
    return mixed(degenerate.astype(np.float32), image.astype(np.float32))


def _colour_op(image, name, make_degenerate, factor):
    check_image(image, name)
    factor = check_number(factor, f"{name} factor")
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
    return _colour_op(image, "brightness", lambda colour: 0, factor)


def contrast(image, factor: float):
    """Scale contrast about the mean gray level: ``factor`` 0 is flat gray (``PIL.ImageEnhance.Contrast``).

    The gray level is ``int(mean(L) + 0.5)`` with Pillow's integer luma for uint8.
    """
    def flat_gray(colour):
        luma = pillow_luma(colour) if is_colour(colour) else colour
        if colour.dtype.kind == "u":
            return int(float(luma.sum(dtype=np.int64)) / luma.size + 0.5)
        return float(luma.mean(dtype=np.float64))
    return _colour_op(image, "contrast", flat_gray, factor)


def saturation(image, factor: float):
    """Scale colourfulness: ``factor`` 0 is gray, 1 the original (``PIL.ImageEnhance.Color``)."""
    def gray(colour):
        if not is_colour(colour):
            return colour
        xp = get_array_module(colour)
        return xp.repeat(pillow_luma(colour)[..., None], 3, axis=-1)
    return _colour_op(image, "saturation", gray, factor)


def scale_abs(image, alpha: float = 1.0, beta: float = 0.0):
    """``|image * alpha + beta|`` saturated to the dtype (OpenCV's ``convertScaleAbs`` on uint8).

    Integers are rounded half to even; alpha channels pass through.
    """
    check_image(image, "scale_abs")
    alpha, beta = check_number(alpha, "alpha"), check_number(beta, "beta")
    colour, alpha_channel = split_alpha(image)
    xp = get_array_module(colour)
    if colour.dtype == np.uint8:
        # OpenCV evaluates fma(src, alpha, beta) in float32: one rounding of the exact value.
        values = xp.abs(fma32(colour, alpha, beta))
    else:
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
    gamma = check_number(gamma, "gamma", minimum=0)
    gain = check_number(gain, "gain", minimum=0)
    colour, alpha = split_alpha(image)
    xp = get_array_module(colour)
    if colour.dtype == np.uint8:
        table = np.minimum(np.rint(255 * gain * np.linspace(0, 1, 256) ** gamma), 255).astype(np.uint8)
        out = xp.asarray(table)[colour]
    else:
        top = max_value(colour.dtype)
        work = colour.astype(np.float64)
        values = (work / top) ** gamma * top * gain
        out = saturate(values, colour.dtype, rounding="trunc")
    return join_alpha(out, alpha)


def log_transform(image, gain: float = 1.0, inverse: bool = False):
    """Logarithmic ``gain * log2(1 + x / max) * max`` or, with ``inverse``, ``gain * (2 ** (x / max) - 1) * max``.

    Matches ``skimage.exposure.adjust_log`` (truncation to integers) wherever
    that stays in range; where scikit-image's integer result would wrap
    around (gain > 1 on uint8), ours saturates at the maximum instead.
    """
    check_image(image, "log_transform")
    gain = check_number(gain, "gain", minimum=0)
    colour, alpha = split_alpha(image)
    xp = get_array_module(colour)
    top = max_value(colour.dtype)
    work = colour.astype(np.float64) / top
    values = (2 ** work - 1) * top * gain if inverse else xp.log2(1 + work) * top * gain
    return join_alpha(saturate(values, colour.dtype, rounding="trunc"), alpha)


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
    channels = [colour] if colour.ndim == 2 else [colour[..., c] for c in range(colour.shape[2])]
    results = [_autocontrast_channel(xp, channel, low_cut, high_cut) for channel in channels]
    out = results[0] if colour.ndim == 2 else xp.stack(results, axis=-1)
    return join_alpha(out, alpha)


def _autocontrast_channel(xp, channel, low_cut, high_cut):
    if channel.dtype != np.uint8:
        top = max_value(channel.dtype)
        levels = 65536 if channel.dtype == np.uint16 else 256
        index = channel if channel.dtype == np.uint16 else xp.rint(channel * (levels - 1)).astype(np.int64)
        low, high = _trimmed_range(np.asarray(_to_host(xp.bincount(index.ravel(), minlength=levels))), low_cut, high_cut)
        if high <= low:
            return channel.copy()
        scale = (levels - 1) / (high - low)
        stretched = (channel.astype(np.float64) * ((levels - 1) / top) - low) * scale * (top / (levels - 1))
        return saturate(stretched, channel.dtype, rounding="trunc")
    histogram = np.asarray(_to_host(xp.bincount(channel.ravel(), minlength=256)))
    low, high = _trimmed_range(histogram, low_cut, high_cut)
    if high <= low:
        return channel.copy()
    scale = 255.0 / (high - low)
    offset = -low * scale
    table = np.clip((np.arange(256) * scale + offset).astype(np.int64), 0, 255).astype(np.uint8)  # int() truncates
    return xp.asarray(table)[channel]


def _to_host(array):
    return array.get() if hasattr(array, "get") else array


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
