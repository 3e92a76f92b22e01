"""Neighbourhood filters: Pillow's SMOOTH and the sharpness enhancer built on it."""
from __future__ import annotations

import numpy as np

from nnscratch.backend import get_array_module

from ._image import per_channel, saturate
from .point import _colour_op

# Pillow's ImageFilter.SMOOTH: [[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13, weights rounded to float32.
_SMOOTH_EDGE = np.float32(1 / 13)
_SMOOTH_CENTRE = np.float32(5 / 13)


def _row_sum(row, centre_weight):
    """One kernel row across the image: ``(left * w0 + centre * w1) + right * w2`` in float32, Pillow's order."""
    return (row[:, :-2] * _SMOOTH_EDGE + row[:, 1:-1] * centre_weight) + row[:, 2:] * _SMOOTH_EDGE


def smooth(channel):
    """Pillow's SMOOTH filter on one 2-D channel.

    The border rows and columns are copied unchanged (as Pillow does); an
    image smaller than 3x3 is returned as it is.  Integers: float32 sums in
    Pillow's order, ``+ 0.5`` and truncation (bit-exact with Pillow on uint8).
    """
    if channel.shape[0] < 3 or channel.shape[1] < 3:
        return channel.copy()
    if channel.dtype.kind == "u":
        work = channel.astype(np.float32)
        total = np.float32(0.5) + _row_sum(work[2:], _SMOOTH_EDGE)
        total = total + _row_sum(work[1:-1], _SMOOTH_CENTRE)
        total = total + _row_sum(work[:-2], _SMOOTH_EDGE)
        inner = saturate(total, channel.dtype, rounding="trunc")
    else:
        work = channel
        edge, centre = 1 / 13, 5 / 13
        inner = ((work[:-2, :-2] + work[:-2, 1:-1] + work[:-2, 2:] + work[1:-1, :-2] + work[1:-1, 2:]
                  + work[2:, :-2] + work[2:, 1:-1] + work[2:, 2:]) * edge + work[1:-1, 1:-1] * centre)
        inner = inner.astype(channel.dtype)
    out = channel.copy()
    out[1:-1, 1:-1] = inner
    return out


def sharpness(image, factor: float):
    """Sharpen (factor > 1) or soften (factor < 1) against the SMOOTH-filtered image
    (``PIL.ImageEnhance.Sharpness``; bit-exact on uint8 L, RGB and RGBA)."""
    return _colour_op(image, "sharpness", lambda colour: per_channel(smooth, colour), factor)


# --- Gaussian blur and unsharp masking, as OpenCV computes them ----------------------------------

def gaussian_kernel(size: int, sigma: float) -> np.ndarray:
    """OpenCV's 1-D Gaussian taps (float64): ``exp(-x² / (2 sigma²))`` normalised to sum 1."""
    half = (size - 1) // 2
    x = np.arange(1 - size, 0, 2)[:half] / 2.0          # -half ... -1
    values = np.exp(x * x * (-0.5 / (sigma * sigma)))
    scale = 1.0 / (2 * values.sum() + 1.0)
    return np.concatenate([values * scale, [scale], (values * scale)[::-1]])


