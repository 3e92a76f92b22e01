"""The enhancements as engine layers: gradient checks, the plain functions' forward, PyTorch autograd."""
import numpy as np
import pytest

import enhance
from enhance import gradcheck as enhance_gradcheck
from enhance.differentiable import (Brightness, Contrast, Gamma, Invert, Log, RGBGains, RGBToLab, Saturation,
                                   SoftCLAHE, SoftEqualize, ToneCurve, UnsharpMask)
from nnscratch import gradcheck
from nnscratch.checks import run_case as gradcheck_run_case
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
    from enhance.learn import fit_enhancement

    data = pytest.importorskip("skimage.data", reason="scikit-image ships the photograph")
    photo = data.astronaut()[::4, ::4].astype(np.float64) / 255              # 128 x 128 RGB
    edited = enhance.gamma(enhance.saturation(enhance.contrast(enhance.brightness(photo, 0.875), 1.25), 1.5), 0.75)
    chain, losses = fit_enhancement(photo, edited, [Brightness(1.0), Contrast(1.0), Saturation(1.0), Gamma(1.0)],
                                    steps=400, lr=0.02)
    fitted = [float(layer.factor.data[0]) for layer in chain[:3]] + [float(chain[3].gamma.data[0])]
    assert losses[-1] < 1e-3 * losses[0], (losses[0], losses[-1])
    np.testing.assert_allclose(fitted, [0.875, 1.25, 1.5, 0.75], atol=0.03)


# --- soft equalization, Lab, the objectives: gradient table, limits, PyTorch and Kornia ------------

@pytest.mark.parametrize("case", enhance_gradcheck.CASES, ids=[c.name for c in enhance_gradcheck.CASES])
def test_the_enhance_gradcheck_table_passes(case):
    errors = gradcheck_run_case(case)
    assert errors and max(errors.values()) <= case.tolerance, errors


def test_enhance_gradcheck_command_prints_every_row(capsys):
    assert enhance_gradcheck.main(["--layer", "soft eq"]) == 0
    out = capsys.readouterr().out
    assert "Soft equalization" in out and "1 passed, 0 failed" in out


def camera():
    data = pytest.importorskip("skimage.data", reason="scikit-image ships the photographs")
    return data.camera()[::2, ::2]                  # 256 x 256 uint8 gray photograph


def test_soft_equalization_approaches_equalize_hist_as_the_bandwidth_shrinks():
    gray = camera()
    reference = enhance.equalize_hist(gray).astype(np.float64)          # bit-exact with cv2.equalizeHist
    batch_ = np.repeat((gray / 255.0)[None, None], 3, axis=1)
    errors = []
    for bandwidth in (0.05, 0.01, 0.002, 0.0005):
        ours = SoftEqualize(bandwidth, 256).forward(batch_)[0, 0] * 255
        errors.append((np.abs(ours - reference).mean(), np.abs(ours - reference).max()))
    means = [mean for mean, _ in errors]
    assert all(a > b for a, b in zip(means, means[1:])), errors          # shrinks with the bandwidth
    assert errors[0][0] > 5                                              # a wide kernel is a different curve
    assert errors[-1][0] < 0.3 and errors[-1][1] <= 0.5 + 1e-9, errors   # the limit: OpenCV's table up to rounding


def test_soft_equalization_of_a_colour_photo_moves_channels_by_the_luma_change():
    data = pytest.importorskip("skimage.data", reason="scikit-image ships the photographs")
    photo = data.astronaut()[::4, ::4]
    ours = SoftEqualize(0.0005, 256).forward(as_batch(photo / 255.0))[0].transpose(1, 2, 0) * 255
    reference = enhance.equalize_hist(photo).astype(np.float64)         # through OpenCV's fixed-point luma
    difference = np.abs(ours - reference)
    assert difference.mean() < 0.6 and np.percentile(difference, 99) <= 2.0, (difference.mean(), difference.max())


def test_rgb_to_lab_layer_equals_the_colorspace_function():
    from enhance.colorspace import rgb_to_lab

    photo = synthetic_photo(30, 40).astype(np.float64) / 255
    ours = RGBToLab().forward(as_batch(photo))[0].transpose(1, 2, 0)
    np.testing.assert_allclose(ours, rgb_to_lab(photo), rtol=0, atol=1e-10)


def _torch_soft_equalize(torch, t, bandwidth, knots):
    luma = (t * torch.tensor([0.299, 0.587, 0.114], dtype=t.dtype).reshape(1, 3, 1, 1)).sum(1)
    spacing = 1 / (knots - 1)
    curves = []
    for y in luma.reshape(len(luma), -1):
        points = torch.cat([torch.arange(knots, dtype=t.dtype) * spacing, y[[int(y.argmin()), int(y.argmax())]]])
        cdf = torch.sigmoid((points[None] + spacing / 2 - y[:, None]) / bandwidth).mean(0)
        table = (cdf[:-2] - cdf[-2]) / (cdf[-1] - cdf[-2])
        index = torch.clamp(torch.floor(y / spacing).long(), 0, knots - 2)
        w = y / spacing - index
        curves.append((1 - w) * table[index] + w * table[index + 1])
    curve = torch.stack(curves).reshape(luma.shape)
    return torch.clamp(t + (curve - luma)[:, None], 0, 1)


