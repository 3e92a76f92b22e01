"""The ``colorize`` command: predict, train, evaluate, demo, model-summary, export.

User mistakes (a missing file, a corrupt image, a bad option value) end
with one ``colorize: error: ...`` line and exit status 1 (2 for usage
errors), never a traceback.
"""
from __future__ import annotations

import argparse
import functools
import json
import math
import os
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
from PIL import Image

import nnscratch as nn
from nnscratch import __version__, distributed
from enhance.io import (IMAGE_EXTENSIONS, ImageError, OutputConflict, check_outputs, find_images, read_image,
                        read_metadata, reader_went_away, to_uint8, write_image)

from .data import check_light_jitter, to_rgb_uint8
from .hints import check_hints, draw_hints, parse_hint_option, read_hints_file, side_by_side
from .infer import (WORKING_SIZE, ModelFileError, check_working_memory, colorize, gray_baseline, load_model,
                    save_model)
from .metrics import colorfulness
from .model import AB_SCALE, NORMS, Colorizer, layer_table
from .train import (NothingToResume, RunExists, TrainingError, TrainingInterrupted, TrainingSettings,
                    train)

EXPECTED_ERRORS = (ValueError, TypeError, OSError, ImageError, nn.StateFileError, ModelFileError, TrainingError)


class OutputUnwritable(ValueError):
    """The results cannot be written where they were asked for: exit status 1, before (or at the first) file."""


def check_writable_folder(folder: Path) -> None:
    """OutputUnwritable naming ``folder`` when results cannot be written there (or it cannot be made)."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputUnwritable(f"cannot write into {folder}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "folder" if existing == folder else f"folder {folder} cannot be made in {existing}"
        raise OutputUnwritable(f"cannot write into {folder}: permission denied" if what == "folder"
                               else f"cannot write results: the {what} (permission denied)")


class UsageError(ValueError):
    """A mistake in the command's arguments found before anything is written: exit status 2."""


class DefaultsShown(argparse.HelpFormatter):
    """Help that ends each option's text with its default, unless the text already gives it or there is none."""

    def _get_help_string(self, action):
        text = action.help or ""
        if ("default" in text or action.default in (None, False, [], argparse.SUPPRESS) or not action.option_strings
                or action.nargs == 0):        # a switch: its help says what it turns on or off
            return text
        return f"{text} (default: {action.default})"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 0-65535, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {text}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def _jitter_strength(text: str) -> float:
    try:
        return check_light_jitter(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be in [0, 2], got {text}") from None


def _number_in(accepts, what: str):
    """An argparse type: a float that ``accepts`` takes, else the error "``what``, got ..."."""
    def parse(text: str) -> float:
        value = float(text)
        if not accepts(value):            # NaN fails every comparison: refused too
            raise argparse.ArgumentTypeError(f"{what}, got {text}")
        return value
    return parse


def _readout_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """``--shrink``, ``--vividness`` and ``--temperature``: the output's settings without weights."""
    parser.add_argument("--shrink", type=_number_in(lambda v: 0 <= v < AB_SCALE,
                                                    f"must be a chroma in Lab units in [0, {AB_SCALE:g})"),
                        metavar="CHROMA",
                        help=f"{what} with this much chroma (Lab units) taken off every pixel, its hue kept, "
                             "fainter tints made gray (default: the model's own setting; 0: none)")
    parser.add_argument("--vividness", type=_number_in(lambda v: 0 <= v <= 1, "must be in [0, 1]"), metavar="V",
                        help=f"{what} with this colour setting: 0 the network's own chroma (its most faithful), "
                             "1 twice it (default: the model's own setting)")
    parser.add_argument("--temperature", type=_number_in(lambda v: 0 < v <= 10, "must be in (0, 10]"), metavar="T",
                        help=f"{what} with this read-out temperature (a model trained with --loss bins only): "
                             "lower is bolder colour, 1 the plain mean (default: the model's own setting)")


def _readout_settings(model, args) -> None:
    """Apply ``--shrink``, ``--vividness`` and ``--temperature`` where given (UsageError for a temperature the model cannot take)."""
    if args.shrink is not None:
        model.set_shrink(args.shrink)
    if args.vividness is not None:
        model.set_vividness(args.vividness)
    if args.temperature is not None:
        if model.readout is None:
            raise UsageError("--temperature: this model has the regression head (trained without --loss bins)")
        model.set_temperature(args.temperature)


def _model_arguments(parser: argparse.ArgumentParser, device: bool = True) -> None:
    parser.add_argument("--checkpoint", metavar="PATH",
                        help="a model file, a checkpoint, or a training run folder (default: the shipped model)")
    if device:
        parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                            help="where the network runs: cuda is a GPU through CuPy (the gpu extra)")


