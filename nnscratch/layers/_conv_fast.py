"""The fast paths of Conv2d, private: cache blocking and the shifted product.

Words: a *row* is a row of a matrix (one output pixel of the im2col matrix, or of an
``(N*H*W, C)`` activation); a *line* is a row of pixels of an image.

:mod:`nnscratch.layers.conv` reads as im2col + one matrix product.  Two refinements make that
fast on a CPU: the im2col matrix is built and consumed a block of output lines (image rows) at a time, so each
block stays in cache between the copy that makes it and the product that reads it; and layers
with few (tap, output) pairs skip im2col for one product of every padded pixel with all taps and
a shifted add per tap.  Both are tested equal to plain im2col (``tests/nnscratch/test_conv.py``).
"""
from __future__ import annotations

from ..backend import get_array_module
from .im2col import col2im, im2col


# im2col matrices are built a block of output lines (image rows) at a time, small enough to stay
# in cache between the copy that builds a block and the matrix product that reads it.
BLOCK_BYTES = 1 << 22


def _balanced(total: int, most: int) -> int:
    """The block length that splits ``total`` into as few blocks of at most ``most`` as possible,
    all of nearly equal length (no small remainder block, which BLAS runs slowly)."""
    blocks = -(-total // most)
    return -(-total // blocks)


def line_blocks(n: int, out_h: int, out_w: int, row_bytes: int):
    """Split the output lines ``(n, y)`` into blocks of about ``BLOCK_BYTES`` of im2col.

    Yields ``(images, lines, first, last)``: the image and line slices of a block
    and its range in the flattened ``n * out_h * out_w`` output pixels.  Small
    images are grouped whole; large ones are cut into bands of lines.
    """
    image_bytes = out_h * out_w * row_bytes
    if image_bytes <= BLOCK_BYTES:
        per_block = _balanced(n, max(1, BLOCK_BYTES // image_bytes))
        for first in range(0, n, per_block):
            last = min(first + per_block, n)
            yield slice(first, last), slice(0, out_h), first * out_h * out_w, last * out_h * out_w
    else:
        band = _balanced(out_h, max(1, BLOCK_BYTES // (out_w * row_bytes)))
        for image in range(n):
            for top in range(0, out_h, band):
                bottom = min(top + band, out_h)
                yield (slice(image, image + 1), slice(top, bottom),
                       (image * out_h + top) * out_w, (image * out_h + bottom) * out_w)


def _block_input(x_padded, images, lines, kernel_h, stride_h, dilation_h):
    """The part of the padded input that the output lines ``lines`` of ``images`` read."""
    start = lines.start * stride_h
    stop = (lines.stop - 1) * stride_h + dilation_h * (kernel_h - 1) + 1
    return x_padded[images, start:stop]


def im2col_blocks(x_padded, kernel, stride, dilation, out_size):
    """Yield ``(first, last, cols)``: the im2col rows of output pixels ``first:last``, block by block.

    The blocks share one scratch buffer, so each ``cols`` is valid until the next one is made.
    """
    xp = get_array_module(x_padded)
    n, channels = x_padded.shape[0], x_padded.shape[3]
    out_h, out_w = out_size
    row_bytes = kernel[0] * kernel[1] * channels * x_padded.itemsize
    scratch = None
    for images, lines, first, last in line_blocks(n, out_h, out_w, row_bytes):
        if scratch is None:                              # the first block is the largest
            scratch = xp.empty((last - first) * row_bytes // x_padded.itemsize, dtype=x_padded.dtype)
        block = _block_input(x_padded, images, lines, kernel[0], stride[0], dilation[0])
        yield first, last, im2col(block, kernel, stride, dilation, (lines.stop - lines.start, out_w), out=scratch)


def conv_rows(x_padded, weight_matrix, kernel, stride, dilation, out_size):
    """``im2col(x_padded) @ weight_matrix`` computed block by block: ``(N*out_h*out_w, C_out)``."""
    xp = get_array_module(x_padded)
    out = xp.empty((x_padded.shape[0] * out_size[0] * out_size[1], weight_matrix.shape[1]), dtype=x_padded.dtype)
    for first, last, cols in im2col_blocks(x_padded, kernel, stride, dilation, out_size):
        xp.matmul(cols, weight_matrix, out=out[first:last])
    return out


def conv_weight_grad(x_padded, grad_rows, kernel, stride, dilation, out_size):
    """``im2col(x_padded).T @ grad_rows`` computed block by block: ``(kh*kw*C_in, C_out)``."""
    xp = get_array_module(x_padded)
    k_cols = kernel[0] * kernel[1] * x_padded.shape[3]
    grad = xp.zeros((k_cols, grad_rows.shape[1]), dtype=grad_rows.dtype)
    for first, last, cols in im2col_blocks(x_padded, kernel, stride, dilation, out_size):
        grad += cols.T @ grad_rows[first:last]
    return grad


def conv_input_grad(grad_rows, weight_matrix, padded_shape, kernel, stride, dilation, out_size):
    """``col2im(grad_rows @ weight_matrix.T)`` computed block by block: an NHWC array of ``padded_shape``."""
    xp = get_array_module(grad_rows)
    n = padded_shape[0]
    out_h, out_w = out_size
    grad_padded = xp.zeros(padded_shape, dtype=grad_rows.dtype)
    scratch = None
    for images, lines, first, last in line_blocks(n, out_h, out_w, weight_matrix.shape[0] * grad_rows.itemsize):
        cols = xp.matmul(grad_rows[first:last], weight_matrix.T, out=scratch[:last - first] if scratch is not None else None)
        if scratch is None:
            scratch = cols
        target = _block_input(grad_padded, images, lines, kernel[0], stride[0], dilation[0])
        col2im(cols, target.shape[:1] + target.shape[1:], kernel, stride, dilation,
               (lines.stop - lines.start, out_w), out=target)
    return grad_padded


# Stride-1 convolutions with at most this many (kernel offset, output channel) pairs take
# the shifted-product path: few outputs per pixel make im2col's skinny product memory-bound.
SHIFTED_MAX_OUTPUTS = 32


def _grid_offsets(padded_shape, kernel, dilation):
    """Flat offsets of the kernel taps in a padded NHWC grid, and the anchors (output positions) count."""
    _, padded_w = padded_shape[1], padded_shape[2]
    (kh, kw), (dh, dw) = kernel, dilation
    offsets = [i * dh * padded_w + j * dw for i in range(kh) for j in range(kw)]
    total = padded_shape[0] * padded_shape[1] * padded_shape[2]
    return offsets, total - offsets[-1]


def shifted_forward(x_padded, weight, dilation, out_size):
    """Stride-1 convolution as one product and shifted sums (few output channels).

    Every padded pixel is multiplied by every (tap, output channel) weight at once,
    ``Y = W_all x`` with ``W_all`` of shape ``(kh*kw*C_out, C_in)``; the output at
    grid position ``q`` is then ``sum over taps t of Y[t, q + offset_t]``, one
    contiguous shifted add per tap.  Positions whose window wraps past a row or an
    image are computed and dropped.  Returns the output as an NCHW view.
    """
    xp = get_array_module(x_padded)
    c_out, c_in, kh, kw = weight.shape
    n, padded_h, padded_w, _ = x_padded.shape
    flat = x_padded.reshape(-1, c_in)
    all_taps = weight.transpose(2, 3, 0, 1).reshape(kh * kw * c_out, c_in)
    products = all_taps @ flat.T                                   # (taps * C_out, grid)
    offsets, anchors = _grid_offsets(x_padded.shape, (kh, kw), dilation)
    grid = xp.zeros((c_out, flat.shape[0]), dtype=products.dtype)
    for tap, offset in enumerate(offsets):
        grid[:, :anchors] += products[tap * c_out:(tap + 1) * c_out, offset:offset + anchors]
    out_h, out_w = out_size
    return grid.reshape(c_out, n, padded_h, padded_w)[:, :, :out_h, :out_w].transpose(1, 0, 2, 3)


def shifted_backward(x_padded, weight, dilation, grad_output, input_grad: bool):
    """Gradients of :func:`shifted_forward`: ``(grad_weight, grad_bias, grad_x_padded or None)``.

    The output gradient is spread on the padded grid and shifted once per tap into
    ``G`` of shape ``(kh*kw*C_out, grid)``; then ``dW_all = G x`` and ``dx = G^T W_all``
    are single products.
    """
    xp = get_array_module(x_padded)
    c_out, c_in, kh, kw = weight.shape
    n, padded_h, padded_w, _ = x_padded.shape
    out_h, out_w = grad_output.shape[2:]
    flat = x_padded.reshape(-1, c_in)
    offsets, anchors = _grid_offsets(x_padded.shape, (kh, kw), dilation)
    grad_grid = xp.zeros((c_out, flat.shape[0]), dtype=grad_output.dtype)
    grad_grid.reshape(c_out, n, padded_h, padded_w)[:, :, :out_h, :out_w] = grad_output.transpose(1, 0, 2, 3)
    shifted = xp.zeros((kh * kw * c_out, flat.shape[0]), dtype=grad_output.dtype)
    for tap, offset in enumerate(offsets):
        shifted[tap * c_out:(tap + 1) * c_out, offset:offset + anchors] = grad_grid[:, :anchors]
    grad_all = shifted @ flat                                      # (taps * C_out, C_in)
    grad_weight = grad_all.reshape(kh, kw, c_out, c_in).transpose(2, 3, 0, 1)
    grad_bias = grad_grid.sum(axis=1)
    if not input_grad:
        return grad_weight, grad_bias, None
    all_taps = weight.transpose(2, 3, 0, 1).reshape(kh * kw * c_out, c_in)
    grad_x = (shifted.T @ all_taps).reshape(n, padded_h, padded_w, c_in)
    return grad_weight, grad_bias, grad_x
