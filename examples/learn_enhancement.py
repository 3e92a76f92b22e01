"""Backpropagation tunes a photo: fit brightness, contrast, saturation, gamma, a tone curve and RGB
gains so that a photograph takes on the colours of another.

The photo is Grace Hopper's portrait (shipped inside matplotlib), the reference the autumn leaf
that ``colorize demo`` uses (``colorize/samples/fallen_leaf.jpg``).  The objective compares soft
per-channel histograms and the mean and spread of L, a and b (``enhance.learn.ColourStatisticsLoss``);
every gradient is written by hand (``python -m enhance.gradcheck`` checks them) and the optimizer is
the engine's Adam.  The figure shows before / after / reference, the loss and the parameters.

Run:  python examples/learn_enhancement.py [--out FIGURE.png] [--steps 300]
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np
from matplotlib import cbook
from matplotlib.figure import Figure
from PIL import Image

from enhance import read_image
from enhance.learn import apply_chain, describe_chain, match_reference, reference_chain

parser = argparse.ArgumentParser()
parser.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "learn_enhancement.png"),
                    help="figure to write (default: in the temporary folder)")
parser.add_argument("--steps", type=int, default=300, help="Adam steps (default 300)")
args = parser.parse_args()

with cbook.get_sample_data("grace_hopper.jpg") as handle:
    photo = np.asarray(Image.open(handle).convert("RGB"))
reference = read_image(Path(__file__).resolve().parent.parent / "colorize" / "samples" / "fallen_leaf.jpg")

chain = reference_chain()
history = []                       # every parameter after every step


def record(step, loss):
    history.append([float(v) for layer in chain for p in layer.parameters() for v in np.ravel(p.data)])


chain, losses = match_reference(photo, reference, chain, steps=args.steps, callback=record)
result = apply_chain(chain, photo)
print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f} in {len(losses)} steps")
print("parameters:", describe_chain(chain))

labels = ["gain R", "gain G", "gain B", "brightness", "contrast", "saturation", "gamma", "gamma gain",
          "tone strength", "tone midpoint"]
figure = Figure(figsize=(12, 7.2), layout="constrained")
grid = figure.add_gridspec(2, 3)
for column, (title, image) in enumerate([("photo", photo), ("fitted chain applied", result), ("reference", reference)]):
    axes = figure.add_subplot(grid[0, column])
    axes.imshow(image)
    axes.set_title(title)
    axes.axis("off")
axes = figure.add_subplot(grid[1, 0])
axes.semilogy(losses)
axes.set_xlabel("Adam step")
axes.set_title("colour-statistics loss")
axes = figure.add_subplot(grid[1, 1:])
trajectories = np.array(history)
for index, label in enumerate(labels):
    axes.plot(trajectories[:, index], label=label)
axes.set_xlabel("Adam step")
axes.set_title("parameters")
axes.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.0, 0.5))
figure.savefig(args.out, dpi=80)
print(f"wrote {args.out}")
