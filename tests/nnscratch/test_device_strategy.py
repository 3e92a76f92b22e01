"""The device strategy (nnscratch/layers/device.py) computes what the CPU strategy computes, in few operations.

The stand-in device (``fake_device``) is a non-NumPy array module, so layers given its arrays take
the device algorithms; the same layers given NumPy arrays take the CPU ones.  Each test runs both
on the same numbers: to 1e-10 in float64, to float32 rounding in float32.  The operation counts
are the device path's speed measure where no GPU is at hand (each operation a kernel launch).
"""
import copy

import numpy as np
import pytest

import nnscratch as nn
from colorize import load_model
from colorize.model import Colorizer
from nnscratch.backend import asnumpy, uses_cpu_strategy

from .fake_device import FAKE_DEVICE, DeviceArray, counting, to_fake_device

TOLERANCES = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=2e-5, atol=2e-6)}


def on_device(array):
    return FAKE_DEVICE.asarray(array)


def run_both(layer, x, seed=0):
    """Forward and backward of ``layer`` on NumPy and on the stand-in: (host, device) results."""
    host, device = copy.deepcopy(layer), to_fake_device(copy.deepcopy(layer))
    upstream = None
    results = []
    for module, array in ((host, x), (device, on_device(x))):
        out = module.forward(array)
        if upstream is None:
            upstream = np.random.default_rng(seed).standard_normal(out.shape).astype(x.dtype)
        grad = module.backward(upstream if module is host else on_device(upstream))
        results.append((out, grad, {name: p.grad for name, p in module.named_parameters()},
                        dict(module.named_buffers())))
    return results


def assert_same(host, device, dtype):
    (out_h, grad_h, params_h, buffers_h), (out_d, grad_d, params_d, buffers_d) = host, device
    assert isinstance(out_d, DeviceArray)
    np.testing.assert_allclose(asnumpy(out_d), out_h, **TOLERANCES[dtype], err_msg="output")
    if grad_h is None:
        assert grad_d is None
    else:
        np.testing.assert_allclose(asnumpy(grad_d), grad_h, **TOLERANCES[dtype], err_msg="input gradient")
    for name in params_h:
        np.testing.assert_allclose(asnumpy(params_d[name]), params_h[name], **TOLERANCES[dtype], err_msg=name)
    for name in buffers_h:
        np.testing.assert_allclose(asnumpy(buffers_d[name]), buffers_h[name], **TOLERANCES[dtype], err_msg=name)


def test_the_strategy_is_chosen_by_the_array_module():
    assert uses_cpu_strategy(np)
    assert not uses_cpu_strategy(FAKE_DEVICE)


CONVOLUTIONS = [
    dict(in_channels=3, out_channels=5, kernel_size=3, padding=1),
    dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1, bias=False),
    dict(in_channels=4, out_channels=4, kernel_size=3, padding=2, dilation=2),
    dict(in_channels=2, out_channels=40, kernel_size=3, padding=1),       # the CPU's im2col, not shifted taps
    dict(in_channels=3, out_channels=2, kernel_size=(3, 2), stride=(2, 1), padding=(0, 1)),
    dict(in_channels=3, out_channels=2, kernel_size=1),
    dict(in_channels=2, out_channels=3, kernel_size=3, stride=3, padding=2),   # padding beyond the reach of some outputs
    dict(in_channels=2, out_channels=3, kernel_size=4, stride=2, padding=1, dilation=2),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("options", CONVOLUTIONS)
def test_conv2d_device_strategy_matches_the_cpu_strategy(options, dtype):
    layer = nn.Conv2d(**options, rng=np.random.default_rng(1)).to(dtype=dtype)
    if layer.bias is not None:
        layer.bias.data += np.linspace(-0.5, 0.5, layer.out_channels).astype(dtype)
    x = np.random.default_rng(2).standard_normal((2, options["in_channels"], 9, 11)).astype(dtype)
    assert_same(*run_both(layer, x), dtype)


