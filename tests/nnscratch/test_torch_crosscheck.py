"""Every layer, loss and optimizer against PyTorch in float64.

Forward values and every gradient must satisfy max|ours - torch| / max|torch| <= 1e-10.
"""
import numpy as np
import pytest

import nnscratch as nn

torch = pytest.importorskip("torch", reason="PyTorch is the reference for these cross-checks (pip install torch==2.13.0)")
torch.set_default_dtype(torch.float64)

TOLERANCE = 1e-10


def assert_matches(ours, theirs, what):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    ours = np.asarray(ours)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs torch {theirs.shape}"
    scale = np.abs(theirs).max(initial=0.0)
    error = np.abs(ours - theirs).max(initial=0.0) / (scale if scale > 0 else 1.0)
    assert error <= TOLERANCE, f"{what}: relative difference {error:.3e} > {TOLERANCE}"


def copy_parameters(ours, theirs):
    """Copy our parameters into the torch module (same names and shapes)."""
    with torch.no_grad():
        for name, param in ours.named_parameters():
            getattr_path(theirs, name).copy_(torch.from_numpy(param.data))


def getattr_path(obj, dotted):
    for part in dotted.split("."):
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    return obj


def check_module(ours, theirs, x, rng, positive_only=False):
    ours.double().zero_grad()
    theirs.zero_grad()
    copy_parameters(ours, theirs)
    x_torch = torch.tensor(x, requires_grad=True)
    y_torch = theirs(x_torch)
    y = ours.forward(x.copy())
    assert_matches(y, y_torch, "forward")
    grad_out = rng.normal(size=y.shape)
    y_torch.backward(torch.from_numpy(grad_out))
    assert_matches(ours.backward(grad_out), x_torch.grad, "input gradient")
    for name, param in ours.named_parameters():
        assert_matches(param.grad, getattr_path(theirs, name).grad, f"gradient of {name}")


LAYERS = {
    "conv3x3": (lambda r: nn.Conv2d(3, 5, 3, padding=1, rng=r), lambda: torch.nn.Conv2d(3, 5, 3, padding=1), (2, 3, 9, 8)),
    "conv strided dilated": (lambda r: nn.Conv2d(4, 3, (3, 5), stride=(2, 1), padding=(2, 1), dilation=(2, 1), rng=r),
                             lambda: torch.nn.Conv2d(4, 3, (3, 5), stride=(2, 1), padding=(2, 1), dilation=(2, 1)), (2, 4, 11, 10)),
    "conv no bias": (lambda r: nn.Conv2d(2, 3, 1, bias=False, rng=r), lambda: torch.nn.Conv2d(2, 3, 1, bias=False), (3, 2, 4, 4)),
    "convtranspose k4 s2": (lambda r: nn.ConvTranspose2d(4, 3, 4, stride=2, padding=1, rng=r),
                            lambda: torch.nn.ConvTranspose2d(4, 3, 4, stride=2, padding=1), (2, 4, 5, 6)),
    "convtranspose k3 s2 op1": (lambda r: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1, rng=r),
                                lambda: torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1), (2, 3, 4, 5)),
    "convtranspose dilated": (lambda r: nn.ConvTranspose2d(2, 2, 3, stride=1, padding=2, dilation=2, rng=r),
                              lambda: torch.nn.ConvTranspose2d(2, 2, 3, stride=1, padding=2, dilation=2), (1, 2, 6, 5)),
    "relu": (lambda r: nn.ReLU(), lambda: torch.nn.ReLU(), (2, 3, 4, 5)),
    "leaky relu": (lambda r: nn.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2), (2, 3, 4, 5)),
    "tanh": (lambda r: nn.Tanh(), lambda: torch.nn.Tanh(), (2, 3, 4, 5)),
    "sigmoid": (lambda r: nn.Sigmoid(), lambda: torch.nn.Sigmoid(), (2, 3, 4, 5)),
    "upsample nearest x2": (lambda r: nn.Upsample(scale_factor=2), lambda: torch.nn.Upsample(scale_factor=2), (2, 3, 4, 5)),
    "upsample nearest x3": (lambda r: nn.Upsample(scale_factor=3), lambda: torch.nn.Upsample(scale_factor=3), (1, 2, 3, 4)),
    "upsample bilinear x2": (lambda r: nn.Upsample(scale_factor=2, mode="bilinear"),
                             lambda: torch.nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), (2, 3, 4, 5)),
    "upsample bilinear x1.5": (lambda r: nn.Upsample(scale_factor=1.5, mode="bilinear"),
                               lambda: torch.nn.Upsample(scale_factor=1.5, mode="bilinear"), (1, 2, 6, 5)),
    "upsample bilinear size": (lambda r: nn.Upsample(size=(7, 3), mode="bilinear"),
                               lambda: torch.nn.Upsample(size=(7, 3), mode="bilinear"), (1, 2, 4, 5)),
    "upsample bilinear align": (lambda r: nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
                                lambda: torch.nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True), (1, 2, 4, 5)),
    "maxpool 2": (lambda r: nn.MaxPool2d(2), lambda: torch.nn.MaxPool2d(2), (2, 3, 6, 7)),
    "maxpool 3 s2 p1": (lambda r: nn.MaxPool2d(3, 2, 1), lambda: torch.nn.MaxPool2d(3, 2, 1), (2, 3, 7, 6)),
    "avgpool 2": (lambda r: nn.AvgPool2d(2), lambda: torch.nn.AvgPool2d(2), (2, 3, 6, 7)),
    "avgpool 3 s2 p1": (lambda r: nn.AvgPool2d(3, 2, 1), lambda: torch.nn.AvgPool2d(3, 2, 1), (2, 3, 7, 6)),
    "avgpool exclude pad": (lambda r: nn.AvgPool2d(3, 2, 1, count_include_pad=False),
                            lambda: torch.nn.AvgPool2d(3, 2, 1, count_include_pad=False), (2, 3, 7, 6)),
    "linear": (lambda r: nn.Linear(7, 4, rng=r), lambda: torch.nn.Linear(7, 4), (5, 7)),
    "flatten linear": (lambda r: nn.Sequential(nn.Flatten(), nn.Linear(12, 3, rng=r)),
                       lambda: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3)), (4, 3, 2, 2)),
}


