"""The ``enhance`` command: apply operations in order to an image or a folder of images.

    enhance in.jpg out.png equalize contrast:1.3 gamma:0.8 clahe:clip_limit=2,tile_grid_size=8
    enhance photos/ enhanced/ sharpness:2 saturation:1.2
    enhance --list
    enhance inspect photo.jpg --at 10,20 --plot histogram.png
    enhance hdr-merge dark.jpg mid.jpg bright.jpg --times 1/30 1/8 1/2 -o merged.png --method debevec
    enhance auto in.jpg out.jpg --like reference.jpg

A bad operation, parameter or value is one ``enhance: error: ...`` line and
exit status 2, before anything is written.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from .color import channel_stats, histogram_figure
from .operations import (CONTROL_RANGES, OPERATIONS, OperationError, apply, check_operations,  # noqa: F401
                         describe_operations, list_operations, parameters, parse_operation)
from .io import (IMAGE_EXTENSIONS, ImageError, OutputConflict, check_outputs, find_images, read_image, reader_went_away,
                 read_metadata, write_atomically, write_figure, write_image, write_radiance_hdr)

class UsageError(OperationError):
    """A mistake on the command line, found before anything is written: exit status 2."""


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
        write_figure(args.plot, histogram_figure(image, title=Path(args.image).name))
        print(f"wrote {args.plot}")
    return 0


def _parse_time(text: str) -> float:
    """'1/30', '0.5' or '2' -> seconds."""
    try:
        if "/" in text:
            numerator, denominator = text.split("/", 1)
            value = float(numerator) / float(denominator)
        else:
            value = float(text)
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"{text!r} is not an exposure time (write 1/30, 0.5 or 2)") from None
    if not (value > 0 and np.isfinite(value)):
        raise UsageError(f"exposure times must be positive, got {text!r}")
    return value


def run_hdr_merge(argv) -> int:
    from . import hdr_merge
    from .io import exposure_time

    parser = argparse.ArgumentParser(prog="enhance hdr-merge",
                                     description="Merge an exposure bracket into one image (and a radiance map).")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="the bracket: two or more 8-bit photos of one scene")
    parser.add_argument("--times", nargs="+", metavar="T", help="exposure times in seconds (1/30, 0.5 ...); "
                        "default: the files' EXIF ExposureTime")
    parser.add_argument("-o", "--output", required=True, help="the merged, displayable image")
    parser.add_argument("--method", choices=["mertens", "debevec", "robertson"], default="mertens",
                        help="mertens: exposure fusion, no times needed; debevec, robertson: radiance merge and "
                             "tone mapping (default mertens)")
    parser.add_argument("--tonemap", choices=["reinhard", "drago", "mantiuk", "linear"], default="reinhard",
                        help="how debevec/robertson radiance is mapped for display (default reinhard)")
    parser.add_argument("--gamma", type=float, default=2.2, help="display gamma of the tone mapping (default 2.2)")
    parser.add_argument("--save-radiance", metavar="FILE", help="also save the radiance map: .hdr (Radiance RGBE) or .npy (float32)")
    parser.add_argument("--overwrite", action="store_true", help="allow the output to be one of the input files")
    args = parser.parse_args(argv)
    _check_hdr_arguments(args)
    images = [_bracket_image(path) for path in args.images]
    times = _exposure_times(args, exposure_time)
    try:
        result, radiance = _merge(hdr_merge, args, images, times)
    except (ValueError, TypeError) as error:
        raise UsageError(str(error)) from None
    write_image(args.output, result)
    print(f"wrote {args.output}")
    if args.save_radiance:
        if args.save_radiance.lower().endswith(".hdr"):
            write_radiance_hdr(args.save_radiance, radiance if radiance.ndim == 3 else np.repeat(radiance[..., None], 3, 2))
        else:
            data = radiance.astype(np.float32)
            write_atomically(args.save_radiance, lambda handle: np.save(handle, data, allow_pickle=False))
        print(f"wrote {args.save_radiance}")
    return 0


def _check_hdr_arguments(args) -> None:
    if args.save_radiance and Path(args.save_radiance).suffix.lower() not in (".hdr", ".npy"):
        raise UsageError("--save-radiance writes .hdr (Radiance RGBE) or .npy files")
    if args.save_radiance and args.method == "mertens":
        raise UsageError("Mertens fusion makes no radiance map: use --method debevec or robertson with --save-radiance")
    if Path(args.output).suffix.lower() not in IMAGE_EXTENSIONS:
        raise UsageError(f"cannot tell the output format from {args.output!r}; use an image extension")
    if not args.gamma > 0:
        raise UsageError(f"--gamma must be positive, got {args.gamma}")
    try:
        check_outputs([(path, args.output) for path in args.images] +
                      ([(path, args.save_radiance) for path in args.images] if args.save_radiance else []),
                      args.overwrite, merged=True)
    except OutputConflict as error:
        raise UsageError(str(error)) from None


def _bracket_image(path):
    image = read_image(path)
    if image.dtype != np.uint8:
        raise UsageError(f"{path}: hdr-merge takes 8-bit images, this one is {image.dtype}")
    return image[..., :3] if image.ndim == 3 and image.shape[2] == 4 else image


def _exposure_times(args, exposure_time):
    """--times, or the files' EXIF exposure times for the radiance methods (None for Mertens fusion)."""
    if args.times:
        return [_parse_time(t) for t in args.times]
    if args.method == "mertens":
        return None
    times = [exposure_time(path) for path in args.images]
    if None in times:
        raise UsageError(f"{args.images[times.index(None)]} has no EXIF exposure time: give --times")
    return times


