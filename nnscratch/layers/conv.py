"""2-D convolution and transposed convolution as im2col + one matrix product.

Shapes at the API are NCHW, as in PyTorch.  Inside, both layers work in
NHWC so that each kernel offset is one strided copy of whole channel
vectors, and the convolution becomes a single BLAS matrix product:

    cols[n, y, x, i, j, c] = x_padded[n, y*sh + i*dh, x*sw + j*dw, c]
    out[(n, y, x), o]      = sum_(i, j, c) cols[(n, y, x), (i, j, c)] * W[o, c, i, j]

The outputs are NHWC arrays seen through a transpose, so the next layer
gets its NHWC data back without copying.

Read in this order: the classes below; im2col/col2im in ``im2col.py``; the NHWC helpers in
``layout.py``; then the private fast paths (cache blocking, the shifted product) in
``_conv_fast.py``.  The loop versions are in ``nnscratch/reference.py``.
"""
from __future__ import annotations

import math

from ..backend import DEFAULT_DTYPE, get_array_module, uses_cpu_strategy
from ..init import kaiming_uniform, zeros
from ..module import Module, Parameter, check_grad_output, check_input
from . import device
from ._conv_fast import (SHIFTED_MAX_OUTPUTS, conv_input_grad, conv_rows, conv_weight_grad, shifted_backward,
                         shifted_forward)
from .im2col import col2im, im2col
from .layout import conv_output_size, nhwc_rows, pad_nhwc, pair, rows_to_nchw


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

    On NumPy the product is made in cache-sized blocks, or as shifted taps for narrow layers
    (``_conv_fast.py``); on any other array module (a GPU) in a few whole-batch operations
    (:func:`nnscratch.layers.device.conv_forward` and ``conv_backward``).

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
        if not uses_cpu_strategy(get_array_module(x)):
            bias = None if self.bias is None else self.bias.data
            out, x_padded = device.conv_forward(x, self.weight.data, bias, self.stride, self.padding, self.dilation,
                                                (out_h, out_w))
            self._cache = (x_padded, (n, h, w), (out_h, out_w))
            return out
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
        if not uses_cpu_strategy(get_array_module(grad_output)):
            grad_weight, grad_bias, grad_input = device.conv_backward(
                grad_output, x_padded, self.weight.data, self.stride, self.padding, self.dilation, (h, w), self.input_grad,
                bias=self.bias is not None)
            self.weight.accumulate(grad_weight)
            if self.bias is not None:
                self.bias.accumulate(grad_bias)
            return grad_input
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
