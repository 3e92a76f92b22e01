"""The device algorithms: each layer's work as a few whole-array operations (the GPU strategy).

On a GPU every array operation is a kernel launch of 5–20 µs, whatever its size, so a layer
should be a handful of large operations; the CPU algorithms beside each layer (cache-sized
blocks of im2col rows, chunked batch-norm passes, a shifted add per kernel tap) would launch
hundreds.  :func:`nnscratch.backend.uses_cpu_strategy` decides which a layer runs: NumPy arrays
take the CPU algorithms, every other array module (CuPy, the tests' stand-in device) these.
Both compute the same function; ``tests/nnscratch/test_device_strategy.py`` proves it, and
counts the operations.  Elementwise chains go through :func:`nnscratch.backend.fuse` (one
kernel on CuPy; plain NumPy expressions elsewhere).

Layout as on the CPU: activations are NHWC memory seen as NCHW, so ``(N*H*W, C)`` row matrices
and per-pixel windows are views.  Operation counts below are per call, for the colorizer's
layers (contiguous NHWC activations).
"""
from __future__ import annotations

from ..backend import fuse, get_array_module
from .layout import nhwc_rows, pad_nhwc, rows_to_nchw


# -- convolution ----------------------------------------------------------------------------

def im2col(x_nhwc, kernel, stride, dilation, out_size):
    """Every receptive field as a row, ``(N*out_h*out_w, kh*kw*C)``, in one copy.

    The six-axis window view ``[n, y, x, i, j, c] -> x[n, y*sh + i*dh, x*sw + j*dw, c]`` is made
    from the array's own strides (free), then laid out as a matrix (one copy; none for a 1x1
    kernel at stride 1 on contiguous rows).  Same columns as :func:`nnscratch.layers.im2col.im2col`.
    """
    xp = get_array_module(x_nhwc)
    n, _, _, channels = x_nhwc.shape
    (kh, kw), (sh, sw), (dh, dw), (out_h, out_w) = kernel, stride, dilation, out_size
    s_n, s_h, s_w, s_c = x_nhwc.strides
    windows = xp.lib.stride_tricks.as_strided(
        x_nhwc, shape=(n, out_h, out_w, kh, kw, channels),
        strides=(s_n, sh * s_h, sw * s_w, dh * s_h, dw * s_w, s_c))
    return windows.reshape(n * out_h * out_w, kh * kw * channels)


def conv_forward(x, weight, bias, stride, padding, dilation, out_size):
    """Conv2d forward: ``(output NCHW view, padded NHWC input for backward)``; 4–6 operations.

    ``out = im2col(pad(x)) @ W`` with ``W = weight`` as a ``(kh*kw*C_in, C_out)`` matrix.
    """
    c_out = weight.shape[0]
    n = x.shape[0]
    x_padded = pad_nhwc(x.transpose(0, 2, 3, 1), padding)
    cols = im2col(x_padded, weight.shape[2:], stride, dilation, out_size)
    out = cols @ weight.transpose(2, 3, 1, 0).reshape(-1, c_out)
    if bias is not None:
        out += bias
    return rows_to_nchw(out, n, *out_size), x_padded


