"""Every enhancement side by side on one photograph (Grace Hopper, shipped inside matplotlib).

Run:  python examples/enhance_gallery.py [--out FIGURE.png]
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np
from matplotlib import cbook
from matplotlib.figure import Figure
from PIL import Image

import enhance

parser = argparse.ArgumentParser()
parser.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "gallery.png"),
                    help="figure to write (default: in the temporary folder)")
args = parser.parse_args()

with cbook.get_sample_data("grace_hopper.jpg") as handle:
    photo = np.asarray(Image.open(handle).convert("RGB"))

panels = [
    ("original", photo),
    ("equalize_hist", enhance.equalize_hist(photo)),
    ("clahe(clip_limit=2)", enhance.clahe(photo, 2.0)),
    ("brightness(1.4)", enhance.brightness(photo, 1.4)),
    ("contrast(1.6)", enhance.contrast(photo, 1.6)),
    ("autocontrast(cutoff=2)", enhance.autocontrast(photo, 2)),
    ("sharpness(3)", enhance.sharpness(photo, 3.0)),
    ("unsharp_mask(2, 1.5)", enhance.unsharp_mask(photo, 2.0, 1.5)),
    ("saturation(1.8)", enhance.saturation(photo, 1.8)),
    ("rgb(1.2, 1.0, 0.8)", enhance.rgb(photo, 1.2, 1.0, 0.8)),
    ("gamma(0.6)", enhance.gamma(photo, 0.6)),
    ("log_transform", enhance.log_transform(photo)),
    ("hdr(detail=3)", enhance.hdr(photo)),
    ("invert", enhance.invert(photo)),
    ("gaussian_blur(3)", enhance.gaussian_blur(photo, 3.0)),
]
columns = 5
rows = -(-len(panels) // columns)
figure = Figure(figsize=(3 * columns, 3.6 * rows), dpi=80)
for index, (title, image) in enumerate(panels):
    axes = figure.add_subplot(rows, columns, index + 1)
    axes.imshow(image)
    axes.set_title(title, fontsize=10)
    axes.axis("off")
figure.tight_layout()
figure.savefig(args.out)
print(f"wrote {args.out} ({len(panels) - 1} techniques)")