def _check_device(device: str) -> None:
    """UsageError when ``device`` is cuda and CuPy sees no GPU: said before any work is done."""
    if device == "cuda" and not nn.cuda_available():
        raise UsageError("--device cuda: CuPy is not installed or sees no GPU; install the gpu extra "
                         "(pip install -e '.[gpu]') on a machine with a CUDA GPU, or leave --device out")


def _load(args):
    """The model ``--checkpoint`` names (the shipped one by default) on ``--device``."""
    _check_device(args.device)
    model = load_model(args.checkpoint)
    return model.to(args.device) if args.device != "cpu" else model


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="colorize", description="Colorize grayscale photos with a CNN written from scratch.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser = functools.partial(commands.add_parser, formatter_class=DefaultsShown)
    _predict_parser(commands)
    parser.train_parser = _train_parser(commands)      # explicit_options reads which of its options were given
    _evaluate_parser(commands)
    _other_parsers(commands)
    return parser


def explicit_options(argv: list[str], args) -> set[str]:
    """The ``colorize train`` options the command line gives (not those left at their defaults), as
    settings names: on resume or with ``--init`` only these override the run's own settings."""
    parser, unset = build_parser(), object()
    parser.train_parser.set_defaults(**{name: unset for name in vars(args)})
    again = parser.parse_args(argv)
    given = {name for name, value in vars(again).items() if value is not unset}
    return given


def _predict_parser(commands) -> None:
    predict = commands.add_parser("predict", help="colorize image files or folders")
    predict.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders (searched recursively)")
    predict.add_argument("-o", "--output", required=True, metavar="OUT",
                         help="output file (for one input file) or folder")
    predict.add_argument("--size", type=_positive_int, default=WORKING_SIZE,
                         help=f"long side of the working resolution for the network (default {WORKING_SIZE})")
    predict.add_argument("--format", choices=["png", "jpg", "webp", "tif", "bmp"],
                         help="output format in folder mode (default: the input's)")
    predict.add_argument("--enhance", action="append", metavar="'OP[:ARGS] ...'", default=[],
                         help="enhance operations applied to the result, in one quoted string or repeated: "
                              "--enhance 'contrast:1.2 hdr:detail=2' or --enhance contrast:1.2 --enhance hdr "
                              "(see 'enhance --list')")
    predict.add_argument("--overwrite", action="store_true",
                         help="allow an output to be its input file (replaces the original)")
    predict.add_argument("--vividness", type=_number_in(lambda v: 0 <= v <= 1, "must be in [0, 1]"), metavar="V",
                         help="how colourful: 0 the network's own chroma (its most faithful), 1 twice it "
                              "(default: the model's own setting)")
    predict.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality, 1-100")
    predict.add_argument("--keep-gps", action="store_true",
                         help="keep the GPS position in the EXIF (camera, date and exposure are always kept)")
    predict.add_argument("--hint", action="append", default=[], metavar="Y,X:#RRGGBB",
                         help="a colour point in the input's pixel coordinates (repeat for more), e.g. "
                              "--hint 120,40:#c03020; only its chroma is used")
    predict.add_argument("--hints", metavar="FILE.json|DIR",
                         help='colour points as JSON [{"y": 120, "x": 40, "color": "#c03020"}, ...]; with folder '
                              "input, a folder of <image-stem>.json files (images without one get no points)")
    predict.add_argument("--show-hints", metavar="OUT.png",
                         help="also write the result with the colour points drawn on it (one input file)")
    predict.add_argument("--grid", metavar="OUT.png",
                         help="also write a side-by-side figure: the gray input, the result, and the result with "
                              "the colour points drawn (one input file)")
    _model_arguments(predict)


def _settings_options(parser: argparse.ArgumentParser) -> None:
    """An option for each :class:`TrainingSettings` field that has one, with the field's default and help."""
    kinds = {"positive_int": _positive_int, "positive_float": _positive_float, "count": _count, "fraction": _fraction,
             "jitter": _jitter_strength, "int": int, "float": float, None: None}
    groups = {}
    for setting in fields(TrainingSettings):
        meta = setting.metadata
        if "help" not in meta:
            continue
        group = parser
        if meta.get("group"):
            if meta["group"] not in groups:
                groups[meta["group"]] = parser.add_mutually_exclusive_group()
            group = groups[meta["group"]]
        flag = meta.get("flag", "--" + setting.name.replace("_", "-"))
        if isinstance(setting.default, bool):          # a switch that turns the default around
            group.add_argument(flag, dest=setting.name, action="store_false" if setting.default else "store_true",
                               help=meta["help"])
            continue
        group.add_argument(flag, dest=setting.name, type=kinds[meta["kind"]], default=setting.default,
                           choices=meta.get("choices"), metavar=meta.get("metavar"), help=meta["help"])


