"""Changing resolution: Upsample (nearest, bilinear), MaxPool2d, AvgPool2d.

Pooling works on NHWC views of the NCHW input, one strided slice per
kernel offset, exactly like im2col in ``conv.py``.  Upsampling is
separable: along each axis every output sample is a weighted sum of at most
two input samples, so forward gathers with ``take`` and backward applies the
transposed interpolation matrix (a small dense matrix per axis).
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import get_array_module, uses_cpu_strategy
from ..module import Module, check_grad_output, check_input
from . import device
from .layout import conv_output_size, pad_nhwc, pair, window


def _interpolation_plan(in_size: int, out_size: int, scale: float | None, mode: str, align_corners: bool):
    """Per output sample: two source indices and their weights (float64, NumPy).

    Follows ``torch.nn.functional.interpolate``: with ``scale`` given the
    source step is ``1 / scale``, else ``in_size / out_size``.
    """
    dst = np.arange(out_size, dtype=np.float64)
    if mode == "nearest":
        step = 1.0 / scale if scale else in_size / out_size
        index = np.minimum(np.floor(dst * step).astype(np.int64), in_size - 1)
        return index, index, np.ones(out_size), np.zeros(out_size)
    if align_corners:
        step = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
        src = dst * step
    else:
        step = 1.0 / scale if scale else in_size / out_size
        src = np.maximum((dst + 0.5) * step - 0.5, 0.0)
    lower = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    upper = np.minimum(lower + 1, in_size - 1)
    weight_upper = src - lower
    return lower, upper, 1.0 - weight_upper, weight_upper


def _along(axis: int, index):
    """An index tuple selecting ``index`` along ``axis`` of an NHWC array."""
    return (slice(None),) * axis + (index,)


def _double(x, axis: int, out=None):
    """Bilinear upsampling by exactly 2 along one axis (align_corners=False), in a few whole-array passes.

    Output ``2i`` is ``0.25 x[i-1] + 0.75 x[i]`` and ``2i+1`` is ``0.75 x[i] + 0.25 x[i+1]``;
    at the ends the plan's clamping gives ``x[0]`` and ``0.75 x[n-1] + 0.25 x[n-1]``.
    The products and sums are the general path's, so the results are identical.
    """
    xp = get_array_module(x)
    shape = list(x.shape)
    shape[axis] *= 2
    out = xp.empty(shape, dtype=x.dtype) if out is None else out
    even, odd = out[_along(axis, slice(0, None, 2))], out[_along(axis, slice(1, None, 2))]
    three = x * x.dtype.type(0.75)
    quarter = x.dtype.type(0.25)
    xp.multiply(x[_along(axis, slice(None, -1))], quarter, out=even[_along(axis, slice(1, None))])
    even[_along(axis, slice(1, None))] += three[_along(axis, slice(1, None))]
    even[_along(axis, slice(0, 1))] = x[_along(axis, slice(0, 1))]
    xp.multiply(x[_along(axis, slice(1, None))], quarter, out=odd[_along(axis, slice(None, -1))])
    xp.multiply(x[_along(axis, slice(-1, None))], quarter, out=odd[_along(axis, slice(-1, None))])
    odd += three
    return out


def _double_adjoint(grad, axis: int, out=None):
    """The transpose of :func:`_double`: the gradient of the input from the gradient of the output."""
    xp = get_array_module(grad)
    even, odd = grad[_along(axis, slice(0, None, 2))], grad[_along(axis, slice(1, None, 2))]
    quarter = grad.dtype.type(0.25)
    out = xp.add(even, odd, out=out)
    out *= grad.dtype.type(0.75)
    out[_along(axis, slice(None, -1))] += even[_along(axis, slice(1, None))] * quarter
    out[_along(axis, slice(1, None))] += odd[_along(axis, slice(None, -1))] * quarter
    out[_along(axis, slice(0, 1))] += even[_along(axis, slice(0, 1))] * quarter
    out[_along(axis, slice(-1, None))] += odd[_along(axis, slice(-1, None))] * quarter
    return out


# Images per group in the doubling fast path: a group's input and intermediate stay in cache.
GROUP_BYTES = 1 << 19


def _in_groups(function, x, out_shape):
    """``function(x[group], out[group])`` over groups of whole images, into one new array."""
    xp = get_array_module(x)
    out = xp.empty(out_shape, dtype=x.dtype)
    per_image = max(1, GROUP_BYTES // max(1, x[0].size * x.itemsize))
    for first in range(0, x.shape[0], per_image):
        function(x[first:first + per_image], out[first:first + per_image])
    return out


def _interpolation_matrix(plan, in_size: int):
    """Dense ``(out, in)`` matrix of an interpolation plan (for the backward pass)."""
    lower, upper, weight_lower, weight_upper = plan
    matrix = np.zeros((len(lower), in_size))
    rows = np.arange(len(lower))
    matrix[rows, lower] += weight_lower
    matrix[rows, upper] += weight_upper
    return matrix


class Upsample(Module):
    """Resize the two spatial axes, matching ``torch.nn.Upsample``.

    Give ``scale_factor`` (a number or a pair) or ``size``.  ``mode`` is
    'nearest' or 'bilinear'; bilinear follows ``align_corners`` (default
    False: samples at ``(x + 0.5) / scale - 0.5``, clamped at 0).

    Along one axis ``y = A x`` with a sparse ``(out, in)`` matrix ``A``; the
    backward pass is ``dx = A^T dy``, applied to both axes.  On NumPy the two
    samples of each output are gathered (or, for doubling, combined with fixed
    weights in cache-sized groups of images); on any other array module (a GPU)
    ``A`` is a small dense matrix per axis and each direction is two batched
    matrix products (:func:`nnscratch.layers.device.resample`).

    Textbook version: ``nnscratch.reference.upsample`` and ``nnscratch.reference.upsample_backward``;
    proven equal in the tests.
    """

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners: bool = False):
        super().__init__()
        if mode not in ("nearest", "bilinear"):
            raise ValueError(f"Upsample mode must be 'nearest' or 'bilinear', got {mode!r}")
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample needs exactly one of size and scale_factor")
        if scale_factor is not None:
            factors = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor, scale_factor)
            if len(factors) != 2 or not all(isinstance(f, (int, float)) and f > 0 and math.isfinite(f) for f in factors):
                raise ValueError(f"scale_factor must be a positive number or a pair of them, got {scale_factor!r}")
            self.scale_factor = tuple(float(f) for f in factors)
            self.size = None
        else:
            self.size = pair(size, "size", 1)
            self.scale_factor = None
        self.mode = mode
        self.align_corners = bool(align_corners) if mode == "bilinear" else False
        self._fast_path = True     # False: always the general plan (the tests compare the two)
        self._cache = None
        self._device_matrices = {}  # (h, w, dtype, array module) -> the two matrices, made on the device once

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}" + (", align_corners=True" if self.align_corners else "")

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        if self.size is not None:
            return self.size
        return tuple(int(math.floor(size * f)) for size, f in zip((height, width), self.scale_factor))

    def _doubles(self, height: int, width: int) -> bool:
        """Bilinear (align_corners=False) to exactly twice the size: the fixed-weight fast path."""
        return (self.mode == "bilinear" and not self.align_corners and self._fast_path
                and self.output_size(height, width) == (2 * height, 2 * width))

    def _plans(self, height, width):
        out = self.output_size(height, width)
        scales = self.scale_factor or (None, None)
        return [_interpolation_plan(i, o, s, self.mode, self.align_corners)
                for i, o, s in zip((height, width), out, scales)]

    def _matrices(self, xp, h: int, w: int, dtype):
        """The ``(out, in)`` interpolation matrices of both axes on ``xp``'s device (cached)."""
        key = (h, w, dtype.str, id(xp))
        if key not in self._device_matrices:
            self._device_matrices[key] = tuple(xp.asarray(_interpolation_matrix(plan, size).astype(dtype))
                                               for plan, size in zip(self._plans(h, w), (h, w)))
        return self._device_matrices[key]

    def forward(self, x):
        check_input(self, x, 4)
        xp = get_array_module(x)
        n, c, h, w = x.shape
        if min(self.output_size(h, w)) < 1:
            raise ValueError(f"Upsample: {h}x{w} input gives an empty output")
        if not uses_cpu_strategy(xp):
            out = device.resample(x, *self._matrices(xp, h, w, x.dtype))
            self._cache = (x.shape, out.shape)
            return out
        plan_h, plan_w = self._plans(h, w)
        # Work on the NHWC view (free for the NHWC memory our layers produce) and
        # return an NCHW view of an NHWC result, so the next convolution needs no copy.
        out = x.transpose(0, 2, 3, 1)
        if self._doubles(h, w):
            out = _in_groups(lambda part, target: _double(_double(part, 1), 2, out=target),
                             out, (n, 2 * h, 2 * w, c)).transpose(0, 3, 1, 2)
            self._cache = (x.shape, out.shape)
            return out
        for axis, (lower, upper, weight_lower, weight_upper) in ((1, plan_h), (2, plan_w)):
            lower_x = out.take(xp.asarray(lower), axis=axis)
            if self.mode == "nearest":
                out = lower_x
                continue
            shape = (-1, 1, 1) if axis == 1 else (-1, 1)
            out = (lower_x * xp.asarray(weight_lower.astype(x.dtype)).reshape(shape)
                   + out.take(xp.asarray(upper), axis=axis) * xp.asarray(weight_upper.astype(x.dtype)).reshape(shape))
        out = out.transpose(0, 3, 1, 2)
        self._cache = (x.shape, out.shape)
        return out

    def backward(self, grad_output):
        check_grad_output(self, grad_output, None if self._cache is None else self._cache[1])
        xp = get_array_module(grad_output)
        (n, c, h, w), _ = self._cache
        if not uses_cpu_strategy(xp):
            return device.resample_adjoint(grad_output, *self._matrices(xp, h, w, grad_output.dtype))
        if self._doubles(h, w):
            grad = _in_groups(lambda part, target: _double_adjoint(_double_adjoint(part, 2), 1, out=target),
                              grad_output.transpose(0, 2, 3, 1), (n, h, w, c))
            return grad.transpose(0, 3, 1, 2)
        plan_h, plan_w = self._plans(h, w)
        matrix_h = xp.asarray(_interpolation_matrix(plan_h, h).astype(grad_output.dtype))
        matrix_w = xp.asarray(_interpolation_matrix(plan_w, w).astype(grad_output.dtype))
        grad = grad_output @ matrix_w                                  # (N, C, H_out, W)
        grad = xp.tensordot(matrix_h.T, grad, axes=([1], [2]))         # (H, N, C, W)
        return grad.transpose(1, 2, 0, 3)


