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
    if image.dtype.kind == "f":
        check_float_range(image, name)
    return image


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


def pillow_luma(rgb):
    """Pillow's RGB -> L for uint8: ``(19595 R + 38470 G + 7471 B + 0x8000) >> 16`` (uint8).

    uint8 runs as float32 products chunk by chunk: with the weights scaled by
    2**-16 every product and sum is exact (all below 2**24 units of 2**-16), so
    ``sum + 0.5`` truncated is Pillow's shift.  Other dtypes: ``0.299 R + 0.587 G
    + 0.114 B`` in their own scale.
    """
    xp = get_array_module(rgb)
    if rgb.dtype == np.uint8:
        weights = xp.asarray(PILLOW_LUMA_WEIGHTS)
        pixels = xp.ascontiguousarray(rgb).reshape(-1, 3)
        out = xp.empty(pixels.shape[0], dtype=np.uint8)
        work = xp.empty((min(CHUNK, pixels.shape[0]), 3), dtype=np.float32)
        luma = xp.empty(work.shape[0], dtype=np.float32)
        for start in range(0, pixels.shape[0], CHUNK):
            stop = min(pixels.shape[0], start + CHUNK)
            part, total = work[:stop - start], luma[:stop - start]
            xp.copyto(part, pixels[start:stop])
            xp.matmul(part, weights, out=total)
            total += 0.5
            xp.copyto(out[start:stop], total, casting="unsafe")
        return out.reshape(rgb.shape[:-1])
    work = rgb.astype(np.float64 if rgb.dtype == np.float64 else np.float32)
    luma = work[..., 0] * 0.299 + work[..., 1] * 0.587 + work[..., 2] * 0.114
    return saturate(luma, rgb.dtype) if rgb.dtype.kind == "u" else luma.astype(rgb.dtype)


# Streamed operations work through the image CHUNK elements at a time so that the chunk and
# its temporaries stay in cache; TAKE_CHUNK suits numpy's take, which widens indices to intp.
CHUNK = 1 << 15
TAKE_CHUNK = 1 << 18


def lookup(table, image):
    """``table[image]``: an integer image through a host table with an entry per level
    (the one-channel case of :func:`lookup_channels`, two pixels at a time for uint8).
    Textbook version: :func:`enhance.reference.lookup`."""
    return lookup_channels(np.asarray(table)[None], image[..., None])[..., 0]


def histogram(levels, bins: int):
    """Counts of each level of an integer image (int64, ``bins`` long), as ``bincount`` gives them
    (the one-channel case of :func:`channel_histograms`, two pixels at a time for uint8).
    Textbook version: :func:`enhance.reference.histogram`."""
    return channel_histograms(levels[..., None], bins)[0]


