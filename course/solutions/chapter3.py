"""Worked answers, chapter 3."""
import numpy as np


def im2col(x, k=3, pad=1, stride=1):
    n, c, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out_h, out_w = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    columns = np.empty((n, out_h, out_w, c, k, k))
    for i in range(k):
        for j in range(k):
            patch = padded[:, :, i:i + stride * (out_h - 1) + 1:stride, j:j + stride * (out_w - 1) + 1:stride]
            columns[:, :, :, :, i, j] = patch.transpose(0, 2, 3, 1)
    return columns.reshape(n * out_h * out_w, c * k * k)


def col2im(cols, shape, k=3, pad=1):
    n, c, h, w = shape
    padded = np.zeros((n, c, h + 2 * pad, w + 2 * pad))
    columns = cols.reshape(n, h, w, c, k, k)
    for i in range(k):
        for j in range(k):
            padded[:, :, i:i + h, j:j + w] += columns[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return padded[:, :, pad:pad + h, pad:pad + w]
