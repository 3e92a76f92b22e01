"""The catalogue of gradient checks: one case per layer and loss, run as a table.

``python -m nnscratch.checks`` checks every hand-written backward of the engine against central
differences (:func:`nnscratch.gradcheck`) and prints a row per tensor;
``--compare-reference`` instead runs each fast layer against its textbook loop version in
:mod:`nnscratch.reference`, with both timings.  ``enhance.gradcheck`` and ``colorize.gradcheck``
build their own tables from :func:`module_case` and :func:`main`.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .gradient_check import KINK_TOLERANCE, SMOOTH_TOLERANCE, gradcheck, gradcheck_loss
from .layers import (AvgPool2d, BatchNorm2d, Conv2d, ConvTranspose2d, Flatten, GlobalContext, LeakyReLU, Linear,
                     MaxPool2d, NormShrink, ReLU, Sigmoid, SoftmaxExpectation, Tanh, Upsample)
from .losses import CrossEntropyLoss, L1Loss, LogMSELoss, MSELoss, SmoothL1Loss
from .module import Sequential

# The catalogue of checks run by ``python -m nnscratch.checks`` and the tests.
# Inputs stay away from kinks: |x| >= 0.1 for ReLU-like layers, well-separated
# values for max pooling, |pred - target| away from 0 and beta for L1 losses.

def away_from_zero(rng, shape, margin: float = 0.1):
    """Random values in ±[margin, 1]: no element within ``margin`` of a kink at 0."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(margin, 1.0, size=shape)


def distinct_values(rng, shape, spacing: float = 0.1):
    """A random arrangement of values ``spacing`` apart: no ties for max pooling."""
    size = int(np.prod(shape))
    return (rng.permutation(size) * spacing - size * spacing / 2).reshape(shape)


def tiny_network(hidden_layers: int = 18, width: int = 2, rng=None) -> Sequential:
    """An encoder–decoder shaped like the colorizer with tiny widths (for end-to-end checks).

    ``hidden_layers`` 3x3 convolutions, each followed by ReLU: three stride-2
    convolutions down, three stride-2 transposed convolutions up, the rest at
    constant resolution; then a 3x3 output convolution to 2 channels and tanh.
    """
    rng = rng or np.random.default_rng(0)
    if hidden_layers < 6:
        raise ValueError("the tiny network needs at least 6 hidden layers (3 down, 3 up)")
    plain = hidden_layers - 6
    plan = ["same"] + ["down"] * 3 + ["same"] * (plain - 1) + ["up"] * 3 if plain >= 1 else ["down"] * 3 + ["up"] * 3
    layers, channels = [], 1
    for kind in plan:
        if kind == "up":
            layers.append(ConvTranspose2d(channels, width, 4, stride=2, padding=1, rng=rng))
        else:
            layers.append(Conv2d(channels, width, 3, stride=2 if kind == "down" else 1, padding=1, rng=rng))
        layers.append(ReLU())
        channels = width
    layers += [Conv2d(channels, 2, 3, padding=1, rng=rng), Tanh()]
    network = Sequential(*layers)
    # Non-zero biases: with zero biases a unit whose whole window is zero sits exactly
    # on the ReLU kink, and a finite difference across a kink is meaningless.
    for name, param in network.named_parameters():
        if name.endswith("bias"):
            param.data = rng.uniform(0.05, 0.2, size=param.shape).astype(param.dtype)
    return network


@dataclass
class Case:
    """One row of the gradient-check table."""

    name: str
    build: Callable[[np.random.Generator], tuple]  # rng -> (module or loss, inputs...)
    tolerance: float
    is_loss: bool = False
    options: dict = field(default_factory=dict)    # for gradcheck: step, max_elements


def module_case(name, make_module, make_input, tolerance=SMOOTH_TOLERANCE, **options):
    """A row of a check table: ``make_module(rng)`` checked on ``make_input(rng)`` (``options`` go to
    :func:`gradcheck`: ``step``, ``max_elements``)."""
    return Case(name, lambda rng: (make_module(rng), make_input(rng)), tolerance, options=options)


