"""The enhancement operations keep device arrays on the device (one code path for NumPy and CuPy)."""
import numpy as np
import pytest

from nnscratch.backend import asnumpy
from tests.nnscratch.fake_device import FAKE_DEVICE, DeviceArray

from .test_properties import OPERATIONS


@pytest.mark.parametrize("name", OPERATIONS)
@pytest.mark.parametrize("shape, dtype", [((12, 10, 3), np.uint8), ((9, 11), np.uint16), ((8, 8, 4), np.float32)])
def test_operation_runs_on_device_arrays_and_matches_numpy(name, shape, dtype):
    function, kwargs = OPERATIONS[name]
    rng = np.random.default_rng(0)
    top = np.iinfo(dtype).max if np.dtype(dtype).kind == "u" else 1.0
    image = (rng.random(shape) * top).astype(dtype)
    on_device = function(FAKE_DEVICE.asarray(image), **kwargs)
    assert isinstance(on_device, DeviceArray)
    np.testing.assert_array_equal(asnumpy(on_device), function(image, **kwargs))
