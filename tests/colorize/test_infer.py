"""colorize(): any size, mode and dtype in; RGB of the same size out; lightness kept."""
import tracemalloc

import numpy as np
import pytest

import nnscratch as nn
from colorize import colorize, load_model, rgb_to_lab
from colorize.infer import working_size
from colorize.model import Colorizer
from tests.conftest import synthetic_photo


@pytest.fixture(scope="module")
def model():
    return Colorizer(hidden_layers=18, width=2, seed=1).eval()


@pytest.mark.parametrize("shape, dtype", [
    ((37, 53), np.uint8), ((37, 53, 3), np.uint8), ((1, 1), np.uint8), ((1, 9, 3), np.uint8),
    ((20, 30), np.uint16), ((20, 30, 3), np.float32), ((20, 30, 1), np.float64), ((600, 900, 3), np.uint8),
])
def test_output_is_uint8_rgb_of_the_input_size(model, shape, dtype):
    rng = np.random.default_rng(0)
    image = (rng.random(shape) * (np.iinfo(dtype).max if dtype in (np.uint8, np.uint16) else 1)).astype(dtype)
    out = colorize(image, model, size=128)
    assert out.shape == shape[:2] + (3,) and out.dtype == np.uint8


def test_the_input_lightness_is_kept(model):
    photo = synthetic_photo(64, 80)
    gray = np.rint(rgb_to_lab(photo / 255.0)[..., 0] * 2.55).astype(np.uint8)  # some gray image
    out = colorize(gray, model, size=32)
    from enhance.colorspace import lightness

    expected = lightness(gray / 255.0)
    got = rgb_to_lab(out / 255.0)[..., 0]
    # Only the final rounding to 8 bits (and clipping of out-of-gamut colours) may move L.
    assert np.median(np.abs(got - expected)) < 0.3
    # Colour input: its colour is replaced, its lightness kept.
    recoloured = rgb_to_lab(colorize(photo, model, size=32) / 255.0)[..., 0]
    assert np.median(np.abs(recoloured - rgb_to_lab(photo / 255.0)[..., 0])) < 0.3


def test_alpha_passes_through(model):
    rgba = np.dstack([synthetic_photo(16, 24), np.arange(16 * 24, dtype=np.uint8).reshape(16, 24)])
    out = colorize(rgba, model)
    assert out.shape == (16, 24, 4)
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])
    gray_alpha = np.dstack([rgba[..., 0], rgba[..., 3]])
    np.testing.assert_array_equal(colorize(gray_alpha, model)[..., 3], rgba[..., 3])


def test_bad_arrays_are_rejected(model):
    with pytest.raises(ValueError, match="image"):
        colorize(np.zeros((4, 4, 5), dtype=np.uint8), model)
    with pytest.raises(TypeError, match="dtype"):
        colorize(np.zeros((4, 4), dtype=np.int64), model)
    with pytest.raises(TypeError, match="NumPy"):
        colorize([[1, 2]], model)


def test_working_size_never_upscales():
    assert working_size(3000, 4000, 512) == (384, 512)
    assert working_size(100, 50, 512) == (100, 50)
    assert working_size(100, 50, None) == (100, 50)


def test_a_12_megapixel_photo_needs_well_under_1_5_gb(model):
    photo = np.random.default_rng(0).integers(0, 256, size=(3000, 4000, 3), dtype=np.uint8)
    tracemalloc.start()
    out = colorize(photo, model, size=512)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert out.shape == (3000, 4000, 3)
    assert peak < 1.5e9, f"peak {peak / 1e9:.2f} GB"


