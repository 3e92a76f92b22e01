"""Proof that the colorizer learns: overfit one photo until its colours come back.

A small colorizer (18 hidden layers, width 8) trains on crops of a single photo
(Grace Hopper, shipped inside matplotlib).  The loss falls by orders of
magnitude and the recoloured photo beats the grayscale baseline by many dB.

Run:  python examples/overfit_one_image.py [--steps 300] [--out FIGURE.png]
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np
from matplotlib import cbook
from matplotlib.figure import Figure
from PIL import Image

from colorize import train
from colorize.evaluate import score_photo
from colorize.infer import load_model

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=300)
parser.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "overfit.png"),
                    help="figure to write (default: in the temporary folder)")
args = parser.parse_args()

with cbook.get_sample_data("grace_hopper.jpg") as handle:
    photo = np.asarray(Image.open(handle).convert("RGB").resize((48, 64), Image.Resampling.LANCZOS))

with tempfile.TemporaryDirectory() as folder:
    Image.fromarray(photo).save(Path(folder) / "photo.png")
    run = Path(folder) / "run"
    history = train(data=folder, out=run, steps=args.steps, batch_size=4, crop=48, width=8, lr=3e-3,
                    scale=(1.0, 1.0), min_colorfulness=0, checkpoint_every=args.steps, log_every=25, progress=False)
    for record in history:
        if "loss" in record:
            print(f"step {record['step']:4d}   loss {record['loss']:.5f}")
    scores = score_photo(load_model(run), photo, size=None)

print(f"PSNR {scores['psnr']:.2f} dB against {scores['psnr_gray']:.2f} dB for the gray photo: "
      f"PSNR gain over grayscale: {scores['psnr'] - scores['psnr_gray']:+.2f} dB")
figure = Figure(figsize=(7.5, 3.6))
for index, (title, image) in enumerate(zip(("gray input", "colorized", "original"), scores["images"])):
    axes = figure.add_subplot(1, 3, index + 1)
    axes.imshow(image)
    axes.set_title(title)
    axes.axis("off")
figure.tight_layout()
figure.savefig(args.out)
print(f"wrote {args.out}")
