"""Histogram equalization and CLAHE: bit-exact with OpenCV on uint8 (and uint16) gray."""
import numpy as np
import pytest

from enhance import clahe, equalize_hist

from .conftest import random_images

cv2 = pytest.importorskip("cv2", reason="OpenCV is the reference")


def test_equalize_hist_is_bit_exact_including_constant_and_two_level_images(photos):
    images = random_images(channels=(None,)) + [np.full((9, 7), 77, np.uint8), np.zeros((3, 3), np.uint8)]
    images += [cv2.cvtColor(p, cv2.COLOR_RGB2GRAY) for p in photos]
    for image in images:
        np.testing.assert_array_equal(equalize_hist(image), cv2.equalizeHist(image), err_msg=str(image.shape))


def opencv_through_luma(image, operation):
    ycrcb = cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb)
    ycrcb[..., 0] = operation(np.ascontiguousarray(ycrcb[..., 0]))
    return cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2RGB)


def test_colour_equalization_is_within_one_level_of_the_opencv_ycrcb_pipeline(photos):
    for image in random_images(channels=(3,)) + photos:
        ours = equalize_hist(image).astype(int)
        assert np.abs(ours - opencv_through_luma(image, cv2.equalizeHist)).max() <= 1
        ours = clahe(image).astype(int)
        assert np.abs(ours - opencv_through_luma(image, cv2.createCLAHE(2.0, (8, 8)).apply)).max() <= 1


@pytest.mark.parametrize("clip_limit, grid", [(2.0, (8, 8)), (40.0, (8, 8)), (1.0, (3, 5)), (0.0, (4, 4)), (3.5, (1, 1))])
def test_clahe_is_bit_exact_for_sizes_that_do_and_do_not_divide(clip_limit, grid, photos):
    images = random_images(channels=(None,)) + [cv2.cvtColor(p, cv2.COLOR_RGB2GRAY) for p in photos]
    for image in images:
        expected = cv2.createCLAHE(clip_limit, grid).apply(image)
        np.testing.assert_array_equal(clahe(image, clip_limit, grid), expected, err_msg=str(image.shape))


def test_sixteen_bit_gray_is_bit_exact():
    rng = np.random.default_rng(3)
    for shape in [(50, 70), (33, 17)]:
        image = rng.integers(0, 65536, size=shape, dtype=np.uint16)
        np.testing.assert_array_equal(clahe(image, 3.0, (4, 6)), cv2.createCLAHE(3.0, (4, 6)).apply(image))
        equalized = equalize_hist(image)
        assert equalized.dtype == np.uint16 and equalized.min() == 0 and equalized.max() == 65535


def test_float_images_are_equalized_through_16_bit_levels():
    image = np.random.default_rng(4).random((40, 40)).astype(np.float32) * 0.3 + 0.2
    out = equalize_hist(image)
    assert out.dtype == np.float32 and out.min() == 0 and out.max() == 1
    ranks = np.argsort(np.argsort(image.ravel()))
    assert np.corrcoef(ranks, out.ravel())[0, 1] > 0.999  # monotone remapping
