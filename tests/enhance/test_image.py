"""The shared fast paths of enhance/image.py and enhance/_tables.py against the plain numpy they replace.

Table look-ups and histograms go two bytes at a time (byte pairs, with a kind of pair per
channel pattern) and in chunks; any size, channel count, odd tail or non-contiguous input must
give exactly what ``table[image]`` and ``bincount`` give.
"""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from enhance import _tables
from enhance.image import pillow_luma


@st.composite
def integer_images(draw, dtypes=(np.uint8, np.uint16)):
    dtype = draw(st.sampled_from(dtypes))
    height, width = draw(st.integers(1, 23)), draw(st.integers(1, 23))
    channels = draw(st.sampled_from([None, 1, 2, 3, 4]))
    shape = (height, width) if channels is None else (height, width, channels)
    seed = draw(st.integers(0, 2**32 - 1))
    image = np.random.default_rng(seed).integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)
    if draw(st.booleans()) and width > 1:
        image = image[:, ::2]                       # a strided view, as an alpha split leaves
    return image


@settings(max_examples=60, deadline=None)
@given(integer_images(), st.integers(0, 2**32 - 1))
def test_lookup_equals_fancy_indexing(image, seed):
    levels = np.iinfo(image.dtype).max + 1
    table = np.random.default_rng(seed).integers(0, 256, levels, dtype=np.uint8)
    np.testing.assert_array_equal(_tables.lookup(table, image), table[image])


@settings(max_examples=60, deadline=None)
@given(integer_images(), st.integers(0, 2**32 - 1))
def test_lookup_channels_equals_one_table_per_channel(image, seed):
    planes = image[..., None] if image.ndim == 2 else image
    levels = np.iinfo(image.dtype).max + 1
    tables = np.random.default_rng(seed).integers(0, 256, (planes.shape[-1], levels), dtype=np.uint8)
    expected = np.stack([tables[c][planes[..., c]] for c in range(planes.shape[-1])], axis=-1)
    np.testing.assert_array_equal(_tables.lookup_channels(tables, planes), expected)


@settings(max_examples=60, deadline=None)
@given(integer_images())
def test_histograms_equal_bincount(image):
    bins = np.iinfo(image.dtype).max + 1
    np.testing.assert_array_equal(_tables.histogram(image, bins), np.bincount(image.ravel(), minlength=bins))
    planes = image[..., None] if image.ndim == 2 else image
    expected = np.stack([np.bincount(planes[..., c].ravel(), minlength=bins) for c in range(planes.shape[-1])])
    np.testing.assert_array_equal(_tables.channel_histograms(planes, bins), expected)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 300), st.integers(0, 2**32 - 1))
def test_pillow_luma_equals_the_integer_formula(pixels, seed):
    rgb = np.random.default_rng(seed).integers(0, 256, (pixels, 1, 3), dtype=np.uint8)
    rgb[0, 0] = 255                                   # the largest sum
    wide = rgb.astype(np.int64)
    expected = (wide[..., 0] * 19595 + wide[..., 1] * 38470 + wide[..., 2] * 7471 + 0x8000) >> 16
    np.testing.assert_array_equal(pillow_luma(rgb), expected)


def test_luma_and_lookups_cross_chunk_boundaries():
    """Sizes around the chunk lengths, where a piece ends mid-pixel or mid-pair."""
    rng = np.random.default_rng(3)
    table = rng.integers(0, 256, 256, dtype=np.uint8)
    tables = rng.integers(0, 256, (3, 256), dtype=np.uint8)
    for pixels in (_tables.CHUNK - 1, _tables.CHUNK + 1, _tables.TAKE_CHUNK // 3 + 1, _tables.TAKE_CHUNK + 5):
        rgb = rng.integers(0, 256, (pixels, 3), dtype=np.uint8)
        np.testing.assert_array_equal(_tables.lookup(table, rgb), table[rgb])
        np.testing.assert_array_equal(_tables.lookup_channels(tables, rgb),
                                      np.stack([tables[c][rgb[:, c]] for c in range(3)], axis=-1))
        np.testing.assert_array_equal(_tables.channel_histograms(rgb, 256),
                                      np.stack([np.bincount(rgb[:, c], minlength=256) for c in range(3)]))
        wide = rgb.astype(np.int64)
        luma = (wide[:, 0] * 19595 + wide[:, 1] * 38470 + wide[:, 2] * 7471 + 0x8000) >> 16
        np.testing.assert_array_equal(pillow_luma(rgb), luma)


def test_one_image_boundary_for_both_packages():
    """enhance and colorize check images and convert them to float by the same rules."""
    import pytest

    from colorize import colorize
    from colorize.model import Colorizer
    from enhance import contrast
    from enhance.image import to_float, to_rgb_float

    half = np.full((4, 6, 3), 0.5, dtype=np.float16)
    model = Colorizer(hidden_layers=18, width=2, seed=0).eval()
    for call, name in ((lambda: contrast(half, 1.2), "contrast"), (lambda: colorize(half, model), "colorize")):
        with pytest.raises(TypeError, match=f"{name} expects uint8, uint16, float32 or float64 pixels, got dtype float16"):
            call()
    rng = np.random.default_rng(0)
    eight = rng.integers(0, 256, (5, 7), dtype=np.uint8)
    sixteen = rng.integers(0, 65536, (5, 7), dtype=np.uint16)
    np.testing.assert_array_equal(to_float(eight), eight.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(to_float(sixteen, np.float64), sixteen / 65535.0)
    np.testing.assert_array_equal(to_float(np.array([-0.5, 0.25, 1.5])), np.float32([0, 0.25, 1]))
    gray_alpha = np.dstack([eight, 255 - eight])
    rgba = np.dstack([eight, eight // 2, eight // 3, eight])
    np.testing.assert_array_equal(to_rgb_float(gray_alpha), np.repeat(to_float(eight)[..., None], 3, axis=2))
    np.testing.assert_array_equal(to_rgb_float(rgba), to_float(rgba[..., :3]))
    with pytest.raises(TypeError, match="dtype int64"):
        to_float(np.zeros(3, dtype=np.int64))
