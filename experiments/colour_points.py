"""Colour points: does a point colour its object, and only it?  Ways of spreading points, compared.

    python experiments/colour_points.py --data val/ [--checkpoint FILE] [--scenes 12] [--methods ...]

For each method, on synthetic scenes (:func:`colorize.metrics.point_scene`) and on the validation
photos that show one object of a clear colour (its mask grown from the truth's chroma around the
object's most colourful spot, :func:`colorize.metrics.object_mask`), with 1 and 3 points taken from
the truth inside the object (the 5 x 5 mean colour): reach, hue error, leak and stamp
(:func:`colorize.metrics.point_figures`).  Then, on every photo in ``--data``, the mean PSNR gain
over gray with 1, 3 and 10 points sampled from the truth (:func:`colorize.hints.truth_hints`).

Methods:
* ``gaussian``: the network sees the points; a Gaussian in place and lightness spreads each
  point's correction (the spread before the geodesic one, kept here for the comparison);
* ``geodesic``: the network sees the points; :func:`colorize.spread.spread_points` spreads them;
* ``geodesic-auto``: the network sees no points (its automatic colours, computed once per photo);
  :func:`colorize.spread.spread_points` spreads them.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from enhance.colorspace import lab_to_rgb
from colorize.data import read_image
from enhance.io import find_images
from colorize.hints import check_hints, hint_chroma, truth_hints
from colorize.infer import WORKING_SIZE, AutomaticColours, colorize, image_lightness, load_model, network_ab, resize_channel
from colorize.metrics import ab_of, object_mask, point_figures, point_scene, psnr
from colorize.spread import spread_points

METHODS = ("gaussian", "geodesic", "geodesic-auto")
# The Gaussian spread's constants, as they were chosen for it on training photos.
SPREAD_DISTANCE = 0.25     # spatial reach: standard deviation as a fraction of the working image's long side
SPREAD_LIGHTNESS = 10.0    # reach in lightness: standard deviation in CIE L units
SPREAD_PRIOR = 0.05        # weight of "no correction" against the points' summed weights


def gaussian_spread(ab, small, hints, shape):
    """The earlier spread: each point's correction of the network's mean over its 5 x 5 square,
    spread with weights Gaussian in place and in lightness."""
    rows, cols = small.shape
    reach = 2 * (SPREAD_DISTANCE * max(rows, cols)) ** 2
    line, column = np.arange(rows)[:, None], np.arange(cols)[None, :]
    weighted, total = np.zeros((rows, cols, 2)), np.zeros((rows, cols))
    for (row, col), colour in zip(centres_of(hints, shape, small.shape), hint_chroma([c for *_, c in hints])):
        window = (slice(max(row - 2, 0), row + 3), slice(max(col - 2, 0), col + 3))
        weight = np.exp(-((line - row) ** 2 + (column - col) ** 2) / reach
                        - (small - small[window].mean()) ** 2 / (2 * SPREAD_LIGHTNESS ** 2))
        weighted += weight[..., None] * (colour - ab[window].reshape(-1, 2).mean(axis=0))
        total += weight
    return (ab + weighted / (SPREAD_PRIOR + total)[..., None]).astype(ab.dtype)


def centres_of(hints, shape, working):
    return [(min(int(y * working[0] / shape[0]), working[0] - 1), min(int(x * working[1] / shape[1]), working[1] - 1))
            for y, x, _ in hints]


def colorize_with(method, model, truth, hints, cache):
    """The result (uint8 RGB) of ``method`` with ``hints`` on the gray of ``truth``."""
    light = image_lightness(truth)
    hints = check_hints(hints, *light.shape)
    if "auto" not in cache:
        cache["auto"] = network_ab(model, light, WORKING_SIZE)
    if method == "geodesic-auto" or not hints:
        ab, small = cache["auto"]
    else:
        ab, small = network_ab(model, light, WORKING_SIZE, hints)
    if hints and method == "gaussian":
        ab = gaussian_spread(ab, small, hints, light.shape)
    elif hints:
        ab = spread_points(ab, small, centres_of(hints, light.shape, small.shape), hint_chroma([c for *_, c in hints]))
    full = np.stack([resize_channel(ab[..., i], light.shape[1], light.shape[0]) for i in range(2)], axis=-1)
    return np.rint(lab_to_rgb(np.concatenate([light[..., None], full], axis=-1)) * 255).astype(np.uint8)


def points_in(mask, count, rng, truth, first=None):
    """``count`` points inside ``mask`` (at least 4 px from its edge where it can), the 5 x 5 mean colour each."""
    inner = mask.copy()
    for axis in (0, 1):
        for shift in (4, -4):
            inner &= np.roll(mask, shift, axis=axis)
    candidates = np.argwhere(inner if inner.any() else mask)
    chosen = [first] if first is not None else []
    while len(chosen) < count:
        chosen.append(tuple(candidates[rng.integers(len(candidates))]))
    hints = []
    for y, x in chosen:
        patch = truth[max(0, y - 2):y + 3, max(0, x - 2):x + 3].reshape(-1, 3).mean(axis=0)
        hints.append((int(y), int(x), tuple(int(v) for v in np.rint(patch))))
    return hints


def most_colourful_spot(truth):
    """The pixel of highest chroma after a 15 x 15 box average (the seed of the object mask)."""
    chroma = np.hypot(*ab_of(truth).transpose(2, 0, 1))
    padded = np.pad(chroma, 7, mode="edge").cumsum(0).cumsum(1)
    padded = np.pad(padded, ((1, 0), (1, 0)))
    box = padded[15:, 15:] - padded[:-15, 15:] - padded[15:, :-15] + padded[:-15, :-15]
    return np.unravel_index(np.argmax(box), box.shape)


def object_cases(args):
    """(name, truth, mask, seed) for each synthetic scene and each validation photo with one clear object."""
    for seed in range(args.scenes):
        truth, mask = point_scene(seed)
        yield f"scene {seed}", truth, mask, None
    for path in find_images(args.data):
        truth = read_image(path)[..., :3]
        y, x = most_colourful_spot(truth)
        mask = object_mask(truth, y, x)
        share = mask.mean()
        chroma = np.hypot(*ab_of(truth)[mask].T).mean()
        if 0.02 <= share <= 0.5 and chroma >= 20:
            yield path.name, truth, mask, (y, x)


def object_figures(args, model, methods):
    rows = {(m, n): [] for m in methods for n in (1, 3)}
    for name, truth, mask, seed in object_cases(args):
        cache = {}
        automatic = colorize_with(methods[0], model, truth, [], cache)
        line = [f"{name[:28]:<28} {100 * mask.mean():4.1f}%"]
        for count in (1, 3):
            hints = points_in(mask, count, np.random.default_rng(count), truth, seed)
            for method in methods:
                figures = point_figures(colorize_with(method, model, truth, hints, cache), automatic, truth, mask,
                                        [(y, x) for y, x, _ in hints])
                rows[method, count].append(figures)
                line.append(f"{figures['reach']:4.0%} {figures['leak']:4.1f} {figures['stamp']:4.1f}")
        print("  ".join(line), flush=True)
    print(f"\n{'method':<16} {'points':>6} {'cases':>5} {'reach':>6} {'hue':>6} {'leak':>6} {'stamp':>6}"
          f"   (targets: reach >= 75 %, hue <= 20 deg, leak <= 3, stamp <= 6)")
    for (method, count), figures in rows.items():
        mean = {k: float(np.mean([f[k] for f in figures])) for k in figures[0]}
        print(f"{method:<16} {count:>6} {len(figures):>5} {mean['reach']:>6.0%} {mean['hue']:>5.1f}° "
              f"{mean['leak']:>6.2f} {mean['stamp']:>6.2f}")


def gains(args, model, methods):
    gains = {(m, n): [] for m in methods for n in (1, 3, 10)}
    for path in find_images(args.data):
        truth = read_image(path)[..., :3]
        gray = psnr(np.rint(lab_to_rgb(np.stack([image_lightness(truth)] + [np.zeros(truth.shape[:2])] * 2, -1))
                            * 255).astype(np.uint8), truth)
        cache = {}
        for count in (1, 3, 10):
            hints = truth_hints(truth, count, path.name)
            for method in methods:
                gains[method, count].append(psnr(colorize_with(method, model, truth, hints, cache), truth) - gray)
    print(f"\nmean gain over gray on {len(gains[methods[0], 1])} photos of {args.data}, points from the truth")
    print(f"{'method':<16}" + "".join(f" {f'{n} points':>10}" for n in (1, 3, 10)))
    for method in methods:
        print(f"{method:<16}" + "".join(f" {np.mean(gains[method, n]):>+9.2f}dB" for n in (1, 3, 10)))


def timing(model):
    """Seconds for one more point on a 512 px preview: the spread alone, a whole colorize() call with
    the network's colours remembered (what the web page waits for, less the PNG), and the network."""
    truth, mask = point_scene(0, 384, 512)
    light = image_lightness(truth)
    hints = check_hints(points_in(mask, 1, np.random.default_rng(0), truth), *light.shape)
    ab, small = network_ab(model, light, 512)
    chroma = hint_chroma([c for *_, c in hints])
    started = time.perf_counter()
    spread_points(ab, small, centres_of(hints, light.shape, small.shape), chroma)
    spread = time.perf_counter() - started
    automatic = AutomaticColours()
    colorize(truth, model, hints=[], automatic=automatic)
    started = time.perf_counter()
    colorize(truth, model, hints=hints, automatic=automatic)
    whole = time.perf_counter() - started
    started = time.perf_counter()
    network_ab(model, light, 512, hints)
    network = time.perf_counter() - started
    print(f"\n512 px preview, one point: the spread {spread:.3f} s; colorize() with the network's colours "
          f"remembered {whole:.3f} s; the network {network:.3f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="folder of colour validation photos")
    parser.add_argument("--checkpoint", help="model file or checkpoint (default: the shipped model)")
    parser.add_argument("--scenes", type=int, default=12, help="synthetic scenes (default 12)")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--skip-gains", action="store_true", help="only the object figures")
    args = parser.parse_args()
    model = load_model(args.checkpoint)
    object_figures(args, model, args.methods)
    if not args.skip_gains:
        gains(args, model, args.methods)
    timing(model)


if __name__ == "__main__":
    main()
