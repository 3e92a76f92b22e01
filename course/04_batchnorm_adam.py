"""Chapter 4 — Batch norm and Adam.

Batch norm normalises each channel by the batch's mean and variance, then scales and shifts.
Its backward is easiest to derive as a graph of small stages — mean, centre, variance, std,
inverse, normalise — each differentiated alone (``nnscratch.reference.batch_norm_backward``);
collapsing the stages gives the one-line formula that BatchNorm2d uses:

    dx = γ / σ · (g - mean(g) - x̂ · mean(g x̂))

Adam keeps running averages of the gradient (m) and of its square (v) and steps by m / sqrt(v):
every parameter gets its own step size.  On a long, narrow valley plain gradient descent
zig-zags across; Adam walks along it.

Run:  python course/04_batchnorm_adam.py [--out FOLDER]

Exercises (code answers go in course/answers/chapter4.py; check them: python course/check.py 4)
1. Derive the one-line dx from the staged graph by hand and compare with reference.py.
2. In evaluation mode batch norm uses running statistics: what is its backward then?
3. Try Adam with β2 = 0.9 and with ε = 1e-1 on the valley; what changes?
"""
import numpy as np
from matplotlib.figure import Figure

import nnscratch as nn
from _common import figure_folder, save
from nnscratch import reference

out = figure_folder(__doc__.splitlines()[0])
rng = np.random.default_rng(0)

x = rng.normal(3.0, 2.0, size=(4, 3, 6, 6))
layer = nn.BatchNorm2d(3).double()
y = layer.forward(x)
staged, stages = reference.batch_norm(x, layer.weight.data, layer.bias.data)
g = rng.normal(size=y.shape)
print(f"batch norm: fast vs staged forward {np.abs(y - staged).max():.1e}, backward "
      f"{np.abs(layer.backward(g) - reference.batch_norm_backward(g, stages)[0]).max():.1e}")
print(f"per-channel mean after batch norm {np.round(y.mean(axis=(0, 2, 3)), 12)}, std {np.round(y.std(axis=(0, 2, 3)), 4)}")
print(f"gradient check of BatchNorm2d in training: {max(nn.gradcheck(nn.BatchNorm2d(3), x).values()):.1e}")

# A narrow valley: f(a, b) = a² + 50 b², started at (-4, 1).
scales = np.array([1.0, 50.0])
paths = {}
for name, make in (("SGD lr 0.019", lambda p: nn.SGD([p], lr=0.019)), ("Adam lr 0.3", lambda p: nn.Adam([p], lr=0.3))):
    point = nn.Parameter(np.array([-4.0, 1.0]))
    optimizer, path = make(point), [point.data.copy()]
    for _ in range(60):
        point.grad = 2 * scales * point.data
        optimizer.step()
        path.append(point.data.copy())
    paths[name] = np.array(path)
    print(f"{name}: after 60 steps f = {(scales * point.data ** 2).sum():.2e}")

figure = Figure(figsize=(6.5, 3.5), layout="constrained")
axes = figure.add_subplot()
a, b = np.meshgrid(np.linspace(-4.5, 1, 200), np.linspace(-1.3, 1.3, 200))
axes.contour(a, b, a ** 2 + 50 * b ** 2, levels=20, linewidths=0.5)
for name, path in paths.items():
    axes.plot(path[:, 0], path[:, 1], ".-", label=name, markersize=3)
axes.legend()
axes.set_title("a narrow valley: SGD zig-zags, Adam walks along")
save(figure, out, "04_valley.png")
print("chapter 4 done")
