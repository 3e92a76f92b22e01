"""A tiny CNN learns to tell four kinds of 12x12 pictures apart, from scratch.

Classes: horizontal stripes, vertical stripes, a filled square, a ring; each
with random position, size, contrast and noise.  Watch the loss fall.

Run:  python examples/train_small_cnn.py
"""
import numpy as np

import nnscratch as nn

SIZE = 12


def make_images(count, rng):
    labels = rng.integers(0, 4, size=count)
    images = np.zeros((count, 1, SIZE, SIZE), dtype=np.float32)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    for image, label in zip(images, labels):
        period, phase = rng.integers(2, 4), rng.integers(0, 4)
        if label == 0:
            picture = ((yy + phase) // period) % 2
        elif label == 1:
            picture = ((xx + phase) // period) % 2
        else:
            cy, cx, r = rng.integers(4, 8), rng.integers(4, 8), rng.integers(2, 4)
            distance = np.maximum(abs(yy - cy), abs(xx - cx))
            picture = distance <= r if label == 2 else distance == r
        image[0] = picture * rng.uniform(0.5, 1.0) + rng.normal(0, 0.1, size=(SIZE, SIZE))
    return images, labels


nn.manual_seed(0)
rng = np.random.default_rng(0)
model = nn.Sequential(
    nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(16 * 3 * 3, 4),
)
optimizer = nn.Adam(model.parameters(), lr=3e-3)
criterion = nn.CrossEntropyLoss()
test_images, test_labels = make_images(500, rng)

for step in range(301):
    images, labels = make_images(32, rng)
    optimizer.zero_grad()
    loss = criterion.forward(model.forward(images), labels)
    model.backward(criterion.backward())
    optimizer.step()
    if step % 50 == 0:
        model.eval()
        accuracy = (model.forward(test_images).argmax(axis=1) == test_labels).mean()
        model.train()
        print(f"step {step:3d}   loss {loss:.3f}   test accuracy {accuracy:.1%}")
