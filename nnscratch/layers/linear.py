"""Fully connected layer and Flatten, for small classifiers."""
from __future__ import annotations

import math

from ..backend import DEFAULT_DTYPE
from ..init import kaiming_uniform, zeros
from ..module import Module, Parameter, check_grad_output, check_input


class Linear(Module):
    """``y = x Wᵀ + b`` for ``x`` of shape ``(N, in_features)``.

    ``weight`` is ``(out_features, in_features)`` (He-initialised), ``bias``
    is ``(out_features,)``.  Backward: ``dW = gᵀ x``, ``db = sum_N g``, ``dx = g W``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, rng=None, dtype=DEFAULT_DTYPE):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = Parameter(kaiming_uniform((self.out_features, self.in_features), rng=rng, dtype=dtype))
        self.bias = Parameter(zeros(self.out_features, dtype=dtype)) if bias else None
        self._input = None

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"

    def forward(self, x):
        check_input(self, x, 2, self.in_features, channel_axis=1)
        self._input = x
        out = x @ self.weight.data.T
        if self.bias is not None:
            out += self.bias.data
        return out

    def backward(self, grad_output):
        x = self._input
        check_grad_output(self, grad_output, None if x is None else (x.shape[0], self.out_features))
        self.weight.accumulate(grad_output.T @ x)
        if self.bias is not None:
            self.bias.accumulate(grad_output.sum(axis=0))
        return grad_output @ self.weight.data


class Flatten(Module):
    """Reshape ``(N, d1, d2, ...)`` to ``(N, d1*d2*...)``; backward reshapes back."""

    def __init__(self):
        super().__init__()
        self._shape = None

    def forward(self, x):
        if not hasattr(x, "ndim") or x.ndim < 2:
            raise ValueError(f"Flatten expects an array with a batch axis, got {getattr(x, 'shape', type(x).__name__)}")
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_output):
        check_grad_output(self, grad_output,
                          None if self._shape is None else (self._shape[0], math.prod(self._shape[1:])))
        return grad_output.reshape(self._shape)