def _merge(hdr_merge, args, images, times):
    """``(displayable result, radiance map or None)`` by ``args.method`` and ``args.tonemap``."""
    if args.method == "mertens":
        hdr_merge.check_bracket(images, times)
        return np.clip(hdr_merge.merge_mertens(images), 0, 1), None
    calibrate = hdr_merge.calibrate_debevec if args.method == "debevec" else hdr_merge.calibrate_robertson
    merge = hdr_merge.merge_debevec if args.method == "debevec" else hdr_merge.merge_robertson
    radiance = merge(images, times, calibrate(images, times))
    colour = radiance if radiance.ndim == 3 else np.repeat(radiance[..., None], 3, axis=2)
    mapper = {"reinhard": hdr_merge.tonemap_reinhard, "drago": hdr_merge.tonemap_drago,
              "mantiuk": hdr_merge.tonemap_mantiuk, "linear": hdr_merge.tonemap}[args.tonemap]
    result = mapper(colour, args.gamma)
    return (result[..., 0] if radiance.ndim == 2 else result), radiance


CHAIN_LAYERS = ("brightness", "contrast", "saturation", "gamma", "tone", "rgb", "log", "unsharp")


def _chain(names: str, with_colour: bool):
    from . import differentiable as d

    makers = {"brightness": lambda: d.Brightness(1.0), "contrast": lambda: d.Contrast(1.0),
              "saturation": lambda: d.Saturation(1.0), "gamma": lambda: d.Gamma(1.0),
              "tone": lambda: d.ToneCurve(0.1, 0.5), "rgb": lambda: d.RGBGains(1.0, 1.0, 1.0),
              "log": lambda: d.Log(1.0), "unsharp": lambda: d.UnsharpMask(0.0, 1.0)}
    chosen = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in makers]
    if unknown or not chosen:
        raise UsageError(f"--chain takes a comma-separated list of {', '.join(CHAIN_LAYERS)}; got {names!r}")
    if not with_colour:
        chosen = [name for name in chosen if name not in ("saturation", "rgb")]
    return [makers[name]() for name in chosen]


