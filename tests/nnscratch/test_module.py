"""Module plumbing: registration, state dicts, dtype/device moves, error messages."""
import numpy as np
import pytest

import nnscratch as nn


def small_net():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, rng=np.random.default_rng(0)), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Conv2d(4, 2, 3, padding=1, rng=np.random.default_rng(1)))


def test_parameters_and_buffers_are_registered_in_order():
    net = small_net()
    assert [name for name, _ in net.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"]
    assert list(net.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias",
                                      "1.running_mean", "1.running_var", "1.num_batches_tracked"]
    assert net[0].weight.shape == (4, 1, 3, 3) and net[0].bias.shape == (4,)


def test_state_dict_round_trip_restores_outputs():
    net, other = small_net(), nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 2, 3, padding=1))
    x = np.random.default_rng(2).normal(size=(2, 1, 6, 6)).astype(np.float32)
    net.forward(x)  # moves running statistics
    other.load_state_dict(net.state_dict())
    net.eval(), other.eval()
    np.testing.assert_array_equal(net.forward(x), other.forward(x))


def test_load_state_dict_names_missing_and_misshaped_entries():
    net = small_net()
    state = dict(net.state_dict())
    del state["0.bias"]
    state["3.weight"] = np.zeros((2, 4, 5, 5), dtype=np.float32)
    state["extra"] = np.zeros(1)
    with pytest.raises(ValueError) as error:
        net.load_state_dict(state)
    message = str(error.value)
    assert "missing: 0.bias" in message and "unexpected: extra" in message and "3.weight: expected shape (2, 4, 3, 3)" in message


def test_to_double_casts_parameters_and_float_buffers_only():
    net = small_net().double()
    assert all(p.data.dtype == np.float64 for p in net.parameters())
    assert net[1].running_var.dtype == np.float64 and net[1].num_batches_tracked.dtype == np.int64
    with pytest.raises(TypeError, match="floating dtype"):
        net.to(dtype=np.int32)
    with pytest.raises(ValueError, match="'cpu' or 'cuda'"):
        net.to("tpu")


def test_train_eval_and_zero_grad():
    net = small_net()
    net.eval()
    assert not any(m.training for _, m in net.named_modules())
    net.train()
    x = np.ones((2, 1, 4, 4), dtype=np.float32)
    net.backward(net.forward(x))
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_gradients_accumulate_across_backward_calls():
    layer = nn.Linear(3, 2, rng=np.random.default_rng(0))
    x, g = np.ones((1, 3), dtype=np.float32), np.ones((1, 2), dtype=np.float32)
    layer.forward(x)
    layer.backward(g)
    first = layer.weight.grad.copy()
    layer.backward(g)
    np.testing.assert_array_equal(layer.weight.grad, 2 * first)


@pytest.mark.parametrize("layer, shape", [
    (nn.ReLU(), (2, 3)), (nn.Tanh(), (2, 3)), (nn.Upsample(scale_factor=2), (1, 1, 2, 2)),
    (nn.MaxPool2d(2), (1, 1, 4, 4)), (nn.BatchNorm2d(1), (2, 1, 2, 2)), (nn.Linear(3, 1), (2, 3)),
])
def test_backward_before_forward_and_misshaped_gradients_are_reported(layer, shape):
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.zeros(shape, dtype=np.float32))
    y = layer.forward(np.ones(shape, dtype=np.float32))
    with pytest.raises(ValueError, match="expects a gradient of shape"):
        layer.backward(np.zeros((7,) + tuple(y.shape), dtype=np.float32))


@pytest.mark.parametrize("layer", [nn.ReLU(), nn.LeakyReLU(), nn.Tanh(), nn.Sigmoid(), nn.MaxPool2d(2), nn.AvgPool2d(2),
                                   nn.Upsample(scale_factor=2, mode="bilinear"), nn.BatchNorm2d(1)])
def test_nan_in_gives_nan_out(layer):
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4) / 8 - 1
    x[0, 0, 1, 1] = np.nan
    assert np.isnan(layer.forward(x)).any()


