"""Slow, obviously correct loop implementations used as test oracles."""
import numpy as np


def conv2d_loop(x, weight, bias, stride, padding, dilation):
    """Direct definition of 2-D cross-correlation, one output pixel at a time."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    n_batch, _, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    out_h = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    out_w = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n_batch, c_out, out_h, out_w))
    for n in range(n_batch):
        for o in range(c_out):
            for i in range(out_h):
                for j in range(out_w):
                    patch = padded[n, :, i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw]
                    out[n, o, i, j] = (patch * weight[o]).sum() + (bias[o] if bias is not None else 0.0)
    return out


def conv2d_loop_backward(x, weight, grad_out, stride, padding, dilation):
    """Gradients of conv2d_loop: every output pixel sends its gradient back to its patch."""
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
    grad_x = grad_padded[:, :, ph:ph + h, pw:pw + w]
    return grad_x, grad_weight, grad_out.sum(axis=(0, 2, 3))


def conv_transpose2d_loop(x, weight, bias, stride, padding, output_padding, dilation):
    """Direct definition of transposed convolution: every input pixel stamps the kernel."""
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
    if bias is not None:
        out = out + bias[None, :, None, None]
    return out
