"""Image-quality figures for colorization: PSNR, ab error, colourfulness, chroma ratio and tint angle."""
from __future__ import annotations

import math

import numpy as np


def psnr(prediction: np.ndarray, truth: np.ndarray, peak: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB of two images of the same shape (inf when equal)."""
    if prediction.shape != truth.shape:
        raise ValueError(f"psnr needs images of one shape, got {prediction.shape} and {truth.shape}")
    error = np.mean((prediction.astype(np.float64) - truth.astype(np.float64)) ** 2)
    return math.inf if error == 0 else 10 * math.log10(peak * peak / error)


def ab_rmse(ab_prediction: np.ndarray, ab_truth: np.ndarray) -> float:
    """Root-mean-square error of the chroma channels, in Lab units."""
    difference = ab_prediction.astype(np.float64) - ab_truth.astype(np.float64)
    return float(np.sqrt(np.mean(difference ** 2)))


def colorfulness(rgb: np.ndarray) -> float:
    """Hasler & Süsstrunk (2003) colourfulness of an RGB image (uint8 scale, 0-255).

    With ``rg = R - G`` and ``yb = (R + G) / 2 - B``:
    ``M = sqrt(std(rg)² + std(yb)²) + 0.3 sqrt(mean(rg)² + mean(yb)²)``.
    Gray images score 0; ordinary photos score roughly 15–110.
    """
    rgb = np.asarray(rgb, dtype=np.float64)
    if rgb.ndim != 3 or rgb.shape[2] < 3:
        raise ValueError(f"colorfulness needs an (H, W, 3) RGB image, got shape {rgb.shape}")
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg = red - green
    yb = 0.5 * (red + green) - blue
    spread = math.sqrt(rg.std() ** 2 + yb.std() ** 2)
    centre = math.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    return spread + 0.3 * centre


TINTED = 4.0      # a photo whose mean (a, b) is at least this long (Lab units) has a tint to agree with


def chroma_ratio(ab_prediction: np.ndarray, ab_truth: np.ndarray) -> float:
    """Mean chroma ``|ab|`` of the prediction over the truth's: 1 is as colourful as the truth, 0 gray.

    NaN for a colourless truth (nothing to compare with).
    """
    truth = float(np.mean(np.hypot(ab_truth[..., 0], ab_truth[..., 1])))
    if truth == 0:
        return math.nan
    return float(np.mean(np.hypot(ab_prediction[..., 0], ab_prediction[..., 1]))) / truth


def tint_angle(ab_prediction: np.ndarray, ab_truth: np.ndarray, tinted: float = TINTED) -> float:
    """Angle in degrees (0–180) between the mean ``(a, b)`` of the prediction and of the truth.

    The overall tint's hue: whether a photo that is as a whole orange comes out orange.  NaN when
    the truth's mean (a, b) is shorter than ``tinted`` (no clear tint), 180 when the prediction's
    is zero (gray says nothing of the tint).
    """
    truth = np.asarray(ab_truth, dtype=np.float64).reshape(-1, 2).mean(axis=0)
    prediction = np.asarray(ab_prediction, dtype=np.float64).reshape(-1, 2).mean(axis=0)
    if np.hypot(*truth) < tinted:
        return math.nan
    return _angle(prediction, truth)


# -- colour points: does a point colour its object, and only it? ----------------------------------------

FAR = 12             # leak: pixels more than this many pixels (Chebyshev) outside the object
RING = (6, 10)       # stamp: the ring around a point, in pixels (Euclidean), inside the object


def ab_of(rgb: np.ndarray) -> np.ndarray:
    """CIE (a, b) of a uint8 RGB image: (H, W, 2) float64."""
    from enhance.colorspace import rgb_to_lab

    return rgb_to_lab(np.asarray(rgb[..., :3], dtype=np.float64) / 255)[..., 1:]


def object_mask(truth: np.ndarray, y: int, x: int, tolerance: float = 12.0) -> np.ndarray:
    """The object of a colour photo (uint8 RGB) under pixel ``(y, x)``: the pixels joined to it
    (4-connected) whose true chroma lies within ``tolerance`` Lab units of the 5 x 5 mean there."""
    from .spread import geodesic_distance

    ab = ab_of(truth)
    seed = ab[max(0, y - 2):y + 3, max(0, x - 2):x + 3].reshape(-1, 2).mean(axis=0)
    inside = np.hypot(*(ab - seed).transpose(2, 0, 1)) <= tolerance
    wall = 1e8                     # a step into or out of the object: longer than any path inside it
    distance = geodesic_distance([(y, x)], np.where(inside[:, 1:] & inside[:, :-1], 1.0, wall),
                                 np.where(inside[1:] & inside[:-1], 1.0, wall), max_sweeps=64)[0]
    return distance < wall


def far_from(mask: np.ndarray, margin: int = FAR) -> np.ndarray:
    """The pixels more than ``margin`` pixels (Chebyshev distance) from every pixel of ``mask``."""
    from PIL import Image, ImageFilter

    grown = Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(2 * margin + 1))
    return np.asarray(grown) == 0


def point_figures(result: np.ndarray, automatic: np.ndarray, truth: np.ndarray, mask: np.ndarray,
                  points) -> dict:
    """How colour ``points`` ``[(y, x), ...]`` placed on the object ``mask`` did, all images uint8 RGB.

    * ``reach``: the object's mean chroma in ``result`` as a share of the truth's (1: all of it);
    * ``hue``: the angle in degrees between the object's mean (a, b) in ``result`` and in ``truth``;
    * ``leak``: the mean change of (a, b) from ``automatic`` (no points) far from the object
      (more than :data:`FAR` pixels outside it), in Lab units;
    * ``stamp``: the mean over points of the difference of (a, b) between a point's 3 x 3 centre
      and the ring :data:`RING` pixels around it inside the object (a dot printed at the point).
    """
    ab_result, ab_truth = ab_of(result), ab_of(truth)
    inside_truth, inside_result = ab_truth[mask], ab_result[mask]
    figures = {"reach": float(np.hypot(*inside_result.T).mean() / np.hypot(*inside_truth.T).mean()),
               "hue": _angle(inside_result.mean(axis=0), inside_truth.mean(axis=0))}
    far = far_from(mask)
    change = np.hypot(*(ab_result - ab_of(automatic)).transpose(2, 0, 1))
    figures["leak"] = float(change[far].mean()) if far.any() else 0.0
    rows, cols = np.indices(mask.shape)
    stamps = []
    for y, x in points:
        radius = np.hypot(rows - y, cols - x)
        ring = mask & (radius >= RING[0]) & (radius <= RING[1])
        if ring.any():
            centre = ab_result[max(0, y - 1):y + 2, max(0, x - 1):x + 2].reshape(-1, 2).mean(axis=0)
            stamps.append(float(np.hypot(*(centre - ab_result[ring].mean(axis=0)))))
    figures["stamp"] = float(np.mean(stamps)) if stamps else 0.0
    return figures


def _angle(u: np.ndarray, v: np.ndarray) -> float:
    lengths = np.hypot(*u) * np.hypot(*v)
    if lengths == 0:
        return 180.0
    return float(np.degrees(np.arccos(np.clip(u @ v / lengths, -1.0, 1.0))))


def point_scene(seed: int, height: int = 240, width: int = 320) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic photo for the colour-point figures: ``(rgb uint8, object mask)``.

    One object of a single colour (a random hue, chroma 35-60, lightness 35-70, gently shaded) lies
    on a background of three bands (sky, a far band, ground), each with its own tint and
    texture; the object's gray level differs from the band around it by 6-25 Lab units.
    """
    from enhance.colorspace import lab_to_rgb

    rng = np.random.default_rng(seed)
    rows, cols = np.indices((height, width), dtype=np.float64)
    lab = np.zeros((height, width, 3))
    horizon, ground = sorted(rng.uniform(0.25, 0.7, 2) * height)
    for top, bottom, texture in ((0, horizon, 1.0), (horizon, ground, 4.0), (ground, height, 6.0)):
        band = (rows >= top) & (rows < bottom)
        hue = rng.uniform(0, 2 * np.pi)
        chroma = rng.uniform(5, 35)
        level = rng.uniform(30, 80)
        grain = np.repeat(np.repeat(rng.normal(0, texture, (height // 4 + 1, width // 4 + 1)), 4, 0), 4, 1)
        lab[band, 0] = (level + 8 * (rows[band] - top) / height + grain[:height, :width][band]
                        + rng.normal(0, texture / 2, band.sum()))
        lab[band, 1:] = chroma * np.array([np.cos(hue), np.sin(hue)]) + rng.normal(0, 2, (band.sum(), 2))
    centre = (rng.uniform(0.35, 0.75) * height, rng.uniform(0.3, 0.7) * width)
    radii = (rng.uniform(0.12, 0.22) * height, rng.uniform(0.12, 0.25) * width)
    mask = ((rows - centre[0]) / radii[0]) ** 2 + ((cols - centre[1]) / radii[1]) ** 2 <= 1
    around = float(np.median(lab[..., 0][~mask & (np.abs(rows - centre[0]) < radii[0])]))
    step = rng.uniform(6, 25) * rng.choice([-1, 1])
    level = float(np.clip(around + step, 35, 70))
    if abs(level - around) < 6:
        level = around - step
    hue, chroma = rng.uniform(0, 2 * np.pi), rng.uniform(35, 60)
    lab[mask, 0] = level + 6 * (cols[mask] - centre[1]) / radii[1]      # shaded left to right
    lab[mask, 1:] = chroma * np.array([np.cos(hue), np.sin(hue)])
    lab[..., 0] = np.clip(lab[..., 0], 0, 100)
    rgb = np.rint(np.clip(lab_to_rgb(lab.astype(np.float32)), 0, 1) * 255).astype(np.uint8)
    return rgb, mask
