"""A scripted training run: sweep the learning rate, compare on held-out photos.

Run:  python examples/train_colorizer.py PHOTO_FOLDER [--steps 300] [--runs RUNS_FOLDER]

PHOTO_FOLDER is any folder of your own colour photos (searched recursively);
the run folders go to RUNS_FOLDER (default: runs/sweep in the temporary folder).

Each setting trains its own run folder (checkpoints, metrics.jsonl, loss.png);
10 % of the photos are held out and scored against the grayscale baseline at
every checkpoint.  Interrupt and rerun: each run resumes where it stopped.
"""
import argparse
import tempfile
from pathlib import Path

from colorize import TrainingSettings, train
from colorize.checkpoints import latest_checkpoint

parser = argparse.ArgumentParser()
parser.add_argument("photos", help="folder of colour photos")
parser.add_argument("--steps", type=int, default=300)
parser.add_argument("--runs", default=str(Path(tempfile.gettempdir()) / "runs" / "sweep"))
parser.add_argument("--width", type=int, default=16)
parser.add_argument("--bn-batches", type=int, default=TrainingSettings.bn_batches,
                    help="batches over which the averaged weights' batch-norm statistics are recomputed")
args = parser.parse_args()

results = {}
for lr in (1e-4, 3e-4, 1e-3):
    run = Path(args.runs) / f"lr{lr:g}"
    history = train(data=args.photos, out=run, steps=args.steps, lr=lr, width=args.width, val_fraction=0.1,
                    bn_batches=args.bn_batches, checkpoint_every=max(args.steps // 3, 1), resume=latest_checkpoint(run) is not None)
    validation = [r for r in history if "val_psnr" in r]
    results[lr] = validation[-1] if validation else None

print(f"{'lr':>8} {'val PSNR':>9} {'grayscale':>10} {'colourfulness':>14}")
for lr, record in results.items():
    if record:
        print(f"{lr:>8g} {record['val_psnr']:9.2f} {record['val_psnr_gray']:10.2f} "
              f"{record['val_colorfulness']:7.1f} / {record['val_colorfulness_truth']:.1f}")
