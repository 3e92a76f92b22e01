"""The colorizer network: lightness L (and optional colour hints) in, the two chroma channels a, b out.

An encoder–decoder of 3x3 convolutions, each hidden one followed by (batch
normalisation and) ReLU:

    L (1 channel, normalised to [-1, 1]) [+ hint a, hint b, hint mask]
    ├─ full resolution   conv 1→w,  conv w→w stride 2            ↓2    ─┐ skip s0 (w)
    ├─ 1/2               conv w→2w, conv 2w→2w stride 2          ↓4    ─┤ skip s1 = first ↓2 output (w)
    ├─ 1/4               conv 2w→4w, conv 4w→4w stride 2         ↓8    ─┤ skip s2 = second ↓2 output (2w)
    ├─ 1/8               (hidden_layers - 12) convs 4w→4w, dilation 2   │
    │                    [+ global context: a linear map of the image-wide mean, to every position]
    ├─ up to 1/4         upsample x2, conv 4w→2w (+ s2), conv 2w→2w    ◄┤
    ├─ up to 1/2         upsample x2, conv 2w→w (+ s1),  conv w→w      ◄┤
    ├─ up to full        upsample x2, conv w→w (+ s0),   conv w→w      ◄┘
    └─ output            conv w→2, tanh          ab = 110 · tanh(...)
                         [head "bins": conv 1x1 w→Q logits over Q ab bins, read out by their annealed mean]
                         [shrink: each pixel's (a, b) shortened by ``shrink``, hue kept]

With ``skips=True`` (U-Net style, additive) each decoder level adds the
encoder's features of the same resolution and width after its first
convolution's ReLU, so edges found by the encoder reach the output directly
and colour stays inside them.  Addition adds no parameters; its backward
hands the same gradient to both branches.

With ``hints=True`` the input has 4 channels: L, the user's hint chroma
(a, b)/110 at hinted pixels (0 elsewhere) and a mask (1 at hinted pixels).
An all-zero mask is automatic colorization (see :mod:`colorize.hints`).

With ``context=True`` the 1/8-resolution features, before the decoder, get
:class:`nnscratch.GlobalContext` (Iizuka et al. 2016's global features, in
their simplest form): each position adds a linear map of the mean of the
features over the whole image, so the colour chosen at one place can depend
on the whole scene, not only on the ~200 pixels a position sees.  It has no
ReLU and adds no hidden layer.

With the default 18 hidden layers that is 6 + 6 + 6.  Fewer hidden layers
(at least 6) drop the constant-resolution convolutions first; more add to
the 1/8-resolution middle.  Inputs must have sides divisible by 8
(inference pads to that).

With ``head="bins"`` the network ends in a 1x1 convolution to one logit per bin of the ab plane
(:mod:`colorize.bins`, Zhang et al. 2016's classification), and the output is their annealed
mean (:class:`nnscratch.SoftmaxExpectation` of the bin centres at ``temperature``): ab/110 as
with the regression head, so inference, evaluation and hints treat both alike.  Training with
:class:`colorize.bins.BinnedCrossEntropy` takes the logits (``forward(x, logits=True)``).
"""
from __future__ import annotations

import numpy as np

import nnscratch as nn

from .bins import TEMPERATURE, ab_bins

AB_SCALE = 110.0          # ab = AB_SCALE * network output (tanh range)
DOWNSAMPLING = 8
# Order in which constant-resolution layers are added when hidden_layers > 6.
_SAME_SLOTS = ("enc0", "enc1", "enc2", "dec2", "dec1", "dec0")


def normalize_lightness(lightness):
    """CIE L in [0, 100] -> network input in [-1, 1]."""
    return lightness / 50.0 - 1.0


HEADS = ("regression", "bins")
NORMS = ("batch", "none")                 # batch normalisation between each hidden convolution and its ReLU, or none
READOUT_SETTINGS = ("shrink", "temperature", "vividness")     # settings of the output without weights
VIVIDNESS_RANGE = (0.0, 1.0)


