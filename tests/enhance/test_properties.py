"""Property tests over every operation: any dtype, shape and extreme values keep shape and
dtype, never crash, never leave the valid range, and leave alpha untouched."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import enhance

OPERATIONS = {
    "equalize_hist": (enhance.equalize_hist, {}),
    "clahe": (enhance.clahe, {"clip_limit": 2.0, "tile_grid_size": (2, 3)}),
    "brightness": (enhance.brightness, {"factor": 1.7}),
    "contrast": (enhance.contrast, {"factor": 2.5}),
    "autocontrast": (enhance.autocontrast, {"cutoff": 2}),
    "sharpness": (enhance.sharpness, {"factor": 3.0}),
    "saturation": (enhance.saturation, {"factor": 2.0}),
    "scale_abs": (enhance.scale_abs, {"alpha": -1.5, "beta": 7.0}),
    "gamma": (enhance.gamma, {"gamma": 0.4, "gain": 1.3}),
    "log_transform": (enhance.log_transform, {"gain": 1.8}),
    "hdr": (enhance.hdr, {}),
    "invert": (enhance.invert, {}),
    "gaussian_blur": (enhance.gaussian_blur, {"sigma": 1.2}),
    "unsharp_mask": (enhance.unsharp_mask, {"amount": 3.0}),
}


@st.composite
def images(draw):
    dtype = draw(st.sampled_from([np.uint8, np.uint16, np.float32, np.float64]))
    height, width = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    channels = draw(st.sampled_from([None, 1, 2, 3, 4]))
    shape = (height, width) if channels is None else (height, width, channels)
    kind = draw(st.sampled_from(["random", "zeros", "max", "extremes"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    top = np.iinfo(dtype).max if np.dtype(dtype).kind == "u" else 1.0
    if kind == "zeros":
        array = np.zeros(shape)
    elif kind == "max":
        array = np.full(shape, top)
    elif kind == "extremes":
        array = rng.choice([0, top], size=shape)
    else:
        array = rng.random(shape) * top
    return array.astype(dtype) if np.dtype(dtype).kind == "f" else np.rint(array).astype(dtype)


@pytest.mark.parametrize("name", OPERATIONS)
@settings(max_examples=40, deadline=None)
@given(image=images())
def test_shape_dtype_range_and_alpha_are_kept(name, image):
    function, kwargs = OPERATIONS[name]
    out = function(image, **kwargs)
    assert out.shape == image.shape and out.dtype == image.dtype
    if image.dtype.kind == "f":
        assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    if image.ndim == 3 and image.shape[2] in (2, 4):
        np.testing.assert_array_equal(out[..., -1], image[..., -1])


# Operations that treat each colour channel alike (per-channel point operations and filters):
# swapping red and blue in the input must swap them in the output.
PER_CHANNEL = ["brightness", "autocontrast", "scale_abs", "gamma", "log_transform", "invert", "gaussian_blur",
               "unsharp_mask"]


@pytest.mark.parametrize("name", PER_CHANNEL)
@settings(max_examples=30, deadline=None)
@given(image=images())
def test_swapping_red_and_blue_swaps_them_in_the_output(name, image):
    if image.ndim != 3 or image.shape[2] < 3:
        return
    function, kwargs = OPERATIONS[name]
    swapped = image.copy()
    swapped[..., [0, 2]] = image[..., [2, 0]]
    expected = function(image, **kwargs)
    expected[..., [0, 2]] = expected[..., [2, 0]].copy()
    if image.dtype.kind == "f":   # float filters sum channels in different BLAS orders: last-bit differences
        np.testing.assert_allclose(function(swapped, **kwargs), expected, rtol=0, atol=1e-6)
    else:
        np.testing.assert_array_equal(function(swapped, **kwargs), expected)


@settings(max_examples=30, deadline=None)
@given(image=images())
def test_rgb_gains_follow_their_channels(image):
    if image.ndim != 3 or image.shape[2] < 3:
        return
    swapped = image.copy()
    swapped[..., [0, 2]] = image[..., [2, 0]]
    expected = enhance.rgb(image, 1.4, 1.0, 0.6)
    expected[..., [0, 2]] = expected[..., [2, 0]].copy()
    np.testing.assert_array_equal(enhance.rgb(swapped, 0.6, 1.0, 1.4), expected)


@pytest.mark.parametrize("name", ["contrast", "saturation", "equalize_hist", "clahe", "hdr"])
def test_luma_based_operations_tell_pure_red_from_pure_blue(name):
    """Where a luminance is used, red (weight 0.299) and blue (0.114) of equal value are not alike;
    a per-channel operation would treat the two ramps identically."""
    function, kwargs = OPERATIONS[name]
    ramp = np.tile(np.linspace(20, 220, 16).round().astype(np.uint8), (16, 1))
    red, blue = np.zeros((16, 16, 3), dtype=np.uint8), np.zeros((16, 16, 3), dtype=np.uint8)
    red[..., 0], blue[..., 2] = ramp, ramp
    assert not np.array_equal(function(red, **kwargs)[..., 0], function(blue, **kwargs)[..., 2]), name
    reference, _ = OPERATIONS["gamma"]                     # a per-channel operation, for contrast
    assert np.array_equal(reference(red, 0.5)[..., 0], reference(blue, 0.5)[..., 2])
