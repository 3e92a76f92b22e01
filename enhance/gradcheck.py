"""``python -m enhance.gradcheck``: the gradient-check table for the enhancement layers.

The same checks and table as ``python -m nnscratch.checks`` (float64 central differences, the
error normalised by the largest gradient), over the layers and objectives of
:mod:`enhance.differentiable` and :mod:`enhance.learn`.  They live here, not in the engine's
catalogue, because the engine does not depend on ``enhance``.

Inputs lie in [0.15, 0.85] with parameters that keep every output inside (0, 1), except in the
rows named "clipped", where some outputs are clipped and the inputs stay well away from the clip
edges (tolerance 1e-5 there, 1e-7 elsewhere).
"""
from __future__ import annotations

import sys

import numpy as np

from nnscratch.checks import KINK_TOLERANCE, loss_case, module_case
from nnscratch.checks import main as table_main

from .differentiable import (Brightness, Contrast, Gamma, Invert, Log, RGBGains, RGBToLab, Saturation, SoftCLAHE,
                             SoftEqualize, ToneCurve, UnsharpMask)
from .learn import ColourStatisticsLoss, ExposureLoss


def _photo(rng, shape=(2, 3, 6, 7)):
    return rng.uniform(0.15, 0.85, size=shape)


def _around_clip(rng, shape=(2, 3, 6, 7)):
    """Half the values well below 1/1.5 and half well above: Brightness(1.5) clips the second half."""
    return np.where(rng.random(shape) < 0.5, rng.uniform(0.1, 0.6, shape), rng.uniform(0.72, 0.95, shape))


CASES = [
    module_case("Brightness", lambda r: Brightness(1.1), _photo),
    module_case("Brightness clipped", lambda r: Brightness(1.5), _around_clip, KINK_TOLERANCE),
    module_case("Contrast", lambda r: Contrast(1.2), _photo),
    module_case("Contrast clipped", lambda r: Contrast(3.0), _around_clip, KINK_TOLERANCE),
    module_case("Saturation", lambda r: Saturation(1.3), _photo),
    module_case("Gamma (power law)", lambda r: Gamma(0.8, 1.05), _photo),
    module_case("RGB gains", lambda r: RGBGains(1.1, 0.95, 1.05), _photo),
    module_case("Invert", lambda r: Invert(), _photo),
    module_case("Log", lambda r: Log(1.05), _photo),
    module_case("Tone curve", lambda r: ToneCurve(3.0, 0.45), _photo),
    module_case("Unsharp mask", lambda r: UnsharpMask(0.3, sigma=1.5), _photo),
    module_case("Soft equalization", lambda r: SoftEqualize(0.05, 32), _photo, KINK_TOLERANCE),
    module_case("Soft CLAHE (clipped)", lambda r: SoftCLAHE(1.5, (2, 3), 0.05, 16),
                lambda r: r.uniform(0.15, 0.85, size=(2, 3, 9, 8)), KINK_TOLERANCE),
    module_case("Soft CLAHE (no clip)", lambda r: SoftCLAHE(0.0, (2, 2), 0.05, 16),
                lambda r: r.uniform(0.15, 0.85, size=(1, 3, 6, 8)), KINK_TOLERANCE),
    module_case("sRGB to Lab", lambda r: RGBToLab(), lambda r: r.uniform(0.0, 1.0, size=(2, 3, 5, 6))),
    loss_case("Colour statistics loss", lambda: ColourStatisticsLoss(16, 0.05), _photo,
               lambda r: r.uniform(0.0, 1.0, size=(1, 3, 7, 5))),
    loss_case("Exposure loss", ExposureLoss, _photo, lambda r: None),
]


def main(argv: list[str] | None = None) -> int:
    return table_main(argv, CASES, prog="python -m enhance.gradcheck")


if __name__ == "__main__":
    sys.exit(main())
