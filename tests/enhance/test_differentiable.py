"""The enhancements as engine layers: gradient checks, the plain functions' forward, PyTorch autograd."""
import numpy as np
import pytest

import enhance
from enhance.differentiable import (Brightness, Contrast, Gamma, Invert, Log, RGBGains, Saturation, ToneCurve,
                                   UnsharpMask)
from nnscratch import gradcheck
from tests.conftest import synthetic_photo

LAYERS = {   # parameters that keep every output strictly inside (0, 1) for inputs in [0.15, 0.85]
    "brightness": lambda: Brightness(1.1),
    "contrast": lambda: Contrast(1.2),
    "saturation": lambda: Saturation(1.3),
    "gamma": lambda: Gamma(0.8, 1.05),
    "rgb": lambda: RGBGains(1.1, 0.95, 1.05),
    "invert": lambda: Invert(),
    "tone curve": lambda: ToneCurve(3.0, 0.45),
    "log": lambda: Log(1.05),
    "unsharp mask": lambda: UnsharpMask(0.3, sigma=1.5),
}


def batch(seed=0, low=0.15, high=0.85, shape=(2, 3, 6, 7)):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


@pytest.mark.parametrize("name", LAYERS)
def test_every_layer_passes_the_float64_gradient_check(name):
    errors = gradcheck(LAYERS[name](), batch())
    assert max(errors.values()) <= 1e-7, errors


def as_batch(image):
    return image.transpose(2, 0, 1)[None]


@pytest.mark.parametrize("layer, function", [   # parameter values exact in float32, the layers' storage
    (Brightness(1.5), lambda x: enhance.brightness(x, 1.5)),
    (Contrast(1.75), lambda x: enhance.contrast(x, 1.75)),
    (Contrast(0.375), lambda x: enhance.contrast(x, 0.375)),
    (Saturation(2.0), lambda x: enhance.saturation(x, 2.0)),
    (Gamma(0.5, 1.25), lambda x: enhance.gamma(x, 0.5, 1.25)),
    (Gamma(2.25), lambda x: enhance.gamma(x, 2.25)),
    (RGBGains(1.25, 1.0, 0.75), lambda x: enhance.rgb(x, 1.25, 1.0, 0.75)),
    (Invert(), enhance.invert),
    (Log(1.25), lambda x: enhance.log_transform(x, 1.25)),
    (UnsharpMask(1.5, sigma=1.0), lambda x: enhance.unsharp_mask(x, 1.0, 1.5)),
    (UnsharpMask(0.75, sigma=2.5), lambda x: enhance.unsharp_mask(x, 2.5, 0.75)),
])
def test_forward_equals_the_plain_function_on_a_photo(layer, function):
    photo = synthetic_photo(40, 50).astype(np.float64) / 255          # RGB, strong reds and blues, clipping
    layer = layer.double()
    np.testing.assert_allclose(layer.forward(as_batch(photo))[0].transpose(1, 2, 0), function(photo),
                               rtol=0, atol=1e-12)


def test_clipped_outputs_pass_no_gradient():
    bright = np.full((1, 3, 4, 4), 0.9)
    layer = Brightness(3.0).double()                                  # every output clipped at 1
    layer.forward(bright)
    grad_input = layer.backward(np.ones_like(bright))
    assert not grad_input.any() and layer.factor.grad[0] == 0
    half = np.concatenate([np.full((1, 3, 2, 4), 0.1), np.full((1, 3, 2, 4), 0.9)], axis=2)
    layer = Brightness(2.0).double()                                  # 0.2 inside, 1.8 clipped
    layer.forward(half)
    grad_input = layer.backward(np.ones_like(half))
    assert np.all(grad_input[:, :, :2] == 2.0) and not grad_input[:, :, 2:].any()
    assert layer.factor.grad[0] == pytest.approx(0.1 * 24)


