"""Training the colorizer: batches of random crops, Adam, checkpoints, exact resume.

``train(data=..., out=..., steps=...)`` is the whole job; ``colorize train``
is a thin command-line layer over it.  A run folder holds:

    checkpoints/step-00000500.npz   model, optimizer, step and full config (the last few kept)
    metrics.jsonl                   one JSON record per logged step and per validation
    loss.png                        the loss curve and validation PSNR
    config.json                     the configuration, readable

Batches depend only on (seed, step), and checkpoints hold everything else
that changes (weights, Adam moments and step counts, batch-norm statistics),
so ``resume=True`` continues to exactly the weights an uninterrupted run
would have reached.

Under ``mpiexec -n N`` the run is data-parallel (:mod:`nnscratch.distributed`): each process
makes and computes its share of every batch, gradients and batch-norm statistics are summed over
the processes, and process 0 alone validates and writes the run folder.  The weights are those
of one process on the whole batch (to rounding), so a run checkpointed on N processes resumes on
any other number.
"""
from __future__ import annotations

import json
import math
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np

import nnscratch as nn
from enhance.io import find_images, write_atomically, write_figure
from nnscratch import distributed
from nnscratch.optim import SCHEDULES

from .checkpoints import CHECKPOINT_PATTERN, latest_checkpoint, prune_checkpoints
from .bins import UNIFORM_MIX, BinnedCrossEntropy, ab_bins, class_prior, rebalancing_weights
from .data import CROP_SCALE, CropSampler, PhotoSet, category_weights, check_light_jitter
from .evaluate import evaluate_photos, read_categories
from .model import NORMS, build_model, check_config, network_config

# "logmse": each crop's log mean squared error, averaged over the batch — the per-photo PSNR that
# evaluation averages, so nearly colourless crops count as much as vivid ones.  Its default floor
# (log_eps), 1e-3 in (ab / 110)², is an ab error of 3.5 units: below the error of 95 % of the previous
# shipped model's training crops (and below the chroma of 95 % of them), so it bounds the gradient without
# flattening the log.  A smaller floor weighs the nearly colourless crops more.
LOG_MSE_EPS = 1e-3
LOSSES = {"huber": lambda eps: nn.SmoothL1Loss(beta=0.1), "mse": lambda eps: nn.MSELoss(),
          "l1": lambda eps: nn.L1Loss(), "logmse": lambda eps: nn.LogMSELoss(eps=eps), "bins": None}
# "bins": the network gets the bins head (colorize.bins) and learns a distribution over ab bins by the
# rebalanced cross-entropy; its class weights come from the training photos, so it is built in train().


class TrainingError(RuntimeError):
    """Training cannot go on (a non-finite loss, a checkpoint that does not fit)."""


class NothingToResume(ValueError):
    """``resume=True`` but the run folder holds no checkpoint that can be read."""


class RunExists(ValueError):
    """A new run was asked for in a folder that already holds one (neither resume nor overwrite)."""


RUN_FILES = ("config.json", "metrics.jsonl", "loss.png")


def describe_run(out: Path) -> str | None:
    """What of a run ``out`` holds, in words ("a run at step 58"), or None when it holds none."""
    checkpoints = sorted(_run_checkpoints(out))
    if not checkpoints and not any((out / name).exists() for name in RUN_FILES):
        return None
    steps = [int(match.group(1)) for match in (CHECKPOINT_PATTERN.match(p.name) for p in checkpoints) if match]
    records = _read_records(out / "metrics.jsonl", up_to=1 << 62)
    step = max(steps + [r["step"] for r in records if "step" in r], default=None)
    return "a run" + (f" at step {step}" if step is not None else "") + (
        f" ({len(checkpoints)} checkpoints)" if checkpoints else "")


def clear_run(out: Path) -> None:
    """Delete what a run wrote in ``out`` (its checkpoints, metrics, configuration and plot), nothing else."""
    for path in _run_checkpoints(out):
        path.unlink()
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)