class _Pool2d(Module):
    """Shared geometry of the pooling layers (NCHW in and out)."""

    pad_value = 0.0

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = pair(kernel_size, "kernel_size", 1)
        self.stride = pair(stride, "stride", 1) if stride is not None else self.kernel_size
        self.padding = pair(padding, "padding", 0)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"padding must be at most half the kernel size, got padding={self.padding} "
                             f"for kernel_size={self.kernel_size}")
        self._cache = None

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        return tuple(conv_output_size(size, k, s, p, 1) for size, k, s, p in zip(
            (height, width), self.kernel_size, self.stride, self.padding))

    def _offsets(self):
        kh, kw = self.kernel_size
        return [(i, j) for i in range(kh) for j in range(kw)]

    def _prepare(self, x):
        check_input(self, x, 4)
        n, c, h, w = x.shape
        out_size = self.output_size(h, w)
        if min(out_size) < 1:
            raise ValueError(f"{type(self).__name__}: input of spatial size {h}x{w} is smaller than the kernel")
        return pad_nhwc(x.transpose(0, 2, 3, 1), self.padding, self.pad_value), out_size

    def _unpad(self, grad_padded, h, w):
        pad_h, pad_w = self.padding
        return grad_padded[:, pad_h:pad_h + h, pad_w:pad_w + w, :].transpose(0, 3, 1, 2)


