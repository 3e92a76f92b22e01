"""Video: how steady, how good and how fast, for each way of colorizing the frames, side by side.

    python benchmarks/video.py --data val/ [--photos 6] [--out benchmarks/video-DATE.md]

Clips are built from colour photos (the validation photos, never trained on), so every frame has
its truth, and a scene point's colour is known to stay the same:

* a still with film grain: the photo held for 12 frames, each with new grain (Gaussian, 4 levels)
  and an exposure flicker of up to 3 %;
* a pan: a window of 60 % of the photo's width sliding right 3 pixels a frame for 12 frames.

For each method: the mean gain over gray (PSNR of the frames against their truth, less that of
the gray frames), the flicker on the still (the mean change of (a, b) from one frame to the next),
the drift on the pan (the spread over time of the colour of each scene point that stays in view,
Lab units) and the time per frame; then frames per second for 640 x 480 frames.

Methods: ``frame by frame`` (each frame on its own); ``carried, no motion`` (the previous frame's
chroma blended in where the lightness is unchanged, without following motion); ``carried through
motion`` (the same through the shift estimated from the lightness: what ``colorize video`` does).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from colorize.data import read_image, to_rgb_uint8
from enhance.io import find_images
from colorize.infer import gray_baseline, load_model
from colorize.metrics import ab_of, psnr
from colorize.video import FrameColorizer, colorize_frames

METHODS = {"frame by frame": {"steady": False}, "carried, no motion": {"motion": False},
           "carried through motion": {}}
FRAMES, STEP = 12, 3


def clips(photo: np.ndarray, seed: int):
    """(still with grain, pan) of a photo (uint8 RGB, long side about 320)."""
    rng = np.random.default_rng(seed)
    still = photo.astype(np.float64)
    grainy = [np.clip(still * rng.uniform(0.97, 1.03) + rng.normal(0, 4, still.shape[:2])[..., None], 0, 255)
              .astype(np.uint8) for _ in range(FRAMES)]
    width = int(photo.shape[1] * 0.6)
    panned = [np.ascontiguousarray(photo[:, STEP * t:STEP * t + width]) for t in range(FRAMES)]
    return grainy, panned, still.astype(np.uint8)


def flicker(frames) -> float:
    return float(np.mean([np.hypot(*(ab_of(b) - ab_of(a)).transpose(2, 0, 1)).mean()
                          for a, b in zip(frames, frames[1:])]))


def drift(frames) -> float:
    width = frames[0].shape[1]
    first = STEP * (len(frames) - 1)
    stack = np.stack([ab_of(frame)[:, first - STEP * t:width - STEP * t] for t, frame in enumerate(frames)])
    return float(np.hypot(*stack.std(axis=0).transpose(2, 0, 1)).mean())


def gain(frames, truths) -> float:
    return float(np.mean([psnr(f, t) - psnr(gray_baseline(t), t) for f, t in zip(frames, truths)]))


def measure(model, photos):
    rows = {name: {"gain": [], "flicker": [], "drift": [], "seconds": []} for name in METHODS}
    for seed, photo in enumerate(photos):
        grainy, panned, still = clips(photo, seed)
        truths = [still] * FRAMES + [np.ascontiguousarray(photo[:, STEP * t:STEP * t + panned[0].shape[1]])
                                     for t in range(FRAMES)]
        for name, options in METHODS.items():
            started = time.perf_counter()
            colorizer = FrameColorizer(model, **options)
            still_out = [colorizer(frame) for frame in grainy]
            colorizer = FrameColorizer(model, **options)
            pan_out = [colorizer(frame) for frame in panned]
            rows[name]["seconds"].append((time.perf_counter() - started) / (2 * FRAMES))
            rows[name]["gain"].append(gain(still_out + pan_out, truths))
            rows[name]["flicker"].append(flicker(still_out))
            rows[name]["drift"].append(drift(pan_out))
    return {name: {key: float(np.mean(values)) for key, values in row.items()} for name, row in rows.items()}


def throughput(model, photo, frames: int = 10) -> dict:
    frame = np.asarray(Image.fromarray(photo).resize((640, 480), Image.LANCZOS))
    result = {}
    for name, options in METHODS.items():
        colorizer = FrameColorizer(model, **options)
        colorizer(frame)
        started = time.perf_counter()
        for _ in range(frames):
            colorizer(frame)
        result[name] = frames / (time.perf_counter() - started)
    return result


def large_frames(model, photo, width: int = 3840, height: int = 2160) -> list[str]:
    """Peak traced memory and time per frame for 2 and 6 frames of ``width`` x ``height`` streamed through
    :func:`colorize_frames` (steady colour): the same peak for both when nothing holds the film."""
    import tracemalloc

    big = np.asarray(Image.fromarray(photo).convert("L").resize((width, height), Image.LANCZOS))
    lines = []
    for count in (2, 6):
        tracemalloc.start()
        started = time.perf_counter()
        for _ in colorize_frames((np.roll(big, 4 * t, axis=1) for t in range(count)), model):
            pass
        spent = (time.perf_counter() - started) / count
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        lines.append(f"| {count} | {peak / 2**20:.0f} MiB | {spent:.2f} s |")
    return [f"{width}x{height} gray frames streamed through colorize_frames (tracemalloc's peak):", "",
            "| frames | peak memory | per frame |", "|---|---|---|", *lines]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="folder of colour photos (the validation photos)")
    parser.add_argument("--photos", type=int, default=6, help="how many of them (default 6)")
    parser.add_argument("--checkpoint", help="model file or checkpoint (default: the shipped model)")
    parser.add_argument("--out", help="also write the tables to this markdown file")
    args = parser.parse_args()
    model = load_model(args.checkpoint)
    photos = []
    for path in find_images(args.data)[:args.photos]:
        image = Image.fromarray(to_rgb_uint8(read_image(path)))
        image.thumbnail((320, 320), Image.LANCZOS)
        photos.append(np.asarray(image))
    rows = measure(model, photos)
    speed = throughput(model, photos[0])
    base = rows["frame by frame"]
    lines = [f"{len(photos)} photos of {args.data}, {FRAMES} frames per clip; flicker and drift in Lab units "
             "(ratio to frame by frame)", "",
             "| method | gain over gray | still: flicker | pan: drift | s / frame (320 px) | frames/s at 640x480 |",
             "|---|---|---|---|---|---|"]
    for name, row in rows.items():
        lines.append(f"| {name} | {row['gain']:+.2f} dB | {row['flicker']:.3f} ({row['flicker'] / base['flicker']:.0%}) "
                     f"| {row['drift']:.3f} ({row['drift'] / base['drift']:.0%}) | {row['seconds']:.3f} "
                     f"| {speed[name]:.2f} |")
    lines += ["", *large_frames(model, photos[0])]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(f"# colorize video, {time.strftime('%Y-%m-%d')}\n\n"
                                  f"`python benchmarks/video.py --data val/ --photos {args.photos}`\n\n{text}\n")


if __name__ == "__main__":
    main()
