"""Inference-time experiments on a trained colorizer, as the model card reports them.

    python experiments/colorizer_experiments.py scale --data val/ [--checkpoint RUN_OR_FILE]
    python experiments/colorizer_experiments.py views --data val/ [--checkpoint RUN_OR_FILE]
    python experiments/colorizer_experiments.py transforms --data val/ [--checkpoint RUN_OR_FILE]
    python experiments/colorizer_experiments.py shrink --data val/ [--checkpoint RUN_OR_FILE]
    python experiments/colorizer_experiments.py temperature --data val/ --checkpoint RUN_OR_FILE
    python experiments/colorizer_experiments.py soup A.npz B.npz [C.npz ...] [--weights 0.5 0.5] [--data train/] -o soup.npz
    python experiments/colorizer_experiments.py recalibrate A.npz --data train/ -o recalibrated.npz
    python experiments/colorizer_experiments.py ensemble A.npz B.npz [C.npz ...] --data val/ [--unshrunk]

* ``scale``: the predicted chroma times s (0.5 ... 1.1) — mean PSNR gain over gray, photos above
  it, the worst photo, colourfulness against the truth's.
* ``views``: the predictions of several views averaged (the mirror image, working sizes 224, 256
  and 288, both).
* ``transforms``: other ways of toning the predicted chroma down, each scored the same way — the
  photo's mean chroma (its tint) and the variation about it scaled separately; every pixel's chroma
  moved a fixed amount towards gray (a soft threshold); the mean chroma capped.
* ``shrink``: the model's output shrink (``colorize export --shrink``: each pixel's chroma shortened
  by that many Lab units, hue kept, fainter tints gray) from 0 to 8, exactly as the exported model
  would colorize; then how well choosing it by the mean gain carries over to unseen photos: the
  photos split in two halves (alternate files), the shrink chosen on one half and scored on the
  other, both ways.
* ``temperature``: a model trained with ``--loss bins`` read out at temperatures from 0.2 (bold:
  near the most likely bin) to 1 (the plain mean of the distribution) (``colorize export
  --temperature``), at no shrink; then the same two-fold check.
* ``soup``: the element-wise weighted average of the weights of several model files or
  checkpoints (a checkpoint gives its moving average), written as a model file that
  ``colorize evaluate --checkpoint soup.npz`` scores.  With ``--data`` (the training photos) the
  soup's batch-norm statistics are recomputed for its weights, as the trainer does for its moving
  average (``--bn-batches``); without, they are the average of the members' statistics.
* ``recalibrate``: one model's batch-norm statistics recomputed for its own weights over the
  batches the trainer would use (``--batches``, default 100, of 16 crops of the photos in ``--data``).
* ``ensemble``: the predictions (not the weights) of several models averaged — each model alone,
  then all of them together; for two models also the second one's share at 0.3, 0.5 and 0.7, each
  with the averaged chroma moved 0, 2, 4 and 6 Lab units towards gray (``--unshrunk``: each model
  without its own output shrink, so that the shrink is only the one after averaging).
Every photo is scored at full size, as ``colorize evaluate`` does.
"""
import argparse
from pathlib import Path

import numpy as np

import nnscratch as nn
from enhance.colorspace import lab_to_rgb
from colorize.data import PhotoSet
from colorize.infer import gray_baseline, image_lightness, load_model, predict_ab, resize_channel, save_model
from colorize.metrics import colorfulness, psnr
from colorize.model import AB_SCALE
from colorize.train import CalibrationBatches, TrainingSettings
from enhance import find_images, read_image


def recompute_statistics(model, data, batches=100):
    """The model's batch-norm statistics for its own weights, over the trainer's calibration batches
    of the photos in ``data`` (the trainer's default settings)."""
    defaults = TrainingSettings()
    photos = PhotoSet.from_paths(find_images(data), defaults.min_colorfulness, min_side=8, report=False,
                                 max_side=defaults.photo_size)
    config = {"bn_batches": batches, "batch_size": defaults.batch_size, "crop": defaults.crop,
              "seed": defaults.seed, "scale": defaults.scale}
    nn.update_batch_norm(model, CalibrationBatches(photos, config, model.config["hints"]))
    return model.eval()


def full_size_ab(model, light, size=256, mirror=False):
    view = np.ascontiguousarray(light[:, ::-1]) if mirror else light
    full = to_full_size(predict_ab(model, view, size), light.shape)
    return full[:, ::-1] if mirror else full


def to_full_size(ab, shape):
    """Working-size chroma (h, w, 2) resized to ``shape`` (H, W), as colorize() does."""
    height, width = shape
    return np.stack([resize_channel(ab[..., 0], width, height), resize_channel(ab[..., 1], width, height)], axis=-1)


