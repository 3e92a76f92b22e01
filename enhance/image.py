"""The image boundary of both packages: what an image array is, how it is checked, how it becomes float.

An image is ``(H, W)`` gray, ``(H, W, 1)`` gray, ``(H, W, 2)`` gray + alpha,
``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA, of dtype uint8, uint16, float32 or
float64 (floats in [0, 1]; float16 is refused, to be converted by the caller).
:func:`check_image` validates one at a public function's door, :func:`to_float`
and :func:`to_rgb_float` convert it, for ``enhance`` and ``colorize`` alike.
Enhancement operations work on the colour part and hand the alpha channel back
untouched, keeping shape and dtype.
"""
from __future__ import annotations

import numpy as np

from nnscratch.backend import get_array_module

from ._tables import CHUNK


class TooSmallForSetting(ValueError):
    """A setting that cannot work on this image's size (fine on a larger one), e.g. CLAHE tiles under 8 pixels."""

SUPPORTED_DTYPES = (np.uint8, np.uint16, np.float32, np.float64)


def check_image(image, name: str):
    """Validate an image array at the boundary of a public function."""
    if not hasattr(image, "dtype") or not hasattr(image, "shape"):
        raise TypeError(f"{name} expects a NumPy (or CuPy) image array, got {type(image).__name__}")
    if image.dtype not in [np.dtype(d) for d in SUPPORTED_DTYPES]:
        raise TypeError(f"{name} expects uint8, uint16, float32 or float64 pixels, got dtype {image.dtype}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 2, 3, 4)):
        raise ValueError(f"{name} expects an (H, W) or (H, W, 1|2|3|4) image, got shape {tuple(image.shape)}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"{name} got an empty image of shape {tuple(image.shape)}")
    if image.dtype.kind == "f":
        check_float_range(image, name)
    return image


def to_float(values, dtype=np.float32) -> np.ndarray:
    """Pixels as floats in [0, 1] of ``dtype``: unsigned integers by their full range (uint8 / 255,
    uint16 / 65535), floats clipped to [0, 1]."""
    if values.dtype.kind == "u":
        return values.astype(dtype) / np.iinfo(values.dtype).max
    if values.dtype.kind != "f":
        raise TypeError(f"expected unsigned integer or float pixels, got dtype {values.dtype}")
    return np.clip(values.astype(dtype), 0, 1)


def to_rgb_float(image, dtype=np.float32) -> np.ndarray:
    """Any image (gray, gray + alpha, RGB, RGBA) as ``(H, W, 3)`` RGB floats in [0, 1] of ``dtype``:
    gray repeated, alpha dropped."""
    if image.ndim == 3 and image.shape[2] >= 3:
        return to_float(image[..., :3], dtype)
    gray = image if image.ndim == 2 else image[..., 0]
    return np.repeat(to_float(gray, dtype)[..., None], 3, axis=2)


def check_float_range(image, name: str) -> None:
    """Float images hold values in [0, 1]; 0-255 values in a float array are a common slip, named here."""
    low, high = float(image.min()), float(image.max())
    if not (low >= 0 and high <= 1):
        hint = (" (values up to 255: divide by 255, or convert to uint8)" if 1 < high <= 255 and low >= 0
                else "")
        raise ValueError(f"{name}: a float image must hold values in [0, 1], this one spans "
                         f"[{low:g}, {high:g}]{hint}")


FACTOR_LIMIT = 1000.0   # enhancement factors and gains beyond this only overflow; refused up front


def check_number(value, name: str, minimum=None, maximum=None) -> float:
    """A finite real number within [minimum, maximum], else ValueError naming the range."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(number) or (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        if minimum is not None and maximum is not None:
            bounds = f" in [{minimum:g}, {maximum:g}]"
        elif minimum is not None or maximum is not None:
            bounds = f" >= {minimum:g}" if minimum is not None else f" <= {maximum:g}"
        else:
            bounds = ""
        raise ValueError(f"{name} must be a finite number{bounds}, got {value!r}")
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


# Pillow's integer luma weights over 2**16, exact in float32
PILLOW_LUMA_WEIGHTS = np.array([19595, 38470, 7471], dtype=np.float32) / np.float32(65536)


def pillow_luma_chunks(pixels):
    """Over an ``(M, 3)`` uint8 pixel matrix, a cache-sized chunk at a time: ``(start, stop, levels,
    luma)``, the chunk's levels in float32 and each pixel's Pillow luma
    ``(19595 R + 38470 G + 7471 B + 0x8000) >> 16`` as a float32 integer.  With the weights scaled
    by 2**-16 every product and sum is exact in float32 (all below 2**24 units of 2**-16), so
    ``floor(sum + 0.5)`` is Pillow's shift.  The two buffers are reused from chunk to chunk."""
    xp = get_array_module(pixels)
    weights = xp.asarray(PILLOW_LUMA_WEIGHTS)
    rows = min(CHUNK, pixels.shape[0])
    work = xp.empty((rows, 3), dtype=np.float32)
    luma = xp.empty(rows, dtype=np.float32)
    for start in range(0, pixels.shape[0], rows):
        stop = min(pixels.shape[0], start + rows)
        levels, gray = work[:stop - start], luma[:stop - start]
        xp.copyto(levels, pixels[start:stop])
        xp.matmul(levels, weights, out=gray)
        gray += 0.5
        xp.floor(gray, out=gray)
        yield start, stop, levels, gray


def pillow_luma(rgb):
    """Pillow's RGB -> L for uint8: ``(19595 R + 38470 G + 7471 B + 0x8000) >> 16`` (uint8), chunk by
    chunk (:func:`pillow_luma_chunks`).  Other dtypes: ``0.299 R + 0.587 G + 0.114 B`` in their own scale.
    """
    xp = get_array_module(rgb)
    if rgb.dtype == np.uint8:
        pixels = xp.ascontiguousarray(rgb).reshape(-1, 3)
        out = xp.empty(pixels.shape[0], dtype=np.uint8)
        for start, stop, _, luma in pillow_luma_chunks(pixels):
            xp.copyto(out[start:stop], luma, casting="unsafe")
        return out.reshape(rgb.shape[:-1])
    work = rgb.astype(np.float64 if rgb.dtype == np.float64 else np.float32)
    luma = work[..., 0] * 0.299 + work[..., 1] * 0.587 + work[..., 2] * 0.114
    return saturate(luma, rgb.dtype) if rgb.dtype.kind == "u" else luma.astype(rgb.dtype)


def per_channel(function, colour):
    """Apply ``function`` to each channel of a colour image (or once to a gray one)."""
    xp = get_array_module(colour)
    if colour.ndim == 2:
        return function(colour)
    return xp.stack([function(colour[..., c]) for c in range(colour.shape[2])], axis=-1)
