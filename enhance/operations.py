"""The table of enhancement operations: what the command line, the web page and ``enhance auto`` offer.

One entry per operation: its function and a one-line summary (:data:`OPERATIONS`), the range a
user interface offers for each of its parameters (:data:`CONTROL_RANGES`); then the text syntax
``name:arg,key=value`` (:func:`parse_operation`), a chain's dry run (:func:`check_operations`) and
its application (:func:`apply`).  A wrong operation text raises :class:`OperationError`, a
``ValueError`` whose message is one sentence for the user.  Adding an enhancement: its function,
one entry here (and in ``CONTROL_RANGES`` for its sliders), its tests.
"""
from __future__ import annotations

import inspect

import numpy as np

from . import (autocontrast, brightness, clahe, contrast, equalize_hist, gamma, gaussian_blur, hdr, invert,
               log_transform, rgb, saturation, scale_abs, sharpness, unsharp_mask)
from .image import TooSmallForSetting
from .io import ImageError

OPERATIONS = {
    "equalize": (equalize_hist, "histogram equalization (cv2.equalizeHist; colour through luma)"),
    "clahe": (clahe, "contrast-limited adaptive equalization (cv2.createCLAHE)"),
    "brightness": (brightness, "brightness factor, 1 = unchanged (PIL ImageEnhance.Brightness)"),
    "contrast": (contrast, "contrast factor, 1 = unchanged (PIL ImageEnhance.Contrast)"),
    "autocontrast": (autocontrast, "stretch levels to the full range (PIL ImageOps.autocontrast)"),
    "sharpness": (sharpness, "sharpness factor, 1 = unchanged (PIL ImageEnhance.Sharpness)"),
    "saturation": (saturation, "colour saturation factor, 1 = unchanged (PIL ImageEnhance.Color)"),
    "rgb": (rgb, "per-channel gains"),
    "scale_abs": (scale_abs, "|x * alpha + beta|, saturated (cv2.convertScaleAbs)"),
    "gamma": (gamma, "power law; gamma > 1 darkens (skimage adjust_gamma)"),
    "log": (log_transform, "logarithmic (or inverse) transform (skimage adjust_log)"),
    "hdr": (hdr, "edge-preserving detail enhancement (cv2.detailEnhance)"),
    "invert": (invert, "negative image (cv2.bitwise_not)"),
    "blur": (gaussian_blur, "Gaussian blur (cv2.GaussianBlur with ksize (0, 0))"),
    "unsharp": (unsharp_mask, "unsharp mask sharpening"),
}


# Ranges a user interface offers for each parameter (min, max, step, neutral value): the useful
# span of each operation, inside what the functions accept.  Parameters not listed are left out
# of such interfaces (tile_grid_size) or are flags (log's inverse).
CONTROL_RANGES = {
    ("clahe", "clip_limit"): (0.5, 8.0, 0.1, 2.0),
    ("brightness", "factor"): (0.0, 2.0, 0.05, 1.0),
    ("contrast", "factor"): (0.0, 2.0, 0.05, 1.0),
    ("autocontrast", "cutoff"): (0.0, 10.0, 0.5, 0.0),
    ("sharpness", "factor"): (0.0, 4.0, 0.1, 1.0),
    ("saturation", "factor"): (0.0, 2.0, 0.05, 1.0),
    ("rgb", "red"): (0.5, 1.5, 0.01, 1.0),
    ("rgb", "green"): (0.5, 1.5, 0.01, 1.0),
    ("rgb", "blue"): (0.5, 1.5, 0.01, 1.0),
    ("scale_abs", "alpha"): (0.0, 3.0, 0.05, 1.0),
    ("scale_abs", "beta"): (-100.0, 100.0, 1.0, 0.0),
    ("gamma", "gamma"): (0.2, 3.0, 0.05, 1.0),
    ("gamma", "gain"): (0.5, 1.5, 0.01, 1.0),
    ("log", "gain"): (0.5, 1.5, 0.01, 1.0),
    ("hdr", "sigma_s"): (1.0, 100.0, 1.0, 10.0),
    ("hdr", "sigma_r"): (0.01, 1.0, 0.01, 0.15),
    ("hdr", "detail"): (0.0, 6.0, 0.1, 3.0),
    ("blur", "sigma"): (0.1, 10.0, 0.1, 1.0),
    ("unsharp", "sigma"): (0.5, 10.0, 0.1, 1.0),
    ("unsharp", "amount"): (0.0, 4.0, 0.1, 1.0),
    ("unsharp", "threshold"): (0.0, 50.0, 1.0, 0.0),
}


