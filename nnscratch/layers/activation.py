"""Element-wise activations.  Each keeps what its derivative needs.

ReLU and LeakyReLU take the derivative at 0 to be that of the left branch
(0 and ``negative_slope``), as PyTorch does.  NaN in gives NaN out.
"""
from __future__ import annotations

from ..backend import get_array_module
from ..module import Module, check_grad_output


def _check_array(module, x):
    if not hasattr(x, "dtype") or x.dtype.kind != "f":
        raise TypeError(f"{type(module).__name__} expects a floating-point array, "
                        f"got {getattr(x, 'dtype', type(x).__name__)}")


class ReLU(Module):
    """``y = max(x, 0)``;  ``dx = dy * [y > 0]``.

    Backward reads the mask from the output, which the next layer keeps
    alive anyway, so ReLU stores nothing of its own.
    """

    def __init__(self):
        super().__init__()
        self._output = None

    def forward(self, x):
        _check_array(self, x)
        self._output = get_array_module(x).maximum(x, 0)  # maximum propagates NaN
        return self._output

    def backward(self, grad_output):
        check_grad_output(self, grad_output, None if self._output is None else self._output.shape)
        return grad_output * (self._output > 0)


class LeakyReLU(Module):
    """``y = x`` for x > 0, ``slope * x`` otherwise;  ``dx = dy * (1 or slope)``."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)
        self._positive = None

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"

    def forward(self, x):
        _check_array(self, x)
        xp = get_array_module(x)
        self._positive = x > 0
        return xp.where(self._positive, x, x * self.negative_slope)

    def backward(self, grad_output):
        check_grad_output(self, grad_output, None if self._positive is None else self._positive.shape)
        xp = get_array_module(grad_output)
        return xp.where(self._positive, grad_output, grad_output * self.negative_slope)


class Tanh(Module):
    """``y = tanh(x)``;  ``dx = dy * (1 - y²)``."""

    def __init__(self):
        super().__init__()
        self._output = None

    def forward(self, x):
        _check_array(self, x)
        self._output = get_array_module(x).tanh(x)
        return self._output

    def backward(self, grad_output):
        check_grad_output(self, grad_output, None if self._output is None else self._output.shape)
        return grad_output * (1 - self._output * self._output)


class Sigmoid(Module):
    """``y = 1 / (1 + exp(-x))``;  ``dx = dy * y (1 - y)``.

    Computed as ``(1 + tanh(x/2)) / 2``, which never overflows.
    """

    def __init__(self):
        super().__init__()
        self._output = None

    def forward(self, x):
        _check_array(self, x)
        xp = get_array_module(x)
        self._output = (xp.tanh(x * 0.5) + 1) * 0.5
        return self._output

    def backward(self, grad_output):
        check_grad_output(self, grad_output, None if self._output is None else self._output.shape)
        return grad_output * self._output * (1 - self._output)