def _train_parser(commands) -> argparse.ArgumentParser:
    fit = commands.add_parser("train", help="train a colorizer on a folder of colour photos")
    fit.add_argument("--data", required=True, metavar="DIR", help="folder of colour photos (searched recursively)")
    fit.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder: checkpoints, metrics, loss plot")
    _settings_options(fit)
    fit.add_argument("--resume", action="store_true",
                     help="continue the newest checkpoint in RUN_DIR (--steps/--epochs, --lr, --warmup, --lr-decay "
                          "and the checkpoint options may change; other settings are the checkpoint's)")
    fit.add_argument("--overwrite", action="store_true",
                     help="start again in a RUN_DIR that holds a run, deleting its checkpoints and metrics "
                          "(without it such a folder is refused: continue it with --resume)")
    fit.add_argument("--init", metavar="PATH|shipped",
                     help="start from these weights (a model file, checkpoint, run folder, or 'shipped') with a "
                          "fresh optimizer: fine-tune a model on your own photos")
    fit.add_argument("--no-progress", action="store_true", help="no progress bar (messages still go to stderr)")
    fit.add_argument("--quiet", action="store_true", help="no progress bar and no messages, only errors")
    return fit


def _evaluate_parser(commands) -> None:
    score = commands.add_parser("evaluate", help="score a model on colour photos against the grayscale baseline")
    score.add_argument("--data", required=True, metavar="PATH", help="a colour photo or a folder of them")
    score.add_argument("--size", type=_positive_int, default=WORKING_SIZE, help=f"working resolution (default {WORKING_SIZE})")
    score.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    score.add_argument("--grid", metavar="FILE", help="write a gray | predicted | truth PNG grid")
    score.add_argument("--hint-points", type=int, default=10, metavar="N",
                       help="a model that takes hints is also scored with N hints sampled from each photo's "
                            "truth (default 10; 0: automatic only)")
    _readout_arguments(score, "score the model")
    score.add_argument("--categories", metavar="TABLE",
                       help="CSV/TSV with 'file' and 'category' columns for a per-category summary (default: "
                            "such a table beside the photos, else their sub-folders)")
    _model_arguments(score)


def _other_parsers(commands) -> None:
    summary = commands.add_parser("model-summary", help="layers, shapes, parameters and FLOPs of a network: a fresh one "
                                                        "of the shape given, or --checkpoint's")
    defaults = TrainingSettings()
    summary.add_argument("--hidden-layers", type=_positive_int, default=defaults.hidden_layers,
                         help="hidden conv+ReLU layers (default %(default)s)")
    summary.add_argument("--width", type=_positive_int, default=defaults.width,
                         help="channels at full resolution (default %(default)s)")
    summary.add_argument("--norm", choices=NORMS, default=defaults.norm, help="normalisation (default %(default)s)")
    summary.add_argument("--hints", action="store_true", help="the network with colour-hint input")
    summary.add_argument("--size", type=_positive_int, default=256, help="input side for the output shapes (default 256)")
    summary.add_argument("--checkpoint", metavar="PATH",
                         help="describe this model file, checkpoint or run folder ('shipped': the shipped model) "
                              "instead of a fresh network of the shape above")

    demo = commands.add_parser("demo", help="colorize the gray version of a sample photo and draw before/after")
    demo.add_argument("-o", "--output", default="colorize_demo.png", help="figure to write (default colorize_demo.png)")
    demo.add_argument("--overwrite", action="store_true", help="replace the figure if it exists")
    demo.add_argument("--size", type=_positive_int, default=WORKING_SIZE, help=f"working resolution (default {WORKING_SIZE})")
    _model_arguments(demo)

    web = commands.add_parser("serve", help="a local web page to colorize, guide with colour points and enhance "
                                            "(needs the web extra: pip install -e '.[web]')")
    web.add_argument("--host", default="127.0.0.1", help="address to listen on; 0.0.0.0 opens it to the network")
    web.add_argument("--port", type=_port, default=8000, help="port, 1-65535 (0: any free port)")
    web.add_argument("--max-upload-mb", type=_positive_float, default=25.0, help="largest upload accepted, in MB")
    web.add_argument("--open", action="store_true", help="open the page in the default browser")
    _model_arguments(web)

    _video_parser(commands)

    export = commands.add_parser("export", help="write a compact model file (weights only) from a checkpoint")
    export.add_argument("checkpoint", metavar="CHECKPOINT", help="checkpoint file or run folder")
    export.add_argument("output", metavar="OUT.npz")
    export.add_argument("--float16", action="store_true", help="store weights as float16 (half the size)")
    export.add_argument("--overwrite", action="store_true", help="replace OUT.npz if it exists")
    _readout_arguments(export, "store the model")