def _torch_lab(torch, t):
    from enhance.colorspace import EPSILON, KAPPA, RGB_TO_XYZ, WHITE_D65

    linear = torch.where(t > 0.04045, ((torch.clamp(t, min=0.04045) + 0.055) / 1.055) ** 2.4, t / 12.92)
    xyz = torch.einsum("jc,nchw->njhw", torch.tensor(RGB_TO_XYZ / WHITE_D65[:, None], dtype=t.dtype), linear)
    f = torch.where(xyz > EPSILON, torch.clamp(xyz, min=EPSILON) ** (1 / 3), (KAPPA * xyz + 16) / 116)
    return torch.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], 1)


def test_soft_equalization_lab_and_objectives_match_pytorch_autograd():
    torch = pytest.importorskip("torch", reason="PyTorch is the reference (pip install torch==2.13.0)")
    from enhance.learn import ColourStatisticsLoss, ExposureLoss

    x = batch(5, shape=(2, 3, 7, 6))
    upstream = np.random.default_rng(6).normal(size=x.shape)
    for layer, formula in [(SoftEqualize(0.03, 16), lambda t: _torch_soft_equalize(torch, t, 0.03, 16)),
                           (RGBToLab(), lambda t: _torch_lab(torch, t))]:
        ours = layer.forward(x)
        grad = layer.backward(upstream)
        tx = torch.tensor(x, requires_grad=True)
        theirs = formula(tx)
        theirs.backward(torch.tensor(upstream))
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=1e-10, atol=1e-12)

    reference = batch(7, 0.0, 1.0, shape=(1, 3, 5, 9))

    def moments(t):
        lab = _torch_lab(torch, t)
        mean = lab.mean((0, 2, 3))
        return mean, torch.sqrt(((lab - mean.reshape(1, 3, 1, 1)) ** 2).mean((0, 2, 3)) + 1e-12)

    def soft_cdfs(t, bins, bandwidth):
        points = torch.linspace(0, 1, bins, dtype=t.dtype)
        return [torch.sigmoid((points[None] - t[:, c].reshape(-1, 1)) / bandwidth).mean(0) for c in range(3)]

    def statistics(t):
        ref = torch.tensor(reference)
        histogram = sum(((a - b) ** 2).sum() for a, b in zip(soft_cdfs(t, 32, 0.03), soft_cdfs(ref, 32, 0.03))) / 96
        (mean, std), (ref_mean, ref_std) = moments(t), moments(ref)
        return histogram + (((mean - ref_mean) ** 2).sum() + ((std - ref_std) ** 2).sum()) / (3 * 100 ** 2)

    def exposure(t):
        mean, std = moments(t)
        return ((mean[0] - 50) ** 2 + (std[0] - 20) ** 2) / 100 ** 2

    for loss, formula in [(ColourStatisticsLoss(), statistics), (ExposureLoss(), exposure)]:
        value = loss.forward(x, reference)
        grad = loss.backward()
        tx = torch.tensor(x, requires_grad=True)
        theirs = formula(tx)
        theirs.backward()
        assert value == pytest.approx(theirs.item(), rel=1e-12)
        np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_gamma_log_and_invert_match_kornia():
    pytest.importorskip("torch", reason="Kornia runs on PyTorch (pip install torch==2.13.0)")
    kornia = pytest.importorskip("kornia", reason="Kornia is the reference for its enhance functions (pip install kornia)")
    import torch

    x = batch(8)
    upstream = np.random.default_rng(9).normal(size=x.shape)
    cases = [(Gamma(0.8, 1.05), lambda t, g, k: kornia.enhance.adjust_gamma(t, g, k), ["gamma", "gain"]),
             (Log(1.05), lambda t, g: kornia.enhance.adjust_log(t, g), ["gain"]),
             (Invert(), lambda t: kornia.enhance.invert(t, torch.tensor(1.0, dtype=t.dtype)), [])]
    for layer, function, names in cases:
        layer = layer.double()
        ours = layer.forward(x)
        layer.zero_grad()
        grad = layer.backward(upstream)
        tx = torch.tensor(x, requires_grad=True)
        params = [torch.tensor(getattr(layer, n).data, requires_grad=True) for n in names]
        theirs = function(tx, *params)
        theirs.backward(torch.tensor(upstream))
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=1e-10, atol=1e-13)
        for name, param in zip(names, params):
            np.testing.assert_allclose(getattr(layer, name).grad, param.grad.numpy().reshape(-1), rtol=1e-10)