@pytest.mark.parametrize("name", LAYERS)
def test_layer_matches_torch(name):
    make_ours, make_theirs, shape = LAYERS[name]
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    check_module(make_ours(rng), make_theirs(), rng.normal(size=shape), rng)


class TorchGlobalContext(torch.nn.Module):
    """x + Linear(mean over H, W of x), broadcast to every position: written with torch's own operators."""

    def __init__(self, channels):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(channels, channels))
        self.bias = torch.nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        return x + torch.nn.functional.linear(x.mean(dim=(2, 3)), self.weight, self.bias)[:, :, None, None]


def test_global_context_matches_torch():
    rng = np.random.default_rng(5)
    ours = nn.GlobalContext(4)
    ours.weight.data, ours.bias.data = rng.normal(size=(4, 4)), rng.normal(size=4)   # away from the zero start
    check_module(ours, TorchGlobalContext(4), rng.normal(size=(3, 4, 5, 7)), rng)


class TorchNormShrink(torch.nn.Module):
    """Each position's channel vector shortened by lambd (zero below it), with torch's operators."""

    def __init__(self, lambd):
        super().__init__()
        self.lambd = lambd

    def forward(self, x):
        norm = torch.linalg.vector_norm(x, dim=1, keepdim=True)
        return x * torch.clamp(norm - self.lambd, min=0) / norm


@pytest.mark.parametrize("lambd", [0.0, 0.3, 1.2])
def test_norm_shrink_matches_torch(lambd):
    rng = np.random.default_rng(8)
    check_module(nn.NormShrink(lambd), TorchNormShrink(lambd), rng.normal(size=(3, 2, 5, 4)), rng)


class TorchSoftmaxExpectation(torch.nn.Module):
    """The mean of the class values under softmax(x / T) over axis 1, with torch's operators."""

    def __init__(self, values, temperature):
        super().__init__()
        self.values, self.temperature = torch.from_numpy(values), temperature

    def forward(self, x):
        return torch.einsum("nc...,cd->nd...", torch.softmax(x / self.temperature, dim=1), self.values)


@pytest.mark.parametrize("temperature", [0.38, 1.0, 2.5])
def test_softmax_expectation_matches_torch(temperature):
    rng = np.random.default_rng(9)
    values = rng.normal(size=(7, 2)) * 3
    check_module(nn.SoftmaxExpectation(values, temperature), TorchSoftmaxExpectation(values, temperature),
                 rng.normal(size=(3, 7, 4, 5)) * 4, rng)