def _video_parser(commands) -> None:
    video = commands.add_parser("video", help="colorize a video, steady from frame to frame (needs the video extra: "
                                              "pip install -e '.[video]')")
    video.add_argument("input", metavar="IN", help="a video FFmpeg can read")
    video.add_argument("output", metavar="OUT", help="the video to write; its extension sets the format (.mp4: H.264)")
    video.add_argument("--size", type=_positive_int, default=WORKING_SIZE,
                       help="long side of the working resolution for the network")
    video.add_argument("--vividness", type=_number_in(lambda v: 0 <= v <= 1, "must be in [0, 1]"), metavar="V",
                       help="how colourful: 0 the network's own chroma, 1 twice it (default: the model's own setting)")
    video.add_argument("--hints", metavar="FILE.json",
                       help='colour points on keyframes: [{"frame": 0, "y": 120, "x": 40, "color": "#c03020"}, ...]; '
                            "a point guides its whole shot, moving with the picture")
    video.add_argument("--start", type=_video_time, metavar="T", help="first frame: seconds (12.5) or a frame (300f)")
    video.add_argument("--end", type=_video_time, metavar="T", help="end (exclusive): seconds or a frame (450f)")
    video.add_argument("--codec", metavar="NAME", help="the video encoder (default: by the extension)")
    video.add_argument("--frame-by-frame", action="store_true",
                       help="colorize each frame on its own, without holding colour steady (for comparison)")
    video.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    video.add_argument("--no-progress", action="store_true", help="no progress bar")
    _model_arguments(video)


def _video_time(text: str) -> tuple[str, float]:
    """``--start``/``--end``: ``("frame", n)`` for ``300f``, ``("seconds", t)`` for ``12.5`` or ``12.5s``."""
    try:
        if text.endswith("f"):
            value = int(text[:-1])
            kind = "frame"
        else:
            value = float(text[:-1] if text.endswith("s") else text)
            kind = "seconds"
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds (12.5) or a frame (300f), got {text!r}") from None
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must not be negative, got {text!r}")
    return kind, value


def _collect_inputs(inputs: list[str], output: Path | None = None) -> list[tuple[Path, Path]]:
    """(file, path relative to its input root) for every input file (``output`` is left out of folder walks)."""
    found = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found += [(p, p.relative_to(path)) for p in find_images(path, skip=output)]
        elif path.exists():
            found.append((path, Path(path.name)))
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return found


def run_predict(args) -> int:
    """Everything that can be wrong with the command is said before the network runs; then each
    file is colorized, a file that fails is reported and the others go on."""
    output = Path(args.output)
    files = _collect_inputs(args.inputs, output)
    if not files:
        raise ValueError("no image files found in the inputs")
    single = _single_output(args, files, output)

    def target_of(source: Path, relative: Path) -> Path:
        if single:
            return output
        return output / relative.with_suffix(f".{args.format}" if args.format else source.suffix.lower())

    pairs = [(source, target_of(source, relative)) for source, relative in files]
    try:
        extras = [(files[0][0], Path(extra)) for extra in (args.show_hints, args.grid) if extra]
        check_outputs(pairs + extras, args.overwrite)
    except OutputConflict as error:
        raise UsageError(str(error)) from None
    operations = _enhance_operations(args.enhance)
    hints_for = _hint_source(args, files, single)
    for option, given in (("--show-hints", args.show_hints), ("--grid", args.grid)):
        if given and not single:
            raise UsageError(f"{option} draws the points of one input file; give one input file")
    model = _load(args)
    for folder in sorted({target.parent for _, target in pairs}):      # where the results go, checked first
        check_writable_folder(folder)
    if args.device == "cpu":             # a working size that cannot fit is said before anything runs
        _check_memory(files, args.size)
    comm = distributed.world()        # under mpiexec -n N each process takes every N-th file
    failures, note = 0, _ColourNote()
    for source, relative in _progress(files[comm.rank::comm.size], "colorizing"):
        failures += not _predict_reported(args, model, source, target_of(source, relative),
                                          lambda: hints_for(source, relative), single, operations, note, comm.size == 1)
    status, summary = distributed.files_summary("colorized", len(files), failures, comm)
    if summary:                       # the whole job's line, from process 0
        print(summary, file=sys.stderr if status else sys.stdout)
    return status


