"""Finding and pruning training checkpoints (used by training, loading and the command line).

A run folder keeps ``checkpoints/step-00000500.npz`` files (the newest few)
and ``checkpoints/best.npz`` (the best validation score so far).
"""
from __future__ import annotations

import re
from pathlib import Path

import nnscratch as nn

CHECKPOINT_PATTERN = re.compile(r"^step-(\d{8})\.npz$")


def latest_checkpoint(run_dir: str | Path, report=None) -> Path | None:
    """The newest readable checkpoint in ``run_dir/checkpoints`` (unreadable ones are reported and passed over)."""
    folder = Path(run_dir) / "checkpoints"
    if not folder.is_dir():
        return None
    candidates = sorted((p for p in folder.iterdir() if CHECKPOINT_PATTERN.match(p.name)), reverse=True)
    for path in candidates:
        try:
            nn.load(path)
            return path
        except (nn.StateFileError, OSError) as error:
            if report:
                report(f"passing over unreadable checkpoint {path}: {error}")
    return None


def prune_checkpoints(folder: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` step checkpoints in ``folder`` (best.npz is not a step checkpoint)."""
    checkpoints = sorted(p for p in folder.iterdir() if CHECKPOINT_PATTERN.match(p.name))
    for old in checkpoints[:-keep]:
        old.unlink(missing_ok=True)
