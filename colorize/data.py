"""A folder of colour photos as an endless, seeded stream of (L, ab) training batches.

Every batch is a pure function of ``(seed, step)``: the images come from a
per-epoch permutation seeded by ``(seed, epoch)`` and the crops from a
generator seeded by ``(seed, step)``.  Resuming at step k therefore needs
nothing but k, and gives exactly the batches an uninterrupted run would see.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from enhance.image import to_rgb_float
from enhance.io import ImageError, read_image

from enhance.colorspace import rgb_to_lab
from .hints import HINT_CHANNELS, training_hint_channels
from .metrics import colorfulness
from .model import AB_SCALE, normalize_lightness

CROP_SCALE = (0.7, 1.0)   # training crops are cut at this range of the stored photo's size


def category_weights(paths, categories: dict[str, str], balance: float) -> np.ndarray:
    """Sampling weights for photos by category: each photo ``1 / n ** balance``, ``n`` the number of
    photos of its category (``categories`` maps file names to categories; photos not listed form a
    category of their own).  ``balance`` 0 weighs every photo alike; 1 every category alike (6 food
    photos then come up as often as 165 landscapes); 0.5 between."""
    names = [categories.get(Path(path).name, "(none)") for path in paths]
    counts = {name: names.count(name) for name in set(names)}
    return np.array([counts[name] ** -float(balance) for name in names])


def to_rgb_uint8(array: np.ndarray) -> np.ndarray:
    """An image array as uint8 RGB (gray repeated, alpha dropped)."""
    if array.dtype.kind not in "uf":
        raise ImageError(f"unsupported image dtype {array.dtype}")
    return np.rint(to_rgb_float(array) * 255).astype(np.uint8)


@dataclass
class PhotoSet:
    """Colour photos kept in memory as 8-bit RGB Pillow images.

    ``skipped`` lists ``(path, reason)`` for files that could not be read or
    were nearly colourless.
    """

    paths: list[Path]
    images: list[Image.Image]
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    @classmethod
    def from_paths(cls, paths, min_colorfulness: float = 0.0, min_side: int = 1, report=True,
                   max_side: int | None = None) -> "PhotoSet":
        """Read (and decode once) every photo; ``max_side`` downscales each to that long side
        (antialiased), so training crops are cut at the scale the network works at."""
        kept_paths, images, skipped = [], [], []
        for path in paths:
            try:
                rgb = to_rgb_uint8(read_image(path))
            except (ImageError, OSError) as error:
                skipped.append((path, str(error)))
                continue
            if max_side is not None and max(rgb.shape[:2]) > max_side:
                rgb = downscale(rgb, max_side)
            if min(rgb.shape[:2]) < min_side:
                skipped.append((path, f"smaller than {min_side} pixels on a side"))
                continue
            score = colorfulness(rgb[::4, ::4])
            if score < min_colorfulness:
                skipped.append((path, f"nearly colourless (colourfulness {score:.1f} < {min_colorfulness})"))
                continue
            kept_paths.append(Path(path))
            images.append(Image.fromarray(rgb))
        if report:
            for path, reason in skipped:
                print(f"skipping {path}: {reason}", file=sys.stderr)
        return cls(kept_paths, images, skipped)

    def __len__(self) -> int:
        return len(self.images)


def downscale(rgb: np.ndarray, size: int | None) -> np.ndarray:
    """The photo with its long side at most ``size`` (antialiased), as uint8 RGB."""
    height, width = rgb.shape[:2]
    if size is None or max(height, width) <= size:
        return rgb
    scale = size / max(height, width)
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(rgb).resize(target, Image.Resampling.LANCZOS))


def lab_pair(rgb_uint8: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(normalised L (1, H, W), ab / AB_SCALE (2, H, W)) in float32 from an RGB uint8 image."""
    lab = rgb_to_lab(rgb_uint8.astype(np.float32) / 255)
    return (normalize_lightness(lab[..., 0])[None],
            (lab[..., 1:] / AB_SCALE).transpose(2, 0, 1))


def check_light_jitter(strength: float) -> float:
    """``strength`` as a float; ValueError unless it is in [0, 2] (NaN included)."""
    if not 0 <= strength <= 2:
        raise ValueError(f"light_jitter must be in [0, 2], got {strength}")
    return float(strength)


