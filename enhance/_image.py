"""Conventions shared by the enhancement operations.

An image is ``(H, W)`` gray, ``(H, W, 1)`` gray, ``(H, W, 2)`` gray + alpha,
``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA, of dtype uint8, uint16, float32 or
float64 (floats in [0, 1]).  Operations work on the colour part and hand the
alpha channel back untouched, keeping shape and dtype.
"""
from __future__ import annotations

import numpy as np

from nnscratch.backend import get_array_module

SUPPORTED_DTYPES = (np.uint8, np.uint16, np.float32, np.float64)


def check_image(image, name: str):
    """Validate an image array at the boundary of a public function."""
    if not hasattr(image, "dtype") or not hasattr(image, "shape"):
        raise TypeError(f"{name} expects an image array, got {type(image).__name__}")
    if image.dtype not in [np.dtype(d) for d in SUPPORTED_DTYPES]:
        raise TypeError(f"{name} expects uint8, uint16, float32 or float64 pixels, got {image.dtype}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 2, 3, 4)):
        raise ValueError(f"{name} expects an (H, W) or (H, W, 1|2|3|4) image, got shape {tuple(image.shape)}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"{name} got an empty image of shape {tuple(image.shape)}")
    return image


def check_number(value, name: str, minimum=None, maximum=None) -> float:
    """A finite real number within [minimum, maximum], else ValueError naming the range."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(number) or (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        low = "-inf" if minimum is None else f"{minimum:g}"
        high = "inf" if maximum is None else f"{maximum:g}"
        raise ValueError(f"{name} must be a finite number in [{low}, {high}], got {value!r}")
    return number


def split_alpha(image):
    """(colour part, alpha or None): alpha is the last channel of 2- and 4-channel images."""
    if image.ndim == 3 and image.shape[2] in (2, 4):
        return image[..., :-1], image[..., -1:]
    return image, None


def join_alpha(colour, alpha):
    if alpha is None:
        return colour
    xp = get_array_module(colour)
    if colour.ndim == 2:
        colour = colour[..., None]
    return xp.concatenate([colour, alpha], axis=-1)


def max_value(dtype) -> float:
    """The white level: 255, 65535 or 1.0."""
    dtype = np.dtype(dtype)
    return float(np.iinfo(dtype).max) if dtype.kind == "u" else 1.0


def is_colour(colour) -> bool:
    return colour.ndim == 3 and colour.shape[2] == 3


def saturate(values, dtype, rounding: str = "even"):
    """Clip to the dtype's range and convert: integers rounded half to even
    (``'even'``, OpenCV's saturate_cast) or truncated (``'trunc'``, C casts as in Pillow)."""
    xp = get_array_module(values)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return xp.clip(values, 0, 1).astype(dtype, copy=False)
    top = max_value(dtype)
    values = xp.clip(values, 0, top)
    values = xp.rint(values) if rounding == "even" else xp.floor(values)
    return values.astype(dtype)


def pillow_luma(rgb):
    """Pillow's RGB -> L for uint8: ``(19595 R + 38470 G + 7471 B + 0x8000) >> 16`` (uint8).

    Other dtypes: ``0.299 R + 0.587 G + 0.114 B`` in their own scale.
    """
    if rgb.dtype == np.uint8:
        wide = rgb.astype(np.int32)
        return ((wide[..., 0] * 19595 + wide[..., 1] * 38470 + wide[..., 2] * 7471 + 0x8000) >> 16).astype(np.uint8)
    work = rgb.astype(np.float64 if rgb.dtype == np.float64 else np.float32)
    luma = work[..., 0] * 0.299 + work[..., 1] * 0.587 + work[..., 2] * 0.114
    return saturate(luma, rgb.dtype) if rgb.dtype.kind == "u" else luma.astype(rgb.dtype)


def per_channel(function, colour):
    """Apply ``function`` to each channel of a colour image (or once to a gray one)."""
    xp = get_array_module(colour)
    if colour.ndim == 2:
        return function(colour)
    return xp.stack([function(colour[..., c]) for c in range(colour.shape[2])], axis=-1)