def _run_checkpoints(out: Path) -> list[Path]:
    """The checkpoint files of the run in ``out`` (step files and best.npz)."""
    folder = out / "checkpoints"
    if not folder.is_dir():
        return []
    return [p for p in folder.iterdir() if CHECKPOINT_PATTERN.match(p.name) or p.name == "best.npz"]


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped at a Ctrl-C after saving a checkpoint; ``step`` is the step it saved."""

    def __init__(self, step: int):
        super().__init__(f"interrupted at step {step}")
        self.step = step


def _split(paths: list[Path], val_fraction: float, seed: int) -> tuple[list[Path], list[Path]]:
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if val_fraction == 0:
        return paths, []
    count = max(1, round(len(paths) * val_fraction))
    if count >= len(paths):
        raise ValueError(f"val_fraction {val_fraction} leaves no training images out of {len(paths)}")
    order = np.random.default_rng((seed, 3)).permutation(len(paths))
    held_out = set(order[:count].tolist())
    return ([p for i, p in enumerate(paths) if i not in held_out],
            [p for i, p in enumerate(paths) if i in held_out])


def _plot(records: list[dict], path: Path) -> None:
    from matplotlib.figure import Figure

    train = [r for r in records if "loss" in r]
    val = [r for r in records if "val_psnr" in r]
    figure = Figure(figsize=(10, 4), dpi=100)
    left = figure.add_subplot(1, 2, 1)
    if train:
        steps = np.array([r["step"] for r in train])
        losses = np.array([r["loss"] for r in train])
        left.plot(steps, losses, color="0.7", linewidth=0.8, label="logged loss")
        window = max(1, len(losses) // 25)
        if window > 1:
            smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
            left.plot(steps[window - 1:], smooth, color="C0", label=f"mean of {window}")
        if losses.min() > 0:           # a log MSE is itself logarithmic (and negative)
            left.set_yscale("log")
    left.set_xlabel("step")
    left.set_ylabel("training loss")
    left.legend(loc="upper right") if train else None
    right = figure.add_subplot(1, 2, 2)
    if val:
        steps = [r["step"] for r in val]
        right.plot(steps, [r["val_psnr"] for r in val], "o-", label="colorized")
        right.plot(steps, [r["val_psnr_gray"] for r in val], "s--", label="grayscale baseline")
        right.legend(loc="lower right")
    right.set_xlabel("step")
    right.set_ylabel("validation PSNR (dB)")
    figure.tight_layout()
    write_figure(path, figure)


class _StopRequest:
    """First Ctrl-C: finish the current step, save, stop.  Second: stop at once."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            self._previous = None
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\ninterrupt: stopping after this step with a checkpoint (without validation or batch-norm "
              "recalibration, which the next checkpoint does); press Ctrl-C again to abort at once", file=sys.stderr)

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def option(default, help: str, kind: str | None = None, **cli):
    """A :class:`TrainingSettings` field that ``colorize train`` offers as an option: its default, its
    help, and how the command line reads it (``kind``: the parser, e.g. ``"positive_int"``; ``choices``,
    ``metavar``, ``flag`` when not ``--field-name``, ``group`` for options that exclude each other)."""
    return field(default=default, metadata={"help": help, "kind": kind, **cli})