def _predict_reported(args, model, source, target, hints_of, single, operations, note, say: bool) -> bool:
    """One file, its failure reported (the run goes on); True when it was written."""
    try:
        _predict_one(args, model, source, target, hints_of(), single, operations, note)
    except (UsageError, OutputUnwritable):
        raise
    except (ImageError, OSError, ValueError) as error:
        print(f"failed: {source}: {error}", file=sys.stderr)
        return False
    if say:
        print(f"{source} -> {target}")
    return True


def _single_output(args, files, output: Path) -> bool:
    """Whether the output is one file (else a folder), with the usage errors of that choice.

    A folder of results when there are several inputs, or the output is a folder (existing, or
    written with a trailing slash); otherwise one file, whose extension must be an image format."""
    as_folder = (len(files) > 1 or len(args.inputs) > 1 or Path(args.inputs[0]).is_dir() or output.is_dir()
                 or args.output.endswith(("/", os.sep)))
    if not as_folder and output.suffix.lower() not in IMAGE_EXTENSIONS:
        raise UsageError(f"-o {args.output}: {'no' if not output.suffix else 'unknown'} image extension "
                         f"{output.suffix!r}: use one of {', '.join(sorted(IMAGE_EXTENSIONS))} "
                         "(or end the path with / for a folder of results)")
    if not as_folder and args.format:
        raise UsageError("--format is for folder output; for one file the output's extension decides")
    if not 1 <= args.quality <= 100:
        raise UsageError(f"--quality must be 1-100, got {args.quality}")
    if as_folder and output.suffix.lower() in IMAGE_EXTENSIONS and not output.is_dir():
        raise UsageError(f"{len(files)} input files (or a folder) need an output folder, not {output.name!r}")
    return not as_folder


def _enhance_operations(chunks: list[str]) -> list:
    """``--enhance`` texts as checked operations (UsageError naming the first that cannot run)."""
    from enhance.operations import OperationError, check_operations, parse_operation

    try:
        operations = [parse_operation(text) for chunk in chunks for text in chunk.split()]
        check_operations(operations)
    except OperationError as error:
        raise UsageError(f"--enhance: {error}") from None
    return operations


def _check_memory(files, size: int) -> None:
    """UsageError for the first input whose working size would not fit in memory (read from its header)."""
    for source, _ in files:
        try:
            with Image.open(source) as header:
                check_working_memory(header.height, header.width, size)
        except MemoryError as error:
            raise UsageError(f"{source}: {error}") from None
        except (OSError, ValueError, Image.DecompressionBombError):
            pass                      # unreadable: reported with the other failures


class _ColourNote:
    """Says once that colour input loses its colour."""

    def __init__(self):
        self.told = False

    def check(self, image) -> None:
        if not self.told and image.ndim == 3 and image.shape[2] >= 3 and colorfulness(to_rgb_uint8(image)[::8, ::8]) > 1.0:
            print("note: colour input: its colour is replaced by the model's prediction", file=sys.stderr)
            self.told = True


def _predict_one(args, model, source: Path, target: Path, hints, single: bool, operations, note: _ColourNote) -> None:
    from enhance.operations import apply

    image = read_image(source)
    if hints and single:   # a point outside the one image is a usage error: nothing is written
        try:
            check_hints(hints, *image.shape[:2])
        except ValueError as error:
            raise UsageError(f"{source}: {error}") from None
    note.check(image)
    result = colorize(image, model, size=args.size, hints=hints,   # 16-bit photos stay 16-bit
                      dtype=np.uint16 if image.dtype == np.uint16 else np.uint8, vividness=args.vividness)
    result = apply(result, operations)
    try:
        write_image(target, result, quality=args.quality,
                    metadata=read_metadata(source, keep_gps=args.keep_gps))
    except OSError as error:        # the place, not the file: every later file would fail too
        raise OutputUnwritable(f"cannot write {target}: {error.strerror or error}") from None
    if args.show_hints:
        write_image(args.show_hints, draw_hints(to_uint8(result), check_hints(hints, *image.shape[:2])))
    if args.grid:
        write_image(args.grid, side_by_side(gray_baseline(image), to_uint8(result), check_hints(hints, *image.shape[:2])))


