"""Element-wise activations.  Each keeps what its derivative needs.

ReLU and LeakyReLU take the derivative at 0 to be that of the left branch
(0 and ``negative_slope``), as PyTorch does.  NaN in gives NaN out.
"""
from __future__ import annotations

from ..backend import fuse, get_array_module
from ..module import Module, check_grad_output


@fuse
def _relu_grad(grad_output, output):
    return grad_output * (output > 0)


@fuse
def _tanh_grad(grad_output, output):
    return grad_output * (1 - output * output)


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
        return _relu_grad(grad_output, self._output)


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
        return _tanh_grad(grad_output, self._output)


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


class NormShrink(Module):
    """Block soft-thresholding: each position's vector of channels (axis 1) shortened by ``lambd``,
    its direction kept, and set to zero where it is shorter than ``lambd``.

    With ``n = |x|`` over axis 1 (the proximal operator of ``lambd·|x|``; the group-lasso shrink)::

        y = x · max(n - lambd, 0) / n
        dx = dy · (1 - lambd / n) + x · lambd (x · dy) / n³     where n > lambd, else 0

    A colorizer ends with it to take faint tints off: chroma below ``lambd`` becomes gray and all
    other chroma loses ``lambd`` of its length, hue unchanged.  ``lambd = 0`` is the identity.
    """

    def __init__(self, lambd: float):
        super().__init__()
        if not lambd >= 0:
            raise ValueError(f"NormShrink: lambd must be >= 0, got {lambd}")
        self.lambd = float(lambd)
        self._input = self._squares = self._factor = None

    def extra_repr(self) -> str:
        return f"lambd={self.lambd}"

    def forward(self, x):
        _check_array(self, x)
        if x.ndim < 2:
            raise ValueError(f"NormShrink expects (N, C, ...) arrays, got shape {tuple(x.shape)}")
        self._input = x
        if self.lambd == 0:
            return x
        self._squares = (x * x).sum(axis=1, keepdims=True)
        self._factor = _shrink_factor(self._squares, self.lambd)
        return x * self._factor

    def backward(self, grad_output):
        check_grad_output(self, grad_output, None if self._input is None else self._input.shape)
        if self.lambd == 0:
            return grad_output
        along = (self._input * grad_output).sum(axis=1, keepdims=True)
        return _shrink_grad(grad_output, self._input, self._factor, self._squares, along, self.lambd)


@fuse
def _shrink_factor(squares, lambd):
    # max(n - lambd, 0) / n with n = sqrt(squares); the divisor is n + 1 (never 0) where the factor is 0
    norm = squares ** 0.5
    outside = norm > lambd
    return outside * (1 - lambd / (norm + (norm <= lambd)))


@fuse
def _shrink_grad(grad_output, x, factor, squares, along, lambd):
    norm = squares ** 0.5
    outside = norm > lambd
    safe = norm + (norm <= lambd)
    return grad_output * factor + x * (outside * (lambd * along / (safe * safe * safe)))


class SoftmaxExpectation(Module):
    """The expected value of a per-position distribution: ``y = sum_c softmax(x / T)_c · values[c]``.

    ``x`` is ``(N, C, ...)`` (logits over C classes, axis 1), ``values`` a ``(C, D)`` array (what
    each class stands for), ``y`` is ``(N, D, ...)``.  ``temperature`` T below 1 sharpens the
    distribution before the mean is taken (Zhang et al. 2016's annealed mean: T → 0 is the mode,
    T = 1 the mean).  With ``p = softmax(x / T)`` and ``u_c = values[c] · dy``::

        dx_c = p_c (u_c - y · dy) / T

    ``values`` is a buffer (it moves with the module and is stored with its state); the temperature
    has no weights and may be changed at any time.
    """

    def __init__(self, values, temperature: float = 1.0):
        super().__init__()
        if getattr(values, "ndim", None) != 2 or values.shape[0] < 1:
            raise ValueError(f"SoftmaxExpectation: values must be a (classes, D) array, got {getattr(values, 'shape', values)!r}")
        self.register_buffer("values", values)
        self.temperature = temperature
        self._prob = self._output = None

    @property
    def temperature(self) -> float:
        return self._temperature

    @temperature.setter
    def temperature(self, value: float) -> None:
        if not (isinstance(value, (int, float)) and 0 < value <= 10):
            raise ValueError(f"SoftmaxExpectation: temperature must be in (0, 10], got {value!r}")
        object.__setattr__(self, "_temperature", float(value))

    def extra_repr(self) -> str:
        return f"classes={self.values.shape[0]}, dims={self.values.shape[1]}, temperature={self.temperature}"

    def forward(self, x):
        _check_array(self, x)
        if x.ndim < 2 or x.shape[1] != self.values.shape[0]:
            raise ValueError(f"SoftmaxExpectation expects (N, {self.values.shape[0]}, ...) logits, got shape {tuple(x.shape)}")
        xp = get_array_module(x)
        scaled = x / self.temperature
        exp = xp.exp(scaled - scaled.max(axis=1, keepdims=True))
        self._prob = prob = exp / exp.sum(axis=1, keepdims=True)
        values = self.values.astype(x.dtype, copy=False)
        # sum over classes: (N, C, P) with (C, D) -> (N, D, P), as one matrix product per sample
        flat = prob.reshape(prob.shape[0], prob.shape[1], -1)
        self._output = xp.matmul(values.T, flat).reshape((x.shape[0], values.shape[1]) + x.shape[2:])
        return self._output

    def backward(self, grad_output):
        check_grad_output(self, grad_output, None if self._output is None else self._output.shape)
        xp = get_array_module(grad_output)
        prob = self._prob
        values = self.values.astype(prob.dtype, copy=False)
        flat_grad = grad_output.reshape(grad_output.shape[0], grad_output.shape[1], -1)
        along = xp.matmul(values, flat_grad).reshape(prob.shape)          # u_c = values[c] · dy
        mean = (self._output * grad_output).sum(axis=1, keepdims=True)   # y · dy
        return prob * (along - mean) / self.temperature