def test_sequential_with_named_members_names_their_parameters_and_runs_in_order():
    rng = np.random.default_rng(0)
    named = nn.Sequential({"conv": nn.Conv2d(1, 3, 3, padding=1, rng=np.random.default_rng(1)),
                           "norm": nn.BatchNorm2d(3), "relu": nn.ReLU()})
    plain = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1, rng=np.random.default_rng(1)), nn.BatchNorm2d(3), nn.ReLU())
    assert list(named.state_dict()) == [name.replace("0.", "conv.").replace("1.", "norm.")
                                        for name in plain.state_dict()]
    assert named.conv is named[0] and named[-1] is named.relu and len(named) == 3
    x = rng.normal(size=(2, 1, 5, 6)).astype(np.float32)
    np.testing.assert_array_equal(named.forward(x), plain.forward(x))
    grad = rng.normal(size=(2, 3, 5, 6)).astype(np.float32)
    np.testing.assert_array_equal(named.backward(grad), plain.backward(grad))
    named.eval().norm.running_mean[...] = [0.5, -1.0, 2.0]
    folded = nn.fold_batch_norm(named)
    assert isinstance(folded.norm, nn.module.Identity) and "norm.running_mean" not in folded.state_dict()
    np.testing.assert_allclose(folded.forward(x), named.forward(x), rtol=1e-5, atol=1e-5)
    for bad in ("0a", "forward", "append"):
        with pytest.raises(ValueError, match="member names"):
            nn.Sequential({bad: nn.ReLU()})
    with pytest.raises(TypeError, match="Sequential takes Modules"):
        nn.Sequential({"relu": nn.ReLU(), "f": abs})


def test_sequential_rejects_non_modules_and_bad_arguments():
    with pytest.raises(TypeError, match="Sequential takes Modules"):
        nn.Sequential(nn.ReLU(), lambda x: x)
    with pytest.raises(ValueError, match="kernel_size"):
        nn.Conv2d(1, 1, 0)
    with pytest.raises(TypeError, match="kernel_size"):
        nn.Conv2d(1, 1, "3")
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        nn.Upsample()
    with pytest.raises(ValueError, match="Nesterov"):
        nn.SGD(small_net().parameters(), lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="learning rate"):
        nn.Adam(small_net().parameters(), lr=float("nan"))


