"""Chapter 2 — A linear layer and softmax cross-entropy, by hand.

A linear layer is ``y = x W^T + b``; its backward, for an upstream gradient g, is

    dW = g^T x        db = Σ_rows g        dx = g W

Softmax cross-entropy over classes k with p = softmax(z) has the famously short gradient
``dL/dz = (p - onehot(target)) / batch``.  Here both are written in NumPy in a few lines, a
two-layer network learns a spiral it cannot separate with a straight line, and the same network
built from nnscratch's Linear, ReLU and CrossEntropyLoss gives the same numbers.

Run:  python course/02_linear_softmax.py [--out FOLDER]

Exercises (code answers go in course/answers/chapter2.py; check them: python course/check.py 2)
1. Replace ReLU with Tanh in both versions; which learns the spiral faster?
2. Check the hand-written softmax gradient with a central difference (chapter 1).
3. Add L2 weight decay to the hand-written update; what does it do to the boundary?
"""
import numpy as np
from matplotlib.figure import Figure

import nnscratch as nn
from _common import figure_folder, save

out = figure_folder(__doc__.splitlines()[0])
rng = np.random.default_rng(0)

# Three interleaved spiral arms, 100 points each.
classes, per_class = 3, 100
radius = np.tile(np.linspace(0.05, 1, per_class), classes)
labels = np.repeat(np.arange(classes), per_class)
angle = labels * 2 * np.pi / classes + radius * 4 + rng.normal(0, 0.2, classes * per_class)
points = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)

hidden = 32
w1, b1 = rng.normal(0, 0.5, (hidden, 2)), np.zeros(hidden)
w2, b2 = rng.normal(0, 0.5, (classes, hidden)), np.zeros(classes)
model = nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, classes)).double()
for layer, (w, b) in zip((model[0], model[2]), ((w1, b1), (w2, b2))):
    layer.weight.data, layer.bias.data = w.copy(), b.copy()
criterion, optimizer = nn.CrossEntropyLoss(), nn.SGD(model.parameters(), lr=1.0)


def by_hand(x, y, w1, b1, w2, b2):
    """Forward and backward of linear -> ReLU -> linear -> softmax cross-entropy."""
    h_pre = x @ w1.T + b1
    h = np.maximum(h_pre, 0)
    z = h @ w2.T + b2
    z_shift = z - z.max(axis=1, keepdims=True)                 # stable softmax
    p = np.exp(z_shift) / np.exp(z_shift).sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(len(y)), y]).mean()
    dz = p.copy()
    dz[np.arange(len(y)), y] -= 1
    dz /= len(y)
    dw2, db2 = dz.T @ h, dz.sum(axis=0)
    dh = dz @ w2
    dh_pre = dh * (h_pre > 0)
    dw1, db1 = dh_pre.T @ x, dh_pre.sum(axis=0)
    return loss, (dw1, db1, dw2, db2)


for step in range(2000):
    loss, grads = by_hand(points, labels, w1, b1, w2, b2)
    w1, b1, w2, b2 = (p - 1.0 * g for p, g in zip((w1, b1, w2, b2), grads))
    optimizer.zero_grad()
    engine_loss = criterion.forward(model.forward(points), labels)
    model.backward(criterion.backward())
    optimizer.step()
    if step % 500 == 0:
        print(f"step {step:4d}: loss by hand {loss:.6f}, engine {engine_loss:.6f}")

accuracy = (np.argmax(np.maximum(points @ w1.T + b1, 0) @ w2.T + b2, axis=1) == labels).mean()
difference = np.abs(model[2].weight.data - w2).max()
print(f"after 2000 steps: training accuracy {accuracy:.0%}; hand-written and engine weights differ by {difference:.1e}")

grid = np.stack(np.meshgrid(np.linspace(-1.1, 1.1, 200), np.linspace(-1.1, 1.1, 200)), axis=-1).reshape(-1, 2)
regions = np.argmax(np.maximum(grid @ w1.T + b1, 0) @ w2.T + b2, axis=1).reshape(200, 200)
figure = Figure(figsize=(4.5, 4.5), layout="constrained")
axes = figure.add_subplot()
axes.imshow(regions, extent=(-1.1, 1.1, -1.1, 1.1), origin="lower", alpha=0.3, cmap="brg")
axes.scatter(points[:, 0], points[:, 1], c=labels, s=8, cmap="brg")
axes.set_title(f"two layers separate the spiral ({accuracy:.0%})")
save(figure, out, "02_spiral.png")
print("chapter 2 done")
