"""Colour hints: automatic colorization, then 1, 3 and 10 coloured points (and, on the demo photo,
a point on each of its two leaves).

The shipped colorizer takes, besides a photo's lightness, a few colour points
(y, x, colour).  Here the points are sampled from the photo's true colours,
as a user who remembered them would place them, and the figure shows how the
result moves towards the truth as points are added.  The photo is the demo
sample, held out from training.

Run:  python examples/hints.py [--photo PATH] [--checkpoint PATH] [--out hints.png]
"""
import argparse
import tempfile
from pathlib import Path

from matplotlib.figure import Figure

from colorize import colorize, load_model
from colorize.cli import SAMPLE
from colorize.data import to_rgb_uint8
from colorize.hints import draw_hints, truth_hints
from colorize.infer import gray_baseline
from colorize.metrics import psnr
from enhance.io import read_image, write_figure

parser = argparse.ArgumentParser()
parser.add_argument("--photo", default=str(SAMPLE), help="a colour photo (default: the held-out demo sample)")
parser.add_argument("--checkpoint", help="model file, checkpoint or run folder (default: the shipped model)")
parser.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "hints.png"), help="figure to write")
args = parser.parse_args()

model = load_model(args.checkpoint)
truth = to_rgb_uint8(read_image(args.photo))
points = truth_hints(truth, 10, Path(args.photo).name)       # 10 points, seeded by the file name

panels = [("gray input", gray_baseline(truth), [])]
for count in (0, 1, 3, 10):
    hints = points[:count]
    result = colorize(truth, model, hints=hints)              # only the lightness of `truth` is used
    title = "automatic" if count == 0 else f"{count} point{'s' * (count > 1)}"
    panels.append((f"{title}: {psnr(result, truth):.2f} dB", result, hints))
if Path(args.photo) == Path(SAMPLE):      # as a user would: one point on each leaf, its true colour
    hints = [(y, x, tuple(int(v) for v in truth[y - 2:y + 3, x - 2:x + 3].reshape(-1, 3).mean(axis=0)))
             for y, x in ((165, 320), (100, 150))]
    result = colorize(truth, model, hints=hints)
    panels.append((f"2 points on the leaves: {psnr(result, truth):.2f} dB", result, hints))
panels.append((f"truth (gray: {psnr(panels[0][1], truth):.2f} dB)", truth, []))

figure = Figure(figsize=(3.2 * len(panels), 2.6), dpi=100)
for column, (title, image, hints) in enumerate(panels):
    axes = figure.add_subplot(1, len(panels), column + 1)
    axes.imshow(draw_hints(image, hints) if hints else image)
    axes.set_title(title, fontsize=9)
    axes.axis("off")
figure.tight_layout()
print("\n".join(title for title, _, _ in panels[1:]))
print(f"wrote {write_figure(args.out, figure)}")
