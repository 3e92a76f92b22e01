"""rgb_to_lab / lab_to_rgb against scikit-image, OpenCV and hand-computed values."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from enhance.colorspace import lab_to_rgb, lightness, rgb_to_lab


def random_rgb(shape=(40, 50, 3), seed=0, dtype=np.float64):
    return np.random.default_rng(seed).random(shape).astype(dtype)


def test_matches_scikit_image_within_5e_3():
    color = pytest.importorskip("skimage.color", reason="scikit-image is the Lab reference")
    rgb = random_rgb()
    assert np.abs(rgb_to_lab(rgb) - color.rgb2lab(rgb)).max() <= 5e-3
    lab = rgb_to_lab(rgb)
    assert np.abs(lab_to_rgb(lab) - color.lab2rgb(lab)).max() <= 5e-3


def test_matches_opencv_within_its_documented_approximation():
    cv2 = pytest.importorskip("cv2", reason="OpenCV is a Lab reference")
    rgb = random_rgb(dtype=np.float32)
    difference = np.abs(rgb_to_lab(rgb) - cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)).max(axis=(0, 1))
    # OpenCV's RGB2Lab on float32 interpolates a 33^3 table: ~0.25 in L, ~0.6 in a and b (REFERENCES.md).
    assert difference[0] <= 0.3 and difference[1] <= 0.65 and difference[2] <= 0.65
    lab = rgb_to_lab(rgb)
    assert np.abs(lab_to_rgb(lab) - cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)).max() <= 1e-3


def test_round_trip_in_float64():
    rgb = random_rgb((100, 100, 3), seed=1)
    assert np.abs(lab_to_rgb(rgb_to_lab(rgb)) - rgb).max() <= 1e-5


@pytest.mark.parametrize("rgb, lab", [
    ((0, 0, 0), (0, 0, 0)),
    ((1, 1, 1), (100, 0, 0)),
    ((0.5, 0.5, 0.5), (53.389, 0, 0)),   # Y = ((0.5 + 0.055) / 1.055)^2.4 = 0.21404; L = 116 Y^(1/3) - 16
    ((1, 0, 0), (53.241, 80.092, 67.203)),
    ((0, 1, 0), (87.735, -86.183, 83.180)),
    ((0, 0, 1), (32.297, 79.188, -107.860)),
])
def test_hand_computed_values(rgb, lab):
    np.testing.assert_allclose(rgb_to_lab(np.array(rgb, dtype=np.float64)), lab, atol=1e-2)


def test_mid_gray_lightness_by_hand():
    linear = ((0.5 + 0.055) / 1.055) ** 2.4
    expected = 116 * linear ** (1 / 3) - 16
    assert abs(rgb_to_lab(np.array([0.5, 0.5, 0.5]))[0] - expected) < 1e-9
    assert abs(lightness(np.array(0.5)) - expected) < 1e-9


def test_dark_colours_use_the_linear_branch_and_stay_invertible():
    rgb = np.linspace(0, 0.02, 50)[:, None].repeat(3, axis=1) * np.array([1.0, 0.5, 0.2])
    np.testing.assert_allclose(lab_to_rgb(rgb_to_lab(rgb)), rgb, atol=1e-9)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(1, 5), st.integers(1, 5), st.just(3)),
              elements=st.floats(0, 1, width=32)))
def test_float32_in_float32_out_and_in_range(rgb):
    lab = rgb_to_lab(rgb)
    assert lab.dtype == np.float32 and lab.shape == rgb.shape
    assert (lab[..., 0] >= -1e-3).all() and (lab[..., 0] <= 100.01).all()
    back = lab_to_rgb(lab)
    assert back.dtype == np.float32 and back.min() >= 0 and back.max() <= 1
    np.testing.assert_allclose(back, rgb, atol=2e-4)


def test_bad_input_is_rejected():
    with pytest.raises(TypeError, match="floating"):
        rgb_to_lab(np.zeros((2, 2, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="3 channels"):
        lab_to_rgb(np.zeros((2, 2, 4)))