def check_config(hidden_layers: int, width: int, norm: str, hints: bool = False, skips: bool = False,
                 context: bool = False, shrink: float = 0.0, head: str = "regression",
                 temperature: float | None = None, vividness: float = 0.0) -> dict:
    """Validate a model configuration; return it as a plain dict.

    The defaults of ``hints``, ``skips``, ``context``, ``shrink`` and ``head`` are those of model
    files written before these options existed, so such a file's stored
    configuration rebuilds its own network.  ``temperature`` is the bins head's read-out
    (default :data:`colorize.bins.TEMPERATURE`); the regression head has none.
    """
    _check_network(hidden_layers, width, norm, hints, skips, context)
    temperature = _check_readout(shrink, head, temperature, vividness)
    config = {"hidden_layers": int(hidden_layers), "width": int(width), "norm": norm,
              "hints": bool(hints), "skips": bool(skips)}
    if context:         # only where it is on, so a configuration without it reads as before
        config["context"] = True
    if shrink:
        config["shrink"] = float(shrink)
    if head == "bins":
        config["head"], config["temperature"] = "bins", float(temperature)
    if vividness:
        config["vividness"] = float(vividness)
    return config


def _check_network(hidden_layers, width, norm, hints, skips, context) -> None:
    if not isinstance(hidden_layers, (int, np.integer)) or hidden_layers < 6:
        raise ValueError(f"hidden_layers must be an integer >= 6 (3 down, 3 up), got {hidden_layers!r}")
    if not isinstance(width, (int, np.integer)) or width < 1:
        raise ValueError(f"width must be a positive integer, got {width!r}")
    if norm not in NORMS:
        raise ValueError(f"norm must be 'batch' or 'none', got {norm!r}")
    for name, value in (("hints", hints), ("skips", skips), ("context", context)):
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{name} must be True or False, got {value!r}")


def _check_readout(shrink, head, temperature, vividness):
    """Check the head and the output's settings without weights; return the temperature (the bins
    head's default filled in)."""
    if not (isinstance(shrink, (int, float, np.floating)) and 0 <= shrink < AB_SCALE):
        raise ValueError(f"shrink must be a chroma in Lab units in [0, {AB_SCALE:g}), got {shrink!r}")
    if head not in HEADS:
        raise ValueError(f"head must be one of {', '.join(HEADS)}, got {head!r}")
    check_vividness(vividness)
    if head == "regression" and temperature is not None:
        raise ValueError("temperature is a setting of the bins head; the regression head has none")
    if head == "bins":
        temperature = TEMPERATURE if temperature is None else temperature
        if not (isinstance(temperature, (int, float, np.floating)) and 0 < temperature <= 10):
            raise ValueError(f"temperature must be in (0, 10], got {temperature!r}")
    return temperature


def check_vividness(vividness) -> float:
    """The colour setting of inference: 0 the network's own (most faithful) chroma, 1 twice it."""
    low, high = VIVIDNESS_RANGE
    if not (isinstance(vividness, (int, float, np.floating)) and not isinstance(vividness, bool)
            and low <= vividness <= high):
        raise ValueError(f"vividness must be a number in [{low:g}, {high:g}], got {vividness!r}")
    return float(vividness)


def network_config(config: dict) -> dict:
    """The part of a configuration that fixes the weights: all but the output's ``shrink``, ``temperature``
    and ``vividness``."""
    return {name: value for name, value in config.items() if name not in READOUT_SETTINGS}


def build_model(config: dict, seed: int = 0) -> "Colorizer":
    """The network a stored configuration describes (older files lack ``hints``, ``skips``, ``context``,
    ``shrink``: off)."""
    return Colorizer(**check_config(**config), seed=seed)