def test_model_files_round_trip_and_errors(model, tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    nn.save(path, {"format": "colorize-model", "config": {"model": model.config}, "model": dict(model.state_dict())})
    loaded = load_model(path)
    image = synthetic_photo(16, 16)
    np.testing.assert_array_equal(colorize(image, loaded), colorize(image, model))
    nn.save(tmp_path / "other.npz", {"format": "something else"})
    with pytest.raises(ValueError, match="not a colorizer model"):
        load_model(tmp_path / "other.npz")
    import importlib

    monkeypatch.setattr(importlib.import_module("colorize.infer"), "DEFAULT_WEIGHTS", tmp_path / "missing.npz")
    with pytest.raises(FileNotFoundError, match="no default model"):
        load_model()


def test_float_input_in_0_255_is_refused_with_the_fix(model):
    gray = np.full((16, 16), 200, dtype=np.float32)
    with pytest.raises(ValueError, match="divide by 255"):
        colorize(gray, model)


def test_chroma_ratio_and_tint_angle_say_how_colourful_and_which_way():
    from colorize.metrics import chroma_ratio, tint_angle

    rng = np.random.default_rng(0)
    truth = np.stack([rng.normal(20, 5, (8, 8)), rng.normal(10, 5, (8, 8))], axis=-1)       # an orange cast
    assert chroma_ratio(truth, truth) == pytest.approx(1.0)
    assert chroma_ratio(truth * 0.5, truth) == pytest.approx(0.5)
    assert chroma_ratio(np.zeros_like(truth), truth) == 0.0
    assert tint_angle(truth, truth) == pytest.approx(0.0, abs=1e-6)
    assert tint_angle(-truth, truth) == pytest.approx(180.0)
    rotated = np.stack([-truth[..., 1], truth[..., 0]], axis=-1)                               # hue turned by 90°
    assert tint_angle(rotated, truth) == pytest.approx(90.0)
    assert np.isnan(tint_angle(truth, truth * 0.01))                                           # no clear tint
    assert tint_angle(np.zeros_like(truth), truth) == 180.0


def test_vividness_scales_the_predicted_chroma_and_keeps_hue_and_lightness():
    from colorize.infer import predict_ab

    model = load_model()                       # the shipped network: colour to scale
    photo = synthetic_photo(64, 96, seed=3)
    light = rgb_to_lab(photo.astype(np.float32) / 255)[..., 0]
    own = predict_ab(model, light, size=None, vividness=0.0)
    doubled = predict_ab(model, light, size=None, vividness=1.0)
    np.testing.assert_allclose(doubled, 2 * own, rtol=1e-6, atol=1e-5)
    default = model.config.get("vividness", 0.0)
    np.testing.assert_array_equal(predict_ab(model, light, size=None), predict_ab(model, light, size=None, vividness=default))
    plain, vivid = colorize(photo, model, vividness=0.0), colorize(photo, model, vividness=1.0)
    chroma = lambda rgb: np.hypot(*rgb_to_lab(rgb.astype(np.float32) / 255)[..., 1:].transpose(2, 0, 1)).mean()  # noqa: E731
    assert chroma(vivid) > 1.5 * chroma(plain)
    np.testing.assert_allclose(rgb_to_lab(vivid.astype(np.float32) / 255)[..., 0],
                               rgb_to_lab(plain.astype(np.float32) / 255)[..., 0], atol=1.5)
    for bad in (-0.1, 1.5, float("nan"), "1", True):
        with pytest.raises(ValueError, match="vividness"):
            colorize(photo, model, vividness=bad)


def test_a_models_own_vividness_travels_in_its_file(tmp_path):
    from colorize.infer import save_model

    model = Colorizer(hidden_layers=6, width=2, seed=0).set_vividness(0.4)
    save_model(model, tmp_path / "m.npz")
    assert load_model(tmp_path / "m.npz").config["vividness"] == 0.4
    assert "vividness" not in Colorizer(hidden_layers=6, width=2).config       # 0 is not written: old files read as before


def test_bilinear_matrix_is_pillows_bilinear_resize():
    from PIL import Image

    from colorize.infer import bilinear_matrix

    rng = np.random.default_rng(4)
    channel = rng.uniform(0, 100, (37, 53)).astype(np.float32)
    for height, width in ((9, 13), (37, 53), (80, 120), (20, 200)):        # down, same, up, both
        expected = np.asarray(Image.fromarray(channel).resize((width, height), Image.Resampling.BILINEAR))
        ours = bilinear_matrix(37, height) @ channel.astype(np.float64) @ bilinear_matrix(53, width).T
        np.testing.assert_allclose(ours, expected, rtol=0, atol=2e-4)


@pytest.mark.parametrize("shape, dtype", [((300, 400, 3), np.uint8), ((120, 90), np.uint16), ((64, 48, 4), np.uint8)])
def test_colorize_on_a_device_equals_the_cpu_path(shape, dtype):
    """With the model on a device (the stand-in), lightness, resizing and Lab -> RGB run there too."""
    import copy

    from tests.nnscratch.fake_device import to_fake_device

    model = load_model()
    rng = np.random.default_rng(5)
    top = np.iinfo(dtype).max
    photo = synthetic_photo(shape[0], shape[1], seed=2).astype(np.float64) / 255 * top
    image = photo.astype(dtype) if len(shape) == 3 and shape[2] == 3 else (
        photo[..., 0].astype(dtype) if len(shape) == 2 else
        np.concatenate([photo, rng.integers(0, top, shape[:2] + (1,))], axis=-1).astype(dtype))
    hints = [(10, 12, "#c03020")]
    on_cpu = colorize(image, model, hints=hints, dtype=dtype)
    on_device = colorize(image, to_fake_device(copy.deepcopy(model)), hints=hints, dtype=dtype)
    assert on_device.shape == on_cpu.shape and on_device.dtype == on_cpu.dtype
    difference = np.abs(on_device.astype(np.int64) - on_cpu.astype(np.int64))
    assert difference.max() <= (2 if dtype == np.uint8 else 2 * 257), difference.max()
    assert (difference > (1 if dtype == np.uint8 else 257)).mean() < 1e-3


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_image_lightness_is_the_lab_conversions_l_bit_for_bit(dtype):
    from colorize.infer import image_lightness
    from enhance.colorspace import lightness, rgb_to_lab
    from enhance.image import to_float

    rng = np.random.default_rng(3)
    top = np.iinfo(dtype).max if dtype != np.float32 else 1
    rgb = (rng.random((300, 211, 3)) * top).astype(dtype) if dtype == np.float32 else \
        rng.integers(0, top + 1, (300, 211, 3)).astype(dtype)
    np.testing.assert_array_equal(image_lightness(rgb), rgb_to_lab(to_float(rgb))[..., 0])
    np.testing.assert_array_equal(image_lightness(rgb[..., 1]), lightness(to_float(rgb[..., 1])))