def loss_case(name, make_loss, make_pred, make_target, tolerance=SMOOTH_TOLERANCE):
    """A row for a loss: ``make_loss()`` checked on ``make_pred(rng)`` against ``make_target(rng)``."""
    return Case(name, lambda rng: (make_loss(), make_pred(rng), make_target(rng)), tolerance, is_loss=True)


def _global_context(rng):
    layer = GlobalContext(3)          # away from its zero start, so every term of the backward counts
    layer.weight.data = rng.normal(size=(3, 3))
    layer.bias.data = rng.normal(size=3)
    return layer


def _norm_shrink_input(rng, lambd=0.5):
    """Channel vectors of random direction whose lengths keep 0.1 away from the kink at ``lambd``."""
    direction = rng.normal(size=(2, 2, 4, 4))
    direction /= np.sqrt((direction ** 2).sum(axis=1, keepdims=True))
    length = np.where(rng.random((2, 1, 4, 4)) < 0.3, rng.uniform(0.05, lambd - 0.1, (2, 1, 4, 4)),
                      rng.uniform(lambd + 0.1, 1.5, (2, 1, 4, 4)))
    return direction * length


def _batchnorm_eval(rng):
    layer = BatchNorm2d(3)
    layer.running_mean = rng.normal(size=3).astype(np.float32)
    layer.running_var = rng.uniform(0.5, 2.0, size=3).astype(np.float32)
    layer.weight.data = rng.uniform(0.5, 1.5, size=3).astype(np.float32)
    layer.bias.data = rng.normal(size=3).astype(np.float32)
    return layer.eval()


def _smooth_l1_pred(rng):
    # |pred - target| in [0.1, 0.4] or [0.6, 2]: away from 0 and from beta = 0.5.
    size = rng.choice([-1.0, 1.0], size=(2, 3, 4)) * np.where(rng.random((2, 3, 4)) < 0.5,
                                                              rng.uniform(0.1, 0.4, (2, 3, 4)),
                                                              rng.uniform(0.6, 2.0, (2, 3, 4)))
    return size + 0.25


def _class_targets(rng):
    targets = rng.integers(0, 5, size=(2, 3, 3))
    targets[0, 0, 0] = -100  # ignored
    return targets


def _soft_targets(rng):
    weights = rng.random((2, 5, 3, 3))
    return weights / weights.sum(axis=1, keepdims=True)