def jitter_lightness(light: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """A random tone curve on normalised lightness (values in [-1, 1]): the same photo as another
    film, exposure or scan would have recorded it, its colours unchanged.

    With ``t = (L + 1) / 2`` in [0, 1]: ``t ** g`` with ``log g`` uniform in ``[-strength, strength]``,
    then its contrast about its own mean scaled by ``exp(u)``, ``u`` uniform in
    ``[-strength / 2, strength / 2]``, clipped to [0, 1].  Monotone, so the order of
    lightness values is kept; ``strength`` 0 returns the input unchanged.
    """
    if strength == 0:
        return light
    gamma = math.exp(rng.uniform(-strength, strength))
    contrast = math.exp(rng.uniform(-strength / 2, strength / 2))
    tone = np.clip((light + 1) / 2, 0, 1) ** gamma
    centre = tone.mean()
    tone = np.clip(centre + contrast * (tone - centre), 0, 1)
    return (2 * tone - 1).astype(light.dtype)


class CropSampler:
    """Batches of random crops at random scales, with horizontal flips.

    ``scale`` is the range of downscaling factors applied before cropping
    (1 = the photo's own resolution); each crop is resampled to ``crop`` x
    ``crop`` pixels with Pillow's antialiased bilinear filter.  ``light_jitter``
    puts a random tone curve on each crop's lightness (:func:`jitter_lightness`; 0: none),
    from a generator of its own, so the crops and hints are those of a run without it.

    Photos are taken in a new random order every epoch, each once; with ``weights`` (one per
    photo, e.g. from :func:`category_weights`) each crop's photo is instead drawn with those
    probabilities, from a generator seeded by (seed, step, slot), so batches stay a pure function
    of the step.
    """

    def __init__(self, photos: PhotoSet, batch_size: int, crop: int, seed: int,
                 scale: tuple[float, float] = CROP_SCALE, flip: bool = True, hints: bool = False,
                 light_jitter: float = 0.0, weights=None):
        if batch_size < 1 or crop < 8 or crop % 8:
            raise ValueError(f"batch size must be >= 1 and crop a multiple of 8 (>= 8), got {batch_size} and {crop}")
        low, high = scale
        if not 0 < low <= high:
            raise ValueError(f"scale range must satisfy 0 < low <= high, got {scale}")
        self.light_jitter = check_light_jitter(light_jitter)
        self.photos, self.batch_size, self.crop, self.seed = photos, batch_size, crop, seed
        self.scale, self.flip, self.hints = (float(low), float(high)), flip, hints
        self._permutations: dict[int, np.ndarray] = {}
        self.weights = None
        if weights is not None:
            weights = np.asarray(weights, dtype=np.float64)
            if weights.shape != (len(photos),) or not (np.all(weights >= 0) and weights.sum() > 0):
                raise ValueError(f"weights must be {len(photos)} non-negative numbers, not all 0")
            self.weights = weights / weights.sum()

    def _image_index(self, position: int) -> int:
        count = len(self.photos)
        if self.weights is not None:
            return int(np.random.default_rng((self.seed, 6, position)).choice(count, p=self.weights))
        epoch, offset = divmod(position, count)
        if epoch not in self._permutations:
            self._permutations = {epoch: np.random.default_rng((self.seed, 1, epoch)).permutation(count)}
        return int(self._permutations[epoch][offset])

    def _crop(self, image: Image.Image, rng: np.random.Generator) -> np.ndarray:
        width, height = image.size
        low, high = self.scale
        largest = min(high, min(width, height) / self.crop)  # window must fit: side = crop / scale <= min side
        smallest = min(low, largest)
        scale = rng.uniform(smallest, largest) if largest > smallest else largest
        side = min(self.crop / scale, width, height)
        left = rng.uniform(0, width - side)
        top = rng.uniform(0, height - side)
        patch = image.resize((self.crop, self.crop), Image.Resampling.BILINEAR,
                             box=(left, top, left + side, top + side))
        array = np.asarray(patch)
        if self.flip and rng.random() < 0.5:
            array = array[:, ::-1]
        return array

    def batch(self, step: int, slots: range | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The batch of training step ``step``: (input (N, 1, c, c), ab target (N, 2, c, c)), float32.

        Each crop comes from a generator of its own, seeded by (seed, step, slot), so ``slots`` (a
        range of positions in the batch; default all) gives exactly those crops of the whole
        batch: data-parallel processes each make only their share.  With ``hints`` the input has
        4 channels: L and random hints drawn from the target
        (:func:`colorize.hints.training_hint_channels`), from generators of their own so the
        crops are those of a run without hints.
        """
        slots = range(self.batch_size) if slots is None else slots
        channels = 1 + (HINT_CHANNELS if self.hints else 0)
        inputs = np.empty((len(slots), channels, self.crop, self.crop), dtype=np.float32)
        targets = np.empty((len(slots), 2, self.crop, self.crop), dtype=np.float32)
        for row, slot in enumerate(slots):
            rng = np.random.default_rng((self.seed, 2, step, slot))
            image = self.photos.images[self._image_index(step * self.batch_size + slot)]
            inputs[row, :1], targets[row] = lab_pair(self._crop(image, rng))
            if self.light_jitter:
                inputs[row, 0] = jitter_lightness(inputs[row, 0], np.random.default_rng((self.seed, 5, step, slot)),
                                                  self.light_jitter)
            if self.hints:
                inputs[row, 1:] = training_hint_channels(targets[row], np.random.default_rng((self.seed, 4, step, slot)))
        return inputs, targets
