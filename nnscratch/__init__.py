"""nnscratch: a small deep-learning engine written by hand on NumPy (or CuPy).

Every layer keeps its backward pass next to its forward pass, and every
backward pass is proven by a numerical gradient check
(``python -m nnscratch.gradcheck``).  Names and shapes follow PyTorch.
"""
from . import init
from .backend import asnumpy, cuda_available, get_array_module, keep_freed_memory, manual_seed, to_device
from .layers import (AvgPool2d, BatchNorm2d, Conv2d, ConvTranspose2d, Flatten, LeakyReLU, Linear,
                     MaxPool2d, ReLU, Sigmoid, Tanh, Upsample)
from .losses import CrossEntropyLoss, L1Loss, MSELoss, SmoothL1Loss
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential
from .optim import SGD, Adam, Optimizer
from .serialize import StateFileError, load, save

__version__ = "0.1.0"

__all__ = [
    "Adam", "AvgPool2d", "BatchNorm2d", "Conv2d", "ConvTranspose2d", "CrossEntropyLoss", "Flatten",
    "L1Loss", "LeakyReLU", "Linear", "MSELoss", "MaxPool2d", "Module", "ModuleDict", "ModuleList", "Optimizer", "Parameter", "ReLU",
    "SGD", "Sequential", "Sigmoid", "SmoothL1Loss", "StateFileError", "Tanh", "Upsample", "asnumpy",
    "cuda_available", "get_array_module", "gradcheck", "gradcheck_loss", "init", "keep_freed_memory", "load",
    "manual_seed", "save", "to_device", "verdict",
]


def __getattr__(name):
    # ``gradcheck`` is imported on first use so that ``python -m nnscratch.gradcheck``
    # runs the module fresh; afterwards the function shadows the submodule name.
    if name in ("gradcheck", "gradcheck_loss", "verdict"):
        import importlib

        module = importlib.import_module(f"{__name__}.gradcheck")

        for exported in ("gradcheck", "gradcheck_loss", "verdict"):
            globals()[exported] = getattr(module, exported)
        return globals()[name]
    raise AttributeError(f"module 'nnscratch' has no attribute {name!r}")