CASES: list[Case] = [
    module_case("Conv2d 3x3 pad 1", lambda r: Conv2d(3, 4, 3, padding=1, rng=r), lambda r: r.normal(size=(2, 3, 7, 6))),
    module_case("Conv2d stride 2 dilation 2", lambda r: Conv2d(2, 3, (3, 2), stride=2, padding=(2, 1), dilation=2, rng=r),
                 lambda r: r.normal(size=(2, 2, 9, 8))),
    module_case("ConvTranspose2d stride 2", lambda r: ConvTranspose2d(3, 2, 4, stride=2, padding=1, rng=r),
                 lambda r: r.normal(size=(2, 3, 4, 5))),
    module_case("ConvTranspose2d odd", lambda r: ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1, rng=r),
                 lambda r: r.normal(size=(1, 2, 3, 4))),
    module_case("ReLU", lambda r: ReLU(), lambda r: away_from_zero(r, (2, 3, 4, 4)), KINK_TOLERANCE),
    module_case("LeakyReLU", lambda r: LeakyReLU(0.1), lambda r: away_from_zero(r, (2, 3, 4, 4)), KINK_TOLERANCE),
    module_case("Tanh", lambda r: Tanh(), lambda r: r.normal(size=(2, 3, 4, 4))),
    module_case("Sigmoid", lambda r: Sigmoid(), lambda r: r.normal(size=(2, 3, 4, 4))),
    module_case("NormShrink 0.5", lambda r: NormShrink(0.5), _norm_shrink_input, KINK_TOLERANCE),
    module_case("SoftmaxExpectation T 0.4", lambda r: SoftmaxExpectation(r.normal(size=(5, 2)), temperature=0.4),
                 lambda r: r.normal(size=(2, 5, 3, 4))),
    module_case("Upsample nearest x2", lambda r: Upsample(scale_factor=2), lambda r: r.normal(size=(2, 2, 3, 4))),
    module_case("Upsample bilinear x2", lambda r: Upsample(scale_factor=2, mode="bilinear"),
                 lambda r: r.normal(size=(2, 2, 3, 4))),
    module_case("Upsample bilinear to 7x5", lambda r: Upsample(size=(7, 5), mode="bilinear"),
                 lambda r: r.normal(size=(1, 2, 3, 4))),
    module_case("MaxPool2d 2x2", lambda r: MaxPool2d(2), lambda r: distinct_values(r, (2, 2, 6, 6)), KINK_TOLERANCE),
    module_case("MaxPool2d 3x3 s2 p1", lambda r: MaxPool2d(3, stride=2, padding=1),
                 lambda r: distinct_values(r, (1, 2, 7, 6)), KINK_TOLERANCE),
    module_case("AvgPool2d 3x3 s2 p1", lambda r: AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
                 lambda r: r.normal(size=(2, 2, 7, 6))),
    module_case("BatchNorm2d train", lambda r: BatchNorm2d(3), lambda r: r.normal(size=(2, 3, 4, 3))),
    module_case("BatchNorm2d eval", _batchnorm_eval, lambda r: r.normal(size=(2, 3, 4, 3))),
    module_case("Linear", lambda r: Linear(5, 3, rng=r), lambda r: r.normal(size=(4, 5))),
    module_case("GlobalContext", _global_context, lambda r: r.normal(size=(2, 3, 4, 5))),
    module_case("Flatten + Linear", lambda r: Sequential(Flatten(), Linear(12, 3, rng=r)),
                 lambda r: r.normal(size=(2, 3, 2, 2))),
    loss_case("MSELoss", MSELoss, lambda r: r.normal(size=(2, 3, 4)), lambda r: r.normal(size=(2, 3, 4))),
    # sample 0 nearly matched (its error below eps), sample 2 far off: both terms of the gradient count
    loss_case("LogMSELoss eps 0.01", lambda: LogMSELoss(eps=0.01),
               lambda r: r.normal(size=(3, 2, 4, 3)) * np.array([0.05, 0.5, 1.0]).reshape(3, 1, 1, 1),
               lambda r: r.normal(size=(3, 2, 4, 3)) * np.array([0.0, 0.1, 1.0]).reshape(3, 1, 1, 1)),
    loss_case("L1Loss", L1Loss, lambda r: away_from_zero(r, (2, 3, 4)), lambda r: np.zeros((2, 3, 4)), KINK_TOLERANCE),
    loss_case("SmoothL1Loss beta 0.5", lambda: SmoothL1Loss(beta=0.5), _smooth_l1_pred,
               lambda r: np.full((2, 3, 4), 0.25), KINK_TOLERANCE),
    loss_case("CrossEntropyLoss classes", lambda: CrossEntropyLoss(weight=np.array([1.0, 2.0, 0.5, 1.5, 1.0])),
               lambda r: r.normal(size=(2, 5, 3, 3)), _class_targets),
    loss_case("CrossEntropyLoss soft", lambda: CrossEntropyLoss(weight=np.array([1.0, 2.0, 0.5, 1.5, 1.0])),
               lambda r: r.normal(size=(2, 5, 3, 3)), _soft_targets),
    module_case("18-hidden-layer network", lambda r: tiny_network(18, 2, r), lambda r: r.normal(size=(2, 1, 16, 16)),
                 KINK_TOLERANCE),
]


