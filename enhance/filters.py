"""Neighbourhood filters: Pillow's SMOOTH and the sharpness enhancer built on it."""
from __future__ import annotations

import numpy as np

from nnscratch.backend import get_array_module

from .image import FACTOR_LIMIT, check_image, check_number, join_alpha, per_channel, saturate, split_alpha
from .point import blend_table, fma32, pillow_enhance

# Pillow's ImageFilter.SMOOTH: [[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13, weights rounded to float32.
_SMOOTH_EDGE = np.float32(1 / 13)
_SMOOTH_CENTRE = np.float32(5 / 13)


def _row_sum(row, centre_weight, step: int = 1):
    """One kernel row across the image: ``(left * w0 + centre * w1) + right * w2`` in float32, Pillow's order
    (neighbours ``step`` values apart: 1 in one channel, C in interleaved rows of C channels)."""
    return (row[:, :-2 * step] * _SMOOTH_EDGE + row[:, step:-step] * centre_weight) + row[:, 2 * step:] * _SMOOTH_EDGE


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

    colour, alpha = split_alpha(check_image(image, "sharpness"))
    if colour.dtype == np.uint8 and colour.shape[0] >= 3 and colour.shape[1] >= 3:
        return join_alpha(_sharpen_uint8(colour, check_number(factor, "sharpness factor", minimum=-FACTOR_LIMIT,
                                                              maximum=FACTOR_LIMIT)), alpha)
    return pillow_enhance(image, "sharpness", lambda colour: per_channel(smooth, colour), factor)


SHARPEN_STRIP_ROWS = 8


def _sharpen_uint8(colour, factor: float):
    """``blend(smooth(colour), colour, factor)`` on uint8 in strips of rows, every channel at once.

    Rows are worked on interleaved (neighbours ``channels`` apart), each input row's
    edge-weighted sum is computed once for the two output rows that use it, and the
    smoothed level and the original index the table of all 256 x 256 blends straight away.
    The float32 operations and their order are ``smooth``'s, hence Pillow's.
    """
    xp = get_array_module(colour)
    height, width = colour.shape[:2]
    step = 1 if colour.ndim == 2 else colour.shape[2]
    rows = xp.ascontiguousarray(colour).reshape(height, width * step)
    table = xp.asarray(blend_table(factor))
    out = xp.empty_like(rows)
    for selection in ((slice(0, 1), slice(None)), (slice(height - 1, height), slice(None)),
                      (slice(None), slice(0, step)), (slice(None), slice(width * step - step, width * step))):
        index = rows[selection].astype(np.uint16)
        index *= 257                                     # level << 8 | level: the border is its own smooth
        out[selection] = xp.take(table, index)
    for first in range(1, height - 1, SHARPEN_STRIP_ROWS):
        last = min(height - 1, first + SHARPEN_STRIP_ROWS)
        block = rows[first - 1:last + 1].astype(np.float32)
        edge = _row_sum(block, _SMOOTH_EDGE, step)
        centre = _row_sum(block[1:-1], _SMOOTH_CENTRE, step)
        total = np.float32(0.5) + edge[2:]
        total += centre
        total += edge[:-2]
        xp.minimum(total, np.float32(255), out=total)
        index = total.astype(np.uint16)                  # truncation, as Pillow's cast
        index <<= 8
        index |= rows[first:last, step:-step]
        xp.take(table, index, out=out[first:last, step:-step])
    return out.reshape(colour.shape)


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


def reflect_101(index, size: int, xp=np):
    """Map positions outside ``[0, size)`` back inside by mirror reflection without
    repeating the edge (OpenCV's BORDER_REFLECT_101; repeats for tiny sizes)."""
    if size == 1:
        return xp.zeros_like(index)
    period = 2 * (size - 1)
    index = xp.abs(index) % period
    return xp.where(index >= size, period - index, index)


def banded(outputs: int, taps, xp=np, dtype=np.float32):
    """The ``(outputs, outputs + len(taps) - 1)`` matrix whose row ``i`` holds the taps from column ``i``:
    multiplying it by a block of padded rows convolves them along that axis."""
    matrix = np.zeros((outputs, outputs + len(taps) - 1))
    rows = np.arange(outputs)
    for offset, tap in enumerate(taps):
        matrix[rows, rows + offset] = tap
    return xp.asarray(matrix.astype(dtype))


# Output rows per strip and columns per block of the banded products: 64 x 64 keeps both
# products near the BLAS ceiling while the strip (input rows plus halo) stays in cache.
STRIP_ROWS = 64
BLOCK_COLUMNS = 64


