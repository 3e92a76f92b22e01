"""im2col and col2im: every receptive field of an image as one row of a matrix, and back.

    cols[n, y, x, i, j, c] = x_padded[n, y*sh + i*dh, x*sw + j*dw, c]

With this matrix a convolution is one product, ``cols @ W^T``; col2im is its adjoint (each row
summed back onto the pixels it came from), which the input gradient needs.  The loop version of
the whole convolution is ``nnscratch.reference.conv2d``.
"""
from __future__ import annotations

from ..backend import get_array_module
from .layout import window


# Below this many contiguous values per kernel row (kw * C), im2col is built transposed: one
# long copy per kernel offset and channel instead of many tiny per-pixel copies.
NARROW_ROW = 16


def im2col(x_padded, kernel, stride, dilation, out_size, out=None):
    """Gather every receptive field of an NHWC array into rows.

    Returns an array of shape ``(N * out_h * out_w, kh * kw * C)``, columns
    ordered (kernel row, kernel column, channel).  One strided copy per kernel
    offset; without horizontal dilation the ``kw`` offsets of a kernel row are
    adjacent pixels, so a whole kernel row (``kw * C`` contiguous values) is
    copied at once.  When a kernel row is narrow (few channels, as in a first
    layer on a gray image) the matrix is built in column-major order instead,
    one plane per (offset, channel), and returned as a transposed view: BLAS
    takes either.  No Python loop over pixels.  ``out``, if given, is a buffer
    of at least that many elements to write into.
    """
    xp = get_array_module(x_padded)
    n, _, _, channels = x_padded.shape
    (kh, kw), (dh, dw) = kernel, dilation
    (sh, sw), (out_h, out_w) = stride, out_size
    size = n * out_h * out_w * kh * kw * channels
    if kw * channels < NARROW_ROW:
        shape = (kh, kw, channels, n, out_h, out_w)
        cols = xp.empty(shape, dtype=x_padded.dtype) if out is None else out.reshape(-1)[:size].reshape(shape)
        for i in range(kh):
            for j in range(kw):
                patch = x_padded[window(i * dh, j * dw, out_size, stride)]
                for c in range(channels):
                    cols[i, j, c] = patch[..., c]
        return cols.reshape(kh * kw * channels, n * out_h * out_w).T
    shape = (n, out_h, out_w, kh, kw, channels)
    cols = xp.empty(shape, dtype=x_padded.dtype) if out is None else out.reshape(-1)[:size].reshape(shape)
    if dw == 1 and x_padded.strides[3] == x_padded.itemsize and x_padded.strides[2] == channels * x_padded.itemsize:
        s_n, s_h, s_w, s_c = x_padded.strides
        for i in range(kh):
            band = x_padded[:, i * dh:i * dh + sh * (out_h - 1) + 1:sh]     # the lines kernel row i reads
            cols[:, :, :, i] = xp.lib.stride_tricks.as_strided(
                band, shape=(n, out_h, out_w, kw * channels), strides=(s_n, sh * s_h, sw * s_w, s_c)
            ).reshape(n, out_h, out_w, kw, channels)
    else:
        for i in range(kh):
            for j in range(kw):
                cols[:, :, :, i, j, :] = x_padded[window(i * dh, j * dw, out_size, stride)]
    return cols.reshape(n * out_h * out_w, kh * kw * channels)


def col2im(cols, padded_shape, kernel, stride, dilation, out_size, out=None):
    """Adjoint of :func:`im2col`: sum every row back onto the pixels it came from.

    ``cols`` has shape ``(N * out_h * out_w, kh * kw * C)``; the result is an
    NHWC array of ``padded_shape`` (``out``, if given, is added into instead of
    a new zero array).  Overlapping windows add up, one slice-add per kernel offset.
    """
    xp = get_array_module(cols)
    n, _, _, channels = padded_shape
    (kh, kw), (dh, dw) = kernel, dilation
    out_h, out_w = out_size
    cols = cols.reshape(n, out_h, out_w, kh, kw, channels)
    image = xp.zeros(padded_shape, dtype=cols.dtype) if out is None else out
    for i in range(kh):
        for j in range(kw):
            image[window(i * dh, j * dw, out_size, stride)] += cols[:, :, :, i, j, :]
    return image
