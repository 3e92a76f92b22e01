"""Gaussian blur and unsharp masking against OpenCV's fixed-point implementation."""
import numpy as np
import pytest

from enhance import gaussian_blur, unsharp_mask

from .conftest import random_images

cv2 = pytest.importorskip("cv2", reason="OpenCV is the reference")
SIGMAS = [0.5, 1.0, 1.7, 3.0]


def test_uint8_blur_is_bit_exact(photos):
    for image in random_images() + photos:
        for sigma in SIGMAS:
            np.testing.assert_array_equal(gaussian_blur(image, sigma), cv2.GaussianBlur(image, (0, 0), sigma),
                                          err_msg=f"{image.shape} sigma {sigma}")


def test_uint16_blur_is_bit_exact():
    for image in random_images(dtype=np.uint16, seed=3):
        for sigma in SIGMAS:
            np.testing.assert_array_equal(gaussian_blur(image, sigma), cv2.GaussianBlur(image, (0, 0), sigma))


def test_float32_blur_within_1e_6():
    for image in random_images(seed=5):
        image = image.astype(np.float32) / 255
        for sigma in SIGMAS:
            assert np.abs(gaussian_blur(image, sigma) - cv2.GaussianBlur(image, (0, 0), sigma)).max() <= 1e-6


@pytest.mark.parametrize("amount", [0.5, 1.0, 2.0])
def test_unsharp_mask_is_bit_exact_with_the_opencv_recipe(amount, photos):
    for image in random_images() + photos:
        for sigma in (1.0, 2.5):
            blurred = cv2.GaussianBlur(image, (0, 0), sigma)
            expected = cv2.addWeighted(image, 1 + amount, blurred, -amount, 0)
            np.testing.assert_array_equal(unsharp_mask(image, sigma, amount), expected)


def test_unsharp_threshold_leaves_flat_areas_alone():
    image = np.full((20, 20), 100, np.uint8)
    image[:, 10:] = 103  # a faint edge, below the threshold
    image[5, 5] = 200    # a strong detail, above it
    out = unsharp_mask(image, 1.0, 1.0, threshold=10)
    assert (out[:, 8:12] == image[:, 8:12]).all() and out[5, 5] > 200


@pytest.mark.parametrize("sigma", [6.0, 12.0])
def test_blur_exact_across_strips_with_kernels_wider_than_a_block(sigma):
    """Several strips and column blocks, halos wider than the last partial block (73 taps at sigma 12)."""
    rng = np.random.default_rng(11)
    for shape in [(150, 170, 3), (65, 129), (70, 40, 1)]:
        image = rng.integers(0, 256, shape, dtype=np.uint8)
        expected = cv2.GaussianBlur(image, (0, 0), sigma).reshape(shape)
        np.testing.assert_array_equal(gaussian_blur(image, sigma), expected)
        wide = rng.integers(0, 65536, shape, dtype=np.uint16)
        expected = cv2.GaussianBlur(wide, (0, 0), sigma).reshape(shape)
        np.testing.assert_array_equal(gaussian_blur(wide, sigma), expected)


def test_blur_sigma_is_bounded_by_the_image():
    small = np.zeros((20, 30, 3), dtype=np.uint8)
    assert gaussian_blur(small, 100).shape == small.shape
    with pytest.raises(ValueError, match=r"sigma must be a finite number in \[1e-06, 100\]"):
        gaussian_blur(small, 101)
    assert gaussian_blur(np.zeros((20, 300), dtype=np.uint8), 250).shape == (20, 300)
