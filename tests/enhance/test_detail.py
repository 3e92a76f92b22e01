"""Single-image HDR look against cv2.detailEnhance."""
import numpy as np
import pytest

from colorize.metrics import psnr
from enhance import hdr

cv2 = pytest.importorskip("cv2", reason="OpenCV is the reference")


def test_matches_detail_enhance_within_2_levels_and_50_db(photos):
    for photo in photos:
        expected = cv2.cvtColor(cv2.detailEnhance(cv2.cvtColor(photo, cv2.COLOR_RGB2BGR), sigma_s=10, sigma_r=0.15),
                                cv2.COLOR_BGR2RGB)
        ours = hdr(photo)
        assert np.abs(ours.astype(int) - expected).max() <= 2
        assert psnr(ours, expected) >= 50


def test_other_parameters_and_detail_one_is_nearly_identity(photos):
    photo = photos[0][:96, :128]
    for sigma_s, sigma_r in [(30, 0.3), (5, 0.05)]:
        expected = cv2.cvtColor(cv2.detailEnhance(cv2.cvtColor(photo, cv2.COLOR_RGB2BGR), sigma_s=sigma_s, sigma_r=sigma_r),
                                cv2.COLOR_BGR2RGB)
        assert psnr(hdr(photo, sigma_s, sigma_r), expected) >= 45
    assert np.abs(hdr(photo, detail=1.0).astype(int) - photo).max() <= 1


def test_gray_and_alpha():
    gray = np.random.default_rng(0).integers(0, 256, (30, 40), dtype=np.uint8)
    assert hdr(gray).shape == (30, 40)
    rgba = np.dstack([np.stack([gray] * 3, -1), gray])
    out = hdr(rgba)
    assert out.shape == (30, 40, 4) and np.array_equal(out[..., 3], gray)
