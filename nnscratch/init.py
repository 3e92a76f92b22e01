"""Weight initialisation with a seeded generator.

He (Kaiming) initialisation keeps the variance of activations constant
through ReLU layers (gain sqrt(2)); Xavier (Glorot) does the same for
symmetric activations such as tanh (gain 1).  Every function takes an
explicit ``numpy.random.Generator``; ``None`` means the engine's default
generator, reseeded by :func:`nnscratch.manual_seed`.
"""
from __future__ import annotations

import math

import numpy as np

from .backend import DEFAULT_DTYPE, default_rng


def fans(shape: tuple) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight: Linear ``(out, in)``, Conv ``(out, in, kh, kw)``."""
    if len(shape) < 2:
        raise ValueError(f"fan-in/fan-out need a weight of rank >= 2, got shape {shape}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def kaiming_uniform(shape, fan_in=None, gain=math.sqrt(2.0), rng=None, dtype=DEFAULT_DTYPE):
    """U(-b, b) with ``b = gain * sqrt(3 / fan_in)`` (He et al. 2015)."""
    fan_in = fans(shape)[0] if fan_in is None else fan_in
    bound = gain * math.sqrt(3.0 / fan_in)
    return (rng or default_rng()).uniform(-bound, bound, size=shape).astype(dtype)


def kaiming_normal(shape, fan_in=None, gain=math.sqrt(2.0), rng=None, dtype=DEFAULT_DTYPE):
    """N(0, std²) with ``std = gain / sqrt(fan_in)`` (He et al. 2015)."""
    fan_in = fans(shape)[0] if fan_in is None else fan_in
    return (rng or default_rng()).normal(0.0, gain / math.sqrt(fan_in), size=shape).astype(dtype)


def xavier_uniform(shape, gain=1.0, rng=None, dtype=DEFAULT_DTYPE):
    """U(-b, b) with ``b = gain * sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio 2010)."""
    fan_in, fan_out = fans(shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return (rng or default_rng()).uniform(-bound, bound, size=shape).astype(dtype)


def xavier_normal(shape, gain=1.0, rng=None, dtype=DEFAULT_DTYPE):
    """N(0, std²) with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = fans(shape)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return (rng or default_rng()).normal(0.0, std, size=shape).astype(dtype)


def zeros(shape, dtype=DEFAULT_DTYPE):
    return np.zeros(shape, dtype=dtype)
