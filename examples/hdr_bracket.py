"""Multi-exposure HDR from start to finish, on a bracket simulated from one photograph.

A photo (Grace Hopper, shipped inside matplotlib) is turned into a radiance
scene, "photographed" at four exposure times by a camera with a known
response, and then: the response is recovered (Debevec, Robertson), the
exposures are merged into radiance and tone-mapped, and fused directly
(Mertens).  One figure shows it all.

Run:  python examples/hdr_bracket.py [--out FIGURE.png]
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np
from matplotlib import cbook
from matplotlib.figure import Figure
from PIL import Image

from enhance import hdr_merge

parser = argparse.ArgumentParser()
parser.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "hdr_bracket.png"),
                    help="figure to write (default: in the temporary folder)")
args = parser.parse_args()

with cbook.get_sample_data("grace_hopper.jpg") as handle:
    photo = np.asarray(Image.open(handle).convert("RGB").resize((256, 300))) / 255.0
_, xx = np.mgrid[:photo.shape[0], :photo.shape[1]]
scene = (photo ** 2.2 * 4 + 0.01) * (0.1 + 3 * xx / photo.shape[1])[..., None]   # radiance, wide range
times = np.array([1 / 30, 1 / 8, 1 / 2, 2.0])


def camera(radiance, time):
    exposed = radiance * time
    return np.clip(np.rint((exposed / (1 + exposed)) ** (1 / 1.8) * 255), 0, 255).astype(np.uint8)


bracket = [camera(scene, t) for t in times]
debevec = hdr_merge.calibrate_debevec(bracket, times)
robertson = hdr_merge.calibrate_robertson(bracket, times)
radiance = hdr_merge.merge_debevec(bracket, times, debevec)
correlation = np.corrcoef(np.log(radiance.ravel()), np.log(scene.ravel()))[0, 1]
print(f"merged radiance vs true scene: correlation of logs {correlation:.4f}")

results = [("Reinhard", hdr_merge.tonemap_reinhard(radiance, gamma=2.2)),
           ("Drago", hdr_merge.tonemap_drago(radiance, gamma=2.2)),
           ("Mertens fusion", np.clip(hdr_merge.merge_mertens(bracket), 0, 1))]
figure = Figure(figsize=(16, 7.5), dpi=80)
for index, (image, time) in enumerate(zip(bracket, times)):
    axes = figure.add_subplot(2, 4, index + 1)
    axes.imshow(image)
    axes.set_title(f"exposure {time:.3g} s")
    axes.axis("off")
axes = figure.add_subplot(2, 4, 5)
for channel, colour in enumerate("rgb"):
    axes.semilogy(np.arange(256), debevec[:, channel], colour, label=f"Debevec {colour.upper()}")
    axes.semilogy(np.arange(256), robertson[:, channel], colour + "--", linewidth=0.8)
axes.set_xlabel("pixel value")
axes.set_ylabel("relative exposure")
axes.set_title("recovered response (dashed: Robertson)")
for index, (title, image) in enumerate(results):
    axes = figure.add_subplot(2, 4, 6 + index)
    axes.imshow(image)
    axes.set_title(title)
    axes.axis("off")
figure.tight_layout()
figure.savefig(args.out)
print(f"wrote {args.out}")
