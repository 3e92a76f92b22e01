"""The same checks on a real GPU through CuPy (skipped where there is none)."""
import numpy as np
import pytest

import nnscratch as nn
from nnscratch.backend import asnumpy, cuda_available

from .test_device import build, train_step

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not cuda_available(), reason="needs CuPy and a CUDA GPU"),
]


def test_training_step_on_cuda_matches_numpy_and_moves_back():
    import cupy

    rng = np.random.default_rng(1)
    arrays = (rng.normal(size=(2, 1, 8, 8)).astype(np.float32), rng.uniform(-1, 1, size=(2, 3, 8, 8)).astype(np.float32),
              rng.integers(0, 3, size=(2, 8, 8)),
              rng.dirichlet(np.ones(3), size=(2, 8, 8)).transpose(0, 3, 1, 2).astype(np.float32))
    host_net, gpu_net = build(), build().to("cuda")
    host_opt, gpu_opt = nn.Adam(host_net.parameters(), lr=1e-3), nn.Adam(gpu_net.parameters(), lr=1e-3)
    for _ in range(2):
        host_out, host_losses = train_step(host_net, host_opt, *arrays)
        gpu_out, gpu_losses = train_step(gpu_net, gpu_opt, *(cupy.asarray(a) for a in arrays))
    assert isinstance(gpu_out, cupy.ndarray)
    assert all(isinstance(p.data, cupy.ndarray) and isinstance(p.grad, cupy.ndarray) for p in gpu_net.parameters())
    np.testing.assert_allclose(gpu_losses, host_losses, rtol=1e-4)
    np.testing.assert_allclose(asnumpy(gpu_out), host_out, rtol=1e-3, atol=1e-4)
    gpu_net.to("cpu")
    gpu_opt.to("cpu")
    assert all(isinstance(p.data, np.ndarray) for p in gpu_net.parameters())
    assert all(isinstance(s["exp_avg"], np.ndarray) for s in gpu_opt.state)


def test_gradcheck_on_cuda_in_float64():
    import cupy

    from nnscratch import gradcheck

    layer = nn.Conv2d(2, 3, 3, padding=1, rng=np.random.default_rng(0)).to("cuda")
    x = cupy.asarray(np.random.default_rng(1).normal(size=(1, 2, 5, 5)))
    errors = gradcheck(layer, x)
    assert max(errors.values()) <= 1e-7
