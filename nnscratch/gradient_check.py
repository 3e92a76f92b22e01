"""Numerical gradient checks: the proof that every hand-written backward is right.

For a module ``f`` and a random upstream gradient ``u`` (never all ones, so
that mistakes cannot cancel), the scalar ``L(x, θ) = sum(u * f(x; θ))`` has
the gradients that ``backward(u)`` claims to compute.  Each element is
checked against the central difference

    dL/dz ≈ (L(z + h) - L(z - h)) / (2h)

whose error is O(h²) from truncation plus O(ε_machine · |L| / h) from
rounding.  In float64 (ε ≈ 1e-16) and ``h = 1e-6`` both are around 1e-10;
in float32 (ε ≈ 6e-8) rounding alone is around 1e-2 — which is why checks
run in float64.

The error reported per tensor is ``max |analytic - numeric| / max(|analytic|, |numeric|)``
over the tensor, i.e. normalised by the largest gradient, which stays
meaningful when individual gradients are near zero.

The catalogue of checks, one per layer and loss, and the table they print are in
:mod:`nnscratch.checks` (``python -m nnscratch.checks``; ``python -m enhance.gradcheck`` for the
enhancement layers of ``enhance.differentiable``, ``python -m colorize.gradcheck`` for the whole
colorizer: the engine depends on neither).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .backend import asnumpy, get_array_module
from .module import Module

SMOOTH_TOLERANCE = 1e-7
KINK_TOLERANCE = 1e-5


def _default_step(dtype) -> float:
    return 1e-6 if np.dtype(dtype) == np.float64 else 1e-3


def _chosen_indices(size: int, max_elements: int | None, rng) -> np.ndarray:
    if max_elements is None or size <= max_elements:
        return np.arange(size)
    return np.sort(rng.choice(size, size=max_elements, replace=False))


def _relative_error(analytic, numeric) -> float:
    scale = max(float(np.abs(analytic).max(initial=0.0)), float(np.abs(numeric).max(initial=0.0)))
    if scale == 0.0:
        return 0.0
    return float(np.abs(analytic - numeric).max(initial=0.0) / scale)


def _numeric_gradient(objective: Callable[[], float], array, indices, step: float) -> np.ndarray:
    """Central differences of ``objective`` with respect to ``array.flat[indices]`` (perturbed in place)."""
    flat = array.reshape(-1)  # a view: array is contiguous
    numeric = np.empty(len(indices))
    for out, index in enumerate(indices):
        original = flat[index].copy()
        flat[index] = original + step
        plus = objective()
        flat[index] = original - step
        minus = objective()
        flat[index] = original
        numeric[out] = (plus - minus) / (2 * step)
    return numeric


def gradcheck(module: Module, x, dtype=np.float64, step: float | None = None, seed: int = 0,
              max_elements: int | None = None) -> dict[str, float]:
    """Compare ``module.backward`` with central differences.

    Parameters
    ----------
    module : Module
        Checked on a deep copy cast to ``dtype``; the original is untouched.
    x : array (N, ...)
        The input; also cast to ``dtype``.
    dtype : float64 (default) or float32
        float32 shows why gradient checks need double precision.
    step : float, optional
        Finite-difference step ``h`` (1e-6 in float64, 1e-3 in float32).
    seed : int
        Seeds the random upstream gradient and the element sampling.
    max_elements : int, optional
        Check at most this many randomly chosen elements per tensor.

    Returns
    -------
    dict
        ``{'input': err, '<parameter name>': err, ...}``: the worst relative
        error per tensor ('input' is left out when ``backward`` returns None,
        i.e. the module computes no input gradient).
    """
    step = _default_step(dtype) if step is None else step
    # A stream of its own, so the upstream gradient never repeats the input's random numbers.
    rng = np.random.default_rng((seed, 0x75707374))
    module = copy.deepcopy(module).to(dtype=dtype)
    for _, param in module.named_parameters():
        param.data = get_array_module(param.data).ascontiguousarray(param.data)
    xp = get_array_module(x)
    x = xp.array(x, dtype=dtype, copy=True)
    output = module.forward(x)
    upstream = xp.asarray(rng.standard_normal(output.shape).astype(dtype))
    module.zero_grad()
    analytic = {"input": module.backward(upstream)}
    params = list(module.named_parameters())
    analytic.update((name, param.grad) for name, param in params)

    def objective() -> float:
        return float((module.forward(x) * upstream).sum(dtype=np.float64))

    errors = {}
    checked = [] if analytic["input"] is None else [("input", x)]
    for name, array in checked + [(name, param.data) for name, param in params]:
        indices = _chosen_indices(array.size, max_elements, rng)
        numeric = _numeric_gradient(objective, array, indices, step)
        claimed = asnumpy(analytic[name]).reshape(-1)[indices] if analytic[name] is not None else np.zeros(len(indices))
        errors[name] = _relative_error(claimed, numeric)
    return errors


@dataclass(frozen=True)
class Verdict:
    """Pass or fail of a gradient check: the worst tensor, its error and the tolerance it was held to."""

    passed: bool
    worst: str
    error: float
    tolerance: float

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        word, sign = ("PASS", "<=") if self.passed else ("FAIL", ">")
        return f"{word}: worst relative error {self.error:.1e} ({self.worst}) {sign} {self.tolerance:.0e}"


def verdict(errors: dict[str, float], tolerance: float = SMOOTH_TOLERANCE) -> Verdict:
    """Judge what :func:`gradcheck` returned: ``print(verdict(gradcheck(layer, x)))``.

    Use ``KINK_TOLERANCE`` (1e-5) for layers with kinks (ReLU, max pooling, L1)
    whose inputs may sit near them; smooth layers meet 1e-7 in float64.
    """
    if not errors:
        raise ValueError("no gradients were checked")
    worst = max(errors, key=errors.get)
    return Verdict(errors[worst] <= tolerance, worst, errors[worst], tolerance)


def gradcheck_loss(criterion, pred, target, dtype=np.float64, step: float | None = None,
                   seed: int = 0, max_elements: int | None = None) -> dict[str, float]:
    """Like :func:`gradcheck` for a loss: checks ``criterion.backward()`` against ``d loss / d pred``."""
    step = _default_step(dtype) if step is None else step
    rng = np.random.default_rng(seed)
    xp = get_array_module(pred)
    pred = xp.array(pred, dtype=dtype, copy=True)
    if hasattr(target, "dtype") and target.dtype.kind == "f":
        target = xp.asarray(target, dtype=dtype)
    criterion.forward(pred, target)
    analytic = asnumpy(criterion.backward()).reshape(-1).copy()
    indices = _chosen_indices(pred.size, max_elements, rng)
    numeric = _numeric_gradient(lambda: criterion.forward(pred, target), pred, indices, step)
    return {"pred": _relative_error(analytic[indices], numeric)}


# ---------------------------------------------------------------------------
