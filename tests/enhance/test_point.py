"""Point operations against Pillow, OpenCV and scikit-image: bit-exact on uint8."""
import numpy as np
import pytest

from enhance import autocontrast, brightness, contrast, gamma, invert, log_transform, saturation, scale_abs, sharpness

from .conftest import random_images

Image = pytest.importorskip("PIL.Image")
from PIL import ImageEnhance, ImageOps  # noqa: E402

FACTORS = [-0.5, 0.0, 0.3, 0.77, 1.0, 1.5, 2.2, 3.0]
ENHANCERS = [(brightness, ImageEnhance.Brightness), (contrast, ImageEnhance.Contrast),
             (saturation, ImageEnhance.Color), (sharpness, ImageEnhance.Sharpness)]


@pytest.mark.parametrize("ours, theirs", ENHANCERS, ids=lambda f: getattr(f, "__name__", ""))
def test_image_enhance_is_bit_exact_on_l_rgb_rgba(ours, theirs, photos):
    images = random_images(channels=(None, 3, 4)) + photos
    for image in images:
        pil = Image.fromarray(image)
        for factor in FACTORS:
            np.testing.assert_array_equal(ours(image, factor), np.asarray(theirs(pil).enhance(factor)),
                                          err_msg=f"{ours.__name__} {image.shape} factor {factor}")


@pytest.mark.parametrize("cutoff", [0, 1, 5, (2, 10)])
def test_autocontrast_is_bit_exact(cutoff, photos):
    for image in random_images() + photos:
        np.testing.assert_array_equal(autocontrast(image, cutoff),
                                      np.asarray(ImageOps.autocontrast(Image.fromarray(image), cutoff)))


def test_scale_abs_is_bit_exact_with_opencv(photos):
    cv2 = pytest.importorskip("cv2", reason="OpenCV is the reference")
    for image in random_images() + photos:
        for alpha, beta in [(1.3, -20), (-0.7, 10.5), (2.5, 0.5), (0.37, 0.1), (1, 0)]:
            np.testing.assert_array_equal(scale_abs(image, alpha, beta), cv2.convertScaleAbs(image, alpha=alpha, beta=beta))


def test_invert_is_bit_exact_with_opencv():
    cv2 = pytest.importorskip("cv2", reason="OpenCV is the reference")
    for dtype in (np.uint8, np.uint16):
        for image in random_images(dtype=dtype):
            np.testing.assert_array_equal(invert(image), cv2.bitwise_not(image))
    floats = np.random.default_rng(0).random((5, 6, 3))
    np.testing.assert_array_equal(invert(floats), 1 - floats)


@pytest.mark.parametrize("value, gain", [(0.5, 1.0), (2.2, 1.0), (1.0, 0.8), (0.3, 1.0), (4.0, 0.5)])
def test_gamma_matches_scikit_image(value, gain, photos):
    exposure = pytest.importorskip("skimage.exposure", reason="scikit-image is the reference")
    for image in random_images() + photos:
        np.testing.assert_array_equal(gamma(image, value, gain), exposure.adjust_gamma(image, value, gain))
    floats = np.random.default_rng(1).random((20, 30, 3))
    np.testing.assert_allclose(gamma(floats, value, gain), exposure.adjust_gamma(floats, value, gain), atol=1e-6)
    sixteen = np.random.default_rng(2).integers(0, 65536, size=(20, 30), dtype=np.uint16)
    np.testing.assert_array_equal(gamma(sixteen, value, gain), exposure.adjust_gamma(sixteen, value, gain))


@pytest.mark.parametrize("inverse", [False, True])
def test_log_transform_matches_scikit_image_and_saturates_where_it_would_wrap(inverse, photos):
    exposure = pytest.importorskip("skimage.exposure", reason="scikit-image is the reference")
    for image in random_images() + photos:
        for gain in (0.5, 1.0):
            np.testing.assert_array_equal(log_transform(image, gain, inverse), exposure.adjust_log(image, gain, inverse))
    image = np.arange(256, dtype=np.uint8)[None]
    ours = log_transform(image, 1.5, inverse)
    exact = (np.log2(1 + image / 255.0) if not inverse else 2 ** (image / 255.0) - 1) * 255 * 1.5
    np.testing.assert_array_equal(ours, np.minimum(exact, 255).astype(np.uint8))  # saturates at 255
    wrapped = exposure.adjust_log(image, 1.5, inverse)
    assert (wrapped.astype(int) < ours).any()  # scikit-image wraps around where ours saturates


def test_point_operations_reject_bad_values():
    image = np.zeros((2, 2), dtype=np.uint8)
    with pytest.raises(ValueError, match="gamma must be"):
        gamma(image, -1)
    with pytest.raises(ValueError, match="factor"):
        contrast(image, float("nan"))
    with pytest.raises(ValueError, match="cutoff"):
        autocontrast(image, 150)
    with pytest.raises(TypeError, match="uint8, uint16"):
        brightness(image.astype(np.int32), 1.0)


def test_float_images_with_0_255_values_are_refused_with_the_fix():
    import enhance

    image = np.full((4, 4, 3), 128.0, dtype=np.float32)
    for function in (enhance.gamma, enhance.invert, enhance.equalize_hist):
        with pytest.raises(ValueError, match=r"\[0, 1\], this one spans \[128, 128\] .*divide by 255"):
            function(image) if function is not enhance.gamma else function(image, 0.8)
    with pytest.raises(ValueError, match=r"spans \[-0.5, 0.5\]"):
        enhance.invert(np.full((2, 2), -0.5, dtype=np.float64).clip(-0.5, 0.5) + np.eye(2))
