"""Shared fixtures: small synthetic photos written to temporary folders."""
import os

import numpy as np
import pytest
from hypothesis import settings
from PIL import Image

# CI explores the same examples every run; locally hypothesis keeps exploring new ones.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


def synthetic_photo(height=48, width=64, seed=0):
    """A colourful smooth image: sky-like gradient on top, green-ish ground, a red disc."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width] / max(height, width)
    image = np.zeros((height, width, 3))
    sky = yy < 0.45
    image[sky] = np.stack([0.3 + 0.2 * yy, 0.5 + 0.2 * yy, 0.9 - 0.1 * yy], axis=-1)[sky]
    image[~sky] = np.stack([0.2 + 0.1 * xx, 0.55 - 0.2 * yy, 0.15 + 0.05 * xx], axis=-1)[~sky]
    cy, cx = rng.uniform(0.5, 0.8) * height, rng.uniform(0.2, 0.8) * width
    disc = (np.mgrid[:height, :width][0] - cy) ** 2 + (np.mgrid[:height, :width][1] - cx) ** 2 < (0.15 * height) ** 2
    image[disc] = [0.85, 0.15, 0.1]
    image += rng.normal(0, 0.02, size=image.shape)
    return np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)


@pytest.fixture
def photo_folder(tmp_path):
    folder = tmp_path / "photos"
    (folder / "nested").mkdir(parents=True)
    for index in range(3):
        Image.fromarray(synthetic_photo(seed=index)).save(folder / f"photo{index}.png")
    Image.fromarray(synthetic_photo(seed=7)).save(folder / "nested" / "deep.jpg", quality=95)
    return folder