def run_case(case: Case, dtype=np.float64, seed: int = 0) -> dict[str, float]:
    """Run one catalogue entry; returns the errors per tensor."""
    rng = np.random.default_rng(seed)
    built = case.build(rng)
    if case.is_loss:
        criterion, pred, target = built
        return gradcheck_loss(criterion, pred, target, dtype=dtype, seed=seed)
    module, x = built
    return gradcheck(module, x, dtype=dtype, seed=seed, **case.options)


def main(argv: list[str] | None = None, cases: list[Case] | None = None,
         prog: str = "python -m nnscratch.checks") -> int:
    """The command: a table of every check in ``cases`` (default: the engine's catalogue; the
    enhancement layers have their own, ``python -m enhance.gradcheck``)."""
    catalogue = CASES if cases is None else cases
    parser = argparse.ArgumentParser(
        prog=prog, description="Check every hand-written backward pass against central differences.")
    parser.add_argument("--layer", help="run only the checks whose name contains this text (case-insensitive)")
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                        help="float32 shows why gradient checks need double precision")
    parser.add_argument("--list", action="store_true", help="list the checks and exit")
    if cases is None:
        parser.add_argument("--compare-reference", action="store_true",
                            help="instead: each fast layer against its textbook version in nnscratch.reference, "
                                 "the largest difference and both timings")
    args = parser.parse_args(argv)
    if getattr(args, "compare_reference", False):
        return compare_reference()

    cases = [c for c in catalogue if not args.layer or args.layer.lower() in c.name.lower()]
    if args.list:
        print("\n".join(c.name for c in catalogue))
        return 0
    if not cases:
        print(f"no check matches {args.layer!r}; see --list", file=sys.stderr)
        return 2
    dtype = np.dtype(args.dtype)
    rows = []
    for case in cases:
        for tensor, error in run_case(case, dtype).items():
            rows.append((case.name, tensor, error, case.tolerance, error <= case.tolerance))
    widths = [max(len(str(r[i])) for r in rows + [("layer", "tensor")]) for i in range(2)]
    print(f"{'layer':<{widths[0]}}  {'tensor':<{widths[1]}}  max rel error  tolerance  result")
    for name, tensor, error, tolerance, ok in rows:
        print(f"{name:<{widths[0]}}  {tensor:<{widths[1]}}  {error:13.2e}  {tolerance:9.0e}  {'pass' if ok else 'FAIL'}")
    failed = sum(not r[4] for r in rows)
    print(f"\n{len(rows) - failed} passed, {failed} failed ({dtype} arithmetic)")
    if failed and dtype == np.float32:
        print("float32 keeps about 7 significant digits, so rounding in the difference quotient swamps "
              "the O(h²) accuracy of central differences: check gradients in float64.")
    return 1 if failed else 0


def _best_time(function, repeats: int = 3) -> float:
    import time

    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def reference_comparisons(rng=None) -> list[tuple[str, Callable, Callable]]:
    """(name, fast, reference) triples: each callable returns the arrays to compare (float64)."""
    rng = np.random.default_rng(0) if rng is None else rng
    return [_conv_pair(rng), _transposed_pair(rng), _pool_pair(rng), _batch_norm_pair(rng), _upsample_pair(rng),
            _adam_pair(rng)]


def _convolution_pair(label, layer, x, grad, forward, backward, stride, padding):
    """A convolution layer against the textbook ``forward`` / ``backward`` of :mod:`nnscratch.reference`:
    output, input gradient and weight gradient."""
    def fast():
        y = layer.forward(x)
        layer.zero_grad()
        return y, layer.backward(grad), layer.weight.grad

    def slow():
        dx, dw, _ = backward(x, layer.weight.data, grad, stride, padding)
        return forward(x, layer.weight.data, layer.bias.data, stride, padding), dx, dw
    return label, fast, slow


def _conv_pair(rng):
    from . import reference as ref

    x = rng.normal(size=(2, 16, 32, 32))
    conv = Conv2d(16, 16, 3, padding=1, rng=rng).double()
    return _convolution_pair("Conv2d 16->16 3x3, 32x32 (fwd+bwd)", conv, x, rng.normal(size=(2, 16, 32, 32)),
                             ref.conv2d, ref.conv2d_backward, (1, 1), (1, 1))


