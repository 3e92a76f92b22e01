"""Chapter 6 — The maths of image enhancement.

* Histogram equalization: map each level v to its place in the cumulative histogram,
  ``T(v) = round((C(v) - C(min)) / (N - C(min)) · 255)``; the levels spread until the CDF is a
  straight line.  Eight lines of NumPy below reproduce ``cv2.equalizeHist`` bit for bit
  (``enhance.equalize_hist`` is the same, made fast).
* Gamma and log: point curves ``y = x^γ`` (γ < 1 brightens the shadows) and ``y = log2(1 + x)``.
* Unsharp mask: ``y = x + amount · (x - blur(x))`` — add back the detail the blur removed.
* Exposure fusion (Mertens): weigh each photo of a bracket, pixel by pixel, by how well exposed
  it is, ``exp(-(v - 0.5)² / (2 · 0.2²))``, and blend (here directly; Mertens blends in a
  Laplacian pyramid so that the weights leave no seams: ``enhance.hdr_merge.merge_mertens``).

Run:  python course/06_enhancement_maths.py [--out FOLDER]

Exercises (code answers go in course/answers/chapter6.py; check them: python course/check.py 6)
1. Clip the histogram at 4× its mean before the CDF and spread the excess evenly: that is the
   "contrast-limited" of CLAHE.  Compare with enhance.clahe on one tile (tile_grid_size=1).
2. Plot the unsharp mask's effect on a step edge: where do the overshoots come from?
3. Make a bracket (gamma 2, 1, 0.5 of one photo) and fuse it with the weights above.
"""
import numpy as np
from matplotlib import cbook
from matplotlib.figure import Figure
from PIL import Image

import enhance
from _common import figure_folder, save

out = figure_folder(__doc__.splitlines()[0])
with cbook.get_sample_data("grace_hopper.jpg") as handle:
    photo = np.asarray(Image.open(handle).convert("RGB"))
gray = np.asarray(Image.fromarray(photo).convert("L"))


def equalize(gray):
    counts = np.bincount(gray.ravel(), minlength=256)
    cdf = np.cumsum(counts)
    first = cdf[np.nonzero(counts)[0][0]]
    if first == gray.size:                      # one level only: nothing to spread
        return gray.copy()
    scale = np.float32(255) / np.float32(gray.size - first)
    table = np.clip(np.rint((cdf - first).astype(np.float32) * scale), 0, 255).astype(np.uint8)
    return table[gray]


ours = equalize(gray)
print(f"8-line equalization equals enhance.equalize_hist: {np.array_equal(ours, enhance.equalize_hist(gray))}")
try:
    import cv2
    print(f"... and cv2.equalizeHist: {np.array_equal(ours, cv2.equalizeHist(gray))}")
except ImportError:
    print("(OpenCV not installed: the test suite checks enhance.equalize_hist against it)")

levels = np.linspace(0, 1, 256)
sharp = enhance.unsharp_mask(photo, 2.0, 1.5)
bracket = [enhance.gamma(photo, g) for g in (2.2, 1.0, 0.45)]
weights = [np.exp(-((b / 255.0 - 0.5) ** 2) / (2 * 0.2 ** 2)).prod(axis=2) + 1e-12 for b in bracket]
naive = sum(w[..., None] * b for w, b in zip(weights, bracket)) / sum(weights)[..., None]
print(f"well-exposedness weights: mean {[round(float(w.mean()), 3) for w in weights]} for gamma 2.2, 1, 0.45")

figure = Figure(figsize=(11, 6), layout="constrained")
grid = figure.add_gridspec(2, 4)
for column, (title, image) in enumerate([("gray", gray), ("equalized", ours)]):
    axes = figure.add_subplot(grid[0, column])
    axes.imshow(image, cmap="gray", vmin=0, vmax=255)
    axes.set_title(title)
    axes.axis("off")
axes = figure.add_subplot(grid[0, 2])
axes.plot(np.cumsum(np.bincount(gray.ravel(), minlength=256)) / gray.size, label="before")
axes.plot(np.cumsum(np.bincount(ours.ravel(), minlength=256)) / gray.size, label="after")
axes.set_title("cumulative histogram")
axes.legend()
axes = figure.add_subplot(grid[0, 3])
for label, curve in [("gamma 0.5", levels ** 0.5), ("gamma 2", levels ** 2), ("log2(1+x)", np.log2(1 + levels))]:
    axes.plot(levels, curve, label=label)
axes.set_title("point curves")
axes.legend()
for column, (title, image) in enumerate([("unsharp mask 2, 1.5", sharp), ("dark", bracket[0]), ("bright", bracket[2]),
                                         ("weighted blend (no pyramid)", np.clip(naive, 0, 255).astype(np.uint8))]):
    axes = figure.add_subplot(grid[1, column])
    axes.imshow(image)
    axes.set_title(title)
    axes.axis("off")
save(figure, out, "06_enhancement.png")
print("chapter 6 done")
