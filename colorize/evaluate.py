"""Scoring a colorizer on colour photos: PSNR against the grayscale baseline, ab error, colourfulness."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from enhance.io import write_figure

from enhance.colorspace import rgb_to_lab
from .data import downscale, to_rgb_uint8
from .hints import draw_hints, truth_hints
from .infer import WORKING_SIZE, colorize, gray_baseline
from .metrics import ab_rmse, chroma_ratio, colorfulness, psnr, tint_angle
from .model import Colorizer


def score_photo(model: Colorizer, truth: np.ndarray, size: int | None = WORKING_SIZE, hints=None) -> dict:
    """Figures for one colour photo (uint8 RGB): the network sees only its lightness (and ``hints``)."""
    truth = to_rgb_uint8(truth)
    predicted = colorize(truth, model, size=size, hints=hints)
    baseline = gray_baseline(truth)
    truth_ab = rgb_to_lab(truth.astype(np.float32) / 255)[..., 1:]
    predicted_ab = rgb_to_lab(predicted.astype(np.float32) / 255)[..., 1:]
    return {
        "psnr": psnr(predicted, truth),
        "psnr_gray": psnr(baseline, truth),
        "ab_rmse": ab_rmse(predicted_ab, truth_ab),
        "ab_rmse_gray": ab_rmse(np.zeros_like(truth_ab), truth_ab),
        "colorfulness": colorfulness(predicted),
        "colorfulness_truth": colorfulness(truth),
        "chroma_ratio": chroma_ratio(predicted_ab, truth_ab),
        "tint_angle": tint_angle(predicted_ab, truth_ab),
        "images": (baseline, predicted, truth),
    }


def evaluate_photos(model: Colorizer, photos: list[tuple[str, np.ndarray]], size: int | None = WORKING_SIZE,
                    image_size: int | None = None, hint_points: int = 10) -> dict:
    """Score every ``(name, rgb)`` photo; return per-image records and their means.

    ``image_size`` first downscales each photo (long side), e.g. for quick
    validation during training; ``size`` is the network's working resolution.
    Each photo is also scored with ``hint_points`` colour points
    sampled from each photo's truth (:func:`colorize.hints.truth_hints`,
    seeded by the photo's name): ``psnr_hints``, ``colorfulness_hints``.
    """
    records, panels = [], []
    for name, rgb in photos:
        truth = downscale(to_rgb_uint8(rgb), image_size)
        scores = score_photo(model, truth, size)
        images = scores.pop("images")
        if hint_points:
            hints = truth_hints(truth, hint_points, name)
            guided = score_photo(model, truth, size, hints)
            scores["psnr_hints"], scores["colorfulness_hints"] = guided["psnr"], guided["colorfulness"]
            images = (images[0], images[1], (guided["images"][1], hints), images[2])
        panels.append((name, images))
        records.append({"image": name, **scores})
    keys = [k for k in records[0] if k not in ("image", "tint_angle")] if records else []
    mean = {key: float(np.nanmean([r[key] for r in records])) for key in keys}
    if records:
        mean["psnr_gain"] = mean["psnr"] - mean["psnr_gray"]
        gains = [r["psnr"] - r["psnr_gray"] for r in records]
        mean["photos_above_gray"] = sum(gain > 0 for gain in gains)
        mean["worst_gain"] = min(gains)
        mean["colorfulness_ratio"] = mean["colorfulness"] / max(mean["colorfulness_truth"], 1e-9)
        angles = [r["tint_angle"] for r in records if not np.isnan(r["tint_angle"])]
        mean["tinted_photos"] = len(angles)          # those whose truth has a clear overall tint
        mean["tint_within_45"] = sum(angle <= 45 for angle in angles)
    return {"images": records, "mean": mean, "panels": panels}


def read_categories(table: str | Path) -> dict[str, str]:
    """``{file name: category}`` from a CSV or TSV table whose header names ``file`` and ``category`` columns."""
    import csv

    table = Path(table)
    text = table.read_text(encoding="utf-8")
    dialect = "excel-tab" if "\t" in text.splitlines()[0] else "excel"
    rows = list(csv.DictReader(text.splitlines(), dialect=dialect))
    if not rows or "file" not in rows[0] or "category" not in rows[0]:
        raise ValueError(f"{table}: a category table needs 'file' and 'category' columns")
    return {Path(row["file"]).name: row["category"] for row in rows if row.get("file")}


def find_categories(folder: str | Path, paths: list[Path], table: str | Path | None = None) -> dict[str, str]:
    """The category of each photo: from ``table``, else from a CSV/TSV beside the photos with
    ``file`` and ``category`` columns, else from the sub-folder each photo is in.  Empty when none apply."""
    folder = Path(folder)
    if table is None:
        for candidate in sorted(folder.glob("*.tsv")) + sorted(folder.glob("*.csv")):
            try:
                return read_categories(candidate)
            except (ValueError, OSError, UnicodeDecodeError):
                continue
    else:
        return read_categories(table)
    by_folder = {p.name: p.parent.relative_to(folder).as_posix() for p in paths if p.parent != folder}
    return by_folder


def category_summary(records: list[dict], categories: dict[str, str]) -> list[dict]:
    """Per category: photo count, mean PSNR gain over gray, photos above gray (and mean gain with hints)."""
    groups: dict[str, list[dict]] = {}
    for record in records:
        groups.setdefault(categories.get(record["image"], "(none)"), []).append(record)
    summary = []
    for name in sorted(groups):
        members = groups[name]
        row = {"category": name, "photos": len(members),
               "gain": float(np.mean([r["psnr"] - r["psnr_gray"] for r in members])),
               "above_gray": sum(r["psnr"] > r["psnr_gray"] for r in members)}
        if "psnr_hints" in members[0]:
            row["gain_hints"] = float(np.mean([r["psnr_hints"] - r["psnr_gray"] for r in members]))
        summary.append(row)
    return summary


def save_grid(panels, path: str | Path, thumb: int = 320) -> Path:
    """An image grid, one row per photo: gray | automatic | (with N points, drawn) | truth, each titled
    with its PSNR gain over the gray input.  ``panels`` are ``(name, images)`` as
    :func:`evaluate_photos` returns them."""
    from matplotlib.figure import Figure

    rows = max(len(panels), 1)
    columns = max((len(images) for _, images in panels), default=3)
    many = rows > 6
    figure = Figure(figsize=((2.6 if many else 3) * columns, (2.1 if many else 3) * rows), dpi=70 if many else 100)
    for row, (name, images) in enumerate(panels):
        gray, truth = images[0], images[-1]
        baseline = psnr(gray, truth)
        titles = ["gray input", f"automatic {psnr(images[1], truth) - baseline:+.2f} dB"]
        if len(images) == 4:
            titles.append(f"{len(images[2][1])} points {psnr(images[2][0], truth) - baseline:+.2f} dB")
        titles.append("truth")
        for column, (title, image) in enumerate(zip(titles, images)):
            if isinstance(image, tuple):                    # a hinted result and its points, drawn on it
                image = draw_hints(image[0], image[1])
            axes = figure.add_subplot(rows, columns, row * columns + column + 1)
            axes.imshow(downscale(image, thumb))
            axes.set_title(f"{name[:28]}: {title}" if column == 0 else title, fontsize=8 if many else 9)
            axes.axis("off")
    figure.tight_layout()
    return write_figure(path, figure)
