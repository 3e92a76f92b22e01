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
