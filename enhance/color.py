"""Per-channel colour: RGB gains, channel statistics and their histogram figure."""
from __future__ import annotations

import numpy as np

from nnscratch.backend import asnumpy, get_array_module

from .image import FACTOR_LIMIT, check_image, check_number, is_colour, join_alpha, max_value, saturate, split_alpha
from .point import saturation  # noqa: F401  (re-exported: colour saturation lives with colour)


def rgb(image, red: float = 1.0, green: float = 1.0, blue: float = 1.0):
    """Multiply the red, green and blue channels by their gains.

    Integers are rounded half to even and saturated; floats are clipped to
    [0, 1]; alpha passes through.  A gray image is returned unchanged unless
    the three gains are equal (then it is scaled by that gain).
    """
    check_image(image, "rgb")
    gains = [check_number(v, name, minimum=0, maximum=FACTOR_LIMIT)
             for v, name in ((red, "red"), (green, "green"), (blue, "blue"))]
    colour, alpha = split_alpha(image)
    xp = get_array_module(colour)
    if is_colour(colour):
        out = colour.astype(np.float64) * xp.asarray(gains)
    elif len(set(gains)) == 1:
        out = colour.astype(np.float64) * gains[0]
    else:
        raise ValueError("rgb gains differ, but the image is gray: convert it to RGB first")
    return join_alpha(saturate(out, colour.dtype), alpha)


def channel_stats(image) -> dict:
    """Minimum, maximum, mean, standard deviation and 256-bin histogram of each channel.

    Returns ``{channel name: {"min", "max", "mean", "std", "histogram"}}`` with
    names R, G, B (and A), or L for gray.  Histograms span the dtype's range.
    """
    check_image(image, "channel_stats")
    array = asnumpy(image)
    if array.ndim == 2:
        array = array[..., None]
    names = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[array.shape[2]]
    top = max_value(array.dtype)
    stats = {}
    for index, name in enumerate(names):
        channel = array[..., index].astype(np.float64)
        histogram, _ = np.histogram(channel, bins=256, range=(0, top))
        stats[name] = {"min": float(channel.min()), "max": float(channel.max()), "mean": float(channel.mean()),
                       "std": float(channel.std()), "histogram": histogram}
    return stats


def histogram_figure(image, title: str = ""):
    """A matplotlib Figure with one histogram curve per channel (no pyplot state touched)."""
    from matplotlib.figure import Figure

    stats = channel_stats(image)
    colours = {"R": "tab:red", "G": "tab:green", "B": "tab:blue", "L": "0.3", "A": "0.6"}
    figure = Figure(figsize=(6, 3.2), dpi=100)
    axes = figure.add_subplot(1, 1, 1)
    top = max_value(image.dtype)
    levels = np.linspace(0, top, 256)
    for name, values in stats.items():
        axes.plot(levels, values["histogram"], color=colours[name], label=name, linewidth=1)
    axes.set_xlim(0, top)
    axes.set_xlabel("level")
    axes.set_ylabel("pixels")
    axes.legend(loc="upper right")
    if title:
        axes.set_title(title)
    figure.tight_layout()
    return figure