def test_batchnorm_train_then_eval_matches_torch_including_running_statistics():
    rng = np.random.default_rng(0)
    ours, theirs = nn.BatchNorm2d(3, momentum=0.2).double(), torch.nn.BatchNorm2d(3, momentum=0.2)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor([0.5, 1.5, -1.0]))
        theirs.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    ours.weight.data, ours.bias.data = np.array([0.5, 1.5, -1.0]), np.array([0.1, -0.2, 0.3])
    for step in range(3):
        check_module(ours, theirs, rng.normal(1.0, 2.0, size=(4, 3, 5, 6)), rng)
        assert_matches(ours.running_mean, theirs.running_mean, "running_mean")
        assert_matches(ours.running_var, theirs.running_var, "running_var")
        assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked) == step + 1
    ours.eval(), theirs.eval()
    check_module(ours, theirs, rng.normal(size=(2, 3, 4, 4)), rng)


def test_batchnorm_cumulative_average_matches_torch():
    rng = np.random.default_rng(1)
    ours, theirs = nn.BatchNorm2d(2, momentum=None).double(), torch.nn.BatchNorm2d(2, momentum=None)
    for _ in range(3):
        check_module(ours, theirs, rng.normal(size=(3, 2, 4, 4)), rng)
    assert_matches(ours.running_var, theirs.running_var, "running_var")



def test_update_batch_norm_matches_torch_update_bn():
    """Statistics recomputed for new weights: each layer's the average over the batches, as
    ``torch.optim.swa_utils.update_bn`` makes it; momenta and the evaluation mode restored."""
    from torch.optim.swa_utils import update_bn
    rng = np.random.default_rng(2)
    ours = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, rng=rng), nn.BatchNorm2d(4, momentum=0.3), nn.ReLU(),
                         nn.Conv2d(4, 5, 3, stride=2, padding=1, rng=rng), nn.BatchNorm2d(5), nn.ReLU()).double()
    theirs = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4, momentum=0.3),
                                 torch.nn.ReLU(), torch.nn.Conv2d(4, 5, 3, stride=2, padding=1),
                                 torch.nn.BatchNorm2d(5), torch.nn.ReLU())
    copy_parameters(ours, theirs)
    warm = rng.normal(size=(4, 3, 8, 8))              # statistics that belong to other data
    ours.forward(warm), theirs(torch.from_numpy(warm))
    ours.eval(), theirs.eval()
    batches = [rng.normal(0.5, 2.0, size=(size, 3, 8, 8)) for size in (4, 2, 5)]
    assert nn.update_batch_norm(ours, batches) == 3
    update_bn([torch.from_numpy(b) for b in batches], theirs)
    for index in (1, 4):
        assert_matches(ours[index].running_mean, theirs[index].running_mean, f"layer {index} running_mean")
        assert_matches(ours[index].running_var, theirs[index].running_var, f"layer {index} running_var")
        assert int(ours[index].num_batches_tracked) == int(theirs[index].num_batches_tracked) == 3
    assert (ours[1].momentum, ours[4].momentum) == (0.3, 0.1)
    assert not ours.training and not ours[1].training
    x = rng.normal(size=(2, 3, 8, 8))
    assert_matches(ours.forward(x), theirs(torch.from_numpy(x)), "evaluation after the update")

def test_tiny_colorizer_shaped_network_matches_torch():
    from nnscratch.checks import tiny_network

    ours = tiny_network(18, 3, np.random.default_rng(2))
    layers = []
    for layer in ours:
        if isinstance(layer, nn.Conv2d):
            layers.append(torch.nn.Conv2d(layer.in_channels, layer.out_channels, 3, layer.stride, layer.padding))
        elif isinstance(layer, nn.ConvTranspose2d):
            layers.append(torch.nn.ConvTranspose2d(layer.in_channels, layer.out_channels, 4, 2, 1))
        else:
            layers.append(torch.nn.ReLU() if isinstance(layer, nn.ReLU) else torch.nn.Tanh())
    rng = np.random.default_rng(3)
    check_module(ours, torch.nn.Sequential(*layers), rng.normal(size=(2, 1, 24, 16)), rng)