def score(rows):
    """rows: (gain, colourfulness, truth colourfulness) per photo -> one line."""
    gains = np.array([r[0] for r in rows])
    ratio = np.mean([r[1] for r in rows]) / np.mean([r[2] for r in rows])
    return (f"gain {gains.mean():+.2f} dB, {int((gains > 0).sum())} of {len(gains)} above gray, "
            f"worst {gains.min():+.2f} dB, colourfulness {ratio:.0%}")


def tint_and_variation(tint, variation):
    """The photo's mean chroma times ``tint``, the variation about it times ``variation``."""
    def transform(ab):
        mean = ab.mean(axis=(0, 1))
        return tint * mean + variation * (ab - mean)
    return transform


def towards_gray(amount):
    """Every pixel's chroma moved ``amount`` (Lab units) towards gray, none past it."""
    def transform(ab):
        chroma = np.hypot(ab[..., 0], ab[..., 1])
        return ab * (np.maximum(chroma - amount, 0) / np.maximum(chroma, 1e-6))[..., None]
    return transform


def mean_chroma_at_most(limit):
    """The whole prediction scaled down where its mean chroma exceeds ``limit``."""
    def transform(ab):
        return ab * min(1.0, limit / max(float(np.hypot(ab[..., 0], ab[..., 1]).mean()), 1e-6))
    return transform


SHRINKS = (0, 1, 2, 3, 4, 5, 6, 8)
MIXES = (0.3, 0.5, 0.7)           # the second model's share in a two-model ensemble


def shrink_experiment(args):
    """Every shrink of SHRINKS on every photo (one network pass each), then the two-fold check."""
    model = load_model(args.checkpoint)
    rows = []                                 # per photo: (gain, colourfulness, truth's) per shrink
    for path in find_images(args.data):
        truth = read_image(path)[..., :3]
        light = image_lightness(truth)
        gray = psnr(gray_baseline(truth), truth)
        ab = predict_ab(model.set_shrink(0.0), light).transpose(2, 0, 1)[None] / AB_SCALE
        row = []
        for shrink in SHRINKS:
            small = nn.NormShrink(shrink / AB_SCALE).forward(ab)[0] * AB_SCALE   # what set_shrink(shrink) gives
            full = to_full_size(small.transpose(1, 2, 0), light.shape)
            rgb = np.rint(lab_to_rgb(np.concatenate([light[..., None], full], axis=-1)) * 255).astype(np.uint8)
            row.append((psnr(rgb, truth) - gray, colorfulness(rgb), colorfulness(truth)))
        rows.append(row)
    report_sweep(np.array(rows), "shrink", SHRINKS, SHRINKS.index(0))


def report_sweep(rows, setting, values, plain):
    """Print each value's score (rows: photos x values x (gain, colourfulness, truth's)), then the
    two-fold check: the value chosen by mean gain on alternate photos, scored on the others."""
    for index, value in enumerate(values):
        print(f"{f'{setting} {value}':<26} {score(rows[:, index])}")
    halves = (np.arange(len(rows)) % 2 == 0, np.arange(len(rows)) % 2 == 1)
    for chosen_on, scored_on in (halves, halves[::-1]):
        best = int(np.argmax(rows[chosen_on, :, 0].mean(axis=0)))
        print(f"chosen on one half: {setting} {values[best]}; the other half at it: {score(rows[scored_on, best])}, "
              f"at {setting} {values[plain]}: {score(rows[scored_on, plain])}")


TEMPERATURES = (0.2, 0.3, 0.38, 0.5, 0.7, 1.0)


def temperature_experiment(args):
    """Every read-out temperature of TEMPERATURES on every photo, as the exported model would colorize."""
    model = load_model(args.checkpoint).set_shrink(0.0)
    if model.readout is None:
        raise SystemExit(f"{args.checkpoint or 'the shipped model'} has the regression head: no temperature to sweep")
    rows = []
    for path in find_images(args.data):
        truth = read_image(path)[..., :3]
        light = image_lightness(truth)
        gray = psnr(gray_baseline(truth), truth)
        row = []
        for temperature in TEMPERATURES:
            full = to_full_size(predict_ab(model.set_temperature(temperature), light), light.shape)
            rgb = np.rint(lab_to_rgb(np.concatenate([light[..., None], full], axis=-1)) * 255).astype(np.uint8)
            row.append((psnr(rgb, truth) - gray, colorfulness(rgb), colorfulness(truth)))
        rows.append(row)
    report_sweep(np.array(rows), "temperature", TEMPERATURES, TEMPERATURES.index(0.38))