def _transposed_pair(rng):
    from . import reference as ref

    small = rng.normal(size=(2, 8, 16, 16))
    transposed = ConvTranspose2d(8, 8, 4, stride=2, padding=1, rng=rng).double()
    return _convolution_pair("ConvTranspose2d 8->8 4x4 s2 (fwd+bwd)", transposed, small,
                             rng.normal(size=(2, 8, 32, 32)), ref.conv_transpose2d, ref.conv_transpose2d_backward,
                             (2, 2), (1, 1))


def _pool_pair(rng):
    from . import reference as ref

    shape = (2, 16, 32, 32)
    pool_input = rng.permutation(int(np.prod(shape))).reshape(shape) / np.prod(shape)    # no ties

    def pool_fast():
        layer = MaxPool2d(2)
        y = layer.forward(pool_input)
        return y, layer.backward(np.ones_like(y))

    def pool_ref():
        y, where = ref.max_pool2d(pool_input)
        return y, ref.max_pool2d_backward(shape, where, np.ones_like(y))
    return "MaxPool2d 2x2 (fwd+bwd)", pool_fast, pool_ref


def _batch_norm_pair(rng):
    from . import reference as ref

    bn = BatchNorm2d(32).double()
    activations = rng.normal(size=(8, 32, 64, 64))      # batch norm's chunked passes pay off on large ones

    def bn_fast():
        y = bn.forward(activations)
        bn.zero_grad()
        return y, bn.backward(activations)

    def bn_ref():
        y, stages = ref.batch_norm(activations, bn.weight.data, bn.bias.data, bn.eps)
        return y, ref.batch_norm_backward(activations, stages)[0]
    return "BatchNorm2d train, 8x32x64x64 (fwd+bwd)", bn_fast, bn_ref


def _upsample_pair(rng):
    from . import reference as ref

    x = rng.normal(size=(2, 16, 32, 32))
    up = Upsample(scale_factor=2, mode="bilinear")

    def up_fast():
        y = up.forward(x)
        return y, up.backward(np.ones_like(y))

    def up_ref():
        y = ref.upsample(x, (64, 64), (2, 2), "bilinear")
        return y, ref.upsample_backward(x.shape, np.ones_like(y), (2, 2), "bilinear")
    return "Upsample bilinear x2 (fwd+bwd)", up_fast, up_ref


def _adam_pair(rng):
    from . import reference as ref

    grads = list(rng.normal(size=(10, 1000, 1000)))
    start = rng.normal(size=(1000, 1000))

    def adam_fast():
        from .module import Parameter
        from .optim import Adam

        param = Parameter(start.copy())
        optimizer = Adam([param], lr=0.01)
        for g in grads:
            param.grad = g
            optimizer.step()
        return (param.data,)

    def adam_ref():
        return (ref.adam(start, grads, lr=0.01),)
    return "Adam, 10 steps of a 1000x1000 weight", adam_fast, adam_ref


def compare_reference() -> int:
    """Print each fast layer against its textbook version: largest difference, both timings."""
    print(f"{'layer':<40} {'max |fast - ref|':>16} {'fast ms':>9} {'reference ms':>13} {'speed-up':>9}")
    worst = 0.0
    for name, fast, slow in reference_comparisons():
        difference = max(float(np.abs(np.asarray(a) - np.asarray(b)).max()) for a, b in zip(fast(), slow()))
        worst = max(worst, difference)
        fast_s, slow_s = _best_time(fast), _best_time(slow, repeats=1)
        print(f"{name:<40} {difference:16.1e} {fast_s * 1e3:9.2f} {slow_s * 1e3:13.1f} {slow_s / fast_s:8.0f}x")
    print("\nfloat64; the references are in nnscratch/reference.py (loops from the definitions)")
    return 0 if worst < 1e-9 else 1


if __name__ == "__main__":
    sys.exit(main())