def separable_filter(image, taps_x, taps_y, work_dtype, scale: float = 1.0, offset: float = 0.0, out_dtype=None):
    """Convolve an ``(H, W)`` or ``(H, W, C)`` image with ``taps_x`` along rows and ``taps_y`` along
    columns (reflect-101 borders); returns ``sum * scale + offset``, computed in ``work_dtype`` and
    cast to ``out_dtype`` (default: ``work_dtype``; casts to integers truncate), in the input's shape.

    Both passes are banded matrix products on strips of rows, so the arithmetic runs in BLAS.
    With integer pixels and integer taps every product and sum is an integer below
    2**24 (float32) or 2**53 (float64), hence exact whatever order BLAS adds in, and ``scale`` a
    power of two keeps it exact.
    """
    xp = get_array_module(image)
    planes = image[..., None] if image.ndim == 2 else image
    height, width, channels = planes.shape
    half_x, half_y = len(taps_x) // 2, len(taps_y) // 2
    block = min(BLOCK_COLUMNS, width)
    across = banded(block, taps_x, xp, work_dtype).T.copy()              # (block + 2 half_x, block)
    down = banded(STRIP_ROWS, np.asarray(taps_y) * scale, xp, work_dtype)  # scale folded in: exact for 2**-k
    column_source = reflect_101(xp.arange(-half_x, width + half_x), width, xp)
    out = xp.empty((height, width, channels), dtype=out_dtype or work_dtype)
    # Row-filtered input rows of the current strip, halo included; consecutive strips share
    # 2 half_y halo rows, which are moved to the front instead of being filtered again.
    filtered = xp.empty((STRIP_ROWS + 2 * half_y, channels * width), dtype=work_dtype)
    previous = None
    for first in range(0, height, STRIP_ROWS):
        last = min(height, first + STRIP_ROWS)
        rows = reflect_101(np.arange(first - half_y, last + half_y), height)
        span, kept = len(rows), 0
        if previous is not None and half_y and np.array_equal(rows[:2 * half_y], previous[-2 * half_y:]):
            kept = 2 * half_y
            filtered[:kept] = filtered[len(previous) - kept:len(previous)].copy()   # may overlap
        fresh = rows[kept:]
        if fresh[-1] - fresh[0] == len(fresh) - 1 and np.all(np.diff(fresh) == 1):
            source = planes[int(fresh[0]):int(fresh[-1]) + 1]
        else:
            source = planes[xp.asarray(fresh)]
        _filter_rows(source, across, half_x, block, column_source, filtered[kept:span], xp)
        count = last - first
        matrix = down if count == STRIP_ROWS else down[:count, :count + 2 * half_y]
        result = matrix @ filtered[:span]
        if offset:
            result += offset
        result = result.reshape(count, channels, width)
        for c in range(channels):                                          # interleave again
            out[first:last, :, c] = result[:, c]
        previous = rows
    return out[..., 0] if image.ndim == 2 else out


def _filter_rows(source, across, half_x: int, block: int, column_source, target, xp):
    """Filter ``(n, W, C)`` image rows along the row with the banded ``across`` matrix, block of
    columns by block; writes the channel-planar result into ``target`` of shape ``(n, C * W)``."""
    count, width, channels = source.shape
    padded = xp.empty((count, channels, width + 2 * half_x), dtype=target.dtype)
    for c in range(channels):                                              # de-interleave while converting
        padded[:, c, half_x:half_x + width] = source[:, :, c]
    if half_x:
        padded[:, :, :half_x] = padded[:, :, column_source[:half_x] + half_x]
        padded[:, :, half_x + width:] = padded[:, :, column_source[half_x + width:] + half_x]
    flat = padded.reshape(count * channels, width + 2 * half_x)
    rows = target.reshape(count * channels, width)
    for left in range(0, width, block):
        right = min(width, left + block)
        if right - left == block:
            xp.matmul(flat[:, left:left + block + 2 * half_x], across, out=rows[:, left:right])
        else:
            rows[:, left:right] = flat[:, left:right + 2 * half_x] @ across[:right - left + 2 * half_x, :right - left]


def gaussian_blur(image, sigma: float):
    """Gaussian blur with ``cv2.GaussianBlur(image, (0, 0), sigma)``'s kernel size and borders.

    uint8 and uint16 follow OpenCV's fixed-point path (taps with 8 or 16
    fractional bits, exact integer sums, rounding half up) and are bit-exact;
    floats are convolved in their own precision (within 1e-6 of OpenCV).
    Textbook version: :func:`enhance.reference.gaussian_blur` (a direct separable sum; tested equal).
    """

    check_image(image, "gaussian_blur")
    # A kernel far wider than the image only costs time: sigma up to the image's long side (at least 100).
    sigma = check_number(sigma, "sigma", minimum=1e-6, maximum=float(max(100, *image.shape[:2])))
    colour, alpha = split_alpha(image)
    xp = get_array_module(colour)
    dtype = colour.dtype
    size = kernel_size(sigma, dtype)
    kernel = gaussian_kernel(size, sigma)

    if dtype.kind == "u":
        bits = 8 if dtype == np.uint8 else 16
        taps = fixed_point_kernel(kernel, bits)
        identity = np.array([1 << bits])
        # uint8: sums below 255 * 2**16 < 2**24, exact in float32; uint16: below 2**48, exact in float64.
        # (sum + 2**(2 bits - 1)) >> 2 bits is floor(sum * 2**-2bits + 0.5): the cast truncates.
        out = separable_filter(colour, taps if colour.shape[1] > 1 else identity,
                               taps if colour.shape[0] > 1 else identity,
                               np.float32 if bits == 8 else np.float64, scale=2.0 ** (-2 * bits), offset=0.5,
                               out_dtype=dtype)
    else:
        taps = kernel.astype(dtype)
        identity = np.ones(1)
        out = separable_filter(colour, taps if colour.shape[1] > 1 else identity,
                               taps if colour.shape[0] > 1 else identity, dtype)
        xp.clip(out, 0, 1, out=out)       # float32 taps may sum to a hair above 1
    return join_alpha(out, alpha)


def unsharp_mask(image, sigma: float = 1.0, amount: float = 1.0, threshold: float = 0.0):
    """Sharpen by adding back ``amount`` times the detail ``image - blur(image)``.

    Computed as OpenCV users write it, ``addWeighted(image, 1 + amount, blur, -amount, 0)``
    (fused multiply-adds in float32, rounding half to even): bit-exact on uint8 when
    ``threshold`` is 0.  With ``threshold`` > 0 (in the image's units), pixels whose
    detail is smaller than it are left unchanged.
    """
    check_image(image, "unsharp_mask")
    amount = check_number(amount, "amount", minimum=0, maximum=FACTOR_LIMIT)
    threshold = check_number(threshold, "threshold", minimum=0, maximum=65535)
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
