"""Image-quality figures for colorization: PSNR, ab error and colourfulness."""
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
