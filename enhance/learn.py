"""Learning enhancement parameters by backpropagation.

A chain of the layers of :mod:`enhance.differentiable` (by default brightness, contrast,
saturation, gamma and a tone curve, each starting at the identity; RGB gains in front when a
reference's colours are to be matched) is fitted with the engine's
Adam on a small copy of the photo, for one of three objectives:

* :func:`fit_enhancement` — match an edited copy of the same photo pixel by pixel (mean squared
  error): recovers the edit's parameters;
* :func:`match_reference` — match the colour statistics of *another* photo: its per-channel soft
  cumulative histograms (:func:`enhance.differentiable.soft_cdf`) and the mean and standard
  deviation of its L, a and b (:class:`ColourStatisticsLoss`);
* :func:`auto_exposure` — no reference: bring the mean and spread of the lightness L to a target
  (:class:`ExposureLoss`; by default L 50 ± 20, about the median of the project's photographs).

:func:`apply_chain` then applies the fitted chain to the full-size photo, and
:func:`describe_chain` names the parameters found.  Nothing here is random, so a fit is the same
on every run on the same machine.  ``enhance auto IN OUT [--like REF]`` is the command.
"""
from __future__ import annotations

import copy
from typing import Callable

import numpy as np

from nnscratch.backend import get_array_module
from nnscratch.losses import Loss, MSELoss
from nnscratch.module import Module, Sequential
from nnscratch.optim import Adam

from .image import join_alpha, saturate, split_alpha, to_rgb_float
from .differentiable import (Brightness, Contrast, Gamma, Log, RGBGains, RGBToLab, Saturation, ToneCurve,
                             UnsharpMask, default_chain, soft_cdf, soft_cdf_backward)

LAB_SCALE = 100.0      # Lab differences are divided by this, so that they weigh about as CDF differences do


class _LabMoments:
    """Mean and standard deviation of L, a and b over a batch, with their backward."""

    def forward(self, rgb):
        xp = get_array_module(rgb)
        self.to_lab = RGBToLab()
        self.lab = self.to_lab.forward(rgb)
        self.mean = self.lab.mean(axis=(0, 2, 3))
        self.centred = self.lab - self.mean.reshape(1, 3, 1, 1)
        self.std = xp.sqrt((self.centred ** 2).mean(axis=(0, 2, 3)) + 1e-12)
        return self.mean, self.std

    def backward(self, grad_mean, grad_std):
        count = self.lab.size // 3
        grad_lab = (grad_mean.reshape(1, 3, 1, 1)
                    + self.centred * (grad_std / self.std).reshape(1, 3, 1, 1)) / count
        return self.to_lab.backward(grad_lab)


class ColourStatisticsLoss(Loss):
    """How far a batch's colour statistics are from a reference photo's (either size).

        loss = w_h · mean_{c,k} (F_c(v_k) - R_c(v_k))²
             + w_m · mean_{L,a,b} ((μ - μ_ref)² + (σ - σ_ref)²) / 100²

    F_c and R_c are the soft cumulative histograms of channel c of the prediction and of the
    reference at ``bins`` evenly spaced levels (bandwidth ``bandwidth``); μ and σ the mean and
    standard deviation of L, a and b.  ``forward(pred, reference)`` returns the loss (``compute``:
    as a 0-d array on the device), ``backward()`` its gradient for ``pred``; the reference receives none.
    """

    def __init__(self, bins: int = 32, bandwidth: float = 0.03, histogram_weight: float = 1.0,
                 moments_weight: float = 1.0):
        super().__init__()
        self.bins, self.bandwidth = int(bins), float(bandwidth)
        self.histogram_weight, self.moments_weight = float(histogram_weight), float(moments_weight)
        self._reference = None         # (the reference array, its CDFs, its Lab mean and std): computed once

    def _reference_statistics(self, reference, like):
        if self._reference is None or self._reference[0] is not reference:
            ref = get_array_module(like).asarray(reference, dtype=like.dtype)
            self._reference = (reference, [cdf for cdf, _ in self._cdfs(ref)], *_LabMoments().forward(ref))
        return self._reference[1:]

    def _cdfs(self, batch):
        xp = get_array_module(batch)
        points = xp.linspace(0, 1, self.bins, dtype=batch.dtype)
        return [soft_cdf(batch[:, c].reshape(-1), points, self.bandwidth) for c in range(3)]

    def compute(self, pred, reference):
        ref_cdfs, ref_mean, ref_std = self._reference_statistics(reference, pred)
        self.shape = pred.shape
        self.cdfs = self._cdfs(pred)
        self.differences = [cdf - ref for (cdf, _), ref in zip(self.cdfs, ref_cdfs)]
        self.moments = _LabMoments()
        mean, std = self.moments.forward(pred)
        self.mean_diff, self.std_diff = mean - ref_mean, std - ref_std
        histogram = sum((d ** 2).sum() for d in self.differences) / (3 * self.bins)
        moments = ((self.mean_diff ** 2).sum() + (self.std_diff ** 2).sum()) / (3 * LAB_SCALE ** 2)
        return self.histogram_weight * histogram + self.moments_weight * moments

    def backward(self):
        xp = get_array_module(self.mean_diff)
        scale = self.moments_weight * 2 / (3 * LAB_SCALE ** 2)
        grad = self.moments.backward(scale * self.mean_diff, scale * self.std_diff)
        channels = []
        for (_, slopes), difference in zip(self.cdfs, self.differences):
            grad_cdf = self.histogram_weight * 2 * difference / (3 * self.bins)
            channels.append(soft_cdf_backward(grad_cdf, slopes).reshape(self.shape[0], *self.shape[2:]))
        return grad + xp.stack(channels, axis=1)