def test_tone_curve_is_a_monotone_curve_through_the_corners():
    x = np.linspace(0, 1, 101).reshape(1, 1, 1, 101).repeat(3, axis=1)
    y = ToneCurve(4.0, 0.4).double().forward(x)[0, 0, 0]
    assert y[0] == pytest.approx(0, abs=1e-12) and y[-1] == pytest.approx(1, abs=1e-12)
    assert np.all(np.diff(y) > 0) and y[40] < 0.5 < y[60]


def test_layers_match_pytorch_autograd_in_float64():
    torch = pytest.importorskip("torch", reason="PyTorch is the reference (pip install torch==2.13.0)")
    x = batch(3)
    upstream = np.random.default_rng(4).normal(size=x.shape)
    luma = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64).reshape(1, 3, 1, 1)

    def brightness(t, f):
        return torch.clamp(f * t, 0, 1)

    def contrast(t, f):
        mean = (t * luma).sum(1, keepdim=True).mean((2, 3), keepdim=True)
        return torch.clamp(mean + f * (t - mean), 0, 1)

    def saturation(t, f):
        gray = (t * luma).sum(1, keepdim=True)
        return torch.clamp(gray + f * (t - gray), 0, 1)

    def tone(t, k, m):
        def s(v):
            return torch.sigmoid(v)
        return (s(k * (t - m)) - s(-k * m)) / (s(k * (1 - m)) - s(-k * m))

    from enhance.differentiable import blur_matrix

    rows, cols = (torch.from_numpy(blur_matrix(n, 1.5)) for n in x.shape[2:])

    def unsharp(t, a):     # the blur written independently of the layer: the same matrices, autograd's adjoint
        return torch.clamp(t + a * (t - rows @ t @ cols.T), 0, 1)

    cases = [(Brightness(1.1), brightness, ["factor"]), (Contrast(1.2), contrast, ["factor"]),
             (Saturation(1.3), saturation, ["factor"]),
             (Gamma(0.8, 1.05), lambda t, g, k: torch.clamp(k * t ** g, 0, 1), ["gamma", "gain"]),
             (RGBGains(1.1, 0.95, 1.05), lambda t, k: torch.clamp(t * k.reshape(1, 3, 1, 1), 0, 1), ["gains"]),
             (ToneCurve(3.0, 0.45), tone, ["strength", "midpoint"]),
             (Log(1.05), lambda t, g: torch.clamp(g * torch.log2(1 + t), 0, 1), ["gain"]),
             (UnsharpMask(0.3, sigma=1.5), unsharp, ["amount"])]
    for layer, formula, names in cases:
        layer = layer.double()
        ours = layer.forward(x)
        layer.zero_grad()
        grad_x = layer.backward(upstream)
        tx = torch.tensor(x, requires_grad=True)
        params = [torch.tensor(getattr(layer, n).data, requires_grad=True) for n in names]
        theirs = formula(tx, *(p if p.numel() > 1 else p[0] for p in params))
        theirs.backward(torch.tensor(upstream))
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(grad_x, tx.grad.numpy(), rtol=1e-10, atol=1e-13)
        for name, param in zip(names, params):
            np.testing.assert_allclose(getattr(layer, name).grad, param.grad.numpy(), rtol=1e-10)


def test_fitting_by_backprop_recovers_known_parameters():
    from enhance.differentiable import fit_enhancement

    data = pytest.importorskip("skimage.data", reason="scikit-image ships the photograph")
    photo = data.astronaut()[::4, ::4].astype(np.float64) / 255              # 128 x 128 RGB
    edited = enhance.gamma(enhance.saturation(enhance.contrast(enhance.brightness(photo, 0.875), 1.25), 1.5), 0.75)
    chain, losses = fit_enhancement(photo, edited, [Brightness(1.0), Contrast(1.0), Saturation(1.0), Gamma(1.0)],
                                    steps=400, lr=0.02)
    fitted = [float(layer.factor.data[0]) for layer in chain[:3]] + [float(chain[3].gamma.data[0])]
    assert losses[-1] < 1e-3 * losses[0], (losses[0], losses[-1])
    np.testing.assert_allclose(fitted, [0.875, 1.25, 1.5, 0.75], atol=0.03)
