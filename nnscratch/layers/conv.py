"""2-D convolution and transposed convolution as im2col + one matrix product.

Shapes at the API are NCHW, as in PyTorch.  Inside, both layers work in
NHWC so that each kernel offset is one strided copy of whole channel
vectors, and the convolution becomes a single BLAS matrix product:

    cols[n, y, x, i, j, c] = x_padded[n, y*sh + i*dh, x*sw + j*dw, c]
    out[(n, y, x), o]      = sum_(i, j, c) cols[(n, y, x), (i, j, c)] * W[o, c, i, j]

The outputs are NHWC arrays seen through a transpose, so the next layer
gets its NHWC data back without copying.
"""
from __future__ import annotations

import math

from ..backend import DEFAULT_DTYPE, get_array_module
from ..init import kaiming_uniform, zeros
from ..module import Module, Parameter, check_grad_output, check_input


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
    padded = xp.empty((n, h + 2 * pad_h, w + 2 * pad_w, c), dtype=x_nhwc.dtype)
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
            rows = x_padded[:, i * dh:i * dh + sh * (out_h - 1) + 1:sh]
            cols[:, :, :, i] = xp.lib.stride_tricks.as_strided(
                rows, shape=(n, out_h, out_w, kw * channels), strides=(s_n, sh * s_h, sw * s_w, s_c)
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


# im2col matrices are built a block of output rows at a time, small enough to stay
# in cache between the copy that builds a block and the matrix product that reads it.
BLOCK_BYTES = 1 << 22


def _balanced(total: int, most: int) -> int:
    """The block length that splits ``total`` into as few blocks of at most ``most`` as possible,
    all of nearly equal length (no small remainder block, which BLAS runs slowly)."""
    blocks = -(-total // most)
    return -(-total // blocks)


def row_blocks(n: int, out_h: int, out_w: int, row_bytes: int):
    """Split the output rows ``(n, y)`` into blocks of about ``BLOCK_BYTES`` of im2col.

    Yields ``(images, rows, first, last)``: the image and row slices of a block
    and its range in the flattened ``n * out_h * out_w`` output pixels.  Small
    images are grouped whole; large ones are cut into bands of rows.
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


def _block_input(x_padded, images, rows, kernel_h, stride_h, dilation_h):
    """The part of the padded input that the output rows ``rows`` of ``images`` read."""
    start = rows.start * stride_h
    stop = (rows.stop - 1) * stride_h + dilation_h * (kernel_h - 1) + 1
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
    for images, rows, first, last in row_blocks(n, out_h, out_w, row_bytes):
        if scratch is None:                              # the first block is the largest
            scratch = xp.empty((last - first) * row_bytes // x_padded.itemsize, dtype=x_padded.dtype)
        block = _block_input(x_padded, images, rows, kernel[0], stride[0], dilation[0])
        yield first, last, im2col(block, kernel, stride, dilation, (rows.stop - rows.start, out_w), out=scratch)


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
    for images, rows, first, last in row_blocks(n, out_h, out_w, weight_matrix.shape[0] * grad_rows.itemsize):
        cols = xp.matmul(grad_rows[first:last], weight_matrix.T, out=scratch[:last - first] if scratch is not None else None)
        if scratch is None:
            scratch = cols
        target = _block_input(grad_padded, images, rows, kernel[0], stride[0], dilation[0])
        col2im(cols, target.shape[:1] + target.shape[1:], kernel, stride, dilation,
               (rows.stop - rows.start, out_w), out=target)
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


def nhwc_rows(array_nchw):
    """An NCHW array as a ``(N*H*W, C)`` matrix (free when the memory is NHWC already)."""
    n, c, h, w = array_nchw.shape
    return array_nchw.transpose(0, 2, 3, 1).reshape(n * h * w, c)


def rows_to_nchw(rows, n: int, h: int, w: int):
    """Inverse of :func:`nhwc_rows`: a ``(N*H*W, C)`` matrix seen as NCHW (no copy)."""
    return rows.reshape(n, h, w, rows.shape[1]).transpose(0, 3, 1, 2)


def _set_geometry(layer, in_channels, out_channels, kernel_size, stride, padding, dilation) -> None:
    """Check and store the arguments Conv2d and ConvTranspose2d share."""
    layer.in_channels, layer.out_channels = int(in_channels), int(out_channels)
    if layer.in_channels < 1 or layer.out_channels < 1:
        raise ValueError(f"channel counts must be >= 1, got {in_channels} and {out_channels}")
    layer.kernel_size = pair(kernel_size, "kernel_size", 1)
    layer.stride = pair(stride, "stride", 1)
    layer.padding = pair(padding, "padding", 0)
    layer.dilation = pair(dilation, "dilation", 1)


class Conv2d(Module):
    """2-D convolution (cross-correlation, as in every deep-learning library).

    Input ``(N, C_in, H, W)``, output ``(N, C_out, H_out, W_out)`` with
    ``H_out = floor((H + 2p - d(k-1) - 1) / s) + 1``.  ``weight`` has shape
    ``(C_out, C_in, kh, kw)`` and is He-initialised (ReLU gain); ``bias`` has
    shape ``(C_out,)`` and starts at zero.  With ``input_grad=False`` (a first
    layer whose input is data, like PyTorch's input without ``requires_grad``)
    backward computes the parameter gradients only and returns None.

    Backward, with ``g`` the output gradient as a ``(N*H_out*W_out, C_out)``
    matrix and ``cols`` the im2col matrix of the input:

        dW = cols^T g        db = sum_rows g        dx = col2im(g W^T)

    Textbook version: ``nnscratch.reference.conv2d`` and ``nnscratch.reference.conv2d_backward``;
    proven equal in the tests.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, bias: bool = True, rng=None, dtype=DEFAULT_DTYPE, input_grad: bool = True):
        super().__init__()
        _set_geometry(self, in_channels, out_channels, kernel_size, stride, padding, dilation)
        self.input_grad = bool(input_grad)
        self._shifted_path = True     # False: always im2col (the tests compare the two)
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        self.weight = Parameter(kaiming_uniform(shape, rng=rng, dtype=dtype))
        self.bias = Parameter(zeros(self.out_channels, dtype=dtype)) if bias else None
        self._cache = None

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"bias={self.bias is not None}")

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        return tuple(conv_output_size(size, k, s, p, d) for size, k, s, p, d in zip(
            (height, width), self.kernel_size, self.stride, self.padding, self.dilation))

    def weight_matrix(self):
        """``weight`` as a ``(kh*kw*C_in, C_out)`` matrix matching the im2col column order."""
        c_out = self.out_channels
        return self.weight.data.transpose(2, 3, 1, 0).reshape(-1, c_out)

    def forward(self, x):
        check_input(self, x, 4, self.in_channels)
        n, _, h, w = x.shape
        out_h, out_w = self.output_size(h, w)
        if out_h < 1 or out_w < 1:
            raise ValueError(f"Conv2d: input of spatial size {h}x{w} is smaller than the kernel's reach")
        x_padded = pad_nhwc(x.transpose(0, 2, 3, 1), self.padding)
        shifted = self._shifted()
        if shifted:
            x_padded = get_array_module(x).ascontiguousarray(x_padded)
        self._cache = (x_padded, (n, h, w), (out_h, out_w))
        if shifted:
            out = shifted_forward(x_padded, self.weight.data, self.dilation, (out_h, out_w))
            if self.bias is not None:
                out += self.bias.data.reshape(1, -1, 1, 1)
            return out
        out = conv_rows(x_padded, self.weight_matrix(), self.kernel_size, self.stride, self.dilation, (out_h, out_w))
        if self.bias is not None:
            out += self.bias.data
        return rows_to_nchw(out, n, out_h, out_w)

    def _shifted(self) -> bool:
        """Whether this layer takes the shifted-product path (stride 1, few outputs per pixel)."""
        return (self.stride == (1, 1) and self._shifted_path
                and self.out_channels * self.kernel_size[0] * self.kernel_size[1] <= SHIFTED_MAX_OUTPUTS)

    def backward(self, grad_output):
        cache = self._cache
        check_grad_output(self, grad_output,
                          None if cache is None else (cache[1][0], self.out_channels, *cache[2]))
        x_padded, (n, h, w), out_size = cache
        pad_h, pad_w = self.padding
        if self._shifted():
            grad_weight, grad_bias, grad_padded = shifted_backward(x_padded, self.weight.data, self.dilation,
                                                                   grad_output, self.input_grad)
            self.weight.accumulate(grad_weight)
            if self.bias is not None:
                self.bias.accumulate(grad_bias)
            if grad_padded is None:
                return None
            return grad_padded[:, pad_h:pad_h + h, pad_w:pad_w + w, :].transpose(0, 3, 1, 2)
        grad_rows = nhwc_rows(grad_output)
        grad_weight = conv_weight_grad(x_padded, grad_rows, self.kernel_size, self.stride, self.dilation, out_size)
        grad_weight = grad_weight.reshape(*self.kernel_size, self.in_channels, self.out_channels)
        self.weight.accumulate(grad_weight.transpose(3, 2, 0, 1))
        if self.bias is not None:
            self.bias.accumulate(grad_rows.sum(axis=0))
        if not self.input_grad:
            return None
        (kh, kw), (dh, dw) = self.kernel_size, self.dilation
        if self.stride == (1, 1) and pad_h <= dh * (kh - 1) and pad_w <= dw * (kw - 1):
            # Stride 1: dx is the convolution of the gradient, padded by d(k-1)-p, with the
            # kernel rotated by 180° and its channel axes swapped (no scatter needed).
            grad_padded = pad_nhwc(grad_output.transpose(0, 2, 3, 1), (dh * (kh - 1) - pad_h, dw * (kw - 1) - pad_w))
            rotated = self.weight.data[:, :, ::-1, ::-1].transpose(2, 3, 0, 1).reshape(-1, self.in_channels)
            grad_rows_in = conv_rows(grad_padded, rotated, self.kernel_size, (1, 1), self.dilation, (h, w))
            return rows_to_nchw(grad_rows_in, n, h, w)
        grad_padded = conv_input_grad(grad_rows, self.weight_matrix(), x_padded.shape, self.kernel_size,
                                      self.stride, self.dilation, out_size)
        return grad_padded[:, pad_h:pad_h + h, pad_w:pad_w + w, :].transpose(0, 3, 1, 2)


class ConvTranspose2d(Module):
    """Transposed convolution (the adjoint of Conv2d), used to upsample.

    Input ``(N, C_in, H, W)``, output ``(N, C_out, H_out, W_out)`` with
    ``H_out = (H - 1) s - 2p + d(k - 1) + output_padding + 1``; ``weight``
    has shape ``(C_in, C_out, kh, kw)`` as in PyTorch.  Forward scatters each
    input pixel times the kernel onto the output (col2im of ``x W``);
    backward gathers: ``dx = im2col(g) W^T``, ``dW = x^T im2col(g)``.

    Textbook version: ``nnscratch.reference.conv_transpose2d`` and ``nnscratch.reference.conv_transpose2d_backward``;
    proven equal in the tests.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, dilation=1, bias: bool = True, rng=None, dtype=DEFAULT_DTYPE):
        super().__init__()
        _set_geometry(self, in_channels, out_channels, kernel_size, stride, padding, dilation)
        self.output_padding = pair(output_padding, "output_padding", 0)
        for op, s, d in zip(self.output_padding, self.stride, self.dilation):
            if op >= max(s, d):
                raise ValueError(f"output_padding must be smaller than stride or dilation, got {self.output_padding}")
        shape = (self.in_channels, self.out_channels, *self.kernel_size)
        # Each output pixel sums about C_in * kh * kw / (sh * sw) terms.
        fan_in = self.in_channels * math.prod(self.kernel_size) // math.prod(self.stride)
        self.weight = Parameter(kaiming_uniform(shape, fan_in=max(fan_in, 1), rng=rng, dtype=dtype))
        self.bias = Parameter(zeros(self.out_channels, dtype=dtype)) if bias else None
        self._cache = None

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, output_padding={self.output_padding}, "
                f"dilation={self.dilation}, bias={self.bias is not None}")

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        return tuple((size - 1) * s - 2 * p + d * (k - 1) + op + 1 for size, k, s, p, op, d in zip(
            (height, width), self.kernel_size, self.stride, self.padding, self.output_padding, self.dilation))

    def _buffer_shape(self, n, h, w):
        """NHWC shape of the uncropped output: large enough for every scatter and the crop."""
        full = [(size - 1) * s + d * (k - 1) + 1 for size, k, s, d in zip((h, w), self.kernel_size, self.stride, self.dilation)]
        out = self.output_size(h, w)
        return (n, *(max(f, p + o) for f, p, o in zip(full, self.padding, out)), self.out_channels)

    def weight_matrix(self):
        """``weight`` as a ``(C_in, kh*kw*C_out)`` matrix matching the im2col column order."""
        return self.weight.data.transpose(0, 2, 3, 1).reshape(self.in_channels, -1)

    def forward(self, x):
        check_input(self, x, 4, self.in_channels)
        n, _, h, w = x.shape
        out_h, out_w = self.output_size(h, w)
        if out_h < 1 or out_w < 1:
            raise ValueError(f"ConvTranspose2d: padding {self.padding} leaves no output for a {h}x{w} input")
        x_rows = nhwc_rows(x)
        cols = x_rows @ self.weight_matrix()
        buffer = col2im(cols, self._buffer_shape(n, h, w), self.kernel_size, self.stride, self.dilation, (h, w))
        pad_h, pad_w = self.padding
        out = buffer[:, pad_h:pad_h + out_h, pad_w:pad_w + out_w, :]
        if self.bias is not None:
            out += self.bias.data
        self._cache = (x_rows, (n, h, w), (out_h, out_w))
        return out.transpose(0, 3, 1, 2)

    def backward(self, grad_output):
        cache = self._cache
        check_grad_output(self, grad_output,
                          None if cache is None else (cache[1][0], self.out_channels, *cache[2]))
        x_rows, (n, h, w), (out_h, out_w) = cache
        xp = get_array_module(grad_output)
        grad_nhwc = grad_output.transpose(0, 2, 3, 1)
        pad_h, pad_w = self.padding
        buffer_shape = self._buffer_shape(n, h, w)
        if buffer_shape[1:3] == (out_h, out_w) and pad_h == pad_w == 0:
            grad_buffer = grad_nhwc
        else:
            grad_buffer = xp.zeros(buffer_shape, dtype=grad_output.dtype)
            grad_buffer[:, pad_h:pad_h + out_h, pad_w:pad_w + out_w, :] = grad_nhwc
        grad_cols = im2col(grad_buffer, self.kernel_size, self.stride, self.dilation, (h, w))
        grad_weight = (x_rows.T @ grad_cols).reshape(self.in_channels, *self.kernel_size, self.out_channels)
        self.weight.accumulate(grad_weight.transpose(0, 3, 1, 2))
        if self.bias is not None:
            self.bias.accumulate(grad_nhwc.sum(axis=(0, 1, 2)))
        grad_rows = grad_cols @ self.weight_matrix().T
        return rows_to_nchw(grad_rows, n, h, w)
