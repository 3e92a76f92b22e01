"""NHWC layout: the arrays behind the engine's NCHW views, and the arguments of window layers.

Layers see NCHW arrays (as PyTorch); convolution, pooling and batch norm work on the same
memory as NHWC, where a pixel's channels are contiguous: a kernel offset is one strided slice
of whole channel vectors, and an ``(N*H*W, C)`` matrix of rows is free.  These helpers convert
between the two views, pad, and select one kernel offset's pixels.
"""
from __future__ import annotations

from ..backend import get_array_module, uses_cpu_strategy


def pair(value, name: str, minimum: int = 0) -> tuple[int, int]:
    """Turn an int or a 2-sequence into a pair of ints >= minimum."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    try:
        first, second = value
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (first, second)):
            raise TypeError
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}") from None
    if first < minimum or second < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return first, second


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Output length of a convolution along one axis (PyTorch's formula)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def pad_nhwc(x_nhwc, padding: tuple[int, int], value: float = 0.0):
    """Pad the two spatial axes of an NHWC array with ``value`` (no copy when there is no padding)."""
    pad_h, pad_w = padding
    if pad_h == 0 and pad_w == 0:
        return x_nhwc
    xp = get_array_module(x_nhwc)
    n, h, w, c = x_nhwc.shape
    shape = (n, h + 2 * pad_h, w + 2 * pad_w, c)
    if not uses_cpu_strategy(xp):           # a device: two operations (fill, then copy the interior)
        padded = xp.full(shape, value, dtype=x_nhwc.dtype)
        padded[:, pad_h:pad_h + h, pad_w:pad_w + w, :] = x_nhwc
        return padded
    padded = xp.empty(shape, dtype=x_nhwc.dtype)
    padded[:, pad_h:pad_h + h, pad_w:pad_w + w, :] = x_nhwc
    for border in ((slice(None), slice(0, pad_h)), (slice(None), slice(pad_h + h, None)),     # only the border is filled
                   (slice(None), slice(pad_h, pad_h + h), slice(0, pad_w)),
                   (slice(None), slice(pad_h, pad_h + h), slice(pad_w + w, None))):
        padded[border] = value
    return padded


def window(offset_h, offset_w, out_size, stride):
    """Slices selecting, for one kernel offset, the input pixel under every output pixel."""
    (out_h, out_w), (stride_h, stride_w) = out_size, stride
    return (
        slice(None),
        slice(offset_h, offset_h + stride_h * (out_h - 1) + 1, stride_h),
        slice(offset_w, offset_w + stride_w * (out_w - 1) + 1, stride_w),
        slice(None),
    )


def nhwc_rows(array_nchw):
    """An NCHW array as a ``(N*H*W, C)`` matrix (free when the memory is NHWC already)."""
    n, c, h, w = array_nchw.shape
    return array_nchw.transpose(0, 2, 3, 1).reshape(n * h * w, c)


def rows_to_nchw(rows, n: int, h: int, w: int):
    """Inverse of :func:`nhwc_rows`: a ``(N*H*W, C)`` matrix seen as NCHW (no copy)."""
    return rows.reshape(n, h, w, rows.shape[1]).transpose(0, 3, 1, 2)