def test_rgb_to_lab_is_within_kornias_rounding_of_its_constants():
    pytest.importorskip("torch", reason="Kornia runs on PyTorch (pip install torch==2.13.0)")
    kornia = pytest.importorskip("kornia", reason="Kornia is the reference (pip install kornia)")
    import torch

    photo = as_batch(synthetic_photo(30, 40).astype(np.float64) / 255)
    theirs = kornia.color.rgb_to_lab(torch.tensor(photo)).numpy()
    # Kornia writes the linear segment of f as 7.787 t + 4/29 from t > 0.008856 (the CIE's rounded
    # constants); ours uses the exact 24389/27/116 and 216/24389 -- the only difference.
    np.testing.assert_allclose(RGBToLab().forward(photo), theirs, rtol=0, atol=1e-3)


@pytest.mark.parametrize("clip_limit", [2.0, 0.0])
def test_soft_clahe_approaches_clahe_as_the_bandwidth_shrinks(clip_limit):
    gray = camera()[::2, ::2]                                           # 128 x 128, 4 x 4 tiles of 32²
    reference = enhance.clahe(gray, clip_limit, (4, 4)).astype(np.float64)   # bit-exact with OpenCV
    batch_ = np.repeat((gray / 255.0)[None, None], 3, axis=1)
    errors = []
    for bandwidth in (0.02, 0.005, 0.001, 0.0003):
        ours = SoftCLAHE(clip_limit, (4, 4), bandwidth, 256).forward(batch_)[0, 0] * 255
        errors.append((np.abs(ours - reference).mean(), np.abs(ours - reference).max()))
    means = [mean for mean, _ in errors]
    assert all(a > b for a, b in zip(means, means[1:])), errors
    assert errors[-1][0] < 0.35 and errors[-1][1] < 1.0, errors       # OpenCV rounds its tables to levels


def _torch_soft_clahe(torch, t, clip_limit, tiles, bandwidth, knots):
    from enhance.differentiable import SoftCLAHE as Layer

    layer = Layer(clip_limit, tiles, bandwidth, knots)
    n, _, height, width = t.shape
    tile_h, tile_w, (x1, x2, wx), (y1, y2, wy) = layer._geometry(height, width)
    area, spacing = tile_h * tile_w, 1 / (knots - 1)
    edges = torch.tensor((np.arange(knots + 1) - 0.5) * spacing, dtype=t.dtype)
    limit = max(clip_limit * area / knots, 1.0)
    luma = (t * torch.tensor([0.299, 0.587, 0.114], dtype=t.dtype).reshape(1, 3, 1, 1)).sum(1)
    index = torch.clamp(torch.floor(luma / spacing).long(), 0, knots - 2)
    frac = luma / spacing - index
    wy_, wx_ = torch.tensor(wy)[:, None], torch.tensor(wx)[None, :]
    ya, yb = torch.tensor(y1)[:, None] * layer.tiles_x, torch.tensor(y2)[:, None] * layer.tiles_x
    xa, xb = torch.tensor(x1)[None, :], torch.tensor(x2)[None, :]
    neighbours = [(ya + xa, (1 - wy_) * (1 - wx_)), (ya + xb, (1 - wy_) * wx_), (yb + xa, wy_ * (1 - wx_)),
                  (yb + xb, wy_ * wx_)]
    curves = []
    for image in range(n):
        tiles_ = luma[image].reshape(layer.tiles_y, tile_h, layer.tiles_x, tile_w).permute(0, 2, 1, 3).reshape(-1, area)
        tables = []
        for values in tiles_:
            cdf = torch.sigmoid((edges[None, :] - values[:, None]) / bandwidth).mean(0)
            counts = area * (cdf[1:] - cdf[:-1])
            if clip_limit > 0:
                excess = torch.clamp(counts - limit, min=0).sum()
                pattern = torch.tensor(layer._remainder_pattern(excess.item()), dtype=t.dtype)
                counts = torch.clamp(counts, max=limit) + excess / knots + pattern
            tables.append(torch.cumsum(counts, 0) / area)
        table = torch.stack(tables)
        curve = sum(w * ((1 - frac[image]) * table[tile, index[image]] + frac[image] * table[tile, index[image] + 1])
                    for tile, w in neighbours)
        curves.append(curve)
    curve = torch.stack(curves)
    return torch.clamp(t + (curve - luma)[:, None], 0, 1)


@pytest.mark.parametrize("clip_limit", [1.5, 0.0])
def test_soft_clahe_matches_pytorch_autograd(clip_limit):
    torch = pytest.importorskip("torch", reason="PyTorch is the reference (pip install torch==2.13.0)")
    x = batch(11, shape=(2, 3, 9, 8))
    upstream = np.random.default_rng(12).normal(size=x.shape)
    layer = SoftCLAHE(clip_limit, (2, 3), 0.05, 16)
    ours = layer.forward(x)
    grad = layer.backward(upstream)
    tx = torch.tensor(x, requires_grad=True)
    theirs = _torch_soft_clahe(torch, tx, clip_limit, (2, 3), 0.05, 16)
    theirs.backward(torch.tensor(upstream))
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