def describe_operations() -> list[dict]:
    """Every operation with its parameters, defaults and control ranges, as JSON-ready data."""
    described = []
    for name, (function, summary) in OPERATIONS.items():
        params = []
        for parameter in parameters(function):
            default = None if parameter.default is inspect.Parameter.empty else parameter.default
            entry = {"name": parameter.name, "default": list(default) if isinstance(default, tuple) else default}
            if isinstance(default, bool):
                entry["kind"] = "flag"
            elif (name, parameter.name) in CONTROL_RANGES:
                low, high, step, neutral = CONTROL_RANGES[name, parameter.name]
                entry.update(kind="number", min=low, max=high, step=step,
                             default=default if default is not None else neutral)
            else:
                entry["kind"] = "fixed"
            params.append(entry)
        described.append({"name": name, "summary": summary, "parameters": params})
    return described


class OperationError(ValueError):
    """An operation text that cannot be run: an unknown name or parameter, a value out of range."""


def parameters(function) -> list[inspect.Parameter]:
    return list(inspect.signature(function).parameters.values())[1:]


def _parse_value(text: str):
    lowered = text.lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    if "x" in lowered:  # tile sizes such as 8x4
        first, _, second = lowered.partition("x")
        return (_parse_value(first), _parse_value(second))
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise OperationError(f"{text!r} is not a number") from None


def parse_operation(text: str):
    """'name:arg,key=value' -> (name, function, kwargs); OperationError names what is wrong."""
    name, _, argument_text = text.partition(":")
    if name not in OPERATIONS:
        raise OperationError(f"unknown operation {name!r}; see 'enhance --list'")
    function = OPERATIONS[name][0]
    accepted = parameters(function)
    kwargs = {}
    positional = 0
    for item in filter(None, argument_text.split(",")) if argument_text else []:
        if "=" in item:
            key, _, value = item.partition("=")
            if key not in [p.name for p in accepted]:
                raise OperationError(f"{name} has no parameter {key!r}; it takes "
                                 + (", ".join(p.name for p in accepted) or "none"))
        else:
            if positional >= len(accepted):
                raise OperationError(f"{name} takes at most {len(accepted)} argument(s), got {argument_text!r}")
            key, value = accepted[positional].name, item
            positional += 1
        expects_flag = isinstance(next(p.default for p in accepted if p.name == key), bool)
        if expects_flag and value.lower() not in ("true", "yes", "on", "false", "no", "off"):
            raise OperationError(f"{name}: {key} must be true or false, got {value!r}")
        try:
            kwargs[key] = _parse_value(value)
        except OperationError as error:
            raise OperationError(f"{name}: {key}: {error}") from None
    missing = [p.name for p in accepted if p.default is inspect.Parameter.empty and p.name not in kwargs]
    if missing:
        raise OperationError(f"{name} needs {', '.join(missing)} (e.g. {name}:{missing[0]}=...)")
    return name, function, kwargs


def apply(image, operations):
    """Run the parsed operations in order; running out of memory is an ImageError naming the operation."""
    for name, function, kwargs in operations:
        try:
            image = function(image, **kwargs)
        except MemoryError as error:
            detail = f" ({error})" if str(error) else ""
            raise ImageError(f"{name} ran out of memory on a {image.shape[1]}x{image.shape[0]} image{detail}; "
                             "try smaller parameters or a smaller image") from None
    return image


def check_operations(operations, smallest: tuple[int, int] | None = None) -> None:
    """Run the chain on a tiny image so that bad values fail before any file is touched.

    A setting that only a larger image could take (``TooSmallForSetting``) is tried again on a
    plain image of ``smallest`` (width, height: the smallest input's) when it is given, so that the
    error names a real size; otherwise it is left to each image as it is processed."""
    image = np.full((4, 4, 3), 128, dtype=np.uint8)
    for operation in operations:
        try:
            image = apply(image, [operation])
        except TooSmallForSetting:
            if smallest is not None:
                try:
                    apply(np.full((smallest[1], smallest[0], 3), 128, dtype=np.uint8), [operation])
                except TooSmallForSetting as error:
                    raise OperationError(str(error)) from None
        except (ValueError, TypeError) as error:
            raise OperationError(str(error)) from None


def list_operations() -> str:
    lines = []
    for name, (function, summary) in OPERATIONS.items():
        signature = ", ".join(p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}"
                              for p in parameters(function))
        lines.append(f"{name:<13} {summary}\n{'':13} parameters: {signature or 'none'}")
    return "\n".join(lines)
