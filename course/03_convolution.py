"""Chapter 3 — Convolution, from loops to im2col (and how much each step buys).

A 3x3 convolution computes, for every output pixel, a dot product of the kernel with the patch
under it.  Written as loops (``nnscratch.reference.conv2d``) that is millions of tiny Python
steps.  im2col copies every patch into a row of one matrix, so the whole layer becomes a
single matrix product — ``cols (N·H·W, 9·C_in) @ W^T (9·C_in, C_out)`` — which BLAS runs near the
machine's peak.  The backward pass is two more products: ``dW = g^T cols`` and ``dcols = g W``,
whose patches col2im adds back into the image.  nnscratch's Conv2d does this and more (no
padding copies, blocking for the cache); the chapter measures all three.

Run:  python course/03_convolution.py [--out FOLDER]

Exercises (code answers go in course/answers/chapter3.py; check them: python course/check.py 3)
1. Add stride to im2col below (take every s-th patch) and compare with Conv2d(stride=2).
2. Write col2im (the adjoint of im2col) and check <im2col(x), c> == <x, col2im(c)>.
3. Time im2col alone against the product: where does the time of a small layer go?
"""
import time

import numpy as np
from matplotlib.figure import Figure

import nnscratch as nn
from _common import figure_folder, save
from nnscratch import reference

out = figure_folder(__doc__.splitlines()[0])
rng = np.random.default_rng(0)
x = rng.normal(size=(2, 8, 24, 24))
layer = nn.Conv2d(8, 16, 3, padding=1, rng=rng).double()
weight, bias = layer.weight.data, layer.bias.data


def im2col(x, k=3, pad=1):
    """Every k×k patch of the padded input as one row: (N·H·W, C·k·k), channels outermost."""
    n, c, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    columns = np.empty((n, h, w, c, k, k))
    for i in range(k):
        for j in range(k):
            columns[:, :, :, :, i, j] = padded[:, :, i:i + h, j:j + w].transpose(0, 2, 3, 1)
    return columns.reshape(n * h * w, c * k * k)


def conv_im2col(x):
    n, _, h, w = x.shape
    rows = im2col(x) @ weight.reshape(len(weight), -1).T + bias
    return rows.reshape(n, h, w, -1).transpose(0, 3, 1, 2)


def timed(function, repeats=5):
    """The result and the median time of ``repeats`` calls after one warm-up call (a cold first call
    pays for memory the later ones reuse, and a single timing is at the mercy of the machine)."""
    result = function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return result, sorted(times)[len(times) // 2]


loops, t_loops = timed(lambda: reference.conv2d(x, weight, bias, (1, 1), (1, 1)), repeats=1)   # slow: once
matrix, t_matrix = timed(lambda: conv_im2col(x))
fast, t_fast = timed(lambda: layer.forward(x))
print(f"loops {t_loops * 1e3:8.1f} ms   im2col {t_matrix * 1e3:6.2f} ms   Conv2d {t_fast * 1e3:6.2f} ms")
print(f"largest differences: im2col vs loops {np.abs(matrix - loops).max():.1e}, "
      f"Conv2d vs loops {np.abs(fast - loops).max():.1e}")
print(f"im2col is {t_loops / t_matrix:.0f}x faster than the loops; Conv2d {t_loops / t_fast:.0f}x")

figure = Figure(figsize=(6, 3.5), layout="constrained")
axes = figure.add_subplot()
axes.barh(["loops", "im2col + matmul", "Conv2d"], [t_loops * 1e3, t_matrix * 1e3, t_fast * 1e3])
axes.set_xscale("log")
axes.set_xlabel("ms, forward of 8→16 channels, 3×3, batch 2 at 24² (log scale)")
save(figure, out, "03_convolution_speed.png")
print("chapter 3 done")