class MaxPool2d(_Pool2d):
    """Maximum over each window; padding counts as -inf.

    Backward sends each output gradient to the position of its window's
    maximum (the first one on ties, NaN counting as the maximum, as PyTorch).

    Textbook version: ``nnscratch.reference.max_pool2d`` and ``nnscratch.reference.max_pool2d_backward``;
    proven equal in the tests.
    """

    pad_value = -math.inf

    def forward(self, x):
        x_padded, out_size = self._prepare(x)
        xp = get_array_module(x)
        offsets = self._offsets()
        best = x_padded[window(0, 0, out_size, self.stride)].copy()
        argmax = xp.zeros(best.shape, dtype=xp.int32)
        for k, (i, j) in enumerate(offsets[1:], start=1):
            candidate = x_padded[window(i, j, out_size, self.stride)]
            better = (candidate > best) | xp.isnan(candidate)
            best = xp.where(better, candidate, best)
            argmax = xp.where(better, k, argmax)
        self._cache = (x.shape, x_padded.shape, out_size, argmax)
        return best.transpose(0, 3, 1, 2)

    def backward(self, grad_output):
        cache = self._cache
        check_grad_output(self, grad_output, None if cache is None else (*cache[0][:2], *cache[2]))
        (n, c, h, w), padded_shape, out_size, argmax = cache
        xp = get_array_module(grad_output)
        grad = grad_output.transpose(0, 2, 3, 1)
        grad_padded = xp.zeros(padded_shape, dtype=grad_output.dtype)
        for k, (i, j) in enumerate(self._offsets()):
            grad_padded[window(i, j, out_size, self.stride)] += grad * (argmax == k)
        return self._unpad(grad_padded, h, w)