def run_auto(argv) -> int:
    from tqdm import tqdm

    from . import learn

    parser = argparse.ArgumentParser(
        prog="enhance auto",
        description="Learn enhancement parameters by backpropagation, then apply them at full size. With --like, "
                    "match a reference photo's colour statistics (per-channel histograms, mean and spread of L, a, "
                    "b); without, bring the lightness to a target mean and spread.")
    parser.add_argument("input", help="the photo to enhance")
    parser.add_argument("output", help="where the enhanced photo goes")
    parser.add_argument("--like", metavar="REF", help="a photo whose colour statistics the result should have")
    parser.add_argument("--lightness", type=float, default=50.0,
                        help="without --like: target mean CIE L, 0-100 (default 50)")
    parser.add_argument("--contrast", type=float, default=20.0,
                        help="without --like: target standard deviation of L (default 20)")
    parser.add_argument("--chain", help=f"the layers to fit, in order, from {', '.join(CHAIN_LAYERS)} (default "
                                        "with --like: rgb,brightness,contrast,saturation,gamma,tone; without: "
                                        "brightness,contrast,gamma,tone: the colour layers are left out)")
    parser.add_argument("--steps", type=int, default=300, help="Adam steps (default 300)")
    parser.add_argument("--lr", type=float, default=0.02, help="Adam learning rate (default 0.02)")
    parser.add_argument("--size", type=int, default=96, help="fit on the photos reduced to this long side (default 96)")
    parser.add_argument("--overwrite", action="store_true", help="allow the output to be the input file")
    parser.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality, 1-100 (default 95)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if not 1 <= args.steps <= 100_000:
        raise UsageError(f"--steps must be 1-100000, got {args.steps}")
    if not 16 <= args.size <= 1024:
        raise UsageError(f"--size must be 16-1024, got {args.size}")
    if not (0 < args.lr <= 1):
        raise UsageError(f"--lr must be in (0, 1], got {args.lr}")
    if not 1 <= args.quality <= 100:
        raise UsageError(f"--quality must be 1-100, got {args.quality}")
    if Path(args.output).suffix.lower() not in IMAGE_EXTENSIONS:
        raise UsageError(f"cannot tell the output format from {args.output!r}; use an image extension")
    if not Path(args.input).is_file():
        raise FileNotFoundError(f"no such file: {args.input}")
    default = "rgb,brightness,contrast,saturation,gamma,tone" if args.like else "brightness,contrast,gamma,tone"
    chain = _chain(args.chain or default, with_colour=bool(args.like))
    if not (0 <= args.lightness <= 100 and 0 < args.contrast <= 50):
        raise UsageError(f"--lightness must be 0-100 and --contrast in (0, 50], got {args.lightness}, {args.contrast}")
    try:
        check_outputs([(args.input, args.output)] + ([(args.like, args.output)] if args.like else []), args.overwrite,
                      merged=bool(args.like))
    except OutputConflict as error:
        raise UsageError(str(error)) from None
    image = read_image(args.input)
    reference = read_image(args.like) if args.like else None
    bar = tqdm(total=args.steps, desc="fitting", unit="step", disable=args.quiet, file=sys.stderr)

    def progress(step, loss):
        bar.set_postfix(loss=f"{loss:.3g}", refresh=False)
        bar.update()

    try:
        if reference is not None:
            chain, losses = learn.match_reference(image, reference, chain, args.steps, args.lr, args.size, progress)
        else:
            chain, losses = learn.auto_exposure(image, args.lightness, args.contrast, chain, args.steps, args.lr,
                                                args.size, progress)
    finally:
        bar.close()
    write_image(args.output, learn.apply_chain(chain, image), quality=args.quality,
                metadata=read_metadata(args.input))
    print(f"loss {losses[0]:.4g} -> {losses[-1]:.4g} in {args.steps} steps")
    print(f"parameters: {learn.describe_chain(chain)}")
    print(f"wrote {args.output}")
    return 0


def _smallest_size(paths) -> tuple[int, int] | None:
    """(width, height) of the smallest image among ``paths`` by area, read from the headers; None if none is readable."""
    sizes = []
    for path in paths:
        try:
            with Image.open(path) as header:
                sizes.append(header.size)
        except (OSError, ValueError, Image.DecompressionBombError):
            continue
    return min(sizes, key=lambda size: size[0] * size[1], default=None)


