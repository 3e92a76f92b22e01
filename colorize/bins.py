"""Colour as classes: the ab plane cut into bins, for a colorizer that predicts a distribution.

Zhang, Isola and Efros (2016) predict, at each pixel, a probability for each of the bins of a
10-unit grid over the ab plane that some colour falls into, instead of one (a, b) pair.  A
regression averages the colours a pixel could have (a red or a blue car: gray), the distribution
keeps them apart, and its read-out chooses how bold to be (the annealed mean, here
:class:`nnscratch.SoftmaxExpectation`: the mean of the bin centres under the distribution
sharpened by a temperature T; T = 1 is the plain mean, T → 0 the most likely bin).

- :func:`ab_bins`: the centres of the grid's cells that sRGB colours fall in (by rounding).
- :func:`soft_encode`: each target (a, b) as weights on its 5 nearest bin centres (Gaussian, σ = 5).
- :func:`class_prior`, :func:`rebalancing_weights`: how often each bin occurs in the training photos,
  and the per-class weights that stop the rare, saturated colours from being drowned by the
  common, desaturated ones (the prior smoothed, mixed half and half with a uniform one, inverted).
- :class:`BinnedCrossEntropy`: the loss on the network's logits against the target ab.
"""
from __future__ import annotations

import functools

import numpy as np

import nnscratch as nn
from nnscratch.losses import Loss

from enhance.colorspace import rgb_to_lab

GRID = 10.0             # bin size in Lab units
RADIUS = 11             # the grid spans -110 … 110 on each axis (the network's ab range)
NEIGHBOURS = 5          # soft encoding: the target spread over this many nearest centres ...
SIGMA = 5.0             # ... with Gaussian weights of this width (Lab units)
TEMPERATURE = 0.38      # Zhang et al.'s read-out temperature
UNIFORM_MIX = 0.5       # rebalancing: the prior mixed with a uniform one by this much


@functools.lru_cache(maxsize=1)
def _gamut_cells() -> np.ndarray:
    """(2R+1, 2R+1) bool: which grid cells (a/10, b/10 rounded, offset by R) some 8-bit sRGB colour falls in."""
    levels = np.arange(256, dtype=np.float32) / 255
    green, blue = np.meshgrid(levels, levels, indexing="ij")
    hit = np.zeros((2 * RADIUS + 1,) * 2, dtype=bool)
    for red in levels:                       # every one of the 2^24 colours, a red level at a time
        lab = rgb_to_lab(np.stack([np.full_like(green, red), green, blue], axis=-1))
        cells = np.rint(lab[..., 1:] / GRID).astype(np.int64) + RADIUS
        hit[cells[..., 0], cells[..., 1]] = True
    hit.setflags(write=False)
    return hit


def ab_bins() -> np.ndarray:
    """(Q, 2) float64: the (a, b) centres of the bins, in Lab units, row-major over a then b (Q = 261)."""
    a, b = np.nonzero(_gamut_cells())
    return np.stack([a - RADIUS, b - RADIUS], axis=1).astype(np.float64) * GRID


def _cell_lookup(centers: np.ndarray) -> np.ndarray:
    """(2R+3+2, ...) int table: grid cell (offset) -> bin index, -1 off the gamut (with a margin of 2)."""
    size = 2 * RADIUS + 1 + 4
    table = np.full((size, size), -1, dtype=np.int64)
    cells = np.rint(centers / GRID).astype(np.int64) + RADIUS + 2
    table[cells[:, 0], cells[:, 1]] = np.arange(len(centers))
    return table