@dataclass(frozen=True)
class TrainingSettings:
    """Every setting of a training run, with its default: the one place they are defined.

    ``colorize train``'s options are made from these fields (:func:`option`), :func:`train` takes
    one (or its fields as keywords), and :meth:`config` is what ``config.json`` and every
    checkpoint record.
    """

    steps: int | None = option(None, "optimizer steps", kind="positive_int", group="length")
    epochs: float | None = option(None, "passes over the training photos (one crop each)", kind="positive_float",
                                  group="length")
    batch_size: int = option(16, "crops per optimizer step (over all processes)", kind="positive_int")
    crop: int = option(128, "crop side in pixels, a multiple of 8", kind="positive_int")
    lr: float = option(1e-4, "Adam's learning rate", kind="positive_float")
    warmup: int = option(0, "raise the learning rate linearly to --lr over the first N steps (0: none); softens "
                            "the first steps of a fresh optimizer on trained weights (--init)", kind="count",
                         metavar="N")
    lr_decay: str = option("constant", "after the warm-up keep --lr (constant) or bring it to 0 at the last step "
                                       "along half a cosine (cosine; raising --steps on resume stretches the curve)",
                           choices=tuple(SCHEDULES))
    weight_decay: float = option(0.0, "L2 penalty on the weights in Adam, as torch.optim.Adam's weight_decay",
                                 kind="float", metavar="L2")
    loss: str = option("huber", "loss on ab / 110: per pixel (huber, mse, l1) or each crop's log MSE, the per-photo "
                                "PSNR that evaluation averages (logmse); or bins: the network predicts a "
                                "distribution over ab bins, trained by the rebalanced cross-entropy",
                       choices=tuple(LOSSES))
    log_eps: float = option(LOG_MSE_EPS, "logmse's floor on each crop's MSE in (ab / 110)^2 (an ab error of 3.5); "
                                         "smaller weighs nearly colourless crops more", kind="positive_float",
                            metavar="EPS")
    uniform_mix: float = option(UNIFORM_MIX, "bins: the class prior mixed with a uniform one by this much before "
                                             "its inverse weighs the classes (1: no rebalancing)", kind="float",
                                metavar="MIX")
    width: int = option(32, "the network's channels at full resolution", kind="positive_int")
    hidden_layers: int = option(18, "hidden conv+ReLU layers", kind="positive_int")
    norm: str = option("batch", "normalisation between each hidden convolution and its ReLU", choices=NORMS)
    hints: bool = option(False, "train the network to follow colour hints too (random points from the truth; none "
                                "on half the crops, so automatic colorization is learned as well)")
    skips: bool = option(True, "no skip connections from encoder to decoder (the first-generation network)",
                         flag="--no-skips")
    context: bool = option(False, "a global-context layer before the decoder: every position also sees a summary of "
                                  "the whole image (its scene)", flag="--global-context")
    seed: int = option(0, "seeds the weights, the crops and the training hints", kind="int")
    device: str = option("cpu", "cuda runs on a GPU through CuPy", choices=("cpu", "cuda"))
    dtype: str = "float32"              # or "float64" for exactness experiments (not an option)
    val: str | None = option(None, "folder of validation photos", metavar="DIR", group="held_out")
    val_fraction: float = option(0.0, "hold out this fraction of --data", kind="fraction", group="held_out")
    val_size: int = 256                 # validation photos' long side (not an option)
    checkpoint_every: int = option(500, "validate and write a checkpoint every N steps", kind="positive_int",
                                   metavar="N")
    keep_checkpoints: int = option(3, "keep the last K step checkpoints (and best.npz)", kind="positive_int",
                                   metavar="K")
    log_every: int = option(10, "record the loss and images/s in metrics.jsonl every N steps", kind="positive_int",
                            metavar="N")
    min_colorfulness: float = option(5.0, "skip photos less colourful than this (Hasler-Süsstrunk)", kind="float")
    photo_size: int | None = option(320, "photos are decoded once and kept at this long side; crops are cut at "
                                         "0.7-1.0 of it (the network sees photos at the scale it colorizes at)",
                                    kind="positive_int", metavar="PX")
    scale: tuple[float, float] = CROP_SCALE   # crops are cut at this range of the photo size (not an option)
    light_jitter: float = option(0.0, "a random tone curve on each crop's lightness (gamma within exp(+-S), "
                                      "contrast within exp(+-S/2)), its colours unchanged: photos as other films or "
                                      "scans record them (0: none)", kind="jitter", metavar="S")
    ema_decay: float = option(0.999, "decay of the moving average of the weights that validation scores and export "
                                     "uses (0: off)", kind="fraction")
    balance: float = option(0.0, "sample photos by category: each photo weighted 1 / (photos of its category) ^ "
                                 "BALANCE (0: every photo alike; 1: every category alike); needs --categories",
                            kind="fraction")
    categories: str | None = option(None, "a CSV or TSV table with file and category columns (e.g. the photos' "
                                          "SOURCES.tsv), for --balance", metavar="FILE")
    bn_batches: int = option(25, "the moving average's batch-norm statistics are recomputed for its own weights over "
                                 "N batches of training crops at every checkpoint (0: the live network's)",
                             kind="count", metavar="N")

    def check(self) -> None:
        """ValueError naming the first setting that cannot work."""
        self._check_length()
        self._check_optimisation()
        self._check_run()

    def _check_length(self) -> None:
        if (self.steps is None) == (self.epochs is None):
            raise ValueError("give exactly one of steps and epochs")
        if self.steps is not None and self.steps < 1 or self.epochs is not None and not self.epochs > 0:
            raise ValueError(f"steps and epochs must be positive, got steps={self.steps}, epochs={self.epochs}")

    def _check_optimisation(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        for label, value in (("log_eps", self.log_eps), ("learning rate", self.lr)):
            if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
                raise ValueError(f"{label} must be a positive number, got {value!r}")
        if self.lr_decay not in SCHEDULES:
            raise ValueError(f"lr_decay must be one of {', '.join(SCHEDULES)}, got {self.lr_decay!r}")
        if not (isinstance(self.warmup, int) and self.warmup >= 0):
            raise ValueError(f"warmup must be a whole number of steps >= 0, got {self.warmup!r}")
        if not (isinstance(self.uniform_mix, (int, float)) and 0 <= self.uniform_mix <= 1):
            raise ValueError(f"uniform_mix must be in [0, 1], got {self.uniform_mix!r}")
        if not (0 <= self.weight_decay < 1):
            raise ValueError(f"weight_decay must be in [0, 1), got {self.weight_decay}")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")

    def _check_run(self) -> None:
        if self.checkpoint_every < 1 or self.keep_checkpoints < 1:
            raise ValueError("checkpoint_every and keep_checkpoints must be >= 1")
        check_light_jitter(self.light_jitter)
        if not (isinstance(self.bn_batches, int) and self.bn_batches >= 0):
            raise ValueError(f"bn_batches must be a whole number >= 0, got {self.bn_batches!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype!r}")
        if self.balance and not self.categories:
            raise ValueError("balance needs a table of categories (categories / --categories FILE)")

    def config(self, data) -> dict:
        """The run's configuration as checkpoints store it (the network's settings under "model")."""
        record = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in MODEL_FIELDS}
        head = "bins" if self.loss == "bins" else "regression"
        return {"model": check_config(**{name: getattr(self, name) for name in MODEL_FIELDS}, head=head),
                "data": str(data), **record, "val": str(self.val) if self.val else None, "scale": list(self.scale)}


MODEL_FIELDS = ("width", "hidden_layers", "norm", "hints", "skips", "context")


