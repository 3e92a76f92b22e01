"""Colour hints: a user's coloured points, and how the network sees them.

A hint is ``(y, x, colour)``: a point in the input image's pixel coordinates
(ints or floats, ``0 <= y < height``, ``0 <= x < width``) and an sRGB colour,
``(r, g, b)`` with 0–255 ints or ``"#rrggbb"``.  Only the colour's chroma
(CIE a, b) is used; the photo keeps its own lightness.

The network sees hints as three extra input channels at its working
resolution (Zhang et al., "Real-Time User-Guided Image Colorization with
Learned Deep Priors", SIGGRAPH 2017):

    hint a / 110, hint b / 110   the hint's chroma at hinted pixels, 0 elsewhere
    mask                         1 at hinted pixels, 0 elsewhere

A point marks a small square (5 x 5 working pixels) around it; where
squares overlap, their chroma is averaged.  No points (an all-zero mask)
is automatic colorization.

A user's points, though, are not given to the network: colorizing runs
the network without them (its automatic colours, which the web page keeps
while points are added) and then :func:`spread_hints` carries each point's
colour over the object it was placed on, stopping at the object's edges
(:mod:`colorize.spread`).  The network that sees the points prints a dot of
its own colour at each, which blocks the spread; this way the points colour
their objects and only them (the figures are in docs/colorizing.md), and
every model follows points, whether or not it was trained with hint input.

During training (:func:`training_hint_channels`) each crop gets a random
number of points (none for half the crops, otherwise geometric with mean 8),
each a random 1x1 … 9x9 patch marked with its mean true chroma, as Zhang et
al. reveal patches, so one network learns both tasks.  (Single-pixel marks
were tried first: a small network trained on flat colours for 300 steps
barely followed them, while it follows a 5 x 5 mark closely.)

Files and the web API write hints as JSON: ``[{"y": 120, "x": 40, "color": "#c03020"}, ...]``.
"""
from __future__ import annotations

import json
import math
import re
import zlib
from pathlib import Path

import numpy as np

from enhance.colorspace import lab_to_rgb, rgb_to_lab
from .model import AB_SCALE
from .spread import region_colours, spread_points

HINT_CHANNELS = 3
_HEX = re.compile(r"^#([0-9a-fA-F]{6})$")
NO_HINT_PROBABILITY = 0.5       # share of training crops without any point
POINTS_GEOMETRIC_P = 1 / 8      # otherwise 1, 2, ... points, mean 1/p
MAX_PATCH = 9                   # training: a random 1x1 ... 9x9 patch of the truth, marked with its mean
HINT_PATCH = 5                  # a user's point marks this square of working pixels (the mean training patch)


def parse_color(color) -> tuple[int, int, int]:
    """``"#rrggbb"`` or ``(r, g, b)`` with 0–255 integers -> ``(r, g, b)``; ValueError otherwise."""
    if isinstance(color, str):
        match = _HEX.match(color.strip())
        if not match:
            raise ValueError(f"colour {color!r} is not of the form '#rrggbb'")
        value = int(match.group(1), 16)
        return value >> 16, (value >> 8) & 255, value & 255
    try:
        channels = list(color)
    except TypeError:
        raise ValueError(f"colour {color!r} is neither '#rrggbb' nor (r, g, b)") from None
    if len(channels) != 3 or not all(isinstance(c, (int, np.integer)) and not isinstance(c, bool)
                                     and 0 <= c <= 255 for c in channels):
        raise ValueError(f"colour {color!r} is not (r, g, b) with integers 0-255")
    return int(channels[0]), int(channels[1]), int(channels[2])


def check_hints(hints, height: int, width: int) -> list[tuple[float, float, tuple[int, int, int]]]:
    """Validate hints for an image of ``height`` x ``width``; return them as ``(y, x, (r, g, b))``.

    Raises ValueError naming the first bad hint (not a triple, a coordinate
    that is not a finite number inside the image, a malformed colour).
    """
    if hints is None:
        return []
    if isinstance(hints, (str, bytes, dict)):
        raise ValueError("hints must be a sequence of (y, x, colour) points")
    checked = []
    for number, hint in enumerate(hints, 1):
        try:
            y, x, colour = hint
        except (TypeError, ValueError):
            raise ValueError(f"hint {number} ({hint!r}) is not a (y, x, colour) triple") from None
        for name, value, limit in (("y", y, height), ("x", x, width)):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise ValueError(f"hint {number} ({hint!r}): {name} must be a number, got {value!r}")
            if not math.isfinite(value) or not 0 <= value < limit:
                raise ValueError(f"hint {number} ({hint!r}): {name}={value} is outside the image "
                                 f"(0 <= {name} < {limit})")
        try:
            rgb = parse_color(colour)
        except ValueError as error:
            raise ValueError(f"hint {number} ({hint!r}): {error}") from None
        checked.append((float(y), float(x), rgb))
    return checked


