"""Test images: random arrays of awkward sizes, and real photographs from scikit-image's data."""
import numpy as np
import pytest

SIZES = [(1, 1), (1, 17), (13, 1), (2, 3), (31, 47), (64, 64), (97, 130)]


def random_images(channels=(None, 3), dtype=np.uint8, seed=0, sizes=SIZES):
    """Uniform, low-contrast and two-level images of every size, gray and colour."""
    rng = np.random.default_rng(seed)
    images = []
    for index, (height, width) in enumerate(sizes):
        for ch in channels:
            shape = (height, width) if ch is None else (height, width, ch)
            top = np.iinfo(dtype).max
            image = rng.integers(0, top + 1, size=shape, dtype=np.int64)
            if index % 3 == 1:
                image = image // 8 + top // 3          # low contrast
            elif index % 3 == 2:
                image = np.where(image > top // 2, top * 3 // 4, top // 5)  # two levels
            images.append(image.astype(dtype))
    return images


@pytest.fixture(scope="session")
def photos():
    """Real photographs shipped inside scikit-image (RGB uint8)."""
    data = pytest.importorskip("skimage.data", reason="scikit-image ships the test photographs")
    return [data.astronaut()[::2, ::2], data.coffee()[::2, ::2], data.chelsea()]