def train(data: str | Path, out: str | Path, settings: TrainingSettings | None = None, *, resume: bool = False,
          init: str | Path | None = None, progress: bool = True, quiet: bool = False, stop_after: int | None = None,
          comm=None, overwrite: bool = False, explicit=None, **options) -> list[dict]:
    """Train a colorizer on a folder of colour photos; return the metrics records.

    ``settings`` (a :class:`TrainingSettings`) or its fields as keywords (``steps=3000,
    hints=True``; keywords override ``settings``) say what to train; the rest says how to run.

    Photos are decoded once and kept with their long side at ``photo_size``
    (None: as they are); crops of ``crop`` pixels are cut at a random
    ``scale`` of that, so with the defaults the network sees photos at long
    sides 224–320, the scale it colorizes at (working size 256).  ``hints``
    trains the network to follow colour points too (none on half the crops).
    ``ema_decay`` keeps an exponential moving average of the weights, which
    validation scores and checkpoints carry for export (0: off); the
    checkpoint with the best validation PSNR is also kept as
    ``checkpoints/best.npz``.

    Give ``steps`` (optimizer steps) or ``epochs`` (passes over the training
    photos, one crop per photo each).  With ``resume=True`` the newest
    checkpoint in ``out`` is continued, with its own configuration; ``steps``
    or ``epochs`` may be raised to train longer.  ``stop_after`` ends this
    call after that many steps (with a checkpoint), as an interruption would.
    ``dtype`` "float64" trains in double precision (for exactness experiments).

    ``comm`` is the communicator (default :func:`nnscratch.distributed.world`: MPI's under
    ``mpiexec -n N``, else one process).  With N processes ``batch_size`` is the global batch
    and N must divide it; records and checkpoints are written by process 0 only.

    Raises ``TrainingError`` on a non-finite loss (the last checkpoint stays
    as it was), ``ValueError`` for bad settings or an unusable folder
    (``NothingToResume`` when ``resume`` finds no readable checkpoint), and
    ``TrainingInterrupted`` (a ``KeyboardInterrupt``) after the checkpoint a
    first Ctrl-C saves.  ``progress`` shows the bar; ``quiet`` hides the
    messages (resume decisions, skipped photos, validation) as well.

    On resume the checkpoint's configuration wins, except for the settings
    that can change safely mid-run (``steps``/``epochs``, ``lr`` and its schedule ``warmup`` and
    ``lr_decay``, ``weight_decay``, ``checkpoint_every``, ``keep_checkpoints``, ``log_every``,
    ``bn_batches``): those given
    with other values than the checkpoint's are applied, said, and noted in
    ``metrics.jsonl``; other changed settings are named as overridden.
    ``init`` (a model file, checkpoint, run folder, or ``"shipped"``) starts
    a new run from those weights with a fresh optimizer: fine-tuning.

    ``explicit`` names the settings the caller chose (default: the keywords given and the fields of
    ``settings`` off their defaults): only those override a resumed run's settings or ``init``'s shape.
    """
    out = Path(out)
    if explicit is None:
        explicit = set(options) | _off_default(settings)
    settings = replace(settings or TrainingSettings(), **options)
    comm = distributed.world() if comm is None else comm
    lead = comm.rank == 0                 # the process that validates, writes and talks
    say = (lambda message: None) if quiet or not lead else (lambda message: print(message, file=sys.stderr))
    config, checkpoint, resume_note = _settle_config(out, data, settings, resume, init, overwrite, comm, say,
                                                     set(explicit))
    shares = distributed.share(config["batch_size"], comm)     # this process's slots of every batch
    photos, val_photos = _read_photos(config, report=not quiet and lead, validate=lead, quiet=quiet)
    model_config = check_config(**config["model"])
    weights = None
    if config.get("balance"):
        weights = category_weights(photos.paths, read_categories(config["categories"]), config["balance"])
    sampler = CropSampler(photos, config["batch_size"], config["crop"], config["seed"], tuple(config["scale"]),
                          hints=model_config["hints"], light_jitter=config.get("light_jitter", 0.0), weights=weights)
    total = config["steps"] or math.ceil(config["epochs"] * len(photos) / config["batch_size"])
    if config.get("warmup", 0) >= total:
        raise ValueError(f"the warm-up ({config['warmup']} steps) must be shorter than the run ({total} steps)")
    model, optimizer, criterion, step = _network(config, photos, checkpoint, init, settings.device, comm, say)
    average = WeightAverage(model, config.get("ema_decay") or 0.0,
                            checkpoint.get("ema") if checkpoint is not None else None)
    # The averaged weights' own batch-norm statistics, from the same fixed batches at every
    # checkpoint (a sampler of their own: the training crops and their order are untouched);
    # a run from before this setting keeps the live network's.
    calibration = (CalibrationBatches(photos, config, model_config["hints"])
                   if average.enabled and config.get("bn_batches", 0) and lead else None)
    folder = RunFolder(out, config, step, lead, say, average, calibration, val_photos)
    folder.start(fresh=overwrite and not resume, resume_note=resume_note)
    loop = _Loop(model, optimizer, criterion, config, comm, total, folder)
    return loop.run(sampler, shares, step, stop_after, progress and lead, resumed=checkpoint is not None)


def _off_default(settings: TrainingSettings | None) -> set[str]:
    defaults = TrainingSettings()
    return {f.name for f in fields(defaults) if settings is not None and getattr(settings, f.name) != getattr(defaults, f.name)}


def _settle_config(out: Path, data, settings: TrainingSettings, resume: bool, init, overwrite: bool, comm, say,
                   explicit: set[str]):
    """The run's configuration: ``(config, checkpoint or None, resume note or None)``.

    A new run refuses a folder that holds one (unless ``overwrite``) and takes ``init``'s network
    shape where the settings leave it at its default; a resumed one takes its checkpoint's
    configuration with the changes that are safe mid-run."""
    if resume and init is not None:
        raise ValueError("give either resume (continue this run) or init (start a new run from other weights)")
    if resume and overwrite:
        raise ValueError("give either resume (continue this run) or overwrite (start it again)")
    if not resume:
        existing = describe_run(out)
        # Every process decides together, before process 0 can write anything (a late starter would
        # otherwise see process 0's new run and stop alone).
        if comm.size > 1 and comm.allreduce_sum(np.array([1.0 if existing else 0.0]))[0] and not existing:
            existing = "a run"
        if existing and not overwrite:
            raise RunExists(f"{out} already holds {existing}: continue it with --resume, or start it again "
                            "with --overwrite (which deletes its checkpoints and metrics); nothing was changed")
        if init is not None:
            settings = _adopt_architecture(settings, init, say, explicit)
        settings.check()
        config = settings.config(data)
        config["processes"] = comm.size
        return config, None, None
    refused = []
    found = latest_checkpoint(out, refused.append)
    if found is None:
        why = "; ".join(refused) if refused else f"no checkpoints in {out / 'checkpoints'}"
        raise NothingToResume(f"nothing to resume in {out} ({why}); nothing was changed. "
                              "Start a new run without --resume, or in another folder")
    for message in refused:
        say(message)
    checkpoint = nn.load(found)
    say(f"resuming from {found} (step {checkpoint['step']})")
    config = checkpoint["config"]
    for name in ("steps", "epochs"):
        if getattr(settings, name) is not None:
            config[name] = getattr(settings, name)
            config["steps" if name == "epochs" else "epochs"] = None
    config["data"], config["device"] = str(data), settings.device
    resume_note = _resume_overrides(config, settings, say, explicit)
    config["processes"] = comm.size
    return config, checkpoint, resume_note