def fixed_point_kernel(kernel: np.ndarray, fraction_bits: int) -> np.ndarray:
    """Taps as integers with ``fraction_bits`` fractional bits, rounded by error diffusion from
    the outside in; the centre tap takes what is left so the taps sum to exactly ``2**fraction_bits``."""
    one = 1 << fraction_bits
    size = len(kernel)
    taps = np.zeros(size, dtype=np.int64)
    error = 0.0
    for i in range(size // 2):
        adjusted = kernel[i] * one + error
        value = int(np.rint(adjusted))
        error = adjusted - value
        taps[i] = taps[size - 1 - i] = value
    taps[size // 2] = one - 2 * int(taps[: size // 2].sum())
    return taps


def kernel_size(sigma: float, dtype) -> int:
    """OpenCV's automatic size: ``round(sigma * (3 for uint8, else 4) * 2 + 1) | 1``."""
    return int(np.rint(sigma * (3 if np.dtype(dtype) == np.uint8 else 4) * 2 + 1)) | 1


def _separable(channel, taps_x, taps_y, accumulate):
    """Rows then columns with reflect-101 borders (``accumulate`` sets the arithmetic)."""
    xp = get_array_module(channel)
    half_x, half_y = len(taps_x) // 2, len(taps_y) // 2
    padded = xp.pad(channel, ((0, 0), (half_x, half_x)), mode="reflect") if half_x else channel
    rows = accumulate(padded, taps_x, axis=1, length=channel.shape[1])
    padded = xp.pad(rows, ((half_y, half_y), (0, 0)), mode="reflect") if half_y else rows
    return accumulate(padded, taps_y, axis=0, length=channel.shape[0])


def _weighted_sum(padded, taps, axis, length):
    total = None
    for offset, tap in enumerate(taps):
        part = padded[offset:offset + length] if axis == 0 else padded[:, offset:offset + length]
        term = part * tap
        total = term if total is None else total + term
    return total


def gaussian_blur(image, sigma: float):
    """Gaussian blur with ``cv2.GaussianBlur(image, (0, 0), sigma)``'s kernel size and borders.

    uint8 and uint16 follow OpenCV's fixed-point path (taps with 8 or 16
    fractional bits, exact integer sums, rounding half up) and are bit-exact;
    floats are convolved in their own precision (within 1e-6 of OpenCV).
    """
    from ._image import check_image, check_number, join_alpha, split_alpha

    check_image(image, "gaussian_blur")
    sigma = check_number(sigma, "sigma", minimum=1e-6, maximum=1e3)
    colour, alpha = split_alpha(image)
    dtype = colour.dtype
    size = kernel_size(sigma, dtype)
    size_y = 1 if colour.shape[0] == 1 else size
    size_x = 1 if colour.shape[1] == 1 else size
    kernel = gaussian_kernel(size, sigma)

    if dtype.kind == "u":
        bits = 8 if dtype == np.uint8 else 16
        taps = fixed_point_kernel(kernel, bits)
        taps_x = taps if size_x > 1 else np.array([1 << bits])
        taps_y = taps if size_y > 1 else np.array([1 << bits])

        def blur(channel):
            summed = _separable(channel.astype(np.int64), taps_x, taps_y, _weighted_sum)
            return ((summed + (1 << (2 * bits - 1))) >> (2 * bits)).astype(dtype)
    else:
        taps = kernel.astype(dtype)
        taps_x = taps if size_x > 1 else np.ones(1, dtype=dtype)
        taps_y = taps if size_y > 1 else np.ones(1, dtype=dtype)

        def blur(channel):  # clipped: float32 taps may sum to a hair above 1
            return saturate(_separable(channel, taps_x, taps_y, _weighted_sum), dtype)
    return join_alpha(per_channel(blur, colour), alpha)


def unsharp_mask(image, sigma: float = 1.0, amount: float = 1.0, threshold: float = 0.0):
    """Sharpen by adding back ``amount`` times the detail ``image - blur(image)``.

    Computed as OpenCV users write it, ``addWeighted(image, 1 + amount, blur, -amount, 0)``
    (fused multiply-adds in float32, rounding half to even): bit-exact on uint8 when
    ``threshold`` is 0.  With ``threshold`` > 0 (in the image's units), pixels whose
    detail is smaller than it are left unchanged.
    """
    from ._image import check_image, check_number, join_alpha, split_alpha
    from .point import fma32

    check_image(image, "unsharp_mask")
    amount = check_number(amount, "amount", minimum=0)
    threshold = check_number(threshold, "threshold", minimum=0)
    colour, alpha = split_alpha(image)
    xp = get_array_module(colour)
    blurred = split_alpha(gaussian_blur(colour, sigma))[0]
    if colour.dtype.kind == "u":
        inner = fma32(blurred, -amount, 0.0)
        sharpened = (colour.astype(np.float64) * float(np.float32(1 + amount)) + inner.astype(np.float64)).astype(np.float32)
    else:
        sharpened = colour * (1 + amount) - blurred * amount
    out = saturate(sharpened, colour.dtype)
    if threshold > 0:
        detail = xp.abs(colour.astype(np.float64) - blurred.astype(np.float64))
        out = xp.where(detail < threshold, colour, out)
    return join_alpha(out, alpha)
