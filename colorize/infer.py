"""Colorizing a whole photo of any size with a trained model.

The network sees the photo's lightness at a working resolution (long side
``size``, 256 by default); its predicted chroma (a, b) is resized to the
full resolution and recombined with the photo's own, untouched lightness.
Full-resolution work is done in bands of rows, so a 12-megapixel photo
needs a few hundred megabytes, not gigabytes.
"""
from __future__ import annotations

import functools
import hashlib
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PIL import Image

import nnscratch as nn
from enhance.image import check_image, to_float
from nnscratch import fold_batch_norm
from nnscratch.backend import asnumpy, get_array_module, uses_cpu_strategy

from .checkpoints import latest_checkpoint
from enhance.colorspace import lab_to_rgb, lightness, linear_lightness, rgb_to_lab, srgb_to_linear
from .hints import check_hints, hint_channels, spread_hints
from .model import AB_SCALE, DOWNSAMPLING, Colorizer, build_model, check_vividness, normalize_lightness

DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "colorizer.npz"
# Long side at which the network sees a photo.  Chroma varies slowly, so it is predicted
# small and resized (as Zhang et al. do at 256 px); the shipped model was validated at this
# scale, and at larger ones it sees too little context (docs/model-history.md).
WORKING_SIZE = 256
# Peak memory of the network on the CPU per working pixel: 2.36-2.39 kB measured with tracemalloc at
# working sizes 256, 512 and 1024 (the shipped model; activations, im2col blocks, the hint channels).
NETWORK_BYTES_PER_PIXEL = 2400
BAND_ROWS = 256


class ModelFileError(ValueError):
    """A file that is not a colorizer model or checkpoint."""


def load_model(path: str | Path | None = None) -> Colorizer:
    """Load a colorizer from a model file or a training checkpoint (``None``: the shipped default).

    A checkpoint gives its exponential moving average of the weights when it
    has one (the weights its validation figures were measured with).
    """
    if path is None:
        path = DEFAULT_WEIGHTS
        if not path.is_file():
            raise FileNotFoundError(
                "no default model is shipped with this installation; train one with "
                "'colorize train --data DIR --out RUN' and pass '--checkpoint RUN'")
    path = Path(path)
    if path.is_dir():
        found = latest_checkpoint(path)
        if found is None:
            raise FileNotFoundError(f"no checkpoint found in {path}")
        path = found
    state = nn.load(path)
    if state.get("format") not in ("colorize-checkpoint", "colorize-model"):
        raise ModelFileError(f"{path} is an nnscratch file but not a colorizer model or checkpoint")
    model = build_model(state["config"]["model"])
    # A training checkpoint's averaged weights (what validation scored) when it has them.
    weights = state["ema"] if "ema" in state else state["model"]
    broken = [name for name, value in weights.items()
              if getattr(value, "dtype", None) is not None and value.dtype.kind == "f" and not np.isfinite(value).all()]
    if broken:
        raise ModelFileError(f"{path} holds weights or batch-norm statistics that are infinite or NaN ({broken[0]}"
                             f"{f' and {len(broken) - 1} more' if len(broken) > 1 else ''}): the run that wrote it "
                             "diverged, and it cannot colorize")
    model.load_state_dict({name: value for name, value in weights.items() if name != "updates"})
    return model.eval()


def save_model(model: Colorizer, path: str | Path, float16: bool = False) -> Path:
    """Write ``model`` as a model file that :func:`load_model` reads (its weights and batch-norm
    statistics, float16 or float32, compressed; atomic, no pickle)."""
    dtype = np.float16 if float16 else np.float32
    state = {name: value.astype(dtype) if value.dtype.kind == "f" else value
             for name, value in model.state_dict().items()}
    nn.save(path, {"format": "colorize-model", "config": {"model": model.config}, "model": state}, compress=True)
    return Path(path)


def image_lightness(image: np.ndarray) -> np.ndarray:
    """CIE L (float32, (H, W)) of a gray or colour image, computed in bands of rows.

    The same numbers as ``rgb_to_lab(to_float(rgb))[..., 0]`` (or ``lightness`` of a gray level),
    bit for bit; for 8- and 16-bit images each level's linear light (or a gray level's L) is looked
    up in a table made by those same functions, and a and b are never computed.
    """
    image = check_image(image, "colorize")
    height = image.shape[0]
    result = np.empty(image.shape[:2], dtype=np.float32)
    colour = image.ndim == 3 and image.shape[2] >= 3
    tables = _level_tables(image.dtype.str) if image.dtype.kind == "u" else None
    for top in range(0, height, BAND_ROWS):
        band = image[top:top + BAND_ROWS]
        if colour:
            linear = tables[0][band[..., :3]] if tables else srgb_to_linear(to_float(band[..., :3]))
            result[top:top + BAND_ROWS] = linear_lightness(linear)
        else:
            gray = band if band.ndim == 2 else band[..., 0]
            result[top:top + BAND_ROWS] = tables[1][gray] if tables else lightness(to_float(gray))
    return result