def hint_chroma(colours) -> np.ndarray:
    """CIE (a, b) of sRGB 0–255 colours: (K, 2) float32."""
    rgb = np.asarray(colours, dtype=np.float32).reshape(-1, 1, 3) / 255
    return rgb_to_lab(rgb)[:, 0, 1:].astype(np.float32)


def _hint_centres(hints, image_shape: tuple[int, int], working_shape: tuple[int, int]):
    """The working pixel each checked hint lands on: ``(floor(y * h / H), floor(x * w / W))``."""
    height, width = image_shape
    rows, cols = working_shape
    return [(min(int(y * rows / height), rows - 1), min(int(x * cols / width), cols - 1)) for y, x, _ in hints]


def _hint_squares(centres, patch: int):
    """The ``patch`` x ``patch`` square of working pixels around each centre, cut at the image's
    edges: (rows, cols) slices."""
    squares = []
    for row, col in centres:
        top, left = row - patch // 2, col - patch // 2
        squares.append((slice(max(top, 0), max(top + patch, 0)), slice(max(left, 0), max(left + patch, 0))))
    return squares


def hint_channels(hints, image_shape: tuple[int, int], working_shape: tuple[int, int],
                  patch: int = HINT_PATCH) -> np.ndarray:
    """The network's hint input (3, h, w) float32 for checked hints on an image of ``image_shape``.

    Each point marks the ``patch`` x ``patch`` square of working pixels around it (as training
    marks a patch per point); where points' squares overlap their chroma is averaged.
    """
    rows, cols = working_shape
    channels = np.zeros((HINT_CHANNELS, rows, cols), dtype=np.float32)
    if not hints:
        return channels
    chroma = hint_chroma([colour for _, _, colour in hints]) / AB_SCALE
    sums = np.zeros((2, rows, cols))
    counts = np.zeros((rows, cols))
    for window, value in zip(_hint_squares(_hint_centres(hints, image_shape, working_shape), patch), chroma):
        sums[(slice(None), *window)] += value[:, None, None]
        counts[window] += 1
    np.divide(sums, counts, out=channels[:2], where=counts > 0, casting="unsafe")
    channels[2] = counts > 0
    return channels


def spread_hints(ab: np.ndarray, lightness: np.ndarray, hints, image_shape: tuple[int, int]) -> np.ndarray:
    """The network's chroma ``ab`` (h, w, 2) with the points' colours spread over their objects
    (:func:`colorize.spread.spread_points`); ``lightness`` (h, w) is the CIE L the network saw, both
    at the working resolution, and ``hints`` are checked hints on an image of ``image_shape``.
    No hints: ``ab`` unchanged."""
    if not hints:
        return ab
    centres = _hint_centres(hints, image_shape, lightness.shape)
    return spread_points(ab, lightness, centres, hint_chroma([colour for _, _, colour in hints]))


def suggested_colours(ab: np.ndarray, lightness: np.ndarray, y: float, x: float,
                      image_shape: tuple[int, int], count: int = 3) -> list[str]:
    """A palette for a point at ``(y, x)`` of an image of ``image_shape``: the network's main colours
    over the point's region (:func:`colorize.spread.region_colours`), each as predicted and with
    twice its chroma (the network's colours are cautious), at the point's own lightness, as
    ``"#rrggbb"``; ``ab`` and ``lightness`` are the network's chroma and lightness at the working
    resolution."""
    (row, col), = _hint_centres([(y, x, None)], image_shape, lightness.shape)
    swatches = []
    for colour in region_colours(ab, lightness, (row, col), count):
        for scale in (1.0, 2.0):
            lab = np.array([[[lightness[row, col], *(scale * colour)]]], dtype=np.float32)
            rgb = np.rint(np.clip(lab_to_rgb(lab)[0, 0], 0, 1) * 255).astype(int)
            text = "#" + "".join(f"{v:02x}" for v in rgb)
            if text not in swatches:
                swatches.append(text)
    return swatches