def test_a_first_convolution_without_input_gradient_returns_none_on_the_device():
    layer = nn.Conv2d(4, 8, 3, padding=1, input_grad=False, rng=np.random.default_rng(0))
    assert_same(*run_both(layer, np.random.default_rng(1).standard_normal((2, 4, 8, 8)).astype(np.float32)),
                np.float32)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", ["train", "eval", "cumulative", "plain"])
def test_batch_norm_device_strategy_matches_the_cpu_strategy(mode, dtype):
    layer = nn.BatchNorm2d(5, momentum=None if mode == "cumulative" else 0.1, affine=mode != "plain").to(dtype=dtype)
    rng = np.random.default_rng(3)
    if layer.affine:
        layer.weight.data[:] = rng.uniform(0.5, 2, 5)
        layer.bias.data[:] = rng.normal(size=5)
    layer.running_mean[:] = rng.normal(size=5)
    layer.running_var[:] = rng.uniform(0.5, 2, 5)
    if mode == "eval":
        layer.eval()
    x = (rng.standard_normal((3, 5, 6, 7)) * 3 + 1).astype(dtype)
    assert_same(*run_both(layer, x), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("options", [dict(scale_factor=2, mode="bilinear"), dict(scale_factor=2, mode="nearest"),
                                     dict(size=(7, 5), mode="bilinear"), dict(scale_factor=3, mode="bilinear",
                                                                                align_corners=True)])
def test_upsample_device_strategy_matches_the_cpu_strategy(options, dtype):
    x = np.random.default_rng(4).standard_normal((2, 3, 5, 6)).astype(dtype)
    assert_same(*run_both(nn.Upsample(**options), x), dtype)


@pytest.mark.parametrize("layer", [nn.ReLU(), nn.Tanh(), nn.NormShrink(0.3)])
def test_elementwise_layers_match_on_the_device(layer):
    x = np.random.default_rng(5).standard_normal((2, 2, 4, 5))
    assert_same(*run_both(layer, x), np.float64)


def small_colorizer(dtype=np.float64):
    model = Colorizer(hidden_layers=8, width=4, hints=True, shrink=3.0, seed=7).to(dtype=dtype)
    rng = np.random.default_rng(8)
    for _, module in model.named_modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean[:] = rng.normal(size=module.num_features) * 0.1
            module.running_var[:] = rng.uniform(0.5, 1.5, module.num_features)
    return model


def colorizer_batch(dtype, n=2, size=16, seed=9):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4, size, size)).astype(dtype)
    target = rng.uniform(-0.4, 0.4, (n, 2, size, size)).astype(dtype)
    return x, target


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_twenty_adam_steps_of_the_colorizer_match(dtype):
    """The whole network, loss and Adam, 20 steps: the device strategy follows the CPU's to rounding."""
    host = small_colorizer(dtype).set_shrink(0)
    device = to_fake_device(copy.deepcopy(host))
    x, target = colorizer_batch(dtype)
    trajectories = []
    for model, inputs, goal in ((host, x, target), (device, on_device(x), on_device(target))):
        optimizer, criterion, losses = nn.Adam(model.parameters(), lr=1e-3), nn.LogMSELoss(eps=1e-3), []
        for _ in range(20):
            optimizer.zero_grad()
            losses.append(criterion.compute(model.forward(inputs), goal))
            model.backward(criterion.backward())
            optimizer.step()
        trajectories.append((losses, model))
    (host_losses, _), (device_losses, _) = trajectories
    assert all(isinstance(loss, DeviceArray) for loss in device_losses)
    tolerance = TOLERANCES[dtype] if dtype == np.float64 else dict(rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose([float(v) for v in device_losses], [float(v) for v in host_losses], **tolerance)
    for (name, value), (_, device_value) in zip(host.state_dict().items(), device.state_dict().items()):
        np.testing.assert_allclose(asnumpy(device_value), value, **tolerance, err_msg=name)


def test_the_colorizer_gradients_match_in_float64():
    model = small_colorizer()
    model.input_layer.input_grad = True
    x, target = colorizer_batch(np.float64)
    results = []
    for net, inputs in ((model, x), (to_fake_device(copy.deepcopy(model)), on_device(x))):
        out = net.forward(inputs)
        grad = net.backward(on_device(target) if net is not model else target)
        results.append((out, grad, {n: p.grad for n, p in net.named_parameters()}, dict(net.named_buffers())))
    assert_same(*results, np.float64)


@pytest.mark.parametrize("layer", [nn.Conv2d(3, 4, 3, stride=2, padding=1, rng=np.random.default_rng(0)),
                                   nn.BatchNorm2d(3), nn.Upsample(scale_factor=2, mode="bilinear")],
                         ids=["conv", "batchnorm", "upsample"])
def test_float64_gradient_check_through_the_device_strategy(layer):
    x = on_device(np.random.default_rng(1).standard_normal((2, 3, 6, 6)))
    errors = nn.gradcheck(to_fake_device(layer), x)
    assert max(errors.values()) < 1e-7, errors


def test_the_whole_colorizer_gradient_check_through_the_device_strategy():
    """``python -m colorize.gradcheck``'s first case, with the network on the stand-in device."""
    from colorize.gradcheck import colorizer_under_test
    from nnscratch.gradient_check import KINK_TOLERANCE

    model = to_fake_device(colorizer_under_test(hints=True, skips=True))
    x = on_device(np.random.default_rng(0).normal(size=(2, 4, 16, 16)))
    errors = nn.gradcheck(model, x, step=1e-7, max_elements=12)
    assert max(errors.values()) < KINK_TOLERANCE, max(errors.items(), key=lambda item: item[1])


def test_folded_batch_norm_is_the_same_network_in_evaluation():
    model = small_colorizer().eval()
    folded = nn.fold_batch_norm(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for _, m in folded.named_modules())
    assert any(isinstance(m, nn.BatchNorm2d) for _, m in model.named_modules())      # the original is untouched
    x, _ = colorizer_batch(np.float64)
    np.testing.assert_allclose(folded.forward(x), model.forward(x), rtol=1e-12, atol=1e-12)
    device = nn.fold_batch_norm(to_fake_device(copy.deepcopy(model)))
    np.testing.assert_allclose(asnumpy(device.forward(on_device(x))), model.forward(x), rtol=1e-10, atol=1e-12)


def test_adam_updates_all_parameters_in_one_flat_buffer_bit_for_bit():
    """The flat update (every parameter a view of one array) equals the per-parameter loop exactly."""
    model = small_colorizer(np.float32)
    loop = copy.deepcopy(model)
    flat_optimizer = nn.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    loop_optimizer = nn.Adam(loop.parameters(), lr=1e-3, weight_decay=1e-4)
    loop_optimizer._flat = None                    # force the per-parameter loop
    x, target = colorizer_batch(np.float32)
    for _ in range(3):
        for net, optimizer in ((model, flat_optimizer), (loop, loop_optimizer)):
            optimizer.zero_grad()
            criterion = nn.MSELoss()
            criterion.forward(net.forward(x), target)
            net.backward(criterion.backward())
            optimizer.step()
    flat = flat_optimizer._flat
    assert all(np.shares_memory(p.data, flat.data) and p.grad is p.grad_slot for p in model.parameters())
    for (name, value), (_, other) in zip(model.state_dict().items(), loop.state_dict().items()):
        np.testing.assert_array_equal(value, other, err_msg=name)
    saved, resumed = flat_optimizer.state_dict(), nn.Adam(loop.parameters(), lr=1e-3, weight_decay=1e-4)
    resumed.load_state_dict(saved)
    for mine, theirs in zip(resumed.state, loop_optimizer.state):
        assert mine["step"] == theirs["step"] == 3
        np.testing.assert_array_equal(mine["exp_avg_sq"], theirs["exp_avg_sq"])


def test_a_parameter_without_gradient_falls_back_to_the_loop_as_torch_skips_it():
    first, second = nn.Conv2d(1, 2, 3, rng=np.random.default_rng(0)), nn.Conv2d(2, 2, 1, rng=np.random.default_rng(1))
    optimizer = nn.Adam(first.parameters() + second.parameters(), lr=0.1)
    untouched = second.weight.data.copy()
    first.forward(np.ones((1, 1, 5, 5), dtype=np.float32))
    first.backward(np.ones((1, 2, 3, 3), dtype=np.float32))
    optimizer.step()
    np.testing.assert_array_equal(second.weight.data, untouched)
    assert optimizer.state[2] == {} and optimizer.state[0]["step"] == 1


# -- the operation counts: what a GPU would launch ------------------------------------------------

STEP_BUDGET = 800          # array operations in one training step of the shipped architecture
INFERENCE_BUDGET = 150     # in one 256x256 inference pass of the shipped model


def shipped_architecture_step_counts(batch=2, size=32):
    model = to_fake_device(Colorizer(hints=True))
    optimizer, criterion = nn.Adam(model.parameters()), nn.LogMSELoss(eps=2e-4)
    x, target = (on_device(a.astype(np.float32)) for a in colorizer_batch(np.float64, batch, size))

    def step():
        optimizer.zero_grad()
        loss = criterion.compute(model.forward(x), target)
        model.backward(criterion.backward())
        optimizer.step()
        return loss

    step()                           # the first step makes Adam's moments
    with counting() as counts:
        step()
    return counts


def test_nested_counters_count_their_own_blocks_even_when_they_are_equal():
    a = FAKE_DEVICE.asarray(np.ones(3, dtype=np.float32))
    with counting() as outer:
        with counting() as inner:     # both empty, so equal, when the inner one ends
            pass
        a + a
    assert sum(outer.values()) == 1 and not inner


def test_a_training_step_of_the_shipped_architecture_stays_within_its_operation_budget():
    counts = shipped_architecture_step_counts()
    assert counts["to host"] == 0, "a training step must not wait for the device"
    total = sum(counts.values())
    assert total <= STEP_BUDGET, f"{total} operations in one training step (budget {STEP_BUDGET}): {counts.most_common(8)}"


def test_an_inference_pass_of_the_shipped_model_stays_within_its_operation_budget():
    model = to_fake_device(load_model())
    x = on_device(np.zeros((1, model.in_channels, 256, 256), dtype=np.float32))
    folded = nn.fold_batch_norm(model)
    with counting() as counts:
        out = folded.forward(x)
    assert isinstance(out, DeviceArray)
    total = sum(counts.values())
    assert counts["to host"] == 0
    assert total <= INFERENCE_BUDGET, f"{total} operations in one inference pass: {counts.most_common(8)}"


def test_the_counter_sees_every_kind_of_operation():
    """The budget tests mean something only if the stand-in counts what a GPU would launch."""
    a = on_device(np.ones((4, 3), dtype=np.float32))
    with counting() as counts:
        b = a + 1                          # a ufunc
        a.T.reshape(12)                    # a transpose (free) and a reshape that copies
        a.reshape(12)                      # a view: free
        a[1:3]                             # a view: free
        b[0] = 5                           # an assignment
        b.sum()                            # a method
        FAKE_DEVICE.zeros(3)               # a namespace function
        float(b[0, 0])                     # a read back to the host
        nn.backend.fuse(lambda u, v: u * v + u - v)(a, b)    # one fused kernel
    assert counts == {"add": 1, "reshape": 1, "setitem": 1, "sum": 1, "zeros": 1, "to host": 1, "fused <lambda>": 1}