def _read_photos(config: dict, report: bool, validate: bool, quiet: bool):
    """The training photos and (on the validating process) the validation photos, decoded once;
    their paths go into ``config``."""
    paths = find_images(config["data"])
    if not paths:
        raise ValueError(f"no image files (jpg, png, webp, bmp, tif) found in {config['data']}")
    if config["val"]:
        train_paths, val_paths = paths, find_images(config["val"])
    else:
        train_paths, val_paths = _split(paths, config["val_fraction"], config["seed"])
    photos = PhotoSet.from_paths(train_paths, config["min_colorfulness"], min_side=8, report=report,
                                 max_side=config.get("photo_size"))
    if not photos.images:
        raise ValueError(f"none of the {len(train_paths)} training images in {config['data']} is usable")
    val_photos = (PhotoSet.from_paths(val_paths, 0.0, min_side=8, report=not quiet)
                  if val_paths and validate else None)
    config["train_images"] = [str(p) for p in photos.paths]
    config["val_images"] = [str(p) for p in val_photos.paths] if val_photos else [str(p) for p in val_paths]
    return photos, val_photos


def _network(config: dict, photos: PhotoSet, checkpoint, init, device: str, comm, say):
    """``(model, optimizer, criterion, step)``: built from ``config``, then the checkpoint's state
    (resume) or ``init``'s weights (fine-tuning), on ``device``, the same on every process."""
    model = build_model(config["model"], seed=config["seed"])
    if config.get("dtype", "float32") == "float64":
        model.double()
    optimizer = nn.Adam(model.parameters(), lr=config["lr"], weight_decay=config.get("weight_decay", 0.0))
    criterion = make_loss(config, photos)
    step = 0
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        optimizer.lr = config["lr"]                 # a learning rate changed on resume
        optimizer.weight_decay = float(config.get("weight_decay", 0.0))
        step = int(checkpoint["step"])
    elif init is not None:
        _initialise_from(model, init, say)
    if device != "cpu":
        model.to(device)
        optimizer.to(device)
    distributed.broadcast_parameters(model, comm=comm)   # identical already (same seed or file); made certain
    distributed.synchronize_batch_norm(model, comm)
    return model, optimizer, criterion, step


def make_loss(config: dict, photos: PhotoSet):
    """The criterion ``config["loss"]`` names (the bins head's class weights come from ``photos``)."""
    if config["loss"] == "bins":
        centers = ab_bins()                      # the read-out's centres, exactly (its buffer is ab / 110)
        prior = class_prior(photos.images, centers)
        return BinnedCrossEntropy(centers, rebalancing_weights(prior, centers, config.get("uniform_mix", UNIFORM_MIX)))
    return LOSSES[config["loss"]](config.get("log_eps", LOG_MSE_EPS))


