"""The ``enhance`` command: apply operations in order to an image or a folder of images.

    enhance in.jpg out.png equalize contrast:1.3 gamma:0.8 clahe:clip_limit=2,tile_grid_size=8
    enhance photos/ enhanced/ sharpness:2 saturation:1.2
    enhance --list
    enhance inspect photo.jpg --at 10,20 --plot histogram.png

A bad operation, parameter or value is one ``enhance: error: ...`` line and
exit status 2, before anything is written.
"""
from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path

import numpy as np

from . import (autocontrast, brightness, clahe, contrast, equalize_hist, gamma, gaussian_blur, hdr, invert,
               log_transform, rgb, saturation, scale_abs, sharpness, unsharp_mask)
from .color import channel_stats, histogram_figure
from .io import IMAGE_EXTENSIONS, ImageError, find_images, read_image, write_image

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


class UsageError(ValueError):
    pass


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
        raise UsageError(f"{text!r} is not a number") from None


def parse_operation(text: str):
    """'name:arg,key=value' -> (name, function, kwargs); UsageError names what is wrong."""
    name, _, argument_text = text.partition(":")
    if name not in OPERATIONS:
        raise UsageError(f"unknown operation {name!r}; see 'enhance --list'")
    function = OPERATIONS[name][0]
    accepted = parameters(function)
    kwargs = {}
    positional = 0
    for item in filter(None, argument_text.split(",")) if argument_text else []:
        if "=" in item:
            key, _, value = item.partition("=")
            if key not in [p.name for p in accepted]:
                raise UsageError(f"{name} has no parameter {key!r}; it takes "
                                 + (", ".join(p.name for p in accepted) or "none"))
        else:
            if positional >= len(accepted):
                raise UsageError(f"{name} takes at most {len(accepted)} argument(s), got {argument_text!r}")
            key, value = accepted[positional].name, item
            positional += 1
        try:
            kwargs[key] = _parse_value(value)
        except UsageError as error:
            raise UsageError(f"{name}: {key}: {error}") from None
    missing = [p.name for p in accepted if p.default is inspect.Parameter.empty and p.name not in kwargs]
    if missing:
        raise UsageError(f"{name} needs {', '.join(missing)} (e.g. {name}:{missing[0]}=...)")
    return name, function, kwargs


def apply(image, operations):
    for _, function, kwargs in operations:
        image = function(image, **kwargs)
    return image


def check_operations(operations) -> None:
    """Run the chain on a tiny image so that bad values fail before any file is touched."""
    try:
        apply(np.full((4, 4, 3), 128, dtype=np.uint8), operations)
    except (ValueError, TypeError) as error:
        raise UsageError(str(error)) from None


def list_operations() -> str:
    lines = []
    for name, (function, summary) in OPERATIONS.items():
        signature = ", ".join(p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}"
                              for p in parameters(function))
        lines.append(f"{name:<13} {summary}\n{'':13} parameters: {signature or 'none'}")
    return "\n".join(lines)


def run_inspect(argv) -> int:
    parser = argparse.ArgumentParser(prog="enhance inspect", description="Per-channel statistics of an image.")
    parser.add_argument("image")
    parser.add_argument("--at", metavar="X,Y", help="print the pixel value at column X, row Y")
    parser.add_argument("--plot", metavar="OUT.png", help="write a per-channel histogram figure")
    args = parser.parse_args(argv)
    image = read_image(args.image)
    print(f"{args.image}: {image.shape[1]}x{image.shape[0]}, "
          f"{1 if image.ndim == 2 else image.shape[2]} channel(s), {image.dtype}")
    print(f"{'channel':<8} {'min':>8} {'max':>8} {'mean':>10} {'std':>10}")
    for name, values in channel_stats(image).items():
        print(f"{name:<8} {values['min']:8.6g} {values['max']:8.6g} {values['mean']:10.4f} {values['std']:10.4f}")
    if args.at:
        try:
            x, y = (int(v) for v in args.at.split(","))
        except ValueError:
            raise UsageError(f"--at takes X,Y (two integers), got {args.at!r}") from None
        if not (0 <= x < image.shape[1] and 0 <= y < image.shape[0]):
            raise UsageError(f"--at {x},{y} lies outside the {image.shape[1]}x{image.shape[0]} image")
        print(f"pixel at x={x}, y={y}: {np.atleast_1d(image[y, x]).tolist()}")
    if args.plot:
        histogram_figure(image, title=Path(args.image).name).savefig(args.plot)
        print(f"wrote {args.plot}")
    return 0


def run_enhance(argv) -> int:
    parser = argparse.ArgumentParser(
        prog="enhance", description="Apply enhancement operations in order.",
        epilog="Also: 'enhance --list' and 'enhance inspect IMAGE [--at X,Y] [--plot OUT.png]'.")
    parser.add_argument("input", help="image file or folder (searched recursively)")
    parser.add_argument("output", help="output file, or folder when INPUT is a folder")
    parser.add_argument("operations", nargs="+", metavar="OP[:ARGS]", help="e.g. contrast:1.3 clahe:clip_limit=2")
    args = parser.parse_args(argv)
    operations = [parse_operation(text) for text in args.operations]
    check_operations(operations)
    source, target = Path(args.input), Path(args.output)
    if source.is_dir():
        files = [(p, target / p.relative_to(source)) for p in find_images(source)]
        if not files:
            raise UsageError(f"no image files found in {source}")
    elif source.exists():
        if target.suffix.lower() not in IMAGE_EXTENSIONS:
            raise UsageError(f"cannot tell the output format from {target.name!r}; use an image extension")
        files = [(source, target)]
    else:
        raise FileNotFoundError(f"no such file or folder: {source}")
    failures = 0
    for file, destination in files:
        try:
            write_image(destination, apply(read_image(file), operations))
            print(f"{file} -> {destination}")
        except (ImageError, OSError, ValueError) as error:
            failures += 1
            print(f"failed: {file}: {error}", file=sys.stderr)
    if failures:
        print(f"enhanced {len(files) - failures} of {len(files)} files; {failures} failed", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv[:1] == ["--list"]:
            print(list_operations())
            return 0
        if argv[:1] == ["inspect"]:
            return run_inspect(argv[1:])
        return run_enhance(argv)
    except UsageError as error:
        print(f"enhance: error: {error}", file=sys.stderr)
        return 2
    except (ImageError, OSError, ValueError) as error:
        print(f"enhance: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
