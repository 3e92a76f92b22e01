"""The colorizer network: lightness L in, the two chroma channels a, b out.

An encoder–decoder of 3x3 convolutions, each hidden one followed by (batch
normalisation and) ReLU:

    L (1 channel, normalised to [-1, 1])
    ├─ full resolution   conv 1→w,  conv w→w stride 2            ↓2
    ├─ 1/2               conv w→2w, conv 2w→2w stride 2          ↓4
    ├─ 1/4               conv 2w→4w, conv 4w→4w stride 2         ↓8
    ├─ 1/8               (hidden_layers - 12) convs 4w→4w, dilation 2
    ├─ up to 1/4         upsample x2, conv 4w→2w, conv 2w→2w
    ├─ up to 1/2         upsample x2, conv 2w→w,  conv w→w
    ├─ up to full        upsample x2, conv w→w,   conv w→w
    └─ output            conv w→2, tanh          ab = 110 · tanh(...)

With the default 18 hidden layers that is 6 + 6 + 6.  Fewer hidden layers
(at least 6) drop the constant-resolution convolutions first; more add to
the 1/8-resolution middle.  Inputs must have sides divisible by 8
(inference pads to that).
"""
from __future__ import annotations

import numpy as np

import nnscratch as nn

AB_SCALE = 110.0          # ab = AB_SCALE * network output (tanh range)
DOWNSAMPLING = 8
DEFAULT_CONFIG = {"hidden_layers": 18, "width": 32, "norm": "batch"}
# Order in which constant-resolution layers are added when hidden_layers > 6.
_SAME_SLOTS = ("enc0", "enc1", "enc2", "dec2", "dec1", "dec0")


def normalize_lightness(lightness):
    """CIE L in [0, 100] -> network input in [-1, 1]."""
    return lightness / 50.0 - 1.0


def check_config(hidden_layers: int, width: int, norm: str) -> dict:
    """Validate a model configuration; return it as a plain dict."""
    if not isinstance(hidden_layers, (int, np.integer)) or hidden_layers < 6:
        raise ValueError(f"hidden_layers must be an integer >= 6 (3 down, 3 up), got {hidden_layers!r}")
    if not isinstance(width, (int, np.integer)) or width < 1:
        raise ValueError(f"width must be a positive integer, got {width!r}")
    if norm not in ("batch", "none"):
        raise ValueError(f"norm must be 'batch' or 'none', got {norm!r}")
    return {"hidden_layers": int(hidden_layers), "width": int(width), "norm": norm}


class Colorizer(nn.Module):
    """CNN mapping normalised lightness ``(N, 1, H, W)`` to ab/110 ``(N, 2, H, W)`` in (-1, 1).

    Parameters
    ----------
    hidden_layers : int
        Hidden 3x3 convolutions, each followed by ReLU (default 18).
    width : int
        Channels at full resolution; 2x and 4x deeper down.
    norm : 'batch' or 'none'
        Batch normalisation between each hidden convolution and its ReLU.
    seed : int
        Seeds the He initialisation.
    """

    def __init__(self, hidden_layers: int = 18, width: int = 32, norm: str = "batch", seed: int = 0):
        super().__init__()
        self.config = check_config(hidden_layers, width, norm)
        rng = np.random.default_rng(seed)
        widths = (width, 2 * width, 4 * width)
        extra = hidden_layers - 6
        same = set(_SAME_SLOTS[:extra])
        middle = max(extra - len(_SAME_SLOTS), 0)
        layers: list[nn.Module] = []
        channels = 1

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
            hidden(stage_width, stride=2)
        for _ in range(middle):
            hidden(widths[2], dilation=2)
        for level, stage_width in ((2, widths[1]), (1, widths[0]), (0, widths[0])):
            layers.append(nn.Upsample(scale_factor=2, mode="bilinear"))
            hidden(stage_width)
            if f"dec{level}" in same:
                hidden(stage_width)
        layers.append(nn.Conv2d(channels, 2, 3, padding=1, rng=rng))
        layers.append(nn.Tanh())
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != 1:
            raise ValueError(f"Colorizer expects normalised lightness of shape (N, 1, H, W), got {tuple(x.shape)}")
        if x.shape[2] % DOWNSAMPLING or x.shape[3] % DOWNSAMPLING:
            raise ValueError(f"Colorizer needs height and width divisible by {DOWNSAMPLING}, got {tuple(x.shape[2:])}")
        return self.body.forward(x)

    def backward(self, grad_output):
        """Parameter gradients; returns None, since the lightness input is data and the first
        convolution skips its input gradient (set ``body[0].input_grad = True`` to get it)."""
        return self.body.backward(grad_output)

    def hidden_layer_count(self) -> int:
        return sum(isinstance(m, nn.ReLU) for m in self.body)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config.items())


def layer_table(model: Colorizer, height: int = 256, width: int = 256) -> list[dict]:
    """Per layer: name, output shape, parameter count and multiply-add FLOPs (x2) per megapixel.

    Runs one forward pass on a zero image of the given size to get the shapes.
    """
    x = np.zeros((1, 1, height, width), dtype=next(iter(model.parameters())).data.dtype)
    rows = []
    was_training = model.training
    model.eval()
    megapixels = height * width / 1e6
    for index, layer in enumerate(model.body):
        y = layer.forward(x)
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
