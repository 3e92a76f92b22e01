"""Look-up tables and histograms of integer images, made fast: two pixels at a time.

What these compute is simple — ``table[image]`` and ``np.bincount(image)`` per channel
(:mod:`enhance.reference` has exactly that) — but on 8-bit images numpy spends its time per
element.  Read as uint16, an interleaved uint8 image is half as many elements: each byte pair
is looked up in a table of all 65,536 pairs (for each kind of pair: which channels its two bytes
belong to), or counted in 65,536 bins and folded back onto the two channels.  Work goes through
the image in cache-sized chunks.
"""
from __future__ import annotations

import numpy as np

from nnscratch.backend import get_array_module

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