def run_enhance(argv) -> int:
    parser = argparse.ArgumentParser(
        prog="enhance", description="Apply enhancement operations in order.",
        epilog="Also: 'enhance --list', 'enhance inspect IMAGE [--at X,Y] [--plot OUT.png]' and "
               "'enhance hdr-merge IMAGE... [--times T...] -o OUT' and 'enhance auto IN OUT [--like REF]'.")
    parser.add_argument("input", help="image file or folder (searched recursively)")
    parser.add_argument("output", help="output file, or folder when INPUT is a folder")
    parser.add_argument("operations", nargs="+", metavar="OP[:ARGS]", help="e.g. contrast:1.3 clahe:clip_limit=2")
    parser.add_argument("--overwrite", action="store_true",
                        help="allow the output to be the input file (or folder): replace the originals")
    parser.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality, 1-100 (default 95)")
    parser.add_argument("--keep-gps", action="store_true",
                        help="keep the GPS position in the EXIF (camera, date and exposure are always kept)")
    args = parser.parse_args(argv)
    if not 1 <= args.quality <= 100:
        raise UsageError(f"--quality must be 1-100, got {args.quality}")
    operations = [parse_operation(text) for text in args.operations]
    source, target = Path(args.input), Path(args.output)
    check_operations(operations, _smallest_size([source] if source.is_file() else find_images(source)
                                                if source.is_dir() else []))
    if source.is_dir():
        if target.suffix.lower() in IMAGE_EXTENSIONS and not target.is_dir():
            raise UsageError(f"the input {source} is a folder, so the output must be a folder, not {target.name!r}")
        files = [(p, target / p.relative_to(source)) for p in find_images(source, skip=target)]
        if not files:
            raise UsageError(f"no image files found in {source}")
    elif source.exists():
        if target.suffix.lower() not in IMAGE_EXTENSIONS:
            raise UsageError(f"cannot tell the output format from {target.name!r}; use an image extension")
        files = [(source, target)]
    else:
        raise FileNotFoundError(f"no such file or folder: {source}")
    try:
        check_outputs(files, args.overwrite)
    except OutputConflict as error:
        raise UsageError(str(error)) from None
    from nnscratch import distributed     # light: no engine layers; MPI only under mpiexec -n N

    comm = distributed.world()            # each of N processes takes every N-th file
    failures = 0
    for file, destination in files[comm.rank::comm.size]:
        try:
            write_image(destination, apply(read_image(file), operations), quality=args.quality,
                        metadata=read_metadata(file, keep_gps=args.keep_gps))
            if comm.size == 1:
                print(f"{file} -> {destination}")
        except (ImageError, OSError, ValueError) as error:
            failures += 1
            print(f"failed: {file}: {error}", file=sys.stderr)
    status, summary = distributed.files_summary("enhanced", len(files), failures, comm)
    if summary:                       # the whole job's line, from process 0
        print(summary, file=sys.stderr if status else sys.stdout)
    return status


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:                       # bare 'enhance': show what it does
        print(__doc__.split("\n\n")[1].rstrip(), file=sys.stderr)
        print("\nrun 'enhance --help' for the options, 'enhance --list' for every operation", file=sys.stderr)
        return 2
    if argv[:1] == ["--version"]:
        from nnscratch import __version__

        print(f"enhance {__version__}")
        return 0
    try:
        if argv[:1] == ["--list"]:
            print(list_operations())
            return 0
        if argv[:1] == ["inspect"]:
            return run_inspect(argv[1:])
        if argv[:1] == ["hdr-merge"]:
            return run_hdr_merge(argv[1:])
        if argv[:1] == ["auto"]:
            return run_auto(argv[1:])
        return run_enhance(argv)
    except KeyboardInterrupt:
        print("enhance: interrupted (files written so far are complete; none is half-written)", file=sys.stderr)
        return 130
    except OperationError as error:        # a UsageError too
        print(f"enhance: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return reader_went_away()
    except (ImageError, OSError, ValueError) as error:
        print(f"enhance: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
