"""The textbook version of every fast algorithm in the engine, one loop at a time.

Each function here computes what a layer of :mod:`nnscratch.layers` (or the Adam optimizer)
computes, written straight from its definition, with no attention to speed: read these first,
then the fast versions, which name their reference in their docstrings.  The tests prove every
fast path equal to these (``tests/nnscratch/test_reference.py``), and
``python -m nnscratch.checks --compare-reference`` prints both side by side with their
timings — what each optimisation buys, measured.

Arrays are NumPy, NCHW, float64 in the tests; tuples are ``(height, width)`` pairs.
"""
from __future__ import annotations

import numpy as np


def _out_size(size, kernel, stride, padding, dilation):
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


# --- convolution ------------------------------------------------------------------------------------

def conv2d(x, weight, bias, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """2-D cross-correlation by its definition, one output pixel at a time:
    ``y[n, o, i, j] = b[o] + Σ_c,ki,kj w[o, c, ki, kj] x_pad[n, c, i s + ki d, j s + kj d]``."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    n_batch, _, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    out_h, out_w = _out_size(h, kh, sh, ph, dh), _out_size(w, kw, sw, pw, dw)
    out = np.zeros((n_batch, c_out, out_h, out_w))
    for n in range(n_batch):
        for o in range(c_out):
            for i in range(out_h):
                for j in range(out_w):
                    patch = padded[n, :, i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw]
                    out[n, o, i, j] = (patch * weight[o]).sum() + (bias[o] if bias is not None else 0.0)
    return out


def conv2d_backward(x, weight, grad_out, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """Gradients of :func:`conv2d`: every output pixel sends its gradient back to the patch it read.
    Returns ``(dx, dweight, dbias)``."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    n_batch, _, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    grad_padded = np.zeros_like(padded)
    grad_weight = np.zeros_like(weight)
    for n in range(n_batch):
        for o in range(c_out):
            for i in range(grad_out.shape[2]):
                for j in range(grad_out.shape[3]):
                    rows = slice(i * sh, i * sh + dh * (kh - 1) + 1, dh)
                    cols = slice(j * sw, j * sw + dw * (kw - 1) + 1, dw)
                    g = grad_out[n, o, i, j]
                    grad_padded[n, :, rows, cols] += g * weight[o]
                    grad_weight[o] += g * padded[n, :, rows, cols]
    return grad_padded[:, :, ph:ph + h, pw:pw + w], grad_weight, grad_out.sum(axis=(0, 2, 3))


def conv_transpose2d(x, weight, bias, stride=(1, 1), padding=(0, 0), output_padding=(0, 0), dilation=(1, 1)):
    """Transposed convolution by its definition: every input pixel stamps the kernel, scaled by its
    value, at ``stride`` spacing; ``padding`` is then cut from each border.  ``weight`` is
    ``(C_in, C_out, kh, kw)`` as in PyTorch."""
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = stride, padding, output_padding, dilation
    n_batch, c_in, h, w = x.shape
    _, c_out, kh, kw = weight.shape
    out_h = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    out_w = (w - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    full = np.zeros((n_batch, c_out, out_h + 2 * ph + sh + dh * kh, out_w + 2 * pw + sw + dw * kw))
    for n in range(n_batch):
        for c in range(c_in):
            for i in range(h):
                for j in range(w):
                    for ki in range(kh):
                        for kj in range(kw):
                            full[n, :, i * sh + ki * dh, j * sw + kj * dw] += x[n, c, i, j] * weight[c, :, ki, kj]
    out = full[:, :, ph:ph + out_h, pw:pw + out_w]
    return out + bias[None, :, None, None] if bias is not None else out


def conv_transpose2d_backward(x, weight, grad_out, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """Gradients of :func:`conv_transpose2d`: each stamp reads back the output gradient it wrote to.
    Returns ``(dx, dweight, dbias)``."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    n_batch, c_in, h, w = x.shape
    _, _, kh, kw = weight.shape
    out_h, out_w = grad_out.shape[2:]
    full = np.zeros((n_batch, grad_out.shape[1], out_h + 2 * ph + sh + dh * kh, out_w + 2 * pw + sw + dw * kw))
    full[:, :, ph:ph + out_h, pw:pw + out_w] = grad_out
    grad_x, grad_weight = np.zeros_like(x), np.zeros_like(weight)
    for n in range(n_batch):
        for c in range(c_in):
            for i in range(h):
                for j in range(w):
                    for ki in range(kh):
                        for kj in range(kw):
                            g = full[n, :, i * sh + ki * dh, j * sw + kj * dw]
                            grad_x[n, c, i, j] += (g * weight[c, :, ki, kj]).sum()
                            grad_weight[c, :, ki, kj] += g * x[n, c, i, j]
    return grad_x, grad_weight, grad_out.sum(axis=(0, 2, 3))


# --- pooling ----------------------------------------------------------------------------------------

def max_pool2d(x, kernel=(2, 2), stride=(2, 2), padding=(0, 0)):
    """Each output is the largest value of its window (padding counts as -inf).  Returns
    ``(y, argmax)``, the argmax as (row, column) in the unpadded input, for the backward pass;
    ties go to the first maximum in row-major order."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    n_batch, channels, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
    out_h, out_w = _out_size(h, kh, sh, ph, 1), _out_size(w, kw, sw, pw, 1)
    out = np.empty((n_batch, channels, out_h, out_w))
    where = np.empty((n_batch, channels, out_h, out_w, 2), dtype=np.int64)
    for n in range(n_batch):
        for c in range(channels):
            for i in range(out_h):
                for j in range(out_w):
                    window = padded[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    r, q = np.unravel_index(np.argmax(window), window.shape)
                    out[n, c, i, j] = window[r, q]
                    where[n, c, i, j] = (i * sh + r - ph, j * sw + q - pw)
    return out, where


def max_pool2d_backward(x_shape, where, grad_out):
    """Each output's gradient goes to the input that was the maximum of its window."""
    grad_x = np.zeros(x_shape)
    for index in np.ndindex(grad_out.shape):
        n, c = index[:2]
        r, q = where[index]
        grad_x[n, c, r, q] += grad_out[index]
    return grad_x


def avg_pool2d(x, kernel=(2, 2), stride=(2, 2), padding=(0, 0), count_include_pad=True):
    """Each output is the mean of its window; padded zeros count in the divisor unless
    ``count_include_pad=False``."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    n_batch, channels, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    inside = np.pad(np.ones((h, w)), ((ph, ph), (pw, pw)))
    out_h, out_w = _out_size(h, kh, sh, ph, 1), _out_size(w, kw, sw, pw, 1)
    out = np.empty((n_batch, channels, out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            rows, cols = slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)
            count = kh * kw if count_include_pad else inside[rows, cols].sum()
            out[:, :, i, j] = padded[:, :, rows, cols].sum(axis=(2, 3)) / count
    return out


def avg_pool2d_backward(x_shape, grad_out, kernel=(2, 2), stride=(2, 2), padding=(0, 0), count_include_pad=True):
    """Each output's gradient is shared equally by the inputs of its window."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    n_batch, channels, h, w = x_shape
    grad_padded = np.zeros((n_batch, channels, h + 2 * ph, w + 2 * pw))
    inside = np.pad(np.ones((h, w)), ((ph, ph), (pw, pw)))
    for i in range(grad_out.shape[2]):
        for j in range(grad_out.shape[3]):
            rows, cols = slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)
            count = kh * kw if count_include_pad else inside[rows, cols].sum()
            grad_padded[:, :, rows, cols] += grad_out[:, :, i, j][:, :, None, None] / count
    return grad_padded[:, :, ph:ph + h, pw:pw + w]


# --- upsampling -------------------------------------------------------------------------------------

def _source(out_index, in_size, out_size, scale, mode, align_corners):
    """Where output sample ``out_index`` reads from (torch.nn.functional.interpolate's rule)."""
    if mode == "nearest":
        step = 1.0 / scale if scale else in_size / out_size
        return min(int(np.floor(out_index * step)), in_size - 1), None
    if align_corners:
        return out_index * ((in_size - 1) / (out_size - 1) if out_size > 1 else 0.0), None
    step = 1.0 / scale if scale else in_size / out_size
    return max((out_index + 0.5) * step - 0.5, 0.0), None


def _taps(out_index, in_size, out_size, scale, mode, align_corners):
    """The (input index, weight) pairs of one output sample along one axis."""
    position, _ = _source(out_index, in_size, out_size, scale, mode, align_corners)
    if mode == "nearest":
        return [(position, 1.0)]
    lower = min(int(np.floor(position)), in_size - 1)
    upper = min(lower + 1, in_size - 1)
    fraction = position - lower
    return [(lower, 1.0 - fraction), (upper, fraction)]


def upsample(x, size, scale=(None, None), mode="nearest", align_corners=False):
    """Nearest or bilinear resampling to ``size``, one output pixel at a time: bilinear is the
    weighted sum of the four nearest input pixels, weights the products of the per-axis ones."""
    n_batch, channels, h, w = x.shape
    out_h, out_w = size
    out = np.zeros((n_batch, channels, out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            for r, wr in _taps(i, h, out_h, scale[0], mode, align_corners):
                for q, wq in _taps(j, w, out_w, scale[1], mode, align_corners):
                    out[:, :, i, j] += wr * wq * x[:, :, r, q]
    return out


def upsample_backward(x_shape, grad_out, scale=(None, None), mode="nearest", align_corners=False):
    """Each output pixel's gradient goes back to the input pixels it was made of, by the same weights."""
    _, _, h, w = x_shape
    out_h, out_w = grad_out.shape[2:]
    grad_x = np.zeros(x_shape)
    for i in range(out_h):
        for j in range(out_w):
            for r, wr in _taps(i, h, out_h, scale[0], mode, align_corners):
                for q, wq in _taps(j, w, out_w, scale[1], mode, align_corners):
                    grad_x[:, :, r, q] += wr * wq * grad_out[:, :, i, j]
    return grad_x


# --- batch normalisation (the computational-graph form of CS231n) ----------------------------------

def batch_norm(x, weight, bias, eps=1e-5):
    """Training-mode batch norm in named stages, each simple enough to differentiate by hand.
    Returns ``(y, stages)``; the stages are what :func:`batch_norm_backward` needs."""
    axes = (0, 2, 3)
    count = x.shape[0] * x.shape[2] * x.shape[3]
    mean = x.sum(axis=axes, keepdims=True) / count               # stage 1: the mean
    centred = x - mean                                           # stage 2
    variance = (centred ** 2).sum(axis=axes, keepdims=True) / count   # stage 3: biased variance
    std = np.sqrt(variance + eps)                                # stage 4
    inv_std = 1.0 / std                                          # stage 5
    normalised = centred * inv_std                               # stage 6: x̂
    y = weight.reshape(1, -1, 1, 1) * normalised + bias.reshape(1, -1, 1, 1)
    return y, (centred, std, inv_std, normalised, weight, count)


def batch_norm_backward(grad_out, stages):
    """The stages of :func:`batch_norm` in reverse, one chain-rule step each.
    Returns ``(dx, dweight, dbias)``."""
    centred, std, inv_std, normalised, weight, count = stages
    axes = (0, 2, 3)
    grad_bias = grad_out.sum(axis=axes)
    grad_weight = (grad_out * normalised).sum(axis=axes)
    grad_normalised = grad_out * weight.reshape(1, -1, 1, 1)
    grad_inv_std = (grad_normalised * centred).sum(axis=axes, keepdims=True)    # stage 6
    grad_centred = grad_normalised * inv_std
    grad_std = -grad_inv_std / std ** 2                                         # stage 5
    grad_variance = grad_std * 0.5 / std                                        # stage 4
    grad_centred = grad_centred + grad_variance * 2 * centred / count           # stage 3
    grad_mean = -grad_centred.sum(axis=axes, keepdims=True)                     # stage 2
    grad_x = grad_centred + grad_mean / count                                   # stage 1
    return grad_x, grad_weight, grad_bias


# --- Adam -------------------------------------------------------------------------------------------

def adam(param, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """Adam (Kingma & Ba 2015, Algorithm 1) over a sequence of gradients, as printed in the paper:

        m_t = β1 m_{t-1} + (1 - β1) g_t          v_t = β2 v_{t-1} + (1 - β2) g_t²
        m̂_t = m_t / (1 - β1^t)                   v̂_t = v_t / (1 - β2^t)
        θ_t = θ_{t-1} - lr m̂_t / (sqrt(v̂_t) + ε)

    (with ``weight_decay`` added to g as L2, as ``torch.optim.Adam`` does).  ``grads`` is a
    function of the current parameters returning their gradient, called once per step for
    ``steps`` given by its length, or a list of gradients.  Returns the parameters after all steps.
    """
    beta1, beta2 = betas
    param = np.array(param, dtype=np.float64)
    m, v = np.zeros_like(param), np.zeros_like(param)
    for t, g in enumerate(grads, start=1):
        g = np.asarray(g, dtype=np.float64) + weight_decay * param
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
        param = param - lr * m_hat / (np.sqrt(v_hat) + eps)
    return param