class RunFolder:
    """What a run writes (process 0 only): ``config.json``, ``metrics.jsonl``, ``loss.png`` and the
    checkpoints, the best one also as ``best.npz``."""

    def __init__(self, out: Path, config: dict, step: int, lead: bool, say, average, calibration, val_photos):
        self.out, self.config, self.lead, self.say = out, config, lead, say
        self.average, self.calibration, self.val_photos = average, calibration, val_photos
        self.metrics = out / "metrics.jsonl"
        self.records = _read_records(self.metrics, up_to=step)
        self.best_gain = max((r["val_psnr"] - r["val_psnr_gray"] for r in self.records if "val_psnr" in r),
                             default=-math.inf)
        self.step = step

    def start(self, fresh: bool, resume_note) -> None:
        """Make the folder (emptied of an old run when ``fresh``) and write the configuration."""
        if not self.lead:
            return
        if fresh and describe_run(self.out):
            clear_run(self.out)
            self.records, self.best_gain = [], -math.inf
            self.say(f"--overwrite: deleted the run that was in {self.out}")
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "checkpoints").mkdir(exist_ok=True)
        config_text = (json.dumps(self.config, indent=2) + "\n").encode()
        write_atomically(self.out / "config.json", lambda handle: handle.write(config_text))
        if resume_note:
            self.records.append({"step": self.step, "resumed_with": resume_note})
        _write_records(self.metrics, self.records)

    def log(self, record: dict) -> None:
        self.records.append(record)
        if self.lead:
            _append_record(self.metrics, record)

    def save(self, step: int, model, optimizer, quick: bool = False) -> None:
        """Validate the averaged weights and write a checkpoint at ``step``.

        ``quick`` (after a Ctrl-C): no validation and no recalibration of the average's batch norm
        (it keeps the live network's statistics until the next checkpoint), so the stop takes a moment."""
        if not self.lead:
            return
        config, val_photos = self.config, self.val_photos
        if self.calibration is not None and not quick:
            self.say(f"step {step}: checkpoint: the average's batch-norm statistics over {config['bn_batches']} "
                     "batches" + (f", then validation on {len(val_photos)} photos" if val_photos else ""))
        averaged = self.average.model(None if quick else self.calibration)
        record = _validate(averaged, val_photos, step, config["val_size"]) if val_photos and not quick else None
        if record:
            self.log(record)
            guided = (f"; with 10 hints {record['val_psnr_hints']:.2f} dB" if "val_psnr_hints" in record else "")
            self.say(f"step {step}: validation PSNR {record['val_psnr']:.2f} dB "
                     f"(grayscale {record['val_psnr_gray']:.2f} dB, {record['val_above_gray']} of {len(val_photos)} "
                     f"photos above it){guided}, colourfulness {record['val_colorfulness']:.1f} "
                     f"of {record['val_colorfulness_truth']:.1f}")
        state = {"format": "colorize-checkpoint", "config": config, "step": step,
                 "model": {k: v for k, v in model.state_dict().items()}, "optimizer": optimizer.state_dict(),
                 "rng": {"seed": config["seed"], "next_step": step}}
        if self.average.enabled:
            state["ema"] = {**averaged.state_dict(), "updates": np.int64(self.average.updates)}
        nn.save(self.out / "checkpoints" / f"step-{step:08d}.npz", state)
        if record and record["val_psnr"] - record["val_psnr_gray"] > self.best_gain:
            self.best_gain = record["val_psnr"] - record["val_psnr_gray"]
            nn.save(self.out / "checkpoints" / "best.npz", state)
        prune_checkpoints(self.out / "checkpoints", config["keep_checkpoints"])
        _plot(self.records, self.out / "loss.png")


class _Loop:
    """The optimizer steps: batches (cut a step ahead in a thread), gradients, the learning-rate
    schedule, divergence checks, logging, checkpoints, Ctrl-C."""

    def __init__(self, model, optimizer, criterion, config: dict, comm, total: int, folder: RunFolder):
        self.model, self.optimizer, self.criterion = model, optimizer, criterion
        self.config, self.comm, self.total, self.folder = config, comm, total, folder
        self.xp = nn.get_array_module(model.parameters()[0].data)
        self.on_host = nn.backend.uses_cpu_strategy(self.xp)
        self.dtype = model.parameters()[0].data.dtype

    def _reads_back(self, step: int, stop_at: int, stopping: bool) -> bool:
        """Whether this step reads the loss and weights back: every step on the host; on a GPU, which
        waits for it, only when it logs or saves (a divergence is then caught within log_every
        steps, before any checkpoint)."""
        config = self.config
        return (self.on_host or (step + 1) % config["log_every"] == 0 or (step + 1) % config["checkpoint_every"] == 0
                or step + 1 == stop_at or stopping)

    def run(self, sampler, shares, step: int, stop_after, progress: bool, resumed: bool) -> list[dict]:
        config, folder, optimizer = self.config, self.folder, self.optimizer
        bar = _progress_bar(self.total, step, progress)
        window = _Window()
        last_saved = step if resumed else None
        stop_at = self.total if stop_after is None else min(self.total, step + stop_after)
        when = "at" if self.on_host else "by"
        # The next step's crops are cut in a background thread while this step computes (Pillow and
        # BLAS release the GIL); batches stay a pure function of (seed, step), so nothing changes but time.
        prefetch = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crops")
        upcoming = prefetch.submit(sampler.batch, step, shares)
        with _StopRequest() as stop, prefetch:
            while step < stop_at:
                waited = time.perf_counter()
                inputs, targets = upcoming.result()
                window.wait += time.perf_counter() - waited
                if step + 1 < stop_at:
                    upcoming = prefetch.submit(sampler.batch, step + 1, shares)
                inputs, targets = self.xp.asarray(inputs, dtype=self.dtype), self.xp.asarray(targets, dtype=self.dtype)
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):    # a divergence is caught below
                    loss, stopping = gradients(self.model, self.criterion, inputs, targets, self.comm, stop)
                reads_back = self._reads_back(step, stop_at, stopping)
                if reads_back:
                    value = float(loss)
                    if not math.isfinite(value):
                        bar.close()
                        raise _diverged(f"the loss became {value}", when, step, last_saved, config)
                optimizer.lr = nn.scheduled_lr(step, self.total, config["lr"], config.get("warmup", 0),
                                               config.get("lr_decay", "constant"))
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):   # overflow is caught just below
                    optimizer.step()
                if reads_back and not _finite(self.model):
                    bar.close()
                    raise _diverged("the weights or batch-norm statistics became infinite or NaN", when, step,
                                    last_saved, config)
                folder.average.update()
                step += 1
                window.images += config["batch_size"]
                bar.update(1)
                if step % config["log_every"] == 0 or step == stop_at:
                    record = {"step": step, "loss": value, "lr": optimizer.lr, **window.rates(), "time": time.time()}
                    folder.log(record)
                    bar.set_postfix(loss=f"{value:.4f}", img_s=f"{record['images_per_s']:.1f}")
                    window = _Window()
                if self.comm.size == 1:             # one process sees a Ctrl-C up to the end of the step
                    stopping = stop.requested
                regular = step % config["checkpoint_every"] == 0 or step == stop_at
                if regular or stopping:
                    saving = time.perf_counter()
                    folder.save(step, self.model, optimizer, quick=not regular)
                    window.pause += time.perf_counter() - saving        # speeds are of training, not checkpoints
                    last_saved = step
                    if stopping:
                        bar.close()
                        raise TrainingInterrupted(step)
        bar.close()
        if last_saved != step:
            folder.save(step, self.model, optimizer)
        return folder.records