class Colorizer(nn.Module):
    """CNN mapping normalised lightness ``(N, 1, H, W)`` (``(N, 4, H, W)`` with hint channels)
    to ab/110 ``(N, 2, H, W)`` in (-1, 1) (with the bins head, in the hull of the bin centres).

    Parameters
    ----------
    hidden_layers : int
        Hidden 3x3 convolutions, each followed by ReLU (default 18).
    width : int
        Channels at full resolution; 2x and 4x deeper down.
    norm : 'batch' or 'none'
        Batch normalisation between each hidden convolution and its ReLU.
    hints : bool
        Take colour hints: 3 more input channels (hint a/110, hint b/110, mask).
    skips : bool
        Additive skip connections from each encoder resolution to the decoder.
    context : bool
        A global-context layer before the decoder (:class:`nnscratch.GlobalContext`).
    shrink : float
        Chroma, in Lab units, taken off every output pixel's (a, b) vector, its hue kept
        (:class:`nnscratch.NormShrink`; 0: none): fainter tints become gray.  It has no weights,
        so it can be set on a trained network (:meth:`set_shrink`, ``colorize export --shrink``).
    head : 'regression' or 'bins'
        ab by a tanh (regression) or as the annealed mean of a distribution over ab bins.
    temperature : float
        The bins head's read-out temperature (:meth:`set_temperature`; lower: bolder colour).
    vividness : float
        Inference's default colour setting, 0–1 (:meth:`set_vividness`): the predicted chroma is
        scaled by ``1 + vividness`` (no weights; the network itself is untouched).
    seed : int
        Seeds the He initialisation.
    """

    def __init__(self, hidden_layers: int = 18, width: int = 32, norm: str = "batch", hints: bool = False,
                 skips: bool = True, context: bool = False, shrink: float = 0.0, head: str = "regression",
                 temperature: float | None = None, vividness: float = 0.0, seed: int = 0):
        super().__init__()
        self.config = check_config(hidden_layers, width, norm, hints, skips, context, shrink, head, temperature,
                                   vividness)
        rng = np.random.default_rng(seed)
        widths = (width, 2 * width, 4 * width)
        extra = hidden_layers - 6
        same = set(_SAME_SLOTS[:extra])
        middle = max(extra - len(_SAME_SLOTS), 0)
        layers: list[nn.Module] = []
        self.in_channels = channels = 4 if hints else 1
        taps: dict[int, int] = {}      # resolution level -> index of the layer whose output is kept
        adds: dict[int, int] = {}      # index of the layer after whose output a kept one is added -> tap index

        def hidden(out_channels, stride=1, dilation=1):
            nonlocal channels
            use_norm = norm == "batch"
            layers.append(nn.Conv2d(channels, out_channels, 3, stride=stride, padding=dilation,
                                    dilation=dilation, bias=not use_norm, rng=rng,
                                    input_grad=bool(layers)))   # the first layer's input is data
            if use_norm:
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.ReLU())
            channels = out_channels

        for level, stage_width in enumerate(widths):
            if f"enc{level}" in same:
                hidden(stage_width)
                if level == 0:
                    taps[0] = len(layers) - 1
            hidden(stage_width, stride=2)
            taps[level + 1] = len(layers) - 1
        for _ in range(middle):
            hidden(widths[2], dilation=2)
        if context:
            layers.append(nn.GlobalContext(widths[2]))
        for level, stage_width in ((2, widths[1]), (1, widths[0]), (0, widths[0])):
            layers.append(nn.Upsample(scale_factor=2, mode="bilinear"))
            hidden(stage_width)
            if skips and level in taps:     # the encoder's output at this resolution and width
                adds[len(layers) - 1] = taps[level]
            if f"dec{level}" in same:
                hidden(stage_width)
        if head == "bins":
            centers = ab_bins()
            layers.append(nn.Conv2d(channels, len(centers), 1, rng=rng))
            self.readout = nn.SoftmaxExpectation(centers / AB_SCALE, self.config["temperature"])
        else:
            layers.append(nn.Conv2d(channels, 2, 3, padding=1, rng=rng))
            layers.append(nn.Tanh())
            self.readout = None
        self.body = nn.Sequential(*layers)
        self._logits = False          # whether the last forward stopped at the logits
        self.set_shrink(shrink)
        self._skip_adds = adds
        self._skip_taps = set(adds.values())

    def set_shrink(self, shrink: float) -> "Colorizer":
        """Take ``shrink`` Lab units of chroma off every output pixel from now on (0: none); returns self."""
        self.config = check_config(**{**self.config, "shrink": shrink})
        self.output_shrink = nn.NormShrink(shrink / AB_SCALE)
        return self

    def set_vividness(self, vividness: float) -> "Colorizer":
        """The default vividness of this model's inference from now on (see :func:`colorize.colorize`); returns self."""
        self.config = check_config(**{**self.config, "vividness": vividness})
        return self

    def set_temperature(self, temperature: float) -> "Colorizer":
        """The bins head's read-out temperature from now on (ValueError for the regression head); returns self."""
        if self.readout is None:
            raise ValueError("this network has the regression head; only the bins head has a temperature")
        self.config = check_config(**{**self.config, "temperature": temperature})
        self.readout.temperature = float(temperature)
        return self

    def forward(self, x, logits: bool = False):
        """ab/110 ``(N, 2, H, W)``; with ``logits=True`` (bins head only) the logits ``(N, Q, H, W)``
        before the read-out and the shrink, for the classification loss.  ``backward`` follows
        whichever of the two the last call returned."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            what = "lightness and 3 hint channels" if self.config["hints"] else "normalised lightness"
            raise ValueError(f"Colorizer expects {what} of shape (N, {self.in_channels}, H, W), got {tuple(x.shape)}")
        if x.shape[2] % DOWNSAMPLING or x.shape[3] % DOWNSAMPLING:
            raise ValueError(f"Colorizer needs height and width divisible by {DOWNSAMPLING}, got {tuple(x.shape[2:])}")
        if logits and self.readout is None:
            raise ValueError("logits=True needs the bins head; this network has the regression head")
        kept = {}
        for index, layer in enumerate(self.body):
            x = self.layer_forward(index, layer, x, kept)
        self._logits = logits
        if logits:
            return x
        if self.readout is not None:
            x = self.readout.forward(x)
        return self.output_shrink.forward(x)

    def layer_forward(self, index: int, layer: nn.Module, x, kept: dict):
        """One layer of the body, with the skip connections: keep a tapped output, add a kept one."""
        x = layer.forward(x)
        if index in self._skip_taps:
            kept[index] = x
        if index in self._skip_adds:
            x = x + kept.pop(self._skip_adds[index])
        return x

    def backward(self, grad_output):
        """Parameter gradients; returns None, since the input is data and the first
        convolution skips its input gradient (set ``body[0].input_grad = True`` to get it).

        A skip ``s = f(x) + kept`` hands ``ds`` to both ``f`` and the kept
        tensor, whose gradient is added where it was tapped.
        """
        if not self._logits:
            grad_output = self.output_shrink.backward(grad_output)
            if self.readout is not None:
                grad_output = self.readout.backward(grad_output)
        skip_grads = {}
        layers = list(self.body)
        for index in range(len(layers) - 1, -1, -1):
            if index in self._skip_adds:
                skip_grads[self._skip_adds[index]] = grad_output
            if index in skip_grads:
                grad_output = grad_output + skip_grads.pop(index)
            grad_output = layers[index].backward(grad_output)
            if grad_output is None:
                break
        return grad_output

    def hidden_layer_count(self) -> int:
        return sum(isinstance(m, nn.ReLU) for m in self.body)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config.items())


def layer_table(model: Colorizer, height: int = 256, width: int = 256) -> list[dict]:
    """Per layer: name, output shape, parameter count and multiply-add FLOPs (x2) per megapixel.

    Runs one forward pass on a zero image of the given size to get the shapes.
    """
    x = np.zeros((1, model.in_channels, height, width), dtype=next(iter(model.parameters())).data.dtype)
    rows = []
    kept = {}
    was_training = model.training
    model.eval()
    megapixels = height * width / 1e6
    for index, layer in enumerate(model.body):
        y = model.layer_forward(index, layer, x, kept)
        params = sum(p.data.size for p in layer.parameters())
        if isinstance(layer, nn.Conv2d):
            flops = 2 * y.size * layer.in_channels * layer.kernel_size[0] * layer.kernel_size[1]
        elif isinstance(layer, (nn.BatchNorm2d, nn.Upsample)):
            flops = 4 * y.size
        else:
            flops = y.size
        rows.append({"index": index, "layer": repr(layer), "output": tuple(y.shape[1:]), "params": params,
                     "flops_per_megapixel": flops / megapixels})
        x = y
    model.train(was_training)
    return rows