def test_losses_check_their_inputs():
    with pytest.raises(ValueError, match="same shape"):
        nn.MSELoss().forward(np.zeros(3), np.zeros(4))
    with pytest.raises(TypeError, match="floating"):
        nn.L1Loss().forward(np.zeros(3, dtype=int), np.zeros(3))
    with pytest.raises(ValueError, match=r"lie in \[0, 2\]"):
        nn.CrossEntropyLoss().forward(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(RuntimeError, match="before forward"):
        nn.MSELoss().backward()
    with pytest.raises(ValueError, match="eps must be > 0"):
        nn.LogMSELoss(eps=0.0)
    with pytest.raises(ValueError, match="batch axis"):
        nn.LogMSELoss().forward(np.zeros(3), np.zeros(3))


def test_log_mse_loss_is_minus_the_mean_psnr_of_the_samples():
    from colorize.metrics import psnr   # the evaluation's own PSNR, per image

    rng = np.random.default_rng(7)
    target = rng.random((4, 3, 6, 5))
    pred = target + rng.normal(size=target.shape) * np.array([0.001, 0.01, 0.1, 0.3]).reshape(4, 1, 1, 1)
    per_image = [psnr(p, t, peak=1.0) for p, t in zip(pred, target)]
    loss = nn.LogMSELoss(eps=1e-15).forward(pred, target)
    assert loss == pytest.approx(-np.mean(per_image) * np.log(10) / 10, rel=1e-9)
    assert nn.LogMSELoss(eps=1e-15, reduction="sum").forward(pred, target) == pytest.approx(4 * loss, rel=1e-12)


def test_norm_shrink_keeps_the_direction_and_shortens_by_lambda():
    x = np.array([[[3.0, 0.2, 0.0]], [[4.0, 0.1, 0.0]]]).reshape(1, 2, 1, 3)     # lengths 5, ~0.22, 0
    y = nn.NormShrink(1.0).forward(x)
    np.testing.assert_allclose(y[0, :, 0, 0], [3.0 * 4 / 5, 4.0 * 4 / 5])        # length 5 -> 4, same direction
    np.testing.assert_array_equal(y[0, :, 0, 1:], 0.0)                             # shorter than 1: zero, no NaN
    np.testing.assert_array_equal(nn.NormShrink(0.0).forward(x), x)
    with pytest.raises(ValueError, match="lambd must be >= 0"):
        nn.NormShrink(-1.0)


def test_seeded_initialisation_is_reproducible():
    nn.manual_seed(7)
    first = nn.Conv2d(3, 4, 3).weight.data
    nn.manual_seed(7)
    np.testing.assert_array_equal(first, nn.Conv2d(3, 4, 3).weight.data)
    # He initialisation: variance 2 / fan_in
    big = nn.Conv2d(64, 256, 3, rng=np.random.default_rng(0)).weight.data
    assert abs(big.var() * 64 * 9 / 2 - 1) < 0.02


def test_adam_state_dict_resumes_exactly():
    rng = np.random.default_rng(0)
    data = [(rng.normal(size=(4, 1, 6, 6)).astype(np.float32), rng.normal(size=(4, 2, 6, 6)).astype(np.float32)) for _ in range(6)]

    def run(net, optimizer, batches):
        loss = nn.MSELoss()
        for x, y in batches:
            optimizer.zero_grad()
            loss.forward(net.forward(x), y)
            net.backward(loss.backward())
            optimizer.step()

    straight = small_net()
    run(straight, nn.Adam(straight.parameters()), data)

    first = small_net()
    optimizer = nn.Adam(first.parameters())
    run(first, optimizer, data[:3])
    saved_model, saved_optimizer = first.state_dict(), optimizer.state_dict()
    resumed = small_net()
    resumed.load_state_dict(saved_model)
    resumed_optimizer = nn.Adam(resumed.parameters())
    resumed_optimizer.load_state_dict(saved_optimizer)
    run(resumed, resumed_optimizer, data[3:])
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_optimizer_state_for_another_optimizer_is_refused():
    net = small_net()
    with pytest.raises(ValueError, match="'Adam', not SGD"):
        nn.SGD(net.parameters(), lr=0.1).load_state_dict(nn.Adam(net.parameters()).state_dict())


def test_the_learning_rate_schedule_warms_up_then_holds_or_follows_half_a_cosine():
    warm = [nn.scheduled_lr(t, 10, 1e-3, warmup=4) for t in range(10)]
    np.testing.assert_allclose(warm, [2.5e-4, 5e-4, 7.5e-4] + [1e-3] * 7, rtol=1e-15)
    cosine = [nn.scheduled_lr(t, 12, 1e-3, warmup=4, decay="cosine") for t in range(13)]
    assert cosine[3] == cosine[4] == 1e-3                      # the warm-up ends where the cosine starts
    assert cosine[8] == pytest.approx(5e-4, rel=1e-12)         # half way down at half the decay
    assert cosine[12] == pytest.approx(0, abs=1e-20) and all(a > b for a, b in zip(cosine[4:], cosine[5:]))
    assert nn.scheduled_lr(0, 5, 1e-3, decay="cosine") == 1e-3  # no warm-up: the first step at full rate
    for bad, message in [(dict(decay="linear"), "decay must be one of constant, cosine"),
                         (dict(warmup=-1), "warmup must be"), (dict(warmup=2.5), "warmup must be"),
                         (dict(warmup=10), "total must be"), (dict(step=-1), "step must be")]:
        with pytest.raises(ValueError, match=message):
            nn.scheduled_lr(**{"step": 0, "total": 10, "lr": 1e-3, **bad})


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 2, 1, 1), (1, 4, 1, 6), (3, 1, 7, 2)])
def test_bilinear_doubling_fast_path_equals_the_general_plan(shape):
    rng = np.random.default_rng(5)
    x = rng.normal(size=shape).astype(np.float32)
    fast, general = nn.Upsample(scale_factor=2, mode="bilinear"), nn.Upsample(scale_factor=2, mode="bilinear")
    general._fast_path = False
    y = fast.forward(x)
    np.testing.assert_array_equal(y, general.forward(x))          # same products, same sums: bit for bit
    grad = rng.normal(size=y.shape).astype(np.float32)
    np.testing.assert_allclose(fast.backward(grad), general.backward(grad), rtol=1e-6, atol=1e-6)