class ExposureLoss(Loss):
    """A reference-free objective: mean lightness and lightness contrast brought to targets.

        loss = ((μ_L - lightness)² + (σ_L - contrast)²) / 100²

    with μ_L and σ_L the mean and standard deviation of CIE L over the batch.  The defaults,
    L 50 and σ 20, are about the median of the project's 323 training photographs (51 and 19).
    ``forward(pred, target=None)`` ignores ``target``, so it fits where a loss is expected.
    """

    def __init__(self, lightness: float = 50.0, contrast: float = 20.0):
        super().__init__()
        if not 0 <= lightness <= 100 or not 0 < contrast <= 50:
            raise ValueError(f"lightness must be in [0, 100] and contrast in (0, 50], got {lightness}, {contrast}")
        self.lightness, self.contrast = float(lightness), float(contrast)

    def forward(self, pred, target=None) -> float:
        return float(self.compute(pred, target))

    def compute(self, pred, target=None):
        self.moments = _LabMoments()
        mean, std = self.moments.forward(pred)
        self.mean_diff, self.std_diff = mean[0] - self.lightness, std[0] - self.contrast
        return (self.mean_diff ** 2 + self.std_diff ** 2) / LAB_SCALE ** 2

    def backward(self):
        xp = get_array_module(self.moments.mean)
        grad_mean, grad_std = xp.zeros_like(self.moments.mean), xp.zeros_like(self.moments.std)
        grad_mean[0] = 2 * self.mean_diff / LAB_SCALE ** 2
        grad_std[0] = 2 * self.std_diff / LAB_SCALE ** 2
        return self.moments.backward(grad_mean, grad_std)


def as_float_rgb(image) -> np.ndarray:
    """uint8, uint16 or float [0, 1] gray/RGB(A) -> float64 RGB ``(H, W, 3)`` in [0, 1] (alpha dropped)."""
    image = np.asarray(image)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 2, 3, 4)):
        raise ValueError(f"expected a gray or RGB image, got shape {image.shape}")
    if image.dtype.kind not in "uf":
        raise TypeError(f"expected an image of unsigned integers or floats in [0, 1], got {image.dtype}")
    return to_rgb_float(image, np.float64)


