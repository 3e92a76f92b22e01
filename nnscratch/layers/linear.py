"""Fully connected layers: Linear and Flatten for small classifiers, GlobalContext for a scene summary."""
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


class GlobalContext(Module):
    """Adds a linear map of the image-wide mean of the features to every position.

    ``y[n, c, i, j] = x[n, c, i, j] + (m[n] Wᵀ + b)[c]`` with ``m[n] = mean_{i,j} x[n, :, i, j]``:
    each position then sees a summary of the whole image (its scene), as the global
    features of Iizuka et al. (2016) give a colorizer, for ``C² + C`` parameters and no
    nonlinearity of its own.  ``weight`` ``(C, C)`` and ``bias`` ``(C,)`` start at zero, so
    the layer starts as the identity.

    Backward, with ``g = sum_{i,j} dy`` (``(N, C)``): ``dW = gᵀ m``, ``db = sum_N g`` and
    ``dx = dy + (g W) / (H W)`` at every position.
    """

    def __init__(self, channels: int, dtype=DEFAULT_DTYPE):
        super().__init__()
        self.channels = int(channels)
        if self.channels < 1:
            raise ValueError(f"GlobalContext needs at least one channel, got {channels!r}")
        self.weight = Parameter(zeros((self.channels, self.channels), dtype=dtype))
        self.bias = Parameter(zeros(self.channels, dtype=dtype))
        self._mean = None
        self._shape = None

    def extra_repr(self) -> str:
        return f"channels={self.channels}"

    def forward(self, x):
        check_input(self, x, 4, self.channels)
        self._shape = x.shape
        self._mean = x.mean(axis=(2, 3))
        summary = self._mean @ self.weight.data.T + self.bias.data
        return x + summary[:, :, None, None]

    def backward(self, grad_output):
        check_grad_output(self, grad_output, self._shape)
        pooled = grad_output.sum(axis=(2, 3))
        self.weight.accumulate(pooled.T @ self._mean)
        self.bias.accumulate(pooled.sum(axis=0))
        spread = (pooled @ self.weight.data) / (self._shape[2] * self._shape[3])
        return grad_output + spread[:, :, None, None]