def experiment(args, variants, models=None):
    """Score each variant: ``name -> (views, change)``, a view being ``(size, mirror)`` or, with
    several ``models``, ``(size, mirror, model index)`` or ``(size, mirror, model index, weight)``;
    the views' chroma is averaged (weighted where weights are given), then scaled by ``change`` (a
    number) or transformed by it (a function of the full-size chroma)."""
    models = models or [load_model(args.checkpoint)]
    results = {name: [] for name in variants}
    for path in find_images(args.data):
        truth = read_image(path)[..., :3]
        light = image_lightness(truth)
        gray = psnr(gray_baseline(truth), truth)
        cache = {}
        for name, (views, change) in variants.items():
            ab = np.average([cache.setdefault(v[:3], full_size_ab(models[v[2] if len(v) > 2 else 0], light, *v[:2]))
                             for v in views], axis=0, weights=[v[3] if len(v) > 3 else 1.0 for v in views])
            ab = change(ab) if callable(change) else ab * change
            rgb = np.rint(lab_to_rgb(np.concatenate([light[..., None], ab], axis=-1)) * 255).astype(np.uint8)
            results[name].append((psnr(rgb, truth) - gray, colorfulness(rgb), colorfulness(truth)))
    width = max(26, *map(len, results))
    for name, rows in results.items():
        print(f"{name:<{width}} {score(rows)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    for name in ("scale", "views", "transforms", "shrink", "temperature"):
        one = sub.add_parser(name)
        one.add_argument("--data", required=True, help="folder of colour validation photos")
        one.add_argument("--checkpoint", help="model file, checkpoint or run folder (default: the shipped model)")
    ensemble = sub.add_parser("ensemble")
    ensemble.add_argument("models", nargs="+")
    ensemble.add_argument("--data", required=True, help="folder of colour validation photos")
    ensemble.add_argument("--unshrunk", action="store_true", help="each model without its output shrink")
    soup = sub.add_parser("soup")
    soup.add_argument("models", nargs="+")
    soup.add_argument("--weights", nargs="+", type=float)
    soup.add_argument("--data", help="training photos: recompute the soup's batch-norm statistics over them")
    soup.add_argument("-o", "--output", required=True)
    again = sub.add_parser("recalibrate")
    again.add_argument("model")
    again.add_argument("--data", required=True, help="the training photos")
    for one in (soup, again):
        one.add_argument("--batches", type=int, default=100, help="calibration batches of 16 crops (default 100)")
    again.add_argument("-o", "--output", required=True)
    args = parser.parse_args()
    if args.what == "shrink":
        shrink_experiment(args)
    elif args.what == "temperature":
        temperature_experiment(args)
    elif args.what == "scale":
        experiment(args, {f"chroma x {s}": ([(256, False)], s) for s in (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1)})
    elif args.what == "views":
        sizes = [(224, False), (256, False), (288, False)]
        experiment(args, {"one view": ([(256, False)], 1.0), "mirror": ([(256, False), (256, True)], 1.0),
                          "three sizes": (sizes, 1.0), "sizes and mirrors": (sizes + [(s, True) for s, _ in sizes], 1.0)})
    elif args.what == "transforms":
        one = [(256, False)]
        variants = {f"tint x {t}, variation x {v}": (one, tint_and_variation(t, v))
                    for t in (0.0, 0.5, 1.0) for v in (0.6, 0.8, 1.0)}
        variants.update({f"chroma - {c} towards gray": (one, towards_gray(c)) for c in (2, 4, 8)})
        variants.update({f"mean chroma at most {m}": (one, mean_chroma_at_most(m)) for m in (6, 10)})
        experiment(args, variants)
    elif args.what == "ensemble":
        models = [load_model(Path(m)) for m in args.models]
        if args.unshrunk:
            models = [m.set_shrink(0.0) for m in models]
        variants = {f"model {i + 1} alone": ([(256, False, i)], 1.0) for i in range(len(models))}
        variants["all averaged"] = ([(256, False, i) for i in range(len(models))], 1.0)
        if len(models) == 2:   # the trade between the two and a shrink after averaging
            variants.update({f"{1 - w:.1f} x model 1 + {w:.1f} x model 2, chroma - {c} towards gray":
                             ([(256, False, 0, 1 - w), (256, False, 1, w)], towards_gray(c))
                             for w in MIXES for c in (0, 2, 4, 6)})
        experiment(args, variants, models)
    elif args.what == "recalibrate":
        save_model(recompute_statistics(load_model(Path(args.model)), args.data, args.batches), args.output)
        print(f"wrote {args.output}: {args.model} with batch-norm statistics recomputed over {args.data}")
    else:
        weights = args.weights or [1 / len(args.models)] * len(args.models)
        if len(weights) != len(args.models):
            parser.error("give one weight per model")
        models = [load_model(Path(m)) for m in args.models]
        states = [m.state_dict() for m in models]
        average = {k: sum(w * s[k].astype(np.float64) for w, s in zip(weights, states)).astype(np.float32)
                   if states[0][k].dtype.kind == "f" else states[0][k] for k in states[0]}
        soup = models[0]
        soup.load_state_dict(average)
        if args.data:
            recompute_statistics(soup, args.data, args.batches)
        save_model(soup, args.output)
        print(f"wrote {args.output}: " + " + ".join(f"{w:g} x {m}" for w, m in zip(weights, args.models))
              + (f", batch-norm statistics recomputed over {args.data}" if args.data else ""))


if __name__ == "__main__":
    main()
