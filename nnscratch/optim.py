"""Optimizers with the exact update equations of ``torch.optim``.

Each keeps one small dict of state per parameter (momentum buffers, Adam's
moments and step count), saved and restored by ``state_dict`` /
``load_state_dict`` so that a resumed run continues bit for bit.

Where it can, an optimizer updates every parameter at once, as PyTorch's ``foreach`` and
``fused`` Adam do: the parameters are views into one flat array (:class:`FlatParameters`), the
gradients views into another, and each state array a view into a flat one of its own, so a step
is about a dozen operations over 1.3 million numbers instead of a dozen per parameter (on a GPU,
a dozen kernel launches instead of 700).  The elementwise equations are the same, so the result
is bit for bit that of the per-parameter loop, which remains for the cases the flat one does not
cover (some parameters without a gradient this step, mixed devices or dtypes).
"""
from __future__ import annotations

import math
from typing import Iterable


from .backend import check_device, device_of, get_array_module, to_device
from .module import Parameter


class FlatParameters:
    """Parameters of one device and dtype made views into one flat array, their gradients likewise.

    Packing copies each ``param.data`` into ``data`` and makes it a view there, and gives each
    parameter a ``grad_slot`` in ``grads``, where :meth:`Parameter.accumulate` copies the first
    gradient of a backward pass.  A parameter whose ``data`` is later replaced (``Module.to``,
    ``load_state_dict``) is packed again at the next :meth:`ready` (one copy of all of them).
    """

    def __init__(self, params: list[Parameter]):
        self.params = params
        self.data = self.grads = None
        self._views: list = []
        self._pack()

    @staticmethod
    def packable(params: list[Parameter]) -> bool:
        """One array module and one floating dtype for all: what a flat buffer needs."""
        first = params[0].data
        xp = get_array_module(first)
        return all(get_array_module(p.data) is xp and p.data.dtype == first.dtype for p in params) \
            and first.dtype.kind == "f"

    def _pack(self) -> None:
        xp = get_array_module(self.params[0].data)
        self.data = xp.concatenate([p.data.reshape(-1) for p in self.params])
        self.grads = xp.zeros_like(self.data)
        self._views = []
        offset = 0
        for param in self.params:
            size = param.data.size
            param.data = self.data[offset:offset + size].reshape(param.data.shape)
            param.grad_slot = self.grads[offset:offset + size].reshape(param.data.shape)
            self._views.append(param.data)
            offset += size

    def ready(self) -> bool:
        """True when every parameter is a view of ``data`` and holds its gradient in ``grads``."""
        if any(param.data is not view for param, view in zip(self.params, self._views)):
            if not self.packable(self.params):
                return False
            self._pack()             # grads held now stay where they are; the next backward fills the slots
        return all(param.grad is param.grad_slot for param in self.params)

    def views(self, flat) -> list:
        """``flat`` (an array shaped like ``data``) cut into per-parameter views."""
        result, offset = [], 0
        for param in self.params:
            size = param.data.size
            result.append(flat[offset:offset + size].reshape(param.data.shape))
            offset += size
        return result


