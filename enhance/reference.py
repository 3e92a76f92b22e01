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
    (fast: :func:`enhance._image.lookup` and ``lookup_channels``)."""
    return np.asarray(table)[image]


def histogram(levels, bins: int):
    """How many pixels have each level: ``np.bincount`` (fast: :func:`enhance._image.histogram`)."""
    return np.bincount(np.asarray(levels).reshape(-1), minlength=bins)[:bins].astype(np.int64)


def channel_histograms(image, bins: int):
    """One histogram per channel of an ``(H, W, C)`` image (fast: ``enhance._image.channel_histograms``)."""
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
