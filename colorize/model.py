"""The colorizer network: lightness L (and optional colour hints) in, the two chroma channels a, b out.

An encoder–decoder of 3x3 convolutions, each hidden one followed by (batch
normalisation and) ReLU, in named stages (a weight reads ``down1.conv.weight``):

    L (1 channel, normalised to [-1, 1]) [+ hint a, hint b, hint mask]
    ├─ full resolution   enc0  conv 1→w        down1 conv w→w stride 2     ─┐ skip: enc0's output (w)
    ├─ 1/2               enc1  conv w→2w       down2 conv 2w→2w stride 2   ─┤ skip: down1's output (w)
    ├─ 1/4               enc2  conv 2w→4w      down3 conv 4w→4w stride 2   ─┤ skip: down2's output (2w)
    ├─ 1/8               middle: (hidden_layers - 12) convs 4w→4w, dilation 2 │
    │                    [context: a linear map of the image-wide mean, to every position]
    ├─ up to 1/4         up2  upsample x2, conv 4w→2w (+ down2's)   dec2 conv 2w→2w  ◄┤
    ├─ up to 1/2         up1  upsample x2, conv 2w→w (+ down1's)    dec1 conv w→w    ◄┤
    ├─ up to full        up0  upsample x2, conv w→w (+ enc0's)      dec0 conv w→w    ◄┘
    └─ head              conv w→2, tanh          ab = 110 · tanh(...)
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
(at least 6: the down and up convolutions) drop the constant-resolution ones first, dec0 … enc0
(a stage without its convolution passes its input on, and without enc0 there is no
full-resolution skip); more add to the 1/8-resolution middle.  Inputs must have sides divisible by 8
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


# The network's stages in the order the input meets them: encoder levels (a constant-resolution unit
# ``enc<level>``, possibly empty, then the stride-2 unit ``down<level + 1>``), the 1/8-resolution
# ``middle`` and ``context``, decoder levels (``up<level>`` upsamples and convolves, the encoder's
# features of that resolution are added, then the constant-resolution unit ``dec<level>``), ``head``.
SKIP_SOURCES = {0: "enc0", 1: "down1", 2: "down2"}     # decoder level -> the encoder stage it adds
STAGES = ("enc0", "down1", "enc1", "down2", "enc2", "down3", "middle", "context",
          "up2", "dec2", "up1", "dec1", "up0", "dec0", "head")


def hidden_unit(in_channels: int, out_channels: int, norm: str, rng, stride: int = 1, dilation: int = 1,
                upsample: bool = False, input_grad: bool = True) -> nn.Sequential:
    """One hidden layer: ``[upsample ×2,] conv 3x3 [, norm], relu`` as a Sequential of named members
    (the convolution has no bias when batch normalisation follows it)."""
    members = {"upsample": nn.Upsample(scale_factor=2, mode="bilinear")} if upsample else {}
    members["conv"] = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=dilation, dilation=dilation,
                                bias=norm != "batch", rng=rng, input_grad=input_grad)
    if norm == "batch":
        members["norm"] = nn.BatchNorm2d(out_channels)
    members["relu"] = nn.ReLU()
    return nn.Sequential(members)


class Colorizer(nn.Module):
    """CNN mapping normalised lightness ``(N, 1, H, W)`` (``(N, 4, H, W)`` with hint channels)
    to ab/110 ``(N, 2, H, W)`` in (-1, 1) (with the bins head, in the hull of the bin centres).

    Its stages are named members (:data:`STAGES`): ``enc0``, ``down1``, ``enc1``, ``down2``,
    ``enc2``, ``down3`` (the encoder), ``middle`` and ``context`` (1/8 resolution), ``up2``,
    ``dec2``, ``up1``, ``dec1``, ``up0``, ``dec0`` (the decoder) and ``head``; each hidden
    layer is a :func:`hidden_unit` (``conv``, ``norm``, ``relu``), so a weight reads
    ``down1.conv.weight``.  A constant-resolution unit a shallower network lacks, or the context
    layer when it is off, is an :class:`nnscratch.module.Identity`.  The skip connections add
    the output of ``enc0`` (full resolution), ``down1`` (1/2) and ``down2`` (1/4) after ``up0``,
    ``up1`` and ``up2``: :attr:`skip_levels`.  Files written when the layers were numbered
    (``body.<index>.<name>``) load through :func:`upgrade_state`.

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
        widths = (width, 2 * width, 4 * width)          # channels at full, 1/2 and 1/4 resolution; 1/8 has 4w too
        same = set(_SAME_SLOTS[:hidden_layers - 6])
        middle = max(hidden_layers - 6 - len(_SAME_SLOTS), 0)
        centers = ab_bins() if head == "bins" else None
        self.readout = None if centers is None else nn.SoftmaxExpectation(centers / AB_SCALE, self.config["temperature"])
        self.in_channels = channels = 4 if hints else 1
        started = False

        def unit(out_channels, **kwargs):               # the next hidden layer, from the current width
            nonlocal channels, started
            layer = hidden_unit(channels, out_channels, norm, rng, input_grad=started, **kwargs)  # the first's input is data
            channels, started = out_channels, True
            return layer

        # Built in the order the input meets them (the order of the random initialisation, of the
        # parameters and of the optimizer's state).
        for level, level_width in enumerate(widths):
            setattr(self, f"enc{level}", unit(level_width) if f"enc{level}" in same else nn.Identity())
            setattr(self, f"down{level + 1}", unit(level_width, stride=2))
        self.middle = nn.Sequential(*(unit(widths[2], dilation=2) for _ in range(middle)))
        self.context = nn.GlobalContext(widths[2]) if context else nn.Identity()
        for level, level_width in ((2, widths[1]), (1, widths[0]), (0, widths[0])):
            setattr(self, f"up{level}", unit(level_width, upsample=True))
            setattr(self, f"dec{level}", unit(level_width) if f"dec{level}" in same else nn.Identity())
        if head == "bins":
            self.head = nn.Sequential({"conv": nn.Conv2d(channels, len(centers), 1, rng=rng)})
        else:
            self.head = nn.Sequential({"conv": nn.Conv2d(channels, 2, 3, padding=1, rng=rng), "tanh": nn.Tanh()})
        # The encoder's output added at each decoder resolution: 2 and 1 always, full resolution
        # when there is a full-resolution unit (the input itself is not added).
        self.skip_levels = () if not skips else (2, 1, 0) if "enc0" in same else (2, 1)
        self._skip_sources = {SKIP_SOURCES[level] for level in self.skip_levels}
        self._logits = False          # whether the last forward stopped at the logits
        self.set_shrink(shrink)

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

    @property
    def input_layer(self) -> nn.Conv2d:
        """The first convolution, which reads the input; it skips its input gradient unless its
        ``input_grad`` is set to True."""
        return self.layers()[0][1]

    def stage(self, name: str) -> nn.Module:
        """The stage called ``name`` (one of :data:`STAGES`)."""
        return self._modules[name]

    def layers(self) -> list[tuple[str, nn.Module]]:
        """Every layer of the network, by name, in the order the input meets them (the read-out and
        the shrink, which follow, left out; so are the placeholders of absent stages)."""
        return [pair for stage in STAGES for pair in self._layers_of(stage)]

    def _layers_of(self, stage: str) -> list[tuple[str, nn.Module]]:
        return [(name, module) for name, module in self.stage(stage).named_modules(stage)
                if not isinstance(module, (nn.ModuleList, nn.module.Identity))]

    def forward(self, x, logits: bool = False, visit=None):
        """ab/110 ``(N, 2, H, W)``; with ``logits=True`` (bins head only) the logits ``(N, Q, H, W)``
        before the read-out and the shrink, for the classification loss.  ``backward`` follows
        whichever of the two the last call returned.  ``visit(name, layer, output)``, if given, is
        called after each layer (see :func:`layer_table`)."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            what = "lightness and 3 hint channels" if self.config["hints"] else "normalised lightness"
            raise ValueError(f"Colorizer expects {what} of shape (N, {self.in_channels}, H, W), got {tuple(x.shape)}")
        if x.shape[2] % DOWNSAMPLING or x.shape[3] % DOWNSAMPLING:
            raise ValueError(f"Colorizer needs height and width divisible by {DOWNSAMPLING}, got {tuple(x.shape[2:])}")
        if logits and self.readout is None:
            raise ValueError("logits=True needs the bins head; this network has the regression head")
        kept = {}                             # the encoder's outputs the decoder adds, by stage
        for level in range(3):                # encoder: full resolution down to 1/8
            for stage in (f"enc{level}", f"down{level + 1}"):
                x = self._run(stage, x, visit)
                if stage in self._skip_sources:
                    kept[stage] = x
        x = self._run("context", self._run("middle", x, visit), visit)
        for level in (2, 1, 0):               # decoder: back up to full resolution
            x = self._run(f"up{level}", x, visit)
            if level in self.skip_levels:
                x = x + kept.pop(SKIP_SOURCES[level])
            x = self._run(f"dec{level}", x, visit)
        x = self._run("head", x, visit)
        self._logits = logits
        if logits:
            return x
        if self.readout is not None:
            x = self.readout.forward(x)
        return self.output_shrink.forward(x)

    def _run(self, stage: str, x, visit):
        if visit is None:
            return self.stage(stage).forward(x)
        for name, layer in self._layers_of(stage):
            x = layer.forward(x)
            visit(name, layer, x)
        return x

    def backward(self, grad_output):
        """Parameter gradients; returns None, since the input is data and the first
        convolution skips its input gradient (set ``input_layer.input_grad = True`` to get it).

        A skip ``s = f(x) + kept`` hands ``ds`` to both ``f`` and the kept
        tensor, whose gradient is added where it was kept.
        """
        grad = grad_output
        if not self._logits:
            grad = self.output_shrink.backward(grad)
            if self.readout is not None:
                grad = self.readout.backward(grad)
        grad = self.stage("head").backward(grad)
        skip_grads = {}                       # by the encoder stage whose output was added
        for level in (0, 1, 2):
            grad = self.stage(f"dec{level}").backward(grad)
            if level in self.skip_levels:
                skip_grads[SKIP_SOURCES[level]] = grad
            grad = self.stage(f"up{level}").backward(grad)
        grad = self.stage("middle").backward(self.stage("context").backward(grad))
        for level in (2, 1, 0):
            for stage in (f"down{level + 1}", f"enc{level}"):
                if stage in skip_grads:
                    grad = grad + skip_grads.pop(stage)
                grad = self.stage(stage).backward(grad)
                if grad is None:              # the first convolution computes no input gradient
                    return None
        return grad

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """As :meth:`nnscratch.Module.load_state_dict`; a state whose names number the layers
        (``body.<index>.<name>``, files written before the stages had names) is read through
        :func:`upgrade_state`."""
        super().load_state_dict(upgrade_state(self, state), strict)

    def hidden_layer_count(self) -> int:
        return sum(isinstance(layer, nn.ReLU) for _, layer in self.layers())

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config.items())


def upgrade_state(model: Colorizer, state: dict) -> dict:
    """``state`` with the names of files written when the network was one numbered list of layers
    (``body.<index>.<name>``, in the order of :meth:`Colorizer.layers`) changed to the stages' names;
    a state with today's names comes back as it is.  The one place that knows the old names."""
    if not any(name.startswith("body.") for name in state):
        return state
    renamed = {f"body.{index}.": f"{name}." for index, (name, _) in enumerate(model.layers())}
    upgraded = {}
    for name, value in state.items():
        head, _, rest = name.partition(".")
        number, _, attribute = rest.partition(".")
        prefix = f"body.{number}."
        upgraded[renamed[prefix] + attribute if head == "body" and prefix in renamed else name] = value
    return upgraded


def layer_table(model: Colorizer, height: int = 256, width: int = 256) -> list[dict]:
    """Per layer: its index and name, output shape, parameter count and multiply-add FLOPs (x2) per
    megapixel.

    Runs one forward pass on a zero image of the given size to get the shapes.
    """
    x = np.zeros((1, model.in_channels, height, width), dtype=next(iter(model.parameters())).data.dtype)
    rows = []
    megapixels = height * width / 1e6

    def visit(name, layer, y):
        params = sum(p.data.size for p in layer.parameters())
        if isinstance(layer, nn.Conv2d):
            flops = 2 * y.size * layer.in_channels * layer.kernel_size[0] * layer.kernel_size[1]
        elif isinstance(layer, (nn.BatchNorm2d, nn.Upsample)):
            flops = 4 * y.size
        else:
            flops = y.size
        rows.append({"index": len(rows), "name": name, "layer": repr(layer), "output": tuple(y.shape[1:]),
                     "params": params, "flops_per_megapixel": flops / megapixels})

    was_training = model.training
    model.eval()
    try:
        model.forward(x, logits=model.readout is not None, visit=visit)
    finally:
        model.train(was_training)
    return rows