def _channel_indices(image, bins: int):
    """Chunks of ``level + bins * channel`` over an ``(H, W, C)`` integer image, with their element
    ranges; flat (intp, the index type of take and bincount) so that numpy's inner loops run long,
    not over C channels.  One channel needs no offsets: its levels are the indices."""
    xp = get_array_module(image)
    channels = image.shape[-1]
    flat = xp.ascontiguousarray(image).reshape(-1)
    if channels == 1:
        for start in range(0, flat.shape[0], TAKE_CHUNK):
            yield start, min(flat.shape[0], start + TAKE_CHUNK), flat[start:start + TAKE_CHUNK]
        return
    step = max(CHUNK // channels, 1) * channels
    offsets = xp.asarray(np.tile(np.arange(channels, dtype=np.intp) * bins, step // channels))
    index = xp.empty(min(step, flat.shape[0]), dtype=np.intp)
    for start in range(0, flat.shape[0], step):
        stop = min(flat.shape[0], start + step)
        part = index[:stop - start]
        xp.add(flat[start:stop], offsets[:stop - start], out=part)
        yield start, stop, part


def _byte_pairs():
    """``(65536, 2)`` uint8: the two bytes, in memory order, of every uint16 value on this machine."""
    return np.arange(65536, dtype=np.uint16).view(np.uint8).reshape(-1, 2)


def _pair_channels(channels: int):
    """Channels of the two bytes of each kind of byte pair in an interleaved uint8 image:
    pair ``m`` holds bytes ``2m`` and ``2m + 1``, so the kinds repeat every ``channels / gcd(channels, 2)`` pairs."""
    period = channels // np.gcd(channels, 2)
    return [((2 * kind) % channels, (2 * kind + 1) % channels) for kind in range(period)]


def _pair_indices(flat, channels: int):
    """Chunks of ``pair value + 65536 * pair kind`` (intp) over the whole byte-pair periods of a flat
    interleaved uint8 image, with their pair ranges; also returns where the whole periods end (bytes)."""
    xp = get_array_module(flat)
    kinds = len(_pair_channels(channels))
    whole = flat.shape[0] - flat.shape[0] % (2 * kinds)
    pairs = flat[:whole].view(np.uint16)
    step = max(TAKE_CHUNK // kinds, 1) * kinds
    offsets = xp.asarray(np.tile(np.arange(kinds, dtype=np.intp) * 65536, step // kinds))
    index = xp.empty(min(step, pairs.shape[0]), dtype=np.intp) if kinds > 1 else None

    def chunks():
        for start in range(0, pairs.shape[0], step):
            stop = min(pairs.shape[0], start + step)
            if kinds == 1:                     # one kind of pair: the pair values are the indices
                yield start, stop, pairs[start:stop]
                continue
            part = index[:stop - start]
            xp.add(pairs[start:stop], offsets[:stop - start], out=part)
            yield start, stop, part
    return chunks(), whole


def channel_histograms(image, bins: int):
    """``(C, bins)`` level counts of each channel of an ``(H, W, C)`` integer image.

    uint8 is counted a byte pair at a time (each kind of pair in its own 65,536
    bins, folded back onto the two channels it holds): half the ``bincount`` work.
    """
    xp = get_array_module(image)
    channels = image.shape[-1]
    counts = xp.zeros(channels * bins, dtype=np.int64)
    flat = xp.ascontiguousarray(image).reshape(-1)
    if image.dtype == np.uint8 and flat.shape[0] >= 4 * channels:
        kinds = _pair_channels(channels)
        chunks, whole = _pair_indices(flat, channels)
        pair_counts = xp.zeros(len(kinds) * 65536, dtype=np.int64)
        for _, _, part in chunks:
            pair_counts += xp.bincount(part, minlength=pair_counts.shape[0])
        pair_counts = pair_counts.reshape(len(kinds), 65536)
        byte_pairs = xp.asarray(_byte_pairs().astype(np.intp))
        for kind, (first, second) in enumerate(kinds):
            for position, channel in ((0, first), (1, second)):
                folded = xp.bincount(byte_pairs[:, position], weights=pair_counts[kind], minlength=256)
                counts[channel * bins:channel * bins + 256] += xp.rint(folded).astype(np.int64)
        flat = flat[whole:]                    # the few bytes past the last whole period start at channel 0
    for _, _, part in _channel_indices(flat.reshape(-1, channels), bins):
        counts += xp.bincount(part, minlength=counts.shape[0])
    return counts.reshape(channels, bins)


def lookup_channels(tables, image):
    """``tables[c][image[..., c]]`` for every channel ``c`` of an ``(H, W, C)`` integer image at once.

    uint8 through uint8 tables goes a byte pair at a time, through a table of pairs
    for each kind of pair (which channels its two bytes belong to).
    """
    xp = get_array_module(image)
    tables = np.asarray(tables)
    channels = image.shape[-1]
    out = xp.empty(image.shape, dtype=tables.dtype)
    target = out.reshape(-1)
    flat = xp.ascontiguousarray(image).reshape(-1)
    done = 0
    if image.dtype == np.uint8 and tables.dtype == np.uint8 and flat.shape[0] >= 4 * channels:
        byte_pairs = _byte_pairs()
        kinds = _pair_channels(channels)
        pair_tables = np.empty((len(kinds), 65536, 2), dtype=np.uint8)
        for kind, (first, second) in enumerate(kinds):
            pair_tables[kind, :, 0] = tables[first][byte_pairs[:, 0]]
            pair_tables[kind, :, 1] = tables[second][byte_pairs[:, 1]]
        flat_pair_tables = xp.asarray(pair_tables.reshape(-1).view(np.uint16))
        chunks, done = _pair_indices(flat, channels)
        pairs_out = target[:done].view(np.uint16)
        for start, stop, part in chunks:
            xp.take(flat_pair_tables, part, out=pairs_out[start:stop])
    flat_tables = xp.asarray(tables.reshape(-1))
    rest = target[done:]
    for start, stop, part in _channel_indices(flat[done:].reshape(-1, channels), tables.shape[1]):
        xp.take(flat_tables, part, out=rest[start:stop])
    return out


def per_channel(function, colour):
    """Apply ``function`` to each channel of a colour image (or once to a gray one)."""
    xp = get_array_module(colour)
    if colour.ndim == 2:
        return function(colour)
    return xp.stack([function(colour[..., c]) for c in range(colour.shape[2])], axis=-1)
