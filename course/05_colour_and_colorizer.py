"""Chapter 5 — Lab colour, and a colorizer that learns one photo by heart.

CIE Lab splits a colour into lightness L (0–100) and two chroma axes: a (green → red) and
b (blue → yellow).  A gray photo *is* L; colorizing means predicting a and b from it.  The
colorizer is a network of 18 hidden 3×3 convolutions (batch norm, ReLU, stride-2 down,
dilated middle, bilinear up with skip connections) whose last layer outputs a and b.  Before
trusting it on photos it has never seen, a sanity check any network must pass: overfit one
photo.  The loss falls by orders of magnitude and the colours come back.

Run:  python course/05_colour_and_colorizer.py [--out FOLDER]   (about 30 s on 2 cores)

Exercises (code answers go in course/answers/chapter5.py; check them: python course/check.py 5)
1. Set a and b to zero and convert back: is the result the same as a gray conversion by luma?
2. Change ``WIDTH = 8`` below to 4 (channels at full resolution, halved) and run again: how low
   does the loss go now?
3. Print ``colorize model-summary``: which layers hold most parameters, and most FLOPs?
"""
import tempfile
from pathlib import Path

import numpy as np
from matplotlib import cbook
from matplotlib.figure import Figure
from PIL import Image

from _common import figure_folder, save
from colorize import train
from enhance.colorspace import lab_to_rgb, rgb_to_lab
from colorize.evaluate import score_photo
from colorize.infer import load_model

out = figure_folder(__doc__.splitlines()[0])
WIDTH = 8          # channels at full resolution (exercise 2)
with cbook.get_sample_data("grace_hopper.jpg") as handle:
    photo = np.asarray(Image.open(handle).convert("RGB").resize((48, 64), Image.Resampling.LANCZOS))

lab = rgb_to_lab(photo.astype(np.float32) / 255)
print(f"L in [{lab[..., 0].min():.1f}, {lab[..., 0].max():.1f}], a in [{lab[..., 1].min():.1f}, "
      f"{lab[..., 1].max():.1f}], b in [{lab[..., 2].min():.1f}, {lab[..., 2].max():.1f}]")
round_trip = lab_to_rgb(lab)
print(f"sRGB -> Lab -> sRGB differs by at most {np.abs(round_trip - photo / 255).max():.1e}")

with tempfile.TemporaryDirectory() as folder:
    Image.fromarray(photo).save(Path(folder) / "photo.png")
    history = train(data=folder, out=Path(folder) / "run", steps=200, batch_size=4, crop=48, width=WIDTH, lr=3e-3,
                    scale=(1.0, 1.0), min_colorfulness=0, checkpoint_every=200, log_every=50, progress=False,
                    quiet=True, photo_size=None)
    scores = score_photo(load_model(Path(folder) / "run"), photo, size=None)
for record in history:
    if "loss" in record:
        print(f"step {record['step']:3d}  loss {record['loss']:.5f}")
print(f"PSNR {scores['psnr']:.2f} dB, the gray photo {scores['psnr_gray']:.2f} dB: "
      f"gain {scores['psnr'] - scores['psnr_gray']:+.2f} dB")

figure = Figure(figsize=(9, 3), layout="constrained")
panels = [("L", lab[..., 0], "gray"), ("a", lab[..., 1], "RdYlGn_r"), ("b", lab[..., 2], "coolwarm"),
          ("colorized", scores["images"][1], None), ("original", photo, None)]
for index, (title, image, cmap) in enumerate(panels):
    axes = figure.add_subplot(1, 5, index + 1)
    axes.imshow(image, cmap=cmap)
    axes.set_title(title)
    axes.axis("off")
save(figure, out, "05_lab_and_overfit.png")
print("chapter 5 done")