def _hint_source(args, files, single):
    """A function (file, relative path) -> hints for that file, from --hint and --hints; checks every
    hint file before anything is written (UsageError on a malformed one)."""
    try:
        given = [parse_hint_option(text) for text in args.hint]
    except ValueError as error:
        raise UsageError(f"--hint: {error}") from None
    if not args.hints:
        return lambda source, relative: given
    location = Path(args.hints)
    if location.is_dir():
        if single:
            candidates = {files[0][0]: location / f"{files[0][0].stem}.json"}
        else:
            candidates = {source: location / relative.with_suffix(".json") for source, relative in files}
            for source, relative in files:   # a flat folder of <stem>.json files works as well
                if not candidates[source].is_file():
                    candidates[source] = location / f"{source.stem}.json"
        try:
            per_file = {source: read_hints_file(path) for source, path in candidates.items() if path.is_file()}
        except (ValueError, OSError) as error:
            raise UsageError(f"--hints: {error}") from None
        return lambda source, relative: given + per_file.get(source, [])
    if not location.is_file():
        raise UsageError(f"--hints: no such file or folder: {location}")
    if not single:
        raise UsageError("--hints FILE.json is for one input file; with folders give a folder of <image-stem>.json files")
    try:
        from_file = read_hints_file(location)
    except (ValueError, OSError) as error:
        raise UsageError(f"--hints: {error}") from None
    return lambda source, relative: given + from_file


def _progress(items, what: str):
    """A progress bar over a list on stderr when it is a terminal; the list itself otherwise."""
    if len(items) < 2 or not sys.stderr.isatty():
        return items
    from tqdm import tqdm

    return tqdm(items, desc=what, unit="photo", leave=False)


def training_settings(args) -> TrainingSettings:
    """``colorize train``'s options as the trainer's settings: each option is the field of its name."""
    return TrainingSettings(**{f.name: getattr(args, f.name) for f in fields(TrainingSettings) if hasattr(args, f.name)})


def run_train(args) -> int:
    if args.resume and args.overwrite:
        raise UsageError("give --resume (continue the run) or --overwrite (start it again), not both")
    if not args.resume and args.steps is None and args.epochs is None:
        raise UsageError("give --steps or --epochs")
    settings = training_settings(args)
    if not args.resume:             # settings that contradict each other: said before anything is read
        try:
            settings.check()
        except ValueError as error:
            raise UsageError(str(error)) from None
    records = train(args.data, args.out, settings, resume=args.resume, init=args.init,
                    progress=not (args.no_progress or args.quiet), quiet=args.quiet, overwrite=args.overwrite,
                    explicit=getattr(args, "explicit", None))
    losses = [r["loss"] for r in records if "loss" in r]
    if losses and distributed.world().rank == 0 and not args.quiet:
        print(f"done: step {records[-1]['step']}, last logged loss {losses[-1]:.5f}; run folder {args.out}")
    return 0


def run_evaluate(args) -> int:
    from .evaluate import category_summary, evaluate_photos, find_categories, save_grid

    paths = [path for path, _ in _collect_inputs([args.data])]
    if not paths:
        raise ValueError(f"no image files found in {args.data}")
    model = _load(args)
    _readout_settings(model, args)
    photos = _colour_photos(paths, args.data)
    result = evaluate_photos(model, _progress(photos, "scoring"), size=args.size, hint_points=args.hint_points)
    _print_scores(result, args.hint_points)
    folder = Path(args.data) if Path(args.data).is_dir() else Path(args.data).parent
    categories = find_categories(folder, paths, args.categories)
    summary = category_summary(result["images"], categories) if categories else []
    _print_categories(summary, "psnr_hints" in result["mean"])
    if args.json:
        images = [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}   # NaN: null
                  for r in result["images"]]
        Path(args.json).write_text(json.dumps({"images": images, "mean": result["mean"], "categories": summary},
                                              indent=2, allow_nan=False) + "\n")
    if args.grid:
        save_grid(result["panels"], args.grid)
    return 0


def _colour_photos(paths, where) -> list[tuple[str, np.ndarray]]:
    """``(name, uint8 RGB)`` of every readable colour photo among ``paths`` (the others said and skipped)."""
    photos = []
    for path in _progress(paths, "reading"):
        try:
            rgb = to_rgb_uint8(read_image(path))
        except (ImageError, OSError) as error:
            print(f"skipping {path}: {error}", file=sys.stderr)
            continue
        if colorfulness(rgb[::4, ::4]) < 1.0:
            print(f"skipping {path}: gray (no colour truth to score against)", file=sys.stderr)
            continue
        photos.append((path.name, rgb))
    if not photos:
        raise ValueError(f"none of the {len(paths)} image files in {where} is a readable colour photo")
    return photos


