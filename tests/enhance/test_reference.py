"""The fast enhancement kernels equal their textbook versions in enhance.reference."""
import numpy as np
import pytest

import enhance
from enhance import reference as ref
from enhance._tables import channel_histograms, histogram, lookup
from tests.conftest import synthetic_photo


@pytest.mark.parametrize("dtype, bins", [(np.uint8, 256), (np.uint16, 65536)])
def test_table_lookup_and_histograms_equal_indexing_and_bincount(dtype, bins):
    rng = np.random.default_rng(0)
    image = rng.integers(0, bins, size=(37, 53, 3)).astype(dtype)
    table = rng.integers(0, bins, size=bins).astype(dtype)
    np.testing.assert_array_equal(lookup(table, image[..., 0]), ref.lookup(table, image[..., 0]))
    np.testing.assert_array_equal(histogram(image[..., 1], bins), ref.histogram(image[..., 1], bins))
    np.testing.assert_array_equal(channel_histograms(image, bins), ref.channel_histograms(image, bins))


@pytest.mark.parametrize("sigma", [0.8, 2.0, 5.5])
def test_gaussian_blur_is_bit_exact_with_the_direct_fixed_point_sum(sigma):
    photo = synthetic_photo(41, 67)                                     # uint8 RGB
    np.testing.assert_array_equal(enhance.gaussian_blur(photo, sigma), ref.gaussian_blur(photo, sigma))
    deep = photo.astype(np.uint16) * 257 + np.random.default_rng(1).integers(0, 257, photo.shape).astype(np.uint16)
    np.testing.assert_array_equal(enhance.gaussian_blur(deep, sigma), ref.gaussian_blur(deep, sigma))
    float_photo = photo / 255.0
    np.testing.assert_allclose(enhance.gaussian_blur(float_photo, sigma), ref.gaussian_blur(float_photo, sigma),
                               rtol=0, atol=1e-12)


def test_gaussian_blur_reference_agrees_with_opencv():
    cv2 = pytest.importorskip("cv2", reason="OpenCV is the reference")
    photo = synthetic_photo(41, 67)
    np.testing.assert_array_equal(ref.gaussian_blur(photo, 2.0), cv2.GaussianBlur(photo, (0, 0), 2.0))


@pytest.mark.parametrize("factor", [0.0, 0.5, 1.7, -0.3])
def test_blend_equals_the_per_pixel_formula(factor):
    from enhance.point import blend

    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (13, 17, 3)).astype(np.uint8)
    degenerate = rng.integers(0, 256, (13, 17, 3)).astype(np.uint8)
    np.testing.assert_array_equal(blend(degenerate, image, factor), ref.blend(degenerate, image, factor))
    np.testing.assert_array_equal(blend(np.uint8(77), image, factor), ref.blend(np.uint8(77), image, factor))
    floats = image / 255.0
    np.testing.assert_allclose(blend(degenerate / 255.0, floats, factor), ref.blend(degenerate / 255.0, floats, factor),
                               rtol=0, atol=1e-15)


@pytest.mark.parametrize("clip_limit, tiles, size", [(2.0, (8, 8), (48, 64)), (4.0, (3, 5), (37, 51)),
                                                     (0.0, (2, 2), (30, 40)), (40.0, (4, 4), (32, 32))])
def test_clahe_equals_the_tile_by_tile_definition(clip_limit, tiles, size):
    gray = synthetic_photo(*size)[..., 1]
    np.testing.assert_array_equal(enhance.clahe(gray, clip_limit, tiles), ref.clahe(gray, clip_limit, tiles))


def test_clahe_reference_agrees_with_opencv():
    cv2 = pytest.importorskip("cv2", reason="OpenCV is the reference")
    gray = synthetic_photo(37, 51)[..., 1]
    expected = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(3, 5)).apply(gray)
    np.testing.assert_array_equal(ref.clahe(gray, 3.0, (3, 5)), expected)


def test_the_comparison_command_finds_every_fast_path_equal(capsys):
    assert ref.main() == 0
    out = capsys.readouterr().out
    assert out.count(" yes ") == 5 and "NO" not in out
