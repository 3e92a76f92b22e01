"""Single-image "HDR look": edge-preserving detail enhancement (``cv2.detailEnhance``).

The lightness is split into a base layer, smoothed by the domain-transform
recursive filter of Gastal & Oliveira (2011) — which smooths along the image
but not across its edges — and a detail layer, the rest.  Boosting the detail
layer brings out texture without halos at strong edges:

    L' = L / 255                                  (CIE L, as OpenCV scales it)
    base = RF(L'; sigma_s, sigma_r)
    L'' = base + detail * (L' - base)

The recursive filter runs 3 iterations, each a causal and an anti-causal
pass along the rows and then along the columns, with feedback

    a_i = exp(-sqrt(2) / sigma_H_i),  sigma_H_i = sigma_s sqrt(3) 2^(3-i) / sqrt(4^3 - 1)
    J[x] += (J[x-1] - J[x]) * a_i ** (1 + sigma_s / sigma_r * |L'[x] - L'[x-1]|)

so a large step in L' (an edge) makes the feedback vanish there.
"""
from __future__ import annotations

import math

import numpy as np

from nnscratch.backend import get_array_module

from .image import check_image, check_number, is_colour, join_alpha, max_value, saturate, split_alpha
from ._tables import lookup
from .colorspace import lab_to_rgb, lightness, linear_to_lab, rgb_to_lab, srgb_to_linear

ITERATIONS = 3


def _recursive_pass(values, feedback_base, distance):
    """One causal + anti-causal pass along axis 0 (in place on ``values``).

    The recursion runs from row to row, so each step is one contiguous row:
    numpy's loops stream through memory instead of striding down columns.
    """
    xp = get_array_module(values)
    weights = xp.power(feedback_base, distance).astype(values.dtype)   # V[x] = a ** ct[x]
    step = xp.empty_like(values[0])
    length = values.shape[0]
    for x in range(1, length):
        xp.subtract(values[x - 1], values[x], out=step)
        step *= weights[x]
        values[x] += step
    for x in range(length - 2, -1, -1):
        xp.subtract(values[x + 1], values[x], out=step)
        step *= weights[x + 1]
        values[x] += step


TRANSPOSE_TILE = 256


def _transposed(array):
    """A C-contiguous copy of ``array.T``, tile by tile so that reads and writes both stay in
    cache (2.5x faster than ``ascontiguousarray(array.T)`` on a 12 MP float32 channel here)."""
    xp = get_array_module(array)
    out = xp.empty(array.shape[::-1], dtype=array.dtype)
    for top in range(0, array.shape[0], TRANSPOSE_TILE):
        for left in range(0, array.shape[1], TRANSPOSE_TILE):
            out[left:left + TRANSPOSE_TILE, top:top + TRANSPOSE_TILE] = \
                array[top:top + TRANSPOSE_TILE, left:left + TRANSPOSE_TILE].T
    return out


def domain_transform_filter(channel, sigma_s: float = 10.0, sigma_r: float = 0.15):
    """Edge-preserving smoothing of a 2-D float32 array (recursive-filter version)."""
    xp = get_array_module(channel)
    channel = channel.astype(np.float32)
    ratio = np.float32(sigma_s / sigma_r)
    horizontal = xp.ones(channel.shape, dtype=np.float32)
    horizontal[:, 1:] += ratio * xp.abs(xp.diff(channel, axis=1))
    horizontal_t = _transposed(horizontal)                           # rows of the transposed image are columns
    vertical = xp.ones(channel.shape, dtype=np.float32)
    vertical[1:, :] += ratio * xp.abs(xp.diff(channel, axis=0))
    result = channel.copy()
    for i in range(ITERATIONS):
        sigma_h = sigma_s * math.sqrt(3.0) * 2.0 ** (ITERATIONS - (i + 1)) / math.sqrt(4.0 ** ITERATIONS - 1)
        feedback = np.float32(math.exp(-math.sqrt(2.0) / sigma_h))
        transposed = _transposed(result)                             # along the rows of the image
        _recursive_pass(transposed, feedback, horizontal_t)
        result = _transposed(transposed)                             # then along its columns
        _recursive_pass(result, feedback, vertical)
    return result


def hdr(image, sigma_s: float = 10.0, sigma_r: float = 0.15, detail: float = 3.0):
    """Enhance local detail edge-preservingly, the look of ``cv2.detailEnhance``.

    ``sigma_s`` (spatial, pixels, 0–200) sets how far smoothing reaches,
    ``sigma_r`` (range, 0–1) how strong an edge must be to stop it, and
    ``detail`` how much the detail layer is amplified (1 = unchanged).  Works
    on CIE L only, keeping a and b; within 2 levels of OpenCV on uint8 RGB.
    """
    check_image(image, "hdr")
    sigma_s = check_number(sigma_s, "sigma_s", minimum=1e-3, maximum=200)
    sigma_r = check_number(sigma_r, "sigma_r", minimum=1e-3, maximum=1)
    detail = check_number(detail, "detail", minimum=0, maximum=100)
    colour, alpha = split_alpha(image)
    xp = get_array_module(colour)
    top = max_value(colour.dtype)
    if is_colour(colour) and colour.dtype.kind == "u":
        # integer levels: the sRGB curve once per level, then a look-up per pixel
        levels = np.arange(int(top) + 1, dtype=np.float32) / np.float32(top)
        lab = linear_to_lab(lookup(srgb_to_linear(levels), colour))
        light = lab[..., 0]
    elif is_colour(colour):
        lab = rgb_to_lab(colour.astype(np.float32))
        light = lab[..., 0]
    else:
        rgb = colour.astype(np.float32) / np.float32(top)
        rgb = rgb[..., 0] if rgb.ndim == 3 else rgb
        light = lightness(rgb)
    scaled = light / np.float32(255)
    base = domain_transform_filter(scaled, sigma_s, sigma_r)
    boosted = (base + np.float32(detail) * (scaled - base)) * np.float32(255)
    if is_colour(colour):
        lab = xp.stack([boosted, lab[..., 1], lab[..., 2]], axis=-1)
        out = lab_to_rgb(lab)
    else:
        zeros = xp.zeros_like(boosted)
        out = lab_to_rgb(xp.stack([boosted, zeros, zeros], axis=-1))[..., 0]
        if colour.ndim == 3:
            out = out[..., None]
    return join_alpha(saturate(out * np.float32(top), colour.dtype), alpha)