def _print_scores(result: dict, hint_points: int) -> None:
    guided = "psnr_hints" in result["mean"]
    hint_header = f" {f'{hint_points} hints':>9}" if guided else ""
    print(f"{'image':<28} {'PSNR':>7} {'gray':>7} {'gain':>6}{hint_header} {'ab RMSE':>8} {'colourful':>9} {'truth':>7} "
          f"{'chroma':>7} {'tint':>5}")

    def line(name, r):
        hinted = f" {r['psnr_hints']:9.2f}" if guided else ""
        tint = r.get("tint_angle", float("nan"))
        return (f"{name[:28]:<28} {r['psnr']:7.2f} {r['psnr_gray']:7.2f} {r['psnr'] - r['psnr_gray']:+6.2f}{hinted} "
                f"{r['ab_rmse']:8.2f} {r['colorfulness']:9.1f} {r['colorfulness_truth']:7.1f} "
                f"{r['chroma_ratio']:7.0%} {'' if tint != tint else f'{tint:4.0f}°':>5}")

    for r in result["images"]:
        print(line(r["image"], r))
    mean = result["mean"]
    print(line("mean", mean))
    count = len(result["images"])
    print(f"PSNR gain over grayscale: {mean['psnr_gain']:+.2f} dB ({mean['photos_above_gray']} of {count} photos "
          f"above their baseline, worst {mean['worst_gain']:+.2f} dB); colourfulness "
          f"{mean['colorfulness_ratio']:.0%} of the truth")
    print(f"chroma {mean['chroma_ratio']:.0%} of the truth's (mean over photos); overall tint within 45° on "
          f"{mean['tint_within_45']} of the {mean['tinted_photos']} photos with a clear tint (mean |ab| vector >= 4)")
    if guided:
        print(f"with {hint_points} hints from the truth: {mean['psnr_hints'] - mean['psnr_gray']:+.2f} dB "
              f"over grayscale")


def _print_categories(summary: list[dict], guided: bool) -> None:
    if not summary:
        return
    hint_column = f" {'with hints':>10}" if guided else ""
    print(f"\n{'category':<16} {'photos':>6} {'gain':>7} {'above gray':>10}{hint_column}")
    for row in summary:
        hinted = f" {row['gain_hints']:+10.2f}" if guided else ""
        print(f"{row['category'][:16]:<16} {row['photos']:>6} {row['gain']:+7.2f} "
              f"{row['above_gray']:>4} of {row['photos']:<3}{hinted}")


def run_summary(args) -> int:
    model = (load_model(None if args.checkpoint == "shipped" else args.checkpoint) if args.checkpoint
             else Colorizer(args.hidden_layers, args.width, args.norm, hints=args.hints))
    if args.size % 8:
        raise UsageError(f"--size must be a multiple of 8, got {args.size}")
    rows = layer_table(model, args.size, args.size)
    print(f"Colorizer({model.extra_repr()}): {model.hidden_layer_count()} hidden layers")
    column, named = max(len(r["layer"]) for r in rows), max(len(r["name"]) for r in rows)
    print(f"{'#':>3}  {'name':<{named}}  {'layer':<{column}} {'output (C, H, W)':>18} {'params':>9} {'GFLOP/MP':>9}")
    for r in rows:
        print(f"{r['index']:>3}  {r['name']:<{named}}  {r['layer']:<{column}} {str(r['output']):>18} "
              f"{r['params']:>9,} {r['flops_per_megapixel'] / 1e9:>9.3f}")
    total_params = sum(r["params"] for r in rows)
    total_flops = sum(r["flops_per_megapixel"] for r in rows)
    print(f"total: {total_params:,} parameters, {total_flops / 1e9:.1f} GFLOP per megapixel (forward)")
    return 0


SAMPLE = Path(__file__).parent / "samples" / "fallen_leaf.jpg"


def run_demo(args) -> int:
    from .evaluate import save_grid, score_photo

    _refuse_existing(args.output, args.overwrite)
    model = _load(args)
    photo = read_image(SAMPLE)
    scores = score_photo(model, photo, size=args.size)
    save_grid([(SAMPLE.stem, scores["images"])], args.output, thumb=480)
    print(f"colorized the gray version of {SAMPLE.name} (held out from training; see samples/SOURCE.md)")
    print(f"PSNR {scores['psnr']:.2f} dB (gray: {scores['psnr_gray']:.2f} dB), "
          f"colourfulness {scores['colorfulness']:.1f} (original: {scores['colorfulness_truth']:.1f})")
    print(f"wrote {args.output}")
    return 0


def _refuse_existing(path: str, overwrite: bool) -> None:
    if Path(path).exists() and not overwrite:
        raise UsageError(f"{path} exists: give another name, or --overwrite to replace it")