def test_keep_freed_memory_takes_effect_on_glibc():
    import platform
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt is glibc's")
    assert nn.keep_freed_memory() is True


def test_layers_in_a_plain_list_are_refused_and_module_list_and_dict_register_them():
    class Listed(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [nn.Linear(2, 3), nn.ReLU()]

    with pytest.raises(TypeError, match=r"Listed.layers is a list holding Modules.*nn.ModuleList"):
        Listed()

    class Held(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(2, 3), nn.ReLU()])
            self.heads = nn.ModuleDict({"left": nn.Linear(3, 1), "right": nn.Linear(3, 2)})

    model = Held()
    assert len(model.parameters()) == 6
    assert list(model.state_dict()) == ["layers.0.weight", "layers.0.bias", "heads.left.weight", "heads.left.bias",
                                        "heads.right.weight", "heads.right.bias"]
    assert isinstance(model.layers[1], nn.ReLU) and "left" in model.heads and len(model.heads) == 2
    with pytest.raises(TypeError, match="ModuleList takes Modules, got str at position 2"):
        model.layers.append("relu")


def test_a_module_without_backward_says_what_to_write_and_verdicts_judge_checks():
    class NoBackward(nn.Module):
        def forward(self, x):
            return x * 2

    with pytest.raises(NotImplementedError, match=r"NoBackward must implement backward\(grad_output\)"):
        NoBackward().backward(np.ones(3))
    assert nn.verdict({"input": 3e-9, "weight": 2e-10}).passed
    failed = nn.verdict({"input": 3e-9, "weight": 2e-3})
    assert not failed and failed.worst == "weight" and str(failed).startswith("FAIL")
    assert nn.verdict({"input": 5e-6}, tolerance=1e-5).passed


def test_update_batch_norm_is_the_average_over_batches_and_keeps_the_weights():
    rng = np.random.default_rng(3)
    net = nn.Sequential(nn.BatchNorm2d(2), nn.ReLU()).double()
    net.train()
    batches = [rng.normal(mean, 1.0 + mean, size=(3, 2, 4, 5)) for mean in (0.0, 1.0, 3.0)]
    net.forward(rng.normal(size=(2, 2, 3, 3)))          # stale statistics, to be replaced
    before = {name: param.data.copy() for name, param in net.named_parameters()}
    assert nn.update_batch_norm(net, iter(batches)) == 3       # any iterable, read once
    means = np.mean([b.mean(axis=(0, 2, 3)) for b in batches], axis=0)
    variances = np.mean([b.var(axis=(0, 2, 3), ddof=1) for b in batches], axis=0)
    np.testing.assert_allclose(net[0].running_mean, means, rtol=1e-12)
    np.testing.assert_allclose(net[0].running_var, variances, rtol=1e-12)
    assert net.training and net[0].momentum == 0.1                 # mode and momentum as they were
    for name, param in net.named_parameters():
        np.testing.assert_array_equal(param.data, before[name])


def test_update_batch_norm_without_batches_is_an_error_and_changes_nothing():
    net = nn.Sequential(nn.BatchNorm2d(2)).double()
    net.forward(np.random.default_rng(0).normal(2.0, 1.0, size=(2, 2, 3, 3)))
    kept = net[0].running_mean.copy()
    with pytest.raises(ValueError, match="at least one batch"):
        nn.update_batch_norm(net, [])
    np.testing.assert_array_equal(net[0].running_mean, kept)
    assert nn.update_batch_norm(nn.Sequential(nn.ReLU()), [np.zeros((1, 1, 2, 2))]) == 0   # nothing to update