class Optimizer:
    """Base class: a list of parameters and per-parameter state."""

    hyperparameter_names: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Parameter], lr: float):
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        for index, param in enumerate(self.params):
            if not isinstance(param, Parameter):
                raise TypeError(f"{type(self).__name__} expects Parameters, got {type(param).__name__} at position {index}")
        if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr >= 0):
            raise ValueError(f"learning rate must be a finite number >= 0, got {lr!r}")
        self.lr = float(lr)
        self.state: list[dict] = [{} for _ in self.params]
        self._flat = FlatParameters(self.params) if FlatParameters.packable(self.params) else None
        self._flat_state: dict = {}     # state key -> (flat array, its per-parameter views)

    def zero_grad(self) -> None:
        for param in self.params:
            param.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient (all at once where they share one flat buffer)."""
        if self._flat is not None and self._flat.ready():
            state = self._gather_state()
            if state is not None:
                self._update(self._flat.data, self._flat.grads, state)
                self._scatter_state(state)
                return
        for param, state in zip(self.params, self.state):
            if param.grad is None:
                continue
            if param.grad.shape != param.data.shape:
                raise ValueError(f"gradient of shape {tuple(param.grad.shape)} for a parameter of shape {tuple(param.data.shape)}")
            self._move_state(state, param.data)
            self._update(param.data, param.grad, state)

    def _update(self, data, grad, state) -> None:
        raise NotImplementedError

    def _gather_state(self) -> dict | None:
        """The per-parameter states as one state over the flat buffer, or None if they differ in kind.

        Arrays that are already views of a flat array are used as they are; others (a state just
        loaded) are packed into a new one.  Scalars (a step count) must agree.
        """
        first = self.state[0]
        if any(state.keys() != first.keys() for state in self.state):
            return None
        gathered = {}
        for key, value in first.items():
            if hasattr(value, "shape"):
                flat, views = self._flat_state.get(key, (None, ()))
                values = [state[key] for state in self.state]
                if flat is None or any(v is not w for v, w in zip(values, views)):
                    if any(v.shape != p.data.shape or v.dtype != p.data.dtype or type(v) is not type(p.data)
                           for v, p in zip(values, self.params)):
                        return None
                    flat = get_array_module(self._flat.data).concatenate([v.reshape(-1) for v in values])
                gathered[key] = flat
            elif any(state[key] != value for state in self.state):
                return None
            else:
                gathered[key] = value
        return gathered

    def _scatter_state(self, state: dict) -> None:
        """Each parameter's state as views of the flat state the update left."""
        for key, value in state.items():
            if hasattr(value, "shape"):
                flat, views = self._flat_state.get(key, (None, ()))
                if flat is not value:
                    views = self._flat.views(value)
                    self._flat_state[key] = (value, views)
                for param_state, view in zip(self.state, views):
                    param_state[key] = view
            else:
                for param_state in self.state:
                    param_state[key] = value

    @staticmethod
    def _move_state(state: dict, like) -> None:
        """Keep state on the parameter's device (moves once, after ``Module.to``)."""
        device = device_of(like)
        for key, value in state.items():
            if hasattr(value, "shape") and device_of(value) != device:
                state[key] = to_device(value, device)

    def to(self, device: str) -> "Optimizer":
        """Move the optimizer's state arrays to ``device``."""
        device = check_device(device)
        for state in self.state:
            for key, value in state.items():
                if hasattr(value, "shape"):
                    state[key] = to_device(value, device)
        return self

    def hyperparameters(self) -> dict:
        return {"lr": self.lr, **{name: getattr(self, name) for name in self.hyperparameter_names}}

    def state_dict(self) -> dict:
        """``{'type', 'hyperparameters', 'state'}``; ``state`` maps parameter index to its dict."""
        return {
            "type": type(self).__name__,
            "hyperparameters": self.hyperparameters(),
            "state": {str(i): dict(state) for i, state in enumerate(self.state)},
        }

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyperparameters and per-parameter state saved by :meth:`state_dict`."""
        kind = state_dict.get("type")
        if kind != type(self).__name__:
            raise ValueError(f"optimizer state is for {kind!r}, not {type(self).__name__}")
        saved = state_dict.get("state", {})
        if len(saved) != len(self.params):
            raise ValueError(f"optimizer state has {len(saved)} parameters, this optimizer has {len(self.params)}")
        new_states = []
        for index, param in enumerate(self.params):
            state = dict(saved[str(index)])
            for key, value in state.items():
                if hasattr(value, "shape") and value.ndim > 0:
                    if tuple(value.shape) != tuple(param.data.shape):
                        raise ValueError(f"optimizer state {key!r} of parameter {index} has shape "
                                         f"{tuple(value.shape)}, the parameter has {tuple(param.data.shape)}")
                    state[key] = to_device(value, device_of(param.data)).astype(param.data.dtype, copy=True)
                elif hasattr(value, "shape"):
                    state[key] = value.item()
            new_states.append(state)
        for name, value in state_dict.get("hyperparameters", {}).items():
            setattr(self, name, tuple(value) if isinstance(value, list) else value)
        self.state = new_states


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum (heavy-ball or Nesterov).

        g = grad + weight_decay * p
        b = g                                   (first step)
        b = momentum * b + (1 - dampening) * g  (later steps)
        g = g + momentum * b  (Nesterov)  or  g = b
        p = p - lr * g
    """

    hyperparameter_names = ("momentum", "dampening", "weight_decay", "nesterov")

    def __init__(self, params, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(params, lr)
        if momentum < 0 or weight_decay < 0:
            raise ValueError(f"momentum and weight_decay must be >= 0, got {momentum} and {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and dampening = 0")
        self.momentum, self.dampening = float(momentum), float(dampening)
        self.weight_decay, self.nesterov = float(weight_decay), bool(nesterov)

    def _update(self, data, grad, state) -> None:
        if self.weight_decay:
            grad = grad + self.weight_decay * data
        if self.momentum:
            buffer = state.get("momentum_buffer")
            if buffer is None:
                buffer = state["momentum_buffer"] = grad.copy()
            else:
                buffer *= self.momentum
                buffer += (1 - self.dampening) * grad
            grad = grad + self.momentum * buffer if self.nesterov else buffer
        data -= self.lr * grad


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015), the equations of ``torch.optim.Adam``:

        g = grad + weight_decay * p          (coupled L2, as torch)
        t = t + 1
        m = m + (1 - beta1) (g - m)
        v = beta2 v + (1 - beta2) g²
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    Textbook version: ``nnscratch.reference.adam`` (the paper's Algorithm 1);
    proven equal in the tests.
    """

    hyperparameter_names = ("betas", "eps", "weight_decay")

    def __init__(self, params, lr: float = 1e-4, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr)
        beta1, beta2 = betas
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
            raise ValueError(f"betas must lie in [0, 1), got {betas}")
        if eps < 0 or weight_decay < 0:
            raise ValueError(f"eps and weight_decay must be >= 0, got {eps} and {weight_decay}")
        self.betas = (float(beta1), float(beta2))
        self.eps, self.weight_decay = float(eps), float(weight_decay)

    def _update(self, data, grad, state) -> None:
        xp = get_array_module(data)
        beta1, beta2 = self.betas
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(data)
            state["exp_avg_sq"] = xp.zeros_like(data)
        if self.weight_decay:
            grad = grad + self.weight_decay * data
        state["step"] += 1
        step, exp_avg, exp_avg_sq = state["step"], state["exp_avg"], state["exp_avg_sq"]
        exp_avg += (grad - exp_avg) * (1 - beta1)
        exp_avg_sq *= beta2
        exp_avg_sq += grad * grad * (1 - beta2)
        bias_correction1 = 1 - beta1 ** step
        bias_correction2_sqrt = math.sqrt(1 - beta2 ** step)
        denom = xp.sqrt(exp_avg_sq)
        denom /= bias_correction2_sqrt
        denom += self.eps
        update = exp_avg / denom
        update *= self.lr / bias_correction1
        data -= update


SCHEDULES = ("constant", "cosine")


def scheduled_lr(step: int, total: int, lr: float, warmup: int = 0, decay: str = "constant") -> float:
    """The learning rate for optimizer step ``step`` (0-based) of ``total``.

    A linear warm-up over the first ``warmup`` steps, ``lr * (step + 1) / warmup`` (so the
    first step already moves), then ``decay``: "constant" keeps ``lr``; "cosine" follows half
    a cosine from ``lr`` at step ``warmup`` towards 0 at ``total``,

        lr * (1 + cos(pi * (step - warmup) / (total - warmup))) / 2,

    which is ``torch.optim.lr_scheduler.LinearLR(start_factor=1/warmup, total_iters=warmup-1)``
    followed by ``CosineAnnealingLR(T_max=total-warmup)`` (``eta_min=0``).  A pure function of
    the step, so a resumed run takes up the schedule where it stopped.
    """
    if decay not in SCHEDULES:
        raise ValueError(f"decay must be one of {', '.join(SCHEDULES)}, got {decay!r}")
    if not (isinstance(warmup, int) and warmup >= 0):
        raise ValueError(f"warmup must be a whole number of steps >= 0, got {warmup!r}")
    if not (isinstance(total, int) and total > warmup):
        raise ValueError(f"total must be a whole number of steps above warmup ({warmup}), got {total!r}")
    if not (isinstance(step, int) and step >= 0):
        raise ValueError(f"step must be a whole number >= 0, got {step!r}")
    if step < warmup:
        return lr * (step + 1) / warmup
    if decay == "cosine":
        return lr * (1 + math.cos(math.pi * min(step - warmup, total - warmup) / (total - warmup))) / 2
    return lr