class _Window:
    """Images and seconds since the last logged step: the speed a record reports."""

    def __init__(self):
        self.start, self.images, self.wait, self.pause = time.perf_counter(), 0, 0.0, 0.0

    def rates(self) -> dict:
        elapsed = max(time.perf_counter() - self.start - self.pause, 1e-9)
        return {"images_per_s": self.images / elapsed, "data_wait": self.wait / elapsed}


def _finite(model) -> bool:
    """Whether every weight and batch-norm statistic of ``model`` is finite (reads them back from a GPU)."""
    xp = nn.get_array_module(model.parameters()[0].data)
    return all(bool(xp.isfinite(value).all()) for value in model.state_dict().values() if value.dtype.kind == "f")


def _diverged(what: str, when: str, step: int, last_saved: int | None, config: dict) -> TrainingError:
    kept = f"; the last checkpoint (step {last_saved}) is intact" if last_saved is not None else ""
    return TrainingError(f"{what} {when} step {step}: training stopped{kept}. Try a lower learning rate "
                         f"(--lr, {config['lr']:g} in this run).")


def gradients(model, criterion, inputs, targets, comm, stop) -> tuple:
    """One training step up to the optimizer: forward, loss, backward; over several processes the
    gradients are averaged (and batch norm has already summed its statistics), and the processes
    agree on the whole batch's loss and on whether any was asked to stop (``stop.requested``, read
    once, here: a Ctrl-C arriving later counts for the next step).  Returns both: the loss as a
    0-d array on the model's device (read it with ``float``), the stop as a bool."""
    model.zero_grad()
    loss = criterion.compute(model.forward(inputs, logits=isinstance(criterion, BinnedCrossEntropy)), targets)
    model.backward(criterion.backward())
    stopping = stop.requested
    if comm.size > 1:
        distributed.allreduce_gradients(model, comm)
        agreed = comm.allreduce_sum(np.array([float(loss), float(stopping)]))
        loss, stopping = np.float64(agreed[0] / comm.size), bool(agreed[1])
    return loss, stopping


RESUMABLE_CHANGES = ("lr", "warmup", "lr_decay", "weight_decay", "checkpoint_every", "keep_checkpoints", "log_every",
                     "bn_batches")
FIXED_ON_RESUME = ("batch_size", "crop", "width", "hidden_layers", "norm", "loss", "seed", "hints", "skips",
                   "context", "photo_size", "scale", "light_jitter", "min_colorfulness", "ema_decay", "val_size",
                   "log_eps", "uniform_mix", "balance", "categories")


def _resume_overrides(config: dict, settings: TrainingSettings, say, explicit: set[str]) -> dict | None:
    """Apply the safe changes among the ``explicit`` settings to a resumed ``config``; name the others.

    Returns the applied changes (for metrics.jsonl), or None.
    """
    stored = {**config, **config["model"]}
    applied, ignored = {}, []
    for name in RESUMABLE_CHANGES + FIXED_ON_RESUME:
        value = getattr(settings, name)
        value = list(value) if isinstance(value, tuple) else value
        if name not in explicit:
            continue
        if name not in stored or value == stored[name]:
            continue
        if name in RESUMABLE_CHANGES:
            applied[name] = {"from": stored[name], "to": value}
            config[name] = value
        else:
            ignored.append(f"{name}={stored[name]!r} (asked {value!r})")
    if applied:
        say("changed on resume: " + ", ".join(f"{k} {v['from']} -> {v['to']}" for k, v in applied.items()))
    if ignored:
        say("the checkpoint's settings are kept: " + ", ".join(ignored) + "; start a new run to change them")
    return applied or None


ARCHITECTURE = ("hidden_layers", "width", "norm", "hints", "skips", "context")


def _adopt_architecture(settings: TrainingSettings, source, say, explicit: set[str]) -> TrainingSettings:
    """``settings`` with the network shape of ``--init``'s model wherever the caller did not set it.

    A setting given explicitly is the user's choice and stays (a shape that cannot take the
    source's weights is then refused by :func:`_initialise_from`).
    """
    from .infer import load_model

    donor = load_model(None if str(source) == "shipped" else source).config
    adopted = {}
    for name in ARCHITECTURE:
        theirs = donor.get(name, False)
        if name not in explicit and theirs != getattr(settings, name):
            adopted[name] = theirs
    if adopted:
        say("--init: the network takes its shape from the source: " + ", ".join(f"{k}={v}" for k, v in adopted.items()))
    return replace(settings, **adopted)


