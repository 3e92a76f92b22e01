"""``python -m colorize.gradcheck``: the float64 gradient check of the whole colorizer.

The engine's table (``python -m nnscratch.checks``) ends with a plain 18-hidden-layer stack,
because the engine does not depend on this application; this table checks the real network —
batch norm, stride-2 and dilated convolutions, bilinear upsampling, the encoder-to-decoder skip
connections, the hint input, the global-context layer and the bins head's annealed-mean read-out —
at width 2, its input gradient included.
"""
from __future__ import annotations

import sys

import numpy as np

from nnscratch.checks import KINK_TOLERANCE, module_case
from nnscratch.checks import main as table_main

from .model import Colorizer


def colorizer_under_test(hints: bool, skips: bool, seed: int = 3, context: bool = False,
                         head: str = "regression") -> Colorizer:
    """The 18-hidden-layer colorizer at width 2 with every bias at 0.1, which keeps units off the
    ReLU kink, and its first layer's input gradient switched on so that it is checked too.  A
    global-context layer gets small random weights instead of its zero start, so that its every
    term is checked."""
    model = Colorizer(hidden_layers=18, width=2, norm="batch", hints=hints, skips=skips, context=context, head=head,
                      seed=seed)
    for name, param in model.named_parameters():
        if name.endswith("bias"):
            param.data = np.full(param.shape, 0.1, dtype=np.float32)
    rng = np.random.default_rng(seed)
    if context:
        model.context.weight.data = (0.3 * rng.normal(size=model.context.weight.shape)).astype(np.float32)
    model.input_layer.input_grad = True
    return model


# Batch norm over a few values per channel amplifies a weight change many times, so a step of
# 1e-6 can carry a unit across its ReLU kink; 1e-7 stays clear (rounding ~1e-9).
CASES = [
    module_case("Colorizer, hints and skips", lambda r: colorizer_under_test(True, True),
                lambda r: r.normal(size=(2, 4, 16, 16)), KINK_TOLERANCE, step=1e-7, max_elements=12),
    module_case("Colorizer, hints, skips and global context", lambda r: colorizer_under_test(True, True, context=True),
                lambda r: r.normal(size=(2, 4, 16, 16)), KINK_TOLERANCE, step=1e-7, max_elements=12),
    module_case("Colorizer, hints, skips and the bins head", lambda r: colorizer_under_test(True, True, head="bins"),
                lambda r: r.normal(size=(2, 4, 16, 16)), KINK_TOLERANCE, step=1e-7, max_elements=12),
    module_case("Colorizer, first generation", lambda r: colorizer_under_test(False, False),
                lambda r: r.normal(size=(2, 1, 16, 16)), KINK_TOLERANCE, step=1e-7, max_elements=12),
]


def main(argv: list[str] | None = None) -> int:
    return table_main(argv, CASES, prog="python -m colorize.gradcheck")


if __name__ == "__main__":
    sys.exit(main())
