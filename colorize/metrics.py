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
    if np.hypot(*prediction) == 0:
        return 180.0
    cosine = prediction @ truth / (np.hypot(*prediction) * np.hypot(*truth))
    return float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))