def training_hint_channels(ab_target: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random hints drawn from a crop's true chroma ``ab_target`` (2, H, W) (ab / 110): (3, H, W) float32."""
    _, height, width = ab_target.shape
    channels = np.zeros((HINT_CHANNELS, height, width), dtype=np.float32)
    if rng.random() < NO_HINT_PROBABILITY:
        return channels
    for _ in range(int(rng.geometric(POINTS_GEOMETRIC_P))):
        y, x = int(rng.integers(height)), int(rng.integers(width))
        side = int(rng.integers(1, MAX_PATCH + 1))
        top, left = max(0, y - side // 2), max(0, x - side // 2)
        patch = ab_target[:, top:top + side, left:left + side]
        channels[:2, top:top + side, left:left + side] = patch.mean(axis=(1, 2))[:, None, None]
        channels[2, top:top + side, left:left + side] = 1.0
    return channels


def truth_hints(rgb: np.ndarray, count: int, name: str = "") -> list[tuple[int, int, tuple[int, int, int]]]:
    """``count`` hints sampled from a colour photo's truth, as a user who knew the colours would give them.

    Points are uniform over the image; each colour is the photo's mean RGB
    in a 5x5 patch.  Seeded by ``name`` (e.g. the file name), so an
    evaluation gives the same points every time.
    """
    height, width = rgb.shape[:2]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    hints = []
    for _ in range(count):
        y, x = int(rng.integers(height)), int(rng.integers(width))
        patch = rgb[max(0, y - 2):y + 3, max(0, x - 2):x + 3, :3].reshape(-1, 3).astype(np.float64)
        hints.append((y, x, tuple(int(v) for v in np.rint(patch.mean(axis=0)))))
    return hints


# -- text forms ----------------------------------------------------------------------------------------

def parse_hint_option(text: str) -> tuple[float, float, str]:
    """``"Y,X:#RRGGBB"`` (the ``--hint`` option) -> ``(y, x, "#rrggbb")``."""
    match = re.fullmatch(r"\s*([^,:]+),([^,:]+):(#[0-9a-fA-F]{6})\s*", text)
    if not match:
        raise ValueError(f"hint {text!r} is not of the form Y,X:#RRGGBB (e.g. 120,40:#c03020)")
    try:
        y, x = float(match.group(1)), float(match.group(2))
    except ValueError:
        raise ValueError(f"hint {text!r}: Y and X must be numbers") from None
    return y, x, match.group(3)


def hints_from_json(data) -> list[tuple[float, float, str]]:
    """The JSON form ``[{"y": .., "x": .., "color": "#rrggbb"}, ...]`` (already parsed) as hint triples."""
    if not isinstance(data, list):
        raise ValueError('hints must be a JSON list of {"y": .., "x": .., "color": "#rrggbb"} objects')
    hints = []
    for number, item in enumerate(data, 1):
        if not isinstance(item, dict) or set(item) != {"y", "x", "color"}:
            raise ValueError(f'hint {number} ({json.dumps(item)}) must have exactly the keys "y", "x" and "color"')
        hints.append((item["y"], item["x"], item["color"]))
    return hints


def read_hints_file(path: str | Path) -> list[tuple[float, float, str]]:
    """Hints from a JSON file (see :func:`hints_from_json`)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    try:
        return hints_from_json(data)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def draw_hints(rgb: np.ndarray, hints, radius: int | None = None) -> np.ndarray:
    """A copy of a uint8 RGB image with each hint drawn as a filled disc of its colour, ringed black and white."""
    from PIL import Image, ImageDraw

    picture = Image.fromarray(np.ascontiguousarray(rgb[..., :3]))
    radius = radius or max(3, round(max(picture.size) / 120))
    draw = ImageDraw.Draw(picture)
    for y, x, colour in hints:
        box = (x - radius, y - radius, x + radius, y + radius)
        draw.ellipse(box, fill=parse_color(colour), outline=(255, 255, 255), width=max(1, radius // 3))
        outer = (x - radius - 1, y - radius - 1, x + radius + 1, y + radius + 1)
        draw.ellipse(outer, outline=(0, 0, 0), width=1)
    return np.asarray(picture)


def side_by_side(gray: np.ndarray, result: np.ndarray, hints, height: int = 480) -> np.ndarray:
    """A figure (uint8 RGB) of the gray input, the result and, when there are points, the result with
    them drawn (:func:`draw_hints`), each scaled to ``height`` pixels (never up) and captioned."""
    from PIL import Image, ImageDraw

    panels = [("gray input", gray), ("colorized", result)]
    if hints:
        panels.append((f"{len(hints)} colour point{'s' if len(hints) > 1 else ''}", draw_hints(result, hints)))
    scale = min(1.0, height / gray.shape[0])
    size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
    caption, gap = 20, 8
    figure = Image.new("RGB", (len(panels) * size[0] + (len(panels) - 1) * gap, size[1] + caption), "white")
    draw = ImageDraw.Draw(figure)
    for index, (title, image) in enumerate(panels):
        left = index * (size[0] + gap)
        figure.paste(Image.fromarray(np.ascontiguousarray(image[..., :3])).resize(size, Image.LANCZOS), (left, caption))
        draw.text((left + 2, 4), title, fill=(0, 0, 0))
    return np.asarray(figure)