class AvgPool2d(_Pool2d):
    """Mean over each window.

    With ``count_include_pad=True`` (PyTorch's default) every window divides
    by ``kh * kw``; otherwise by the number of real (unpadded) pixels in it.
    Backward spreads ``dy / count`` evenly over the window.

    Textbook version: ``nnscratch.reference.avg_pool2d`` and ``nnscratch.reference.avg_pool2d_backward``;
    proven equal in the tests.
    """

    def __init__(self, kernel_size, stride=None, padding=0, count_include_pad: bool = True):
        super().__init__(kernel_size, stride, padding)
        self.count_include_pad = bool(count_include_pad)

    def _divisor(self, xp, h, w, out_size, dtype):
        if self.count_include_pad or self.padding == (0, 0):
            return float(self.kernel_size[0] * self.kernel_size[1])
        ones = pad_nhwc(xp.ones((1, h, w, 1), dtype=dtype), self.padding)
        count = xp.zeros((1, *out_size, 1), dtype=dtype)
        for i, j in self._offsets():
            count += ones[window(i, j, out_size, self.stride)]
        return count

    def forward(self, x):
        x_padded, out_size = self._prepare(x)
        xp = get_array_module(x)
        total = xp.zeros((x.shape[0], *out_size, x.shape[1]), dtype=x.dtype)
        for i, j in self._offsets():
            total += x_padded[window(i, j, out_size, self.stride)]
        divisor = self._divisor(xp, x.shape[2], x.shape[3], out_size, x.dtype)
        self._cache = (x.shape, x_padded.shape, out_size, divisor)
        return (total / divisor).transpose(0, 3, 1, 2)

    def backward(self, grad_output):
        cache = self._cache
        check_grad_output(self, grad_output, None if cache is None else (*cache[0][:2], *cache[2]))
        (n, c, h, w), padded_shape, out_size, divisor = cache
        xp = get_array_module(grad_output)
        share = grad_output.transpose(0, 2, 3, 1) / divisor
        grad_padded = xp.zeros(padded_shape, dtype=grad_output.dtype)
        for i, j in self._offsets():
            grad_padded[window(i, j, out_size, self.stride)] += share
        return self._unpad(grad_padded, h, w)
