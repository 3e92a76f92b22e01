"""Learning enhancement parameters by backprop: the objectives, the fits, full-size application, the command."""
import numpy as np
import pytest

import enhance
from enhance.cli import main
from enhance.differentiable import Brightness, Contrast, Gamma, Saturation
from enhance.io import read_image, write_image
from enhance.learn import (ColourStatisticsLoss, ExposureLoss, apply_chain, as_float_rgb, auto_exposure,
                           describe_chain, downscale_blocks, match_reference)

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image ships the photographs")


def astronaut():
    return skimage_data.astronaut()[::2, ::2]          # 256 x 256 RGB photograph, uint8


def coffee():
    return skimage_data.coffee()[::2, ::2]             # 200 x 300


def lab_moments(image):
    from enhance.colorspace import rgb_to_lab

    lab = rgb_to_lab(as_float_rgb(image))
    return lab.reshape(-1, 3).mean(axis=0), lab.reshape(-1, 3).std(axis=0)


def test_matching_a_known_edit_by_statistics_alone_reproduces_it():
    photo = astronaut()
    edited = enhance.gamma(enhance.saturation(enhance.contrast(enhance.brightness(photo, 0.875), 1.25), 1.5), 0.75)
    chain, losses = match_reference(photo, edited, [Brightness(1.0), Contrast(1.0), Saturation(1.0), Gamma(1.0)],
                                    steps=400, size=64)
    assert losses[-1] < 0.01 * losses[0], (losses[0], losses[-1])
    result = apply_chain(chain, photo)
    psnr = 10 * np.log10(255.0 ** 2 / np.mean((result.astype(float) - edited) ** 2))
    assert psnr > 35, psnr       # 48 dB before the fit would be identity: 15-20 dB
    fitted = [chain[0].factor.data[0], chain[1].factor.data[0], chain[2].factor.data[0], chain[3].gamma.data[0]]
    # Statistics cannot tell brightness from gamma exactly; contrast and saturation come back closely.
    np.testing.assert_allclose(fitted, [0.875, 1.25, 1.5, 0.75], atol=0.08)


def test_matching_another_photo_moves_the_statistics_towards_it():
    photo, reference = astronaut(), coffee()
    loss = ColourStatisticsLoss()
    before = loss.forward(downscale_blocks(as_float_rgb(photo), 64), downscale_blocks(as_float_rgb(reference), 64))
    chain, losses = match_reference(photo, reference, size=64)
    assert losses[0] == pytest.approx(before, rel=1e-3)    # the default chain starts at (nearly) the identity
    assert losses[-1] < 0.1 * losses[0]
    result = apply_chain(chain, photo)
    (mean0, std0), (mean1, std1), (target_mean, target_std) = (lab_moments(i) for i in (photo, result, reference))
    assert np.abs(mean1 - target_mean).sum() < 0.5 * np.abs(mean0 - target_mean).sum()
    assert np.abs(std1 - target_std).sum() < 0.5 * np.abs(std0 - target_std).sum()


def test_auto_exposure_reaches_the_target_lightness_and_contrast():
    dark = enhance.gamma(astronaut(), 2.2)                                   # a dull, dark copy
    chain, losses = auto_exposure(dark, lightness=55, contrast=22)
    result = apply_chain(chain, dark)
    mean, std = lab_moments(result)
    assert mean[0] == pytest.approx(55, abs=1.0) and std[0] == pytest.approx(22, abs=1.0)
    assert lab_moments(dark)[0][0] < 40


def test_fitting_is_deterministic():
    first = describe_chain(match_reference(astronaut(), coffee(), steps=30)[0])
    second = describe_chain(match_reference(astronaut(), coffee(), steps=30)[0])
    assert first == second and "saturation" in first


@pytest.mark.parametrize("kind", ["uint8 rgb", "uint16 rgb", "float rgb", "uint8 gray", "uint8 rgba"])
def test_apply_chain_keeps_dtype_shape_and_alpha(kind):
    photo = astronaut()[:40, :50]
    image = {"uint8 rgb": photo, "uint16 rgb": photo.astype(np.uint16) * 257, "float rgb": photo / 255.0,
             "uint8 gray": photo[..., 1],
             "uint8 rgba": np.dstack([photo, np.arange(40 * 50).reshape(40, 50) % 256]).astype(np.uint8)}[kind]
    chain = [Brightness(1.25), Gamma(0.75)]
    result = apply_chain(chain, image)
    assert result.dtype == image.dtype and result.shape == image.shape
    colour = as_float_rgb(image)
    expected = enhance.gamma(enhance.brightness(colour, 1.25), 0.75)
    got = as_float_rgb(result)
    tolerance = {np.dtype(np.uint8): 0.5 / 255 + 1e-6, np.dtype(np.uint16): 0.5 / 65535 + 1e-6}.get(image.dtype, 1e-6)
    assert np.abs(got - expected).max() <= tolerance
    if kind == "uint8 rgba":
        np.testing.assert_array_equal(result[..., 3], image[..., 3])


def test_objectives_refuse_nonsense_targets():
    with pytest.raises(ValueError, match="lightness"):
        ExposureLoss(lightness=150)


@pytest.fixture
def files(tmp_path):
    write_image(tmp_path / "photo.png", astronaut())
    write_image(tmp_path / "reference.png", coffee())
    return tmp_path


def test_auto_command_matches_a_reference_and_prints_the_parameters(files, capsys):
    out = files / "out.png"
    assert main(["auto", str(files / "photo.png"), str(out), "--like", str(files / "reference.png"), "--steps", "60",
                 "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "parameters: rgb (gains [" in printed and "tone curve (strength" in printed
    chain, _ = match_reference(astronaut(), coffee(), steps=60)
    np.testing.assert_array_equal(read_image(out), apply_chain(chain, astronaut()))


def test_auto_command_without_a_reference_leaves_colour_alone(files, capsys):
    out = files / "out.png"
    assert main(["auto", str(files / "photo.png"), str(out), "--lightness", "60", "--steps", "200", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "saturation" not in printed and "brightness" in printed
    assert lab_moments(read_image(out))[0][0] == pytest.approx(60, abs=1.5)


@pytest.mark.parametrize("argv, message", [
    (["--chain", "brightness,sepia"], "--chain takes"),
    (["--steps", "0"], "--steps"),
    (["--lightness", "120"], "--lightness"),
])
def test_auto_command_refuses_bad_options_in_one_line(files, capsys, argv, message):
    out = files / "out.png"
    assert main(["auto", str(files / "photo.png"), str(out), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("enhance: error:") and message in err and "\n" not in err
    assert not out.exists()


def test_auto_command_never_overwrites_its_input_unasked(files, capsys):
    photo = files / "photo.png"
    before = photo.read_bytes()
    assert main(["auto", str(photo), str(photo), "--steps", "5", "--quiet"]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert photo.read_bytes() == before
