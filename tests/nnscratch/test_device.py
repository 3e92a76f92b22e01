"""One code path: a whole training step on device arrays, with no silent trip to host memory.

Runs without a GPU, on ``fake_device.DeviceArray`` (see its docstring).
"""
import numpy as np
import pytest

import nnscratch as nn
from nnscratch.backend import asnumpy, get_array_module

from .fake_device import FAKE_DEVICE, DeviceArray, HostConversionError, to_fake_device


def build(seed=0):
    rng = np.random.default_rng(seed)
    # No bias before batch norm: its gradient is 0 up to rounding, and Adam, which divides by the
    # gradient's own size, would turn the rounding (which differs between the CPU and the device
    # algorithms) into full steps.
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, bias=False, rng=rng), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 4, 3, stride=2, padding=1, rng=rng), nn.LeakyReLU(0.1),
        nn.MaxPool2d(2), nn.AvgPool2d(3, 1, 1, count_include_pad=False),
        nn.Upsample(scale_factor=2, mode="bilinear"), nn.ConvTranspose2d(4, 4, 4, stride=2, padding=1, rng=rng), nn.Sigmoid(),
        nn.Upsample(scale_factor=1), nn.Conv2d(4, 3, 3, padding=1, rng=rng), nn.Tanh(),
    )


def train_step(net, optimizer, x, target, classes, soft):
    losses = []
    optimizer.zero_grad()
    out = net.forward(x)
    for criterion, goal in ((nn.MSELoss(), target), (nn.L1Loss(), target), (nn.SmoothL1Loss(beta=0.5), target),
                            (nn.LogMSELoss(eps=0.01), target),
                            (nn.CrossEntropyLoss(weight=[1.0, 2.0, 0.5]), classes), (nn.CrossEntropyLoss(), soft)):
        losses.append(criterion.forward(out, goal))
        net.backward(criterion.backward())
    optimizer.step()
    return out, losses


def test_the_fake_device_really_refuses_host_conversion():
    device = FAKE_DEVICE.asarray(np.ones(3))
    with pytest.raises(HostConversionError):
        np.asarray(device)
    with pytest.raises(HostConversionError):
        device + np.ones(3)
    assert get_array_module(device) is FAKE_DEVICE
    assert isinstance(device * 2 + 1, DeviceArray)


def test_training_step_stays_on_the_device_and_matches_numpy():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 1, 8, 8)).astype(np.float32)
    target = rng.uniform(-1, 1, size=(2, 3, 8, 8)).astype(np.float32)
    classes = rng.integers(0, 3, size=(2, 8, 8))
    soft = rng.dirichlet(np.ones(3), size=(2, 8, 8)).transpose(0, 3, 1, 2).astype(np.float32)

    host_net = build()
    host_optimizer = nn.Adam(host_net.parameters(), lr=1e-3)
    device_net = to_fake_device(build())
    device_optimizer = nn.Adam(device_net.parameters(), lr=1e-3)
    for _ in range(2):
        host_out, host_losses = train_step(host_net, host_optimizer, x, target, classes, soft)
        device_out, device_losses = train_step(device_net, device_optimizer, *(FAKE_DEVICE.asarray(a) for a in (x, target, classes, soft)))

    assert isinstance(device_out, DeviceArray)
    assert all(isinstance(loss, float) for loss in device_losses)
    for param in device_net.parameters():
        assert isinstance(param.data, DeviceArray) and isinstance(param.grad, DeviceArray)
    for state in device_optimizer.state:
        assert isinstance(state["exp_avg"], DeviceArray) and isinstance(state["exp_avg_sq"], DeviceArray)
    for _, buffer in device_net.named_buffers():
        assert isinstance(buffer, DeviceArray)
    np.testing.assert_allclose(host_losses, device_losses, rtol=1e-6)
    np.testing.assert_allclose(asnumpy(device_out), host_out, rtol=1e-5, atol=1e-6)
    for (name, host), (_, device) in zip(host_net.state_dict().items(), device_net.state_dict().items()):
        np.testing.assert_allclose(asnumpy(device), host, rtol=1e-5, atol=1e-6, err_msg=name)


def test_sgd_and_eval_mode_stay_on_the_device():
    net = to_fake_device(build(2)).eval()
    optimizer = nn.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
    x = FAKE_DEVICE.asarray(np.random.default_rng(3).normal(size=(1, 1, 8, 8)).astype(np.float32))
    criterion = nn.MSELoss()
    for _ in range(2):
        criterion.forward(net.forward(x), FAKE_DEVICE.zeros((1, 3, 8, 8), dtype=np.float32))
        net.backward(criterion.backward())
        optimizer.step()
    assert all(isinstance(s["momentum_buffer"], DeviceArray) for s in optimizer.state)