def run_export(args) -> int:
    _refuse_existing(args.output, args.overwrite)
    model = load_model(args.checkpoint)
    _readout_settings(model, args)
    save_model(model, args.output, float16=args.float16)
    print(f"wrote {args.output} ({Path(args.output).stat().st_size / 1e6:.1f} MB)")
    return 0


def run_serve(args) -> int:
    try:
        from .server import serve
        import flask  # noqa: F401  (the web extra)
    except ImportError:
        raise ValueError("colorize serve needs the web extra: pip install -e '.[web]' (Flask)") from None
    _check_device(args.device)
    serve(args.host, args.port, args.checkpoint, args.max_upload_mb, args.open, device=args.device)
    return 0


def run_video(args) -> int:
    from . import video

    source, target = Path(args.input), Path(args.output)
    if target.exists() and not args.overwrite:
        raise UsageError(f"{target} exists: give --overwrite to replace it")
    try:
        video.output_codec(target, args.codec)
        container, stream = video.open_video(source)
        hints = video.read_video_hints(args.hints) if args.hints else None
        for frame, points in (hints or {}).items():      # every point inside the picture, before any work
            try:
                check_hints(points, stream.codec_context.height, stream.codec_context.width)
            except ValueError as error:
                raise ValueError(f"{args.hints}: frame {frame}: {error}") from None
    except (video.VideoError, ValueError) as error:
        raise UsageError(str(error)) from None
    rate = float(stream.average_rate or 25)
    total = stream.frames or None
    container.close()
    start, end = (None if given is None else int(round(given[1] * (rate if given[0] == "seconds" else 1)))
                  for given in (args.start, args.end))
    if start is not None and end is not None and end <= start:
        raise UsageError(f"--end ({end}) must come after --start ({start}), in frames")
    check_writable_folder(target.parent if str(target.parent) else Path("."))
    model = _load(args)
    comm = distributed.world()        # under mpiexec -n N the network's work is shared out frame by frame
    count = (min(end, total) if end is not None and total else total or end)
    bar = _frame_bar(None if count is None else count - (start or 0), args.no_progress or comm.rank)
    try:
        written = video.colorize_video(source, target, model, size=args.size, vividness=args.vividness, hints=hints,
                                       steady=not args.frame_by_frame, start=start or 0, end=end,
                                       codec=args.codec, progress=lambda n: bar.update(1) if bar else None,
                                       comm=comm if comm.size > 1 else None)
    except video.VideoError as error:
        # With several processes only a range without frames is met by all alike; any other failure
        # (process 0's alone, say the disk filling) must end the whole job, not leave the rest waiting.
        if comm.size > 1 and not isinstance(error, video.NoFrames):
            raise
        raise UsageError(str(error)) from None
    finally:
        if bar:
            bar.close()
    if comm.rank == 0:
        print(f"{source} -> {target}: {written} frames" + (f" on {comm.size} processes" if comm.size > 1 else ""))
    return 0


def _frame_bar(total, quiet: bool):
    """A progress bar counting frames (with frames/s), on a terminal and unless asked not to."""
    if quiet or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="frame", desc="colorizing")


COMMANDS = {"video": run_video, "serve": run_serve, "predict": run_predict, "train": run_train, "evaluate": run_evaluate,
            "model-summary": run_summary, "export": run_export, "demo": run_demo}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.command == "train":
        args.explicit = explicit_options(argv, args)
    if args.command is None:        # bare 'colorize': say what there is
        parser.print_help(sys.stderr)
        return 2
    nn.keep_freed_memory()          # reuse large temporaries between steps instead of page-faulting them in
    comm = distributed.world()
    lead = comm.rank == 0           # under mpiexec, errors every process meets together are told once
    try:
        # An error in one process of several ends the job (MPI_Abort) instead of leaving the others
        # waiting; the errors listed are ones every process raises at the same point.
        with distributed.abort_on_error(comm, "colorize", (TrainingInterrupted, TrainingError, NothingToResume,
                                                           RunExists, UsageError, distributed.UnevenSplit)):
            return COMMANDS[args.command](args)
    except TrainingInterrupted as interrupted:
        if lead:
            print(f"colorize: interrupted at step {interrupted.step}; the checkpoint is saved: "
                  "continue with the same command and --resume", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("colorize: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return reader_went_away()
    except (UsageError, NothingToResume, RunExists) as error:
        if lead:
            print(f"colorize: error: {error}", file=sys.stderr)
        return 2
    except EXPECTED_ERRORS as error:
        if lead or not isinstance(error, (TrainingError, distributed.UnevenSplit)):   # those every process meets
            print(f"colorize: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