def conv_backward(grad_output, x_padded, weight, stride, padding, dilation, in_size, input_grad: bool,
                  bias: bool = True):
    """Conv2d backward: ``(grad_weight, grad_bias or None, grad_input or None)``; 3 operations, 8 with
    the input's gradient, one more with a bias.

    ``dW = im2col(x)^T g`` (im2col made again: keeping it from forward would hold a matrix
    kh*kw times the activations for every layer) and ``db = sum_rows g``.  The input gradient
    is one more convolution, with no per-tap accumulation: the output gradient is spread onto
    the input grid (output pixel ``j`` lands at ``j*s - p + d(k-1)``, zeros between, which is
    the stride undone), then correlated at stride 1 with the kernel turned by 180° and its
    channel axes swapped::

        dx[y] = sum_i spread[y + i*d] W[k-1-i]      (per axis; y over the unpadded input)
    """
    xp = get_array_module(grad_output)
    c_out, c_in, kh, kw = weight.shape
    n, out_h, out_w = grad_output.shape[0], grad_output.shape[2], grad_output.shape[3]
    grad_rows = nhwc_rows(grad_output)
    cols = im2col(x_padded, (kh, kw), stride, dilation, (out_h, out_w))
    grad_weight = (cols.T @ grad_rows).reshape(kh, kw, c_in, c_out).transpose(3, 2, 0, 1)
    grad_bias = grad_rows.sum(axis=0) if bias else None
    if not input_grad:
        return grad_weight, grad_bias, None
    h, w = in_size
    reach = (dilation[0] * (kh - 1), dilation[1] * (kw - 1))
    spread = xp.zeros((n, h + reach[0], w + reach[1], c_out), dtype=grad_output.dtype)
    target, source = [slice(None)], [slice(None)]
    for size, out, s, p, r in zip((h, w), (out_h, out_w), stride, padding, reach):
        first = max(0, -(-(p - r) // s))                 # outputs whose rows land inside the spread
        last = min(out, (size + p - 1) // s + 1)
        if last <= first:
            return grad_weight, grad_bias, xp.zeros((n, c_in, h, w), dtype=grad_output.dtype)
        start = first * s - p + r
        target.append(slice(start, start + (last - first - 1) * s + 1, s))
        source.append(slice(first, last))
    spread[tuple(target)] = grad_output.transpose(0, 2, 3, 1)[tuple(source)]
    turned = weight[:, :, ::-1, ::-1].transpose(2, 3, 0, 1).reshape(-1, c_in)
    grad_rows_in = im2col(spread, (kh, kw), (1, 1), dilation, (h, w)) @ turned
    return grad_weight, grad_bias, rows_to_nchw(grad_rows_in, n, h, w)


# -- batch normalisation -------------------------------------------------------------------------

@fuse
def _inverse_std(var, eps):
    return 1.0 / (var + eps) ** 0.5


@fuse
def _scale_shift(x, scale, shift):
    return x * scale + shift


@fuse
def _moving_average(running, batch, keep, take):
    return running * keep + batch * take


@fuse
def _batch_norm_input_grad(grad, centered, scale, inv_std, grad_weight, grad_bias, inv_count):
    # dx = scale (g - mean(g) - x̂ mean(g x̂)) with x̂ = centered * inv_std
    return grad * scale - (centered * (scale * inv_std * grad_weight * inv_count) + scale * grad_bias * inv_count)


def batch_norm_statistics(rows, reduce=None):
    """Per-channel ``(mean, centered rows, biased variance, count)`` of a ``(M, C)`` matrix: 6 operations.

    ``reduce`` (the distributed hook) sums the sums over processes first.
    """
    xp = get_array_module(rows)
    count = rows.shape[0]
    sums = rows.sum(axis=0)
    channels = sums.shape[0]
    if reduce is not None:
        totals = reduce(xp.concatenate([sums, xp.asarray([count], dtype=sums.dtype)]))
        sums, count = totals[:channels], int(round(float(totals[channels])))
    mean = sums / count
    centered = rows - mean
    squares = (centered * centered).sum(axis=0)
    if reduce is not None:
        squares = reduce(squares)
    return mean, centered, squares / count, count


def batch_norm_normalize(source, mean, var, eps, weight, bias, use_batch: bool):
    """``(out rows, inv_std)``: the affine pass of batch norm, 3 operations (batch) or 4 (running)."""
    inv_std = _inverse_std(var, eps)
    scale = inv_std if weight is None else inv_std * weight
    bias = 0.0 if bias is None else bias
    shift = bias if use_batch else bias - mean * scale
    return _scale_shift(source, scale, shift), inv_std


def update_running(running_mean, running_var, mean, var, count, factor):
    """PyTorch's running statistics (unbiased variance), 2 operations: the new ``(mean, var)``."""
    return (_moving_average(running_mean, mean, 1 - factor, factor),
            _moving_average(running_var, var, 1 - factor, factor * count / (count - 1)))


def batch_norm_backward(grad_rows, centered, inv_std, weight, count, use_batch, eval_mean, reduce=None):
    """``(grad_weight, grad_bias, grad_input rows)``: 5 operations in training.

    The parameter gradients are this process's own (``nnscratch.distributed`` averages them);
    the input gradient uses the whole batch's sums where ``reduce`` is given.
    """
    xp = get_array_module(grad_rows)
    channels = grad_rows.shape[1]
    if eval_mean is not None:                   # evaluation kept the input, not its centred form
        centered = centered - eval_mean
    grad_bias = grad_rows.sum(axis=0)
    products = (grad_rows * centered).sum(axis=0)
    grad_weight = products * inv_std
    own_weight_grad, own_bias_grad = grad_weight, grad_bias
    scale = inv_std if weight is None else weight * inv_std
    if reduce is not None and use_batch:       # the means are over the whole batch, every process
        totals = reduce(xp.concatenate([grad_bias, products]))
        grad_bias, grad_weight = totals[:channels], totals[channels:] * inv_std
    if use_batch:
        grad_input = _batch_norm_input_grad(grad_rows, centered, scale, inv_std, grad_weight, grad_bias, 1.0 / count)
    else:
        grad_input = grad_rows * scale
    return own_weight_grad, own_bias_grad, grad_input


# -- resampling ------------------------------------------------------------------------------------

def resample(x, matrix_h, matrix_w):
    """``A_h X A_w^T`` on every image and channel: two batched matrix products (NCHW view out).

    ``matrix_h`` is ``(H_out, H)`` and ``matrix_w`` ``(W_out, W)``, the interpolation matrices;
    their transposes give the backward pass (:func:`resample_adjoint`).
    """
    n, c, h, w = x.shape
    out_h, out_w = matrix_h.shape[0], matrix_w.shape[0]
    rows = matrix_h @ x.transpose(0, 2, 3, 1).reshape(n, h, w * c)              # (N, H_out, W*C)
    both = matrix_w @ rows.reshape(n * out_h, w, c)                              # (N*H_out, W_out, C)
    return both.reshape(n, out_h, out_w, c).transpose(0, 3, 1, 2)


def resample_adjoint(grad_output, matrix_h, matrix_w):
    """The gradient of :func:`resample`'s input: ``A_h^T G A_w``, two batched products."""
    n, c, out_h, out_w = grad_output.shape
    h, w = matrix_h.shape[1], matrix_w.shape[1]
    cols = matrix_w.T @ grad_output.transpose(0, 2, 3, 1).reshape(n * out_h, out_w, c)   # (N*H_out, W, C)
    both = matrix_h.T @ cols.reshape(n, out_h, w * c)                                    # (N, H, W*C)
    return both.reshape(n, h, w, c).transpose(0, 3, 1, 2)