def soft_encode(ab: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each (a, b) as weights on its nearest bin centres.

    ``ab`` is ``(N, 2, H, W)`` in Lab units; returns ``(indices, weights)``, both ``(N, K, H, W)``
    (K = 5): the K nearest centres among the bins (K different bins) and Gaussian weights (σ = 5)
    summing to 1.  The 4x4 block of grid points around each colour is searched (on a grid of
    spacing 10 the 5 nearest points always lie in it); where fewer than K of those are bins (at
    the gamut's edge), every bin is.
    """
    if ab.ndim != 4 or ab.shape[1] != 2:
        raise ValueError(f"soft_encode expects (N, 2, H, W) ab, got shape {tuple(ab.shape)}")
    table = _cell_lookup(centers)
    base = np.floor(ab / GRID).astype(np.int64)                     # (N, 2, H, W), lower-left grid point
    base = np.clip(base, -RADIUS - 1, RADIUS)                        # keep the block inside the table
    offsets = np.array([(i, j) for i in (-1, 0, 1, 2) for j in (-1, 0, 1, 2)])   # (16, 2)
    cand_a = base[:, 0:1] + offsets[:, 0].reshape(1, -1, 1, 1)       # (N, 16, H, W)
    cand_b = base[:, 1:2] + offsets[:, 1].reshape(1, -1, 1, 1)
    index = table[cand_a + RADIUS + 2, cand_b + RADIUS + 2]
    distance2 = (ab[:, 0:1] - cand_a * GRID) ** 2 + (ab[:, 1:2] - cand_b * GRID) ** 2
    distance2 = np.where(index >= 0, distance2, np.inf)
    nearest = np.argpartition(distance2, NEIGHBOURS - 1, axis=1)[:, :NEIGHBOURS]
    chosen = np.take_along_axis(distance2, nearest, axis=1)
    indices = np.take_along_axis(index, nearest, axis=1)
    few = ~np.isfinite(chosen).all(axis=1)   # fewer than K bins in the block: near the gamut's edge
    if few.any():                             # those pixels search every bin (the K found are distinct)
        position = np.nonzero(few)
        colours = ab.transpose(0, 2, 3, 1)[few]                             # (P, 2)
        everywhere = ((colours[:, None, :] - centers[None]) ** 2).sum(axis=-1)  # (P, Q)
        best = np.argpartition(everywhere, NEIGHBOURS - 1, axis=1)[:, :NEIGHBOURS]
        indices[position[0], :, position[1], position[2]] = best
        chosen[position[0], :, position[1], position[2]] = np.take_along_axis(everywhere, best, axis=1)
    weights = np.exp(-(chosen - chosen.min(axis=1, keepdims=True)) / (2 * SIGMA ** 2))   # no underflow
    weights /= weights.sum(axis=1, keepdims=True)
    return indices, weights.astype(ab.dtype)


def nearest_bin(ab: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """The index of the bin each (a, b) (``(..., 2)`` in Lab units) rounds into (the nearest centre on the grid)."""
    table = _cell_lookup(centers)
    cells = np.clip(np.rint(ab / GRID).astype(np.int64), -RADIUS, RADIUS) + RADIUS + 2
    found = table[cells[..., 0], cells[..., 1]]
    if (found < 0).any():      # a colour rounding off the gamut (outside 8-bit sRGB): its nearest centre
        lost = found < 0
        distance = ((ab[lost][:, None, :] - centers[None]) ** 2).sum(axis=-1)
        found[lost] = distance.argmin(axis=1)
    return found


def class_prior(images, centers: np.ndarray) -> np.ndarray:
    """(Q,) how often each bin occurs over the pixels of ``images`` (8-bit RGB arrays), summing to 1."""
    counts = np.zeros(len(centers))
    for image in images:
        rgb = np.asarray(image)
        lab = rgb_to_lab(rgb.astype(np.float32) / 255)
        counts += np.bincount(nearest_bin(lab[..., 1:].reshape(-1, 2), centers).ravel(), minlength=len(centers))
    if not counts.sum():
        raise ValueError("class_prior: no pixels")
    return counts / counts.sum()


def rebalancing_weights(prior: np.ndarray, centers: np.ndarray, mix: float = UNIFORM_MIX,
                        sigma: float = SIGMA) -> np.ndarray:
    """(Q,) per-class weights, Zhang et al.'s: ``w ∝ ((1 - mix) p̃ + mix / Q)^-1`` with ``p̃`` the prior
    smoothed by a Gaussian of width ``sigma`` over the ab plane, scaled so that ``sum p̃ w = 1``
    (the weights leave the loss's scale as it was on average)."""
    if not 0 <= mix <= 1:
        raise ValueError(f"mix must be in [0, 1], got {mix}")
    distance2 = ((centers[:, None, :] - centers[None, :, :]) ** 2).sum(axis=-1)
    kernel = np.exp(-distance2 / (2 * sigma ** 2))
    smoothed = kernel @ prior
    smoothed /= smoothed.sum()
    weights = 1.0 / ((1 - mix) * smoothed + mix / len(prior))
    return weights / (smoothed * weights).sum()


class BinnedCrossEntropy(Loss):
    """The colorizer's classification loss: softmax cross-entropy of the logits ``(N, Q, H, W)``
    against each target pixel's soft-encoded colour, weighted per pixel by the rebalancing
    weight of the bin it falls in (Zhang et al.'s ``v(Z)``), averaged over the pixels.

    ``target`` is ab / 110 ``(N, 2, H, W)``, as the regression losses take it.  With ``z`` the
    soft target and ``v`` the pixel's weight: ``loss = v (logsumexp(x) - z · x)``,
    ``d x = v (softmax(x) - z) / pixels``.  ``class_weights`` None: all 1 (no rebalancing).
    """

    def __init__(self, centers: np.ndarray, class_weights: np.ndarray | None = None, ab_scale: float = 110.0):
        super().__init__()
        self.centers = np.asarray(centers, dtype=np.float64)
        self.class_weights = None if class_weights is None else np.asarray(class_weights, dtype=np.float64)
        if self.class_weights is not None and self.class_weights.shape != (len(self.centers),):
            raise ValueError(f"class_weights must have shape ({len(self.centers)},), got {self.class_weights.shape}")
        self.ab_scale = float(ab_scale)

    def compute(self, logits, target):
        xp = nn.get_array_module(logits)
        if logits.ndim != 4 or logits.shape[1] != len(self.centers):
            raise ValueError(f"BinnedCrossEntropy: logits must be (N, {len(self.centers)}, H, W), got {tuple(logits.shape)}")
        if target.shape != (logits.shape[0], 2) + logits.shape[2:]:
            raise ValueError(f"BinnedCrossEntropy: target must be ab of shape (N, 2, H, W) matching the logits, "
                             f"got {tuple(target.shape)}")
        ab = nn.asnumpy(target).astype(np.float64) * self.ab_scale
        indices, weights = soft_encode(ab, self.centers)
        if self.class_weights is None:
            pixel_weight = np.ones(indices[:, 0].shape)
        else:            # the weight of the bin the pixel falls in: its nearest centre, the largest weight
            nearest = np.take_along_axis(indices, weights.argmax(axis=1)[:, None], axis=1)[:, 0]
            pixel_weight = self.class_weights[nearest]
        count = pixel_weight.size
        indices, weights = xp.asarray(indices), xp.asarray(weights, dtype=logits.dtype)
        pixel_weight = xp.asarray(pixel_weight, dtype=logits.dtype)
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = xp.exp(shifted)
        total = exp.sum(axis=1, keepdims=True)
        # (sample, bin, row, column) of each pixel's K bins, as index arrays (NumPy and CuPy alike)
        batch, _, height, width = logits.shape
        at = (xp.arange(batch).reshape(-1, 1, 1, 1), indices,
              xp.arange(height).reshape(1, 1, -1, 1), xp.arange(width).reshape(1, 1, 1, -1))
        picked = (shifted[at] * weights).sum(axis=1)
        losses = pixel_weight * (xp.log(total[:, 0]) - picked)           # the soft target sums to 1
        grad = exp
        grad /= total
        grad[at] -= weights            # minus the soft target at its K bins (different bins: one write each)
        grad *= pixel_weight[:, None] * self._scale(count)
        self._grad = grad
        return self._reduce(losses, count)

    def __repr__(self) -> str:
        return (f"BinnedCrossEntropy(bins={len(self.centers)}, rebalanced={self.class_weights is not None}, "
                f"reduction={self.reduction!r})")