@functools.lru_cache(maxsize=2)
def _level_tables(dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """For every level of an unsigned dtype: its linear light and, as a gray level, its L (float32)."""
    levels = to_float(np.arange(np.iinfo(np.dtype(dtype)).max + 1, dtype=np.dtype(dtype)))
    return srgb_to_linear(levels), lightness(levels)


def resize_channel(channel: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize a float32 (H, W) array with Pillow's antialiased bilinear filter."""
    if channel.shape == (height, width):
        return channel
    return np.asarray(Image.fromarray(np.ascontiguousarray(channel, dtype=np.float32)).resize(
        (width, height), Image.Resampling.BILINEAR))


def bilinear_matrix(in_size: int, out_size: int) -> np.ndarray:
    """Pillow's BILINEAR resampling along one axis as an ``(out_size, in_size)`` float64 matrix.

    As ``Image.resize(..., BILINEAR)`` computes it: output pixel ``i`` is centred at
    ``(i + 0.5) * scale`` of the input (``scale = in / out``); its weights are the triangle
    ``1 - |d|`` over ``d = (j + 0.5 - centre) / max(scale, 1)`` (stretched when shrinking, which
    is the antialiasing), normalised to sum to 1.  The device path resizes with two products by
    such matrices instead of handing the arrays to Pillow on the host.
    """
    scale = in_size / out_size
    stretch = max(scale, 1.0)
    centres = (np.arange(out_size) + 0.5) * scale
    first = np.maximum((centres - stretch + 0.5).astype(np.int64), 0)
    last = np.minimum((centres + stretch + 0.5).astype(np.int64), in_size)
    columns = np.arange(in_size)
    distance = (columns[None, :] + 0.5 - centres[:, None]) / stretch
    weights = np.clip(1 - np.abs(distance), 0, None)
    weights[(columns[None, :] < first[:, None]) | (columns[None, :] >= last[:, None])] = 0
    return weights / weights.sum(axis=1, keepdims=True)


def _resize_on_device(channel, width: int, height: int):
    """:func:`resize_channel` for a device array ``(H, W)`` (or ``(H, W, C)``): two matrix products."""
    xp = get_array_module(channel)
    if channel.shape[:2] == (height, width):
        return channel
    rows = xp.asarray(bilinear_matrix(channel.shape[0], height).astype(np.float32))
    columns = xp.asarray(bilinear_matrix(channel.shape[1], width).astype(np.float32))
    if channel.ndim == 2:
        return rows @ channel @ columns.T
    return xp.stack([rows @ channel[..., k] @ columns.T for k in range(channel.shape[2])], axis=-1)


def working_size(height: int, width: int, size: int | None) -> tuple[int, int]:
    """(h, w) at which the network runs: long side ``size`` at most, never upscaled."""
    if size is None or max(height, width) <= size:
        return height, width
    scale = size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def available_memory() -> int | None:
    """Bytes of memory the system can give without swapping (Linux ``MemAvailable``); None where unknown."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_working_memory(height: int, width: int, size: int | None, available: int | None = None) -> None:
    """MemoryError, before any work, when colorizing an ``height x width`` photo at working size ``size``
    on the CPU would need more memory than is available (which would end in the kernel killing the process)."""
    work_h, work_w = working_size(height, width, size)
    need = work_h * work_w * NETWORK_BYTES_PER_PIXEL
    available = available_memory() if available is None else available
    if available is not None and need > available:
        raise MemoryError(f"a working size of {max(work_h, work_w)} px ({work_w}x{work_h}) needs about {need / 1e9:.1f} GB "
                          f"for the network, and {available / 1e9:.1f} GB is available: use a smaller --size "
                          f"(the default, {WORKING_SIZE}, needs {WORKING_SIZE ** 2 * NETWORK_BYTES_PER_PIXEL / 1e9:.2f} GB)")


def predict_ab(model: Colorizer, light: np.ndarray, size: int | None = WORKING_SIZE, hints=None,
               vividness: float | None = None, automatic=None) -> np.ndarray:
    """Predicted chroma at the working resolution: (h, w, 2) float32 in Lab units.

    The network's automatic colours (:func:`network_ab`, or ``automatic``, an
    :class:`AutomaticColours` that remembers them), with ``hints``, checked hints in ``light``'s
    pixel coordinates (:func:`colorize.hints.check_hints`), spread over their objects
    (:func:`colorize.hints.spread_hints`).
    """
    ab, small = (automatic or network_ab)(model, light, size, vividness=vividness)
    return spread_hints(ab, small, hints, light.shape)


class AutomaticColours:
    """:func:`network_ab` that remembers its results for the last ``capacity`` photos, so that a
    new colour point on the same photo re-runs only the spread (the web page's previews).

    A photo is known by its lightness (a hash of its bytes), the working size, the vividness and
    the model; the model must not change while the cache is in use.
    """

    def __init__(self, capacity: int = 4):
        self.capacity = capacity
        self._results: OrderedDict = OrderedDict()

    def __call__(self, model: Colorizer, light, size: int | None = WORKING_SIZE,
                 vividness: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        host = np.ascontiguousarray(asnumpy(light))
        key = (id(model), host.shape, host.dtype.str, hashlib.blake2b(host.tobytes(), digest_size=16).digest(),
               size, vividness)
        if key in self._results:
            self._results.move_to_end(key)
            return self._results[key]
        result = network_ab(model, light, size, vividness=vividness)
        self._results[key] = result
        while len(self._results) > self.capacity:
            self._results.popitem(last=False)
        return result


def working_lightness(light: np.ndarray, size: int | None = WORKING_SIZE) -> np.ndarray:
    """The lightness (H, W) resized to the working size, as the network sees it (:func:`network_ab`)."""
    height, width = working_size(*light.shape, size)
    return resize_channel(light, width, height)


def network_ab(model: Colorizer, light: np.ndarray, size: int | None = WORKING_SIZE, hints=None,
               vividness: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The network's chroma at the working resolution (h, w, 2) float32, and the lightness it saw
    there (h, w).  ``hints`` go to the network's hint input (a model trained with ``--hints``);
    colorizing gives it none and spreads the points afterwards (:func:`predict_ab`)."""
    height, width = working_size(*light.shape, size)
    if isinstance(light, np.ndarray):
        small = working_lightness(light, size)
    else:                                    # lightness already on the device (colorize's GPU path)
        small = asnumpy(_resize_on_device(light, width, height))
    channels = [normalize_lightness(small)[None]]
    if model.config["hints"]:
        channels.append(hint_channels(hints, light.shape, (height, width)))
    elif hints:
        raise ValueError("this model was trained without hint input; colorize() spreads points for any model")
    stacked = np.concatenate(channels, axis=0)
    pad_h, pad_w = -height % DOWNSAMPLING, -width % DOWNSAMPLING
    if pad_h or pad_w:   # lightness mirrored; hint channels (and mask) zero in the padding
        light_pad = np.pad(stacked[:1], ((0, 0), (0, pad_h), (0, pad_w)), mode="symmetric")
        hint_pad = np.pad(stacked[1:], ((0, 0), (0, pad_h), (0, pad_w)))
        stacked = np.concatenate([light_pad, hint_pad], axis=0)
    if min(stacked.shape[1:]) < DOWNSAMPLING:  # tiny images: repeat up to the smallest size the network takes
        stacked = np.pad(stacked, [(0, 0)] + [(0, max(0, DOWNSAMPLING - s)) for s in stacked.shape[1:]],
                         mode="edge")
    params = model.parameters()
    xp = get_array_module(params[0].data)
    network_input = xp.asarray(stacked[None].astype(params[0].data.dtype))
    if not uses_cpu_strategy(xp):        # on a GPU: batch norm folded into the convolutions (fewer passes)
        output = asnumpy(fold_batch_norm(model).forward(network_input))
    else:
        was_training = model.training
        model.eval()
        try:
            output = asnumpy(model.forward(network_input))
        finally:
            model.train(was_training)
    ab = (output[0, :, :height, :width] * AB_SCALE).transpose(1, 2, 0).astype(np.float32)
    vividness = model.config.get("vividness", 0.0) if vividness is None else check_vividness(vividness)
    if vividness:
        ab *= np.float32(1 + vividness)      # the network's chroma, scaled; hue and lightness kept
    return ab, small


def colorize(image: np.ndarray, model: Colorizer | None = None, size: int | None = WORKING_SIZE,
             hints=None, dtype=np.uint8, vividness: float | None = None, automatic=None) -> np.ndarray:
    """Colorize a photo: an RGB array (uint8 by default) of the input's height and width.

    Parameters
    ----------
    image : array (H, W), (H, W, 1|2|3|4); uint8, uint16 or float in [0, 1]
        Gray, gray+alpha, RGB or RGBA.  Only its lightness is used: colour
        input has its colour replaced.  An alpha channel is passed through
        (the result is then (H, W, 4)).
    model : Colorizer, optional
        Defaults to the shipped model (:func:`load_model`).
    size : int or None
        Long side of the working resolution for the network (None: full size).
    hints : sequence of (y, x, colour), optional
        Colour points in the input's pixel coordinates; ``colour`` is
        ``(r, g, b)`` (0–255) or ``"#rrggbb"``, of which only the chroma is
        used: each point's colour spreads over the object it lies on.  ``[]``
        or None: automatic colorization.  ValueError names a bad hint.
    dtype : uint8 or uint16
        Of the result; uint16 keeps a 16-bit photo's lightness at full precision.
    vividness : float in [0, 1], optional
        How colourful: 0 is the network's own chroma (its most faithful colour), 1 twice it
        (clipped to what sRGB can show); hue and lightness are kept.  None: the model's default
        (``model.config["vividness"]``, chosen on the validation photos for the shipped model).
    automatic : AutomaticColours, optional
        Remembers the network's colours of recent photos, so that colorizing one photo again with
        other points costs only the spread.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.uint8, np.uint16):
        raise TypeError(f"colorize returns uint8 or uint16 images, not {dtype}")
    image = check_image(image, "colorize")
    hints = check_hints(hints, image.shape[0], image.shape[1])
    model = load_model() if model is None else model
    xp = get_array_module(model.parameters()[0].data)
    if not uses_cpu_strategy(xp):
        return _colorize_on_device(image, model, size, hints, dtype, vividness, automatic, xp)
    light = image_lightness(image)
    ab_small = predict_ab(model, light, size, hints, vividness, automatic)
    has_alpha = image.ndim == 3 and image.shape[2] in (2, 4)
    result = combine(light, ab_small, dtype, channels=4 if has_alpha else 3)
    peak = np.iinfo(dtype).max
    if has_alpha:
        alpha = image[..., -1]
        result[..., 3] = alpha if alpha.dtype == dtype else np.rint(to_float(alpha).astype(np.float64) * peak)
    return result


def combine(light: np.ndarray, ab_small: np.ndarray, dtype=np.uint8, channels: int = 3) -> np.ndarray:
    """RGB (``dtype``, (H, W, channels)) of the full-resolution lightness ``light`` (H, W) with the
    chroma ``ab_small`` (h, w, 2) resized to it (Pillow's bilinear), in bands of rows; a fourth
    channel, when asked for, is left for the caller."""
    height, width = light.shape
    ab_a = resize_channel(ab_small[..., 0], width, height)
    ab_b = resize_channel(ab_small[..., 1], width, height)
    peak = np.iinfo(dtype).max
    result = np.empty((height, width, channels), dtype=dtype)
    for top in range(0, height, BAND_ROWS):
        rows = slice(top, top + BAND_ROWS)
        lab = np.stack([light[rows], ab_a[rows], ab_b[rows]], axis=-1)
        result[rows, :, :3] = np.rint(lab_to_rgb(lab) * peak)
    return result


def _colorize_on_device(image, model, size, hints, dtype, vividness, automatic, xp) -> np.ndarray:
    """:func:`colorize` with the full-resolution work on the model's device as well: the photo goes
    over once (as uint8 or uint16), lightness, the resizing (Pillow's bilinear weights as two matrix
    products) and Lab -> RGB run there, and the result comes back once.  Equal to the CPU path up to
    float rounding (a level of 8 bits here and there)."""
    height, width = image.shape[:2]
    pixels = xp.asarray(image)
    peak = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}.get(image.dtype)
    values = pixels.astype(xp.float32) / peak if peak else xp.clip(pixels.astype(xp.float32), 0, 1)
    if image.ndim == 3 and image.shape[2] >= 3:
        light = rgb_to_lab(values[..., :3])[..., 0]
    else:
        light = lightness(values if image.ndim == 2 else values[..., 0])
    ab_small = xp.asarray(predict_ab(model, light, size, hints, vividness, automatic))
    ab = _resize_on_device(ab_small, width, height)
    has_alpha = image.ndim == 3 and image.shape[2] in (2, 4)
    top = np.iinfo(dtype).max
    rgb = xp.rint(lab_to_rgb(xp.concatenate([light[..., None], ab], axis=-1)) * top).astype(dtype)
    result = np.empty((height, width, 4 if has_alpha else 3), dtype=dtype)
    result[..., :3] = asnumpy(rgb)
    if has_alpha:
        alpha = image[..., -1]
        result[..., 3] = alpha if alpha.dtype == dtype else np.rint(to_float(alpha).astype(np.float64) * top)
    return result


def gray_baseline(image: np.ndarray) -> np.ndarray:
    """The photo with a = b = 0: its own lightness in gray, as RGB uint8 (the baseline to beat)."""
    light = image_lightness(image)
    lab = np.stack([light, np.zeros_like(light), np.zeros_like(light)], axis=-1)
    return np.rint(lab_to_rgb(lab) * 255).astype(np.uint8)