def _initialise_from(model, source, say) -> None:
    """Load another model's weights into ``model`` (which must have the same architecture, but for
    the head: a regression network's body may start a bins network, whose head then starts fresh)."""
    from .infer import load_model

    donor = load_model(None if str(source) == "shipped" else source)
    ours, theirs = network_config(model.config), network_config(donor.config)   # an output shrink has no weights
    head_changes = ours.pop("head", "regression") != theirs.pop("head", "regression")
    if ours != theirs:
        raise ValueError(f"--init {source}: its network {donor.config} differs from this run's {model.config}; "
                         "give the same --width, --hidden-layers, --norm, --hints, skips and --global-context")
    state = donor.state_dict()
    if head_changes:           # all but the output convolution (and the read-out's bin centres)
        own = model.state_dict()
        state = {name: value for name, value in state.items() if name in own and own[name].shape == value.shape}
        model.load_state_dict(state, strict=False)
    else:
        model.load_state_dict(state)
    model.train()
    fresh = "; the output layer starts fresh (another head)" if head_changes else ""
    say(f"starting from the weights of {'the shipped model' if str(source) == 'shipped' else source}{fresh}")


def _validate(model, val_photos: PhotoSet, step: int, val_size: int) -> dict:
    photos = [(p.name, np.asarray(image)) for p, image in zip(val_photos.paths, val_photos.images)]
    result = evaluate_photos(model, photos, size=None, image_size=val_size)["mean"]
    record = {"step": step, "val_psnr": result["psnr"], "val_psnr_gray": result["psnr_gray"],
              "val_above_gray": result["photos_above_gray"], "val_worst_gain": result["worst_gain"],
              "val_ab_rmse": result["ab_rmse"], "val_colorfulness": result["colorfulness"],
              "val_colorfulness_truth": result["colorfulness_truth"]}
    if "psnr_hints" in result:
        record["val_psnr_hints"] = result["psnr_hints"]
    return record


class WeightAverage:
    """Exponential moving average of a model's parameters (and a copy of its batch-norm statistics).

    ``average = d * average + (1 - d) * weight`` after every optimizer step,
    with ``d = min(decay, (1 + t) / (10 + t))`` at update t so that early
    averages are not dominated by the initial weights.  Validation and
    exported models use the average: it smooths the step-to-step swings of
    whole-image colour casts that single checkpoints show.
    """

    def __init__(self, model: nn.Module, decay: float, state: dict | None = None):
        self.live, self.decay, self.enabled = model, decay, decay > 0
        self._shadow = None
        self.updates = 0
        if not self.enabled:
            return
        self._shadow = build_model(model.config)
        if model.parameters()[0].data.dtype != self._shadow.parameters()[0].data.dtype:
            self._shadow.double()
        device = nn.backend.device_of(model.parameters()[0].data)
        if device != "cpu":
            self._shadow.to(device)
        if state is not None:
            self.updates = int(state.pop("updates", 0))
            self._shadow.load_state_dict(state)
        else:
            self._shadow.load_state_dict(model.state_dict())
        self._pairs = list(zip(self._shadow.parameters(), model.parameters()))

    def update(self) -> None:
        if not self.enabled:
            return
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for shadow, live in self._pairs:
            shadow.data *= decay
            shadow.data += (1 - decay) * live.data

    def model(self, calibration=None) -> nn.Module:
        """The model to validate and export: the average, or the live model when averaging is off.

        The average's batch-norm statistics are recomputed for its own weights over
        ``calibration``'s batches (:func:`nnscratch.update_batch_norm`); without it they are the live
        network's, gathered over its last few batches with the live weights.  Those do not
        belong to the averaged weights, so the scene-wide tint of the average would come and go
        from one checkpoint to the next with them (the figures are in docs/model-history.md).
        """
        if not self.enabled:
            return self.live
        self._shadow.load_state_dict(dict(self.live.named_buffers()), strict=False)
        if calibration is not None:
            xp = nn.get_array_module(self.live.parameters()[0].data)
            dtype = self.live.parameters()[0].data.dtype
            nn.update_batch_norm(self._shadow, (xp.asarray(batch, dtype=dtype) for batch in calibration))
            self._shadow.eval()
        return self._shadow


class CalibrationBatches:
    """The inputs over which the averaged weights' batch-norm statistics are recomputed:
    ``config["bn_batches"]`` batches of training crops, the same at every checkpoint (steps
    10**9 onwards of a sampler of their own, far from any training step), with hints as in
    training and no lightness jitter (photos as the network will colorize them)."""

    FIRST_STEP = 10**9

    def __init__(self, photos: PhotoSet, config: dict, hints: bool):
        self.count = int(config["bn_batches"])
        self.sampler = CropSampler(photos, config["batch_size"], config["crop"], config["seed"],
                                   tuple(config["scale"]), hints=hints)

    def __iter__(self):
        for index in range(self.count):
            yield self.sampler.batch(self.FIRST_STEP + index)[0]


def _progress_bar(total: int, start: int, enabled: bool):
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is a dependency, but training must not fail without it
        enabled = False
    if not enabled:
        class _Silent:
            def update(self, n): pass
            def set_postfix(self, **kw): pass
            def close(self): pass
        return _Silent()
    return tqdm(total=total, initial=start, unit="step", dynamic_ncols=True)


def _read_records(path: Path, up_to: int) -> list[dict]:
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a crash
        if record.get("step", 0) <= up_to:
            records.append(record)
    return records


def _write_records(path: Path, records: list[dict]) -> None:
    text = "".join(json.dumps(r) + "\n" for r in records).encode()
    write_atomically(path, lambda handle: handle.write(text))


def _append_record(path: Path, record: dict) -> None:
    with open(path, "a") as handle:
        handle.write(json.dumps(record) + "\n")