def check_loss(ours, theirs, pred, target):
    pred_torch = torch.tensor(pred, requires_grad=True)
    target_torch = torch.from_numpy(target)
    loss_torch = theirs(pred_torch, target_torch)
    loss_torch.backward()
    assert_matches(np.array(ours.forward(pred, target)), loss_torch, "loss")
    assert_matches(ours.backward(), pred_torch.grad, "gradient")


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_regression_losses_match_torch(reduction):
    rng = np.random.default_rng(4)
    pred, target = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=(2, 3, 4, 5))
    check_loss(nn.MSELoss(reduction), torch.nn.MSELoss(reduction=reduction), pred, target)
    check_loss(nn.L1Loss(reduction), torch.nn.L1Loss(reduction=reduction), pred, target)
    for beta in (1.0, 0.3, 0.0):
        check_loss(nn.SmoothL1Loss(reduction, beta=beta), torch.nn.SmoothL1Loss(reduction=reduction, beta=beta), pred, target)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_log_mse_loss_matches_torch_autograd(reduction):
    rng = np.random.default_rng(6)
    scale = np.array([0.02, 0.3, 1.0]).reshape(3, 1, 1, 1)        # errors below, near and above eps
    pred, target = rng.normal(size=(3, 2, 4, 5)) * scale, rng.normal(size=(3, 2, 4, 5)) * scale
    eps = 0.01

    def theirs(p, t):
        logs = torch.log(((p - t) ** 2).mean(dim=(1, 2, 3)) + eps)
        return logs.mean() if reduction == "mean" else logs.sum()

    check_loss(nn.LogMSELoss(reduction, eps=eps), theirs, pred, target)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_matches_torch(weighted, reduction):
    rng = np.random.default_rng(5)
    weight = rng.uniform(0.2, 2.0, size=6) if weighted else None
    torch_weight = torch.from_numpy(weight) if weighted else None
    logits = rng.normal(size=(3, 6, 4, 5)) * 3
    classes = rng.integers(0, 6, size=(3, 4, 5))
    classes[0, 1, 2] = classes[2, 3, 4] = -100
    check_loss(nn.CrossEntropyLoss(weight, reduction), torch.nn.CrossEntropyLoss(weight=torch_weight, reduction=reduction),
               logits, classes)
    soft = rng.random((3, 6, 4, 5))
    soft /= soft.sum(axis=1, keepdims=True)
    check_loss(nn.CrossEntropyLoss(weight, reduction), torch.nn.CrossEntropyLoss(weight=torch_weight, reduction=reduction),
               logits, soft)
    flat_classes = rng.integers(0, 6, size=7)
    check_loss(nn.CrossEntropyLoss(weight, reduction), torch.nn.CrossEntropyLoss(weight=torch_weight, reduction=reduction),
               rng.normal(size=(7, 6)), flat_classes)


OPTIMIZERS = {
    "adam": (lambda p: nn.Adam(p, lr=1e-2), lambda p: torch.optim.Adam(p, lr=1e-2)),
    "adam decay": (lambda p: nn.Adam(p, lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
                   lambda p: torch.optim.Adam(p, lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    "sgd": (lambda p: nn.SGD(p, lr=0.05), lambda p: torch.optim.SGD(p, lr=0.05)),
    "sgd momentum": (lambda p: nn.SGD(p, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01),
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    "sgd nesterov": (lambda p: nn.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_trajectory_matches_torch_over_20_steps(name):
    make_ours, make_theirs = OPTIMIZERS[name]
    rng = np.random.default_rng(6)
    ours = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, rng=rng), nn.ReLU(), nn.Conv2d(3, 1, 3, rng=rng)).double()
    theirs = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(3, 1, 3))
    copy_parameters(ours, theirs)
    optimizer, torch_optimizer = make_ours(ours.parameters()), make_theirs(theirs.parameters())
    criterion = nn.MSELoss()
    for _ in range(20):
        x, target = rng.normal(size=(4, 2, 6, 6)), rng.normal(size=(4, 1, 4, 4))
        optimizer.zero_grad()
        criterion.forward(ours.forward(x), target)
        ours.backward(criterion.backward())
        optimizer.step()
        torch_optimizer.zero_grad()
        torch.nn.functional.mse_loss(theirs(torch.from_numpy(x)), torch.from_numpy(target)).backward()
        torch_optimizer.step()
    for name_, param in ours.named_parameters():
        assert_matches(param.data, getattr_path(theirs, name_), f"{name_} after 20 steps")


@pytest.mark.parametrize("warmup, total", [(5, 20), (0, 12), (2, 3)])
def test_learning_rate_schedule_matches_torch_warm_up_then_cosine_annealing(warmup, total):
    from torch.optim import lr_scheduler

    torch_optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=3e-4)
    cosine = lr_scheduler.CosineAnnealingLR(torch_optimizer, T_max=total - warmup)
    if warmup:
        warm = lr_scheduler.LinearLR(torch_optimizer, start_factor=1 / warmup, total_iters=warmup - 1)
        cosine = lr_scheduler.SequentialLR(torch_optimizer, [warm, cosine], milestones=[warmup])
    for step in range(total):
        expected = torch_optimizer.param_groups[0]["lr"]
        assert nn.scheduled_lr(step, total, 3e-4, warmup, "cosine") == pytest.approx(expected, rel=1e-12, abs=1e-20), step
        torch_optimizer.step()
        cosine.step()
