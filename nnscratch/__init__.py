"""nnscratch: a small deep-learning engine written by hand on NumPy (or CuPy).

Every layer keeps its backward pass next to its forward pass, and every
backward pass is proven by a numerical gradient check
(``python -m nnscratch.checks``).  Names and shapes follow PyTorch.
"""
import importlib

# Names are imported from their modules on first use (PEP 562), so that importing a light
# helper such as ``nnscratch.backend`` (as the enhance package does) does not load the layers.
_EXPORTS = {
    "backend": ("asnumpy", "cuda_available", "get_array_module", "keep_freed_memory", "manual_seed", "to_device"),
    "layers": ("AvgPool2d", "BatchNorm2d", "Conv2d", "ConvTranspose2d", "Flatten", "GlobalContext", "LeakyReLU",
               "Linear", "MaxPool2d", "NormShrink", "ReLU", "Sigmoid", "SoftmaxExpectation", "Tanh", "Upsample",
               "fold_batch_norm", "update_batch_norm"),
    "losses": ("CrossEntropyLoss", "L1Loss", "LogMSELoss", "MSELoss", "SmoothL1Loss"),
    "module": ("Identity", "Module", "ModuleDict", "ModuleList", "Parameter", "Sequential"),
    "optim": ("SGD", "Adam", "FlatParameters", "Optimizer", "scheduled_lr"),
    "serialize": ("StateFileError", "load", "save"),
    "gradient_check": ("gradcheck", "gradcheck_loss", "verdict"),
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}

__version__ = "0.1.0"

__all__ = [
    "Adam", "AvgPool2d", "BatchNorm2d", "Conv2d", "ConvTranspose2d", "CrossEntropyLoss", "FlatParameters", "Flatten",
    "GlobalContext", "Identity", "L1Loss", "LeakyReLU", "Linear", "LogMSELoss", "MSELoss", "MaxPool2d", "Module", "ModuleDict",
    "ModuleList", "NormShrink", "Optimizer", "Parameter", "ReLU", "SGD", "Sequential", "Sigmoid", "SmoothL1Loss",
    "SoftmaxExpectation",
    "StateFileError", "Tanh", "Upsample", "asnumpy", "cuda_available", "fold_batch_norm", "get_array_module", "gradcheck",
    "gradcheck_loss", "init", "keep_freed_memory", "load", "manual_seed", "save", "scheduled_lr",
    "to_device", "update_batch_norm", "verdict",
]


def __getattr__(name):
    if name == "init":
        return importlib.import_module(f"{__name__}.init")
    if name not in _HOME:
        raise AttributeError(f"module 'nnscratch' has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_HOME[name]}")
    for exported in _EXPORTS[_HOME[name]]:
        globals()[exported] = getattr(module, exported)
    return globals()[name]


def __dir__():
    return sorted(set(globals()) | set(__all__))