def downscale_blocks(image, size: int) -> np.ndarray:
    """A float RGB image reduced to at most ``size`` pixels on the long side by averaging
    whole blocks of pixels (no aliasing, no interpolation); returned as a ``(1, 3, h, w)`` batch."""
    factor = max(1, -(-max(image.shape[:2]) // size))
    height, width = image.shape[0] // factor * factor, image.shape[1] // factor * factor
    if height == 0 or width == 0:
        raise ValueError(f"the image ({image.shape[1]}x{image.shape[0]}) is too small to fit on")
    blocks = image[:height, :width].reshape(height // factor, factor, width // factor, factor, 3)
    return blocks.mean(axis=(1, 3)).transpose(2, 0, 1)[None]


def fit_chain(image, criterion, target=None, chain: list[Module] | None = None, steps: int = 300,
              lr: float = 0.02, size: int = 128,
              callback: Callable[[int, float], None] | None = None) -> tuple[list[Module], list[float]]:
    """Fit ``chain`` (default :func:`enhance.differentiable.default_chain`) so that
    ``criterion.forward(chain(image), target)`` falls, by ``steps`` steps of Adam at ``lr``, on
    the image reduced to ``size`` pixels on the long side (float64).  ``target`` is passed to the
    criterion as it is (an image is reduced like ``image``).  ``callback(step, loss)`` is called
    after each step.  Returns the fitted chain (float64) and the loss before each step."""
    x = downscale_blocks(as_float_rgb(image), size)
    if target is not None:
        target = downscale_blocks(as_float_rgb(target), size)
    model = Sequential(*(chain if chain is not None else default_chain())).double()
    optimizer = Adam(model.parameters(), lr=lr)
    losses = []
    for step in range(steps):
        optimizer.zero_grad()
        losses.append(float(criterion.forward(model.forward(x), target)))
        model.backward(criterion.backward())
        optimizer.step()
        if callback is not None:
            callback(step, losses[-1])
    return list(model), losses


def fit_enhancement(image, target, chain: list[Module] | None = None, steps: int = 300, lr: float = 0.02,
                    size: int = 128, callback=None) -> tuple[list[Module], list[float]]:
    """Fit a chain so that ``chain(image)`` matches ``target``, an edited copy of the same photo, pixel
    by pixel (mean squared error): recovers the parameters of the edit."""
    image, target = as_float_rgb(image), as_float_rgb(target)
    if image.shape != target.shape:
        raise ValueError(f"image and target must be one photo at one size, got {image.shape} and {target.shape}")
    return fit_chain(image, MSELoss(), target, chain, steps, lr, size, callback)


def reference_chain() -> list[Module]:
    """The default chain for matching a reference: RGB gains (a white balance: the one layer that can
    move the mean colour, not only scale it), then :func:`enhance.differentiable.default_chain`."""
    return [RGBGains(1.0, 1.0, 1.0), *default_chain()]


def match_reference(image, reference, chain: list[Module] | None = None, steps: int = 300, lr: float = 0.02,
                    size: int = 96, callback=None, **loss_options) -> tuple[list[Module], list[float]]:
    """Fit a chain (default :func:`reference_chain`) so that ``chain(image)`` has the colour statistics
    of ``reference``, any photo (:class:`ColourStatisticsLoss`; ``loss_options`` go to it)."""
    chain = reference_chain() if chain is None else chain
    return fit_chain(image, ColourStatisticsLoss(**loss_options), reference, chain, steps, lr, size, callback)


def auto_exposure(image, lightness: float = 50.0, contrast: float = 20.0, chain: list[Module] | None = None,
                  steps: int = 300, lr: float = 0.02, size: int = 128, callback=None) -> tuple[list[Module], list[float]]:
    """Fit a chain (by default brightness, contrast, gamma and a tone curve: the objective says nothing
    of colour) so that the photo's lightness has the given mean and spread (:class:`ExposureLoss`)."""
    if chain is None:
        chain = [Brightness(1.0), Contrast(1.0), Gamma(1.0), ToneCurve(0.1, 0.5)]
    return fit_chain(image, ExposureLoss(lightness, contrast), None, chain, steps, lr, size, callback)


def apply_chain(chain: list[Module], image, dtype=np.float32):
    """Apply a fitted chain to a full-size image in ``dtype`` arithmetic; the result has the input's
    dtype (integers rounded once, at the end), shape and alpha.  Each layer runs on a copy that is
    dropped at once, so its saved intermediates do not pile up on a large photo."""
    image = np.asarray(image)
    colour, alpha = split_alpha(image) if image.ndim == 3 else (image, None)
    gray = colour.ndim == 2 or colour.shape[2] == 1
    x = as_float_rgb(colour).astype(dtype).transpose(2, 0, 1)[None]
    for layer in chain:
        x = copy.deepcopy(layer).to(dtype=dtype).forward(x)
    result = x[0].transpose(1, 2, 0)
    if gray:
        result = result.mean(axis=2).reshape(colour.shape)
    if colour.dtype.kind == "u":
        result = saturate(result.astype(np.float64) * np.iinfo(colour.dtype).max, colour.dtype)
    else:
        result = result.astype(colour.dtype)
    return join_alpha(result, alpha)


def describe_chain(chain: list[Module]) -> str:
    """The fitted parameters in words: ``brightness 1.083, contrast 1.214, ...``."""
    parts = []
    for layer in chain:
        values = {name: [round(float(v), 3) for v in np.ravel(p.data)] for name, p in layer.named_parameters()}
        if not values:
            parts.append(_NAMES.get(type(layer), type(layer).__name__))
            continue
        text = ", ".join(f"{name} {v[0] if len(v) == 1 else v}" for name, v in values.items())
        parts.append(f"{_NAMES.get(type(layer), type(layer).__name__)} ({text})")
    return "; ".join(parts)


_NAMES = {Brightness: "brightness", Contrast: "contrast", Saturation: "saturation", Gamma: "gamma",
          ToneCurve: "tone curve", Log: "log", RGBGains: "rgb", UnsharpMask: "unsharp mask"}
