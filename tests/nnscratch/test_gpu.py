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


def test_fused_kernels_equal_their_plain_twins_on_cuda():
    """Each ``nnscratch.backend.fuse`` kernel (one CuPy kernel) against its NumPy expression."""
    import cupy

    from nnscratch.layers import activation, device

    rng = np.random.default_rng(2)
    a, b, c = (rng.standard_normal((64, 8)).astype(np.float32) for _ in range(3))
    row = rng.uniform(0.5, 2, 8).astype(np.float32)
    cases = [(activation._relu_grad, (a, b)), (activation._tanh_grad, (a, np.tanh(b))),
             (activation._shrink_factor, (np.abs(a), 0.5)), (activation._shrink_grad, (a, b, np.abs(c), np.abs(a), b, 0.5)),
             (device._inverse_std, (row, 1e-5)), (device._scale_shift, (a, row, row)),
             (device._moving_average, (row, row * 2, 0.9, 0.1)),
             (device._batch_norm_input_grad, (a, b, row, row, row, row, 1 / 64))]
    for kernel, args in cases:
        on_gpu = kernel(*(cupy.asarray(v) if isinstance(v, np.ndarray) else v for v in args))
        plain = kernel.plain(*args)
        assert isinstance(on_gpu, cupy.ndarray) and on_gpu.dtype == plain.dtype, (kernel.__name__, on_gpu.dtype)
        np.testing.assert_allclose(asnumpy(on_gpu), plain, rtol=1e-5, atol=1e-6, err_msg=kernel.__name__)


def test_the_colorizer_trains_on_cuda_as_on_the_cpu():
    """Twenty Adam steps of a small colorizer: the GPU strategy follows the CPU's to float64 rounding."""
    import copy

    import cupy

    from .test_device_strategy import colorizer_batch, small_colorizer

    host = small_colorizer(np.float64).set_shrink(0)
    gpu = copy.deepcopy(host).to("cuda")
    x, target = colorizer_batch(np.float64)
    for model, inputs, goal in ((host, x, target), (gpu, cupy.asarray(x), cupy.asarray(target))):
        optimizer, criterion = nn.Adam(model.parameters(), lr=1e-3), nn.LogMSELoss(eps=1e-3)
        for _ in range(20):
            optimizer.zero_grad()
            criterion.compute(model.forward(inputs), goal)
            model.backward(criterion.backward())
            optimizer.step()
    for (name, value), (_, on_gpu) in zip(host.state_dict().items(), gpu.state_dict().items()):
        np.testing.assert_allclose(asnumpy(on_gpu), value, rtol=1e-9, atol=1e-10, err_msg=name)


def test_colorize_with_the_model_on_cuda_equals_the_cpu_path():
    from colorize import colorize, load_model
    from tests.conftest import synthetic_photo

    photo = synthetic_photo(300, 400, seed=2)
    on_cpu = colorize(photo, load_model(), hints=[(10, 12, "#c03020")])
    on_gpu = colorize(photo, load_model().to("cuda"), hints=[(10, 12, "#c03020")])
    difference = np.abs(on_gpu.astype(int) - on_cpu.astype(int))
    assert difference.max() <= 2 and (difference > 1).mean() < 1e-3
