"""Layers: each file keeps a family's forward and backward side by side."""
from .activation import LeakyReLU, NormShrink, ReLU, Sigmoid, SoftmaxExpectation, Tanh
from .conv import Conv2d, ConvTranspose2d
from .linear import Flatten, GlobalContext, Linear
from .norm import BatchNorm2d, fold_batch_norm, update_batch_norm
from .resample import AvgPool2d, MaxPool2d, Upsample

__all__ = ["AvgPool2d", "BatchNorm2d", "Conv2d", "ConvTranspose2d", "Flatten", "GlobalContext", "LeakyReLU",
           "Linear", "MaxPool2d", "NormShrink", "ReLU", "Sigmoid", "SoftmaxExpectation", "Tanh", "Upsample",
           "fold_batch_norm", "update_batch_norm"]
