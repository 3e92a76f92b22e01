"""Worked answers, chapter 5."""

from colorize import Colorizer
from enhance.colorspace import lab_to_rgb, rgb_to_lab
from colorize.model import layer_table


def without_colour(rgb):
    lab = rgb_to_lab(rgb)
    lab[..., 1:] = 0
    return lab_to_rgb(lab)


def heaviest_layers():
    rows = layer_table(Colorizer())
    return (max(rows, key=lambda r: r["params"])["index"], max(rows, key=lambda r: r["flops_per_megapixel"])["index"])
