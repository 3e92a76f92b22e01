"""Chapter 7 — Backpropagation tunes a photo.

The enhancements of chapter 6 are formulas with a parameter or two, so they have derivatives.
``enhance.differentiable`` writes each as an engine layer with its backward beside its forward —
brightness ``y = clip(f·x, 0, 1)`` has ``dy/df = x`` inside the clip and 0 where it clips — and a
chain of them is a tiny network whose "weights" are a brightness, a contrast, a gamma.  Here such
a chain is fitted with the engine's Adam, first to undo a known edit (the parameters come back),
then, with no target photo at all, to give a dull photo a mean lightness of 55 and a spread of 22
in CIE L (``enhance.learn.ExposureLoss``, whose gradient flows back through sRGB → Lab).

Run:  python course/07_learning_enhancement.py [--out FOLDER]

Exercises (code answers go in course/answers/chapter7.py; check them: python course/check.py 7)
1. Write the backward of ``y = clip(x + b, 0, 1)`` (a brightness *offset*), gradcheck it, and add
   it to the chain in place of Brightness.  Which of the two fits the dark photo better?
2. Fit only Gamma to the dark photo with the exposure loss: what gamma does it choose?
3. ``python -m enhance.gradcheck`` checks every layer used here; break one backward and watch it fail.
"""
import numpy as np
from matplotlib import cbook
from matplotlib.figure import Figure
from PIL import Image

import enhance
from _common import figure_folder, save
from enhance.differentiable import Brightness, Contrast, Gamma, ToneCurve
from enhance.learn import apply_chain, auto_exposure, describe_chain, fit_enhancement

out = figure_folder(__doc__.splitlines()[0])
with cbook.get_sample_data("grace_hopper.jpg") as handle:
    photo = np.asarray(Image.open(handle).convert("RGB").resize((128, 160), Image.Resampling.LANCZOS))

# 1. Undo a known edit: the fit finds the parameters that made it.
edited = enhance.gamma(enhance.contrast(enhance.brightness(photo, 0.8), 1.3), 1.25)
chain, losses = fit_enhancement(photo, edited, [Brightness(1.0), Contrast(1.0), Gamma(1.0)], steps=300)
gamma_found = float(chain[2].gamma.data[0])
print(f"known edit: brightness 0.8, contrast 1.3, gamma 1.25; found {describe_chain(chain)}")
print(f"pixel loss {losses[0]:.2e} -> {losses[-1]:.2e} (the edit was rounded to 8 bits, and brightness and "
      "gamma's gain share one job, so the fit settles near, not on, the edit's values)")

# 2. No target photo: bring a dull, dark copy to a mean lightness of 55 and a spread of 22.
dull = enhance.gamma(enhance.contrast(photo, 0.6), 1.8)
chain2, losses2 = auto_exposure(dull, lightness=55, contrast=22,
                                chain=[Brightness(1.0), Contrast(1.0), Gamma(1.0), ToneCurve(0.1, 0.5)])
fixed = apply_chain(chain2, dull)
lightness = enhance.rgb_to_lab(fixed / 255.0)[..., 0]
assert abs(gamma_found - 1.25) < 0.1, gamma_found
print(f"exposure fit: {describe_chain(chain2)}")
print(f"L of the result: mean {lightness.mean():.1f}, spread {lightness.std():.1f} (asked 55 and 22)")

figure = Figure(figsize=(10, 3.4), layout="constrained")
grid = figure.add_gridspec(1, 4)
for column, (title, image) in enumerate([("dull copy", dull), ("fitted by backprop", fixed), ("original", photo)]):
    axes = figure.add_subplot(grid[0, column])
    axes.imshow(image)
    axes.set_title(title)
    axes.axis("off")
axes = figure.add_subplot(grid[0, 3])
axes.semilogy(losses, label="undo an edit (pixels)")
axes.semilogy(np.maximum(losses2, 1e-18), label="exposure (no target)")
axes.set_xlabel("Adam step")
axes.set_title("loss")
axes.legend(fontsize="small")
save(figure, out, "07_learning_enhancement.png")
print("chapter 7 done")
