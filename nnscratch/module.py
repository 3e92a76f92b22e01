"""Parameter, Module and Sequential: the containers every layer is built on.

A :class:`Module` computes ``forward(x) -> y`` and, given the gradient of the
loss with respect to ``y``, ``backward(grad_output) -> grad_input``.  Backward
also *accumulates* the gradients of the module's own parameters into
``param.grad``.  Forward stores what backward needs on the module itself, so
one forward must precede each backward.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterator

import numpy as np

from .backend import check_device, check_float_dtype, device_of, to_device


class Parameter:
    """A trainable array and the gradient accumulated for it.

    Attributes
    ----------
    data : array
        The value, shape fixed at construction.
    grad : array or None
        Same shape as ``data``; ``None`` until a backward pass writes it and
        again after ``zero_grad()``.
    """

    def __init__(self, data: Any):
        self.data = data
        self.grad = None
        # Where the first gradient of a backward pass is copied to, when an optimizer keeps every
        # gradient in one flat buffer (:class:`nnscratch.optim.FlatParameters`); None: kept as given.
        self.grad_slot = None

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    def accumulate(self, grad: Any) -> None:
        """Add ``grad`` to ``self.grad`` (the first call stores it, in ``grad_slot`` if there is one)."""
        if self.grad is None:
            slot = self.grad_slot
            if (slot is not None and slot.shape == grad.shape and slot.dtype == grad.dtype
                    and type(slot) is type(grad)):
                slot[...] = grad
                grad = slot
            self.grad = grad
        else:
            self.grad += grad

    def __repr__(self) -> str:
        return f"Parameter(shape={tuple(self.data.shape)}, dtype={self.data.dtype})"


class Module:
    """Base class of layers and networks.

    Subclasses set parameters, buffers and child modules as attributes in
    ``__init__`` (registration is automatic, in assignment order, as in
    PyTorch) and implement ``forward`` and ``backward``.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # -- registration -------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}.__init__ must call super().__init__() first")
        if name in self._buffers and not isinstance(value, (Parameter, Module)):
            object.__setattr__(self, name, value)  # a buffer gets a new value, stays a buffer
            return
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif _holds_modules(value):
            kind = "ModuleDict" if isinstance(value, dict) else "ModuleList"
            raise TypeError(f"{type(self).__name__}.{name} is a {type(value).__name__} holding Modules, which "
                            f"would not be registered (their parameters would be neither trained nor saved); "
                            f"wrap it: self.{name} = nn.{kind}(...)")
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, value: Any) -> None:
        """Register a non-trainable array saved in ``state_dict`` (e.g. running statistics)."""
        self._buffers[name] = None
        object.__setattr__(self, name, value)

    # -- the computation ----------------------------------------------------
    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} must implement forward(x) -> y")

    def backward(self, grad_output):
        raise NotImplementedError(
            f"{type(self).__name__} must implement backward(grad_output) -> grad_input: given dL/dy, "
            "add each parameter's gradient with param.accumulate(...) and return dL/dx "
            "(then check it with nnscratch.gradcheck)")

    def __call__(self, x):
        return self.forward(x)

    # -- traversal ------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def children(self) -> Iterator["Module"]:
        return iter(self._modules.values())

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        for prefix, module in self.named_modules():
            for name, param in module._parameters.items():
                yield (f"{prefix}.{name}" if prefix else name), param

    def parameters(self) -> list[Parameter]:
        return [param for _, param in self.named_parameters()]

    def named_buffers(self) -> Iterator[tuple[str, Any]]:
        for prefix, module in self.named_modules():
            for name in module._buffers:
                yield (f"{prefix}.{name}" if prefix else name), getattr(module, name)

    def zero_grad(self) -> None:
        """Forget accumulated gradients (``grad = None``, as PyTorch's default)."""
        for param in self.parameters():
            param.grad = None

    def train(self, mode: bool = True) -> "Module":
        for _, module in self.named_modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        return self.train(False)

    # -- state ----------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, Any]":
        """Parameters and buffers by dotted name (the arrays themselves, not copies)."""
        state = OrderedDict((name, param.data) for name, param in self.named_parameters())
        state.update(self.named_buffers())
        return state

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Copy arrays from ``state`` into this module's parameters and buffers.

        Arrays are converted to the device and dtype the module already has.
        Raises ``ValueError`` naming every missing, unexpected or mis-shaped entry.
        """
        own = self.state_dict()
        problems = []
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and missing:
            problems.append("missing: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected: " + ", ".join(unexpected))
        for name, current in own.items():
            if name in state and _shape(state[name]) != tuple(current.shape):
                problems.append(
                    f"{name}: expected shape {tuple(current.shape)}, got {_shape(state[name])}"
                )
        if problems:
            raise ValueError(f"state dict does not fit {type(self).__name__} (" + "; ".join(problems) + ")")
        params = dict(self.named_parameters())
        owners = {}
        for prefix, module in self.named_modules():
            for name in module._buffers:
                owners[f"{prefix}.{name}" if prefix else name] = (module, name)
        for name, current in own.items():
            if name not in state:
                continue
            value = to_device(state[name], device_of(current)).astype(current.dtype, copy=True)
            if name in params:
                params[name].data = value
            else:
                module, attr = owners[name]
                object.__setattr__(module, attr, value)

    def to(self, device: str | None = None, dtype: Any = None) -> "Module":
        """Move parameters and buffers to ``device`` and/or cast floats to ``dtype``.

        Integer buffers (such as ``num_batches_tracked``) keep their dtype.
        Existing gradients are converted along with their parameters.
        """
        if device is not None:
            device = check_device(device)
        if dtype is not None:
            dtype = check_float_dtype(dtype)

        def convert(array):
            if device is not None:
                array = to_device(array, device)
            if dtype is not None and array.dtype.kind == "f":
                array = array.astype(dtype)
            return array

        for _, module in self.named_modules():
            for param in module._parameters.values():
                param.data = convert(param.data)
                if param.grad is not None:
                    param.grad = convert(param.grad)
            for name in module._buffers:
                object.__setattr__(module, name, convert(getattr(module, name)))
        return self

    def double(self) -> "Module":
        return self.to(dtype=np.float64)

    def float(self) -> "Module":
        return self.to(dtype=np.float32)

    # -- display ----------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        if not self._modules:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for name, child in self._modules.items():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_repr}")
        lines.append(")")
        return "\n".join(lines)


def _holds_modules(value) -> bool:
    if isinstance(value, dict):
        return any(isinstance(item, Module) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(isinstance(item, Module) for item in value)
    return False


def _shape(value) -> tuple:
    return tuple(value.shape) if hasattr(value, "shape") else tuple(np.shape(value))


class ModuleList(Module):
    """A list of modules, registered as children ``0``, ``1``, ... (as ``torch.nn.ModuleList``).

    It has no forward of its own: the module that holds it decides how its
    members are applied (and backpropagated, in reverse).
    """

    def __init__(self, modules=()):
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module: Module) -> "ModuleList":
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__} takes Modules, got {type(module).__name__} "
                            f"at position {len(self._modules)}")
        setattr(self, str(len(self._modules)), module)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __getitem__(self, index: int) -> Module:
        return list(self._modules.values())[index]

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


class Sequential(ModuleList):
    """Modules applied in order; backward runs them in reverse.

    ``Sequential(a, b, c)`` registers its members as ``0``, ``1``, ``2``;
    ``Sequential({"conv": a, "norm": b})`` under those names (as ``torch.nn.Sequential`` given an
    ``OrderedDict``), so that their parameters read ``conv.weight``, and ``seq.conv`` is the member.
    Either way ``seq[i]`` is the i-th member.
    """

    def __init__(self, *modules: Module):
        if len(modules) == 1 and isinstance(modules[0], dict):
            super().__init__()
            for name, module in modules[0].items():
                self._add_named(name, module)
        else:
            super().__init__(modules)

    def _add_named(self, name: str, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__} takes Modules, got {type(module).__name__} for {name!r}")
        if not isinstance(name, str) or not name.isidentifier() or hasattr(type(self), name) or name in self._modules:
            raise ValueError(f"{type(self).__name__} member names must be new identifiers that are not methods, "
                             f"got {name!r}")
        setattr(self, name, module)

    def forward(self, x):
        for module in self._modules.values():
            x = module.forward(x)
        return x

    def backward(self, grad_output):
        for module in reversed(self._modules.values()):
            grad_output = module.backward(grad_output)
            if grad_output is None:          # a layer that computes no input gradient ends the chain
                break
        return grad_output


class Identity(Module):
    """``y = x``; ``dx = dy``.  What a folded batch norm leaves in its place (:func:`nnscratch.fold_batch_norm`)."""

    def forward(self, x):
        return x

    def backward(self, grad_output):
        return grad_output


class ModuleDict(Module):
    """Modules by name, registered as children under those names (as ``torch.nn.ModuleDict``)."""

    def __init__(self, modules: dict | None = None):
        super().__init__()
        for name, module in (modules or {}).items():
            self[name] = module

    def __setitem__(self, name: str, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict holds Modules, got {type(module).__name__} for {name!r}")
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"ModuleDict keys must be identifiers, got {name!r}")
        setattr(self, name, module)

    def __getitem__(self, name: str) -> Module:
        return self._modules[name]

    def __contains__(self, name: str) -> bool:
        return name in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()


def check_input(module: Module, x: Any, ndim: int, channels: int | None = None, channel_axis: int = 1) -> None:
    """Raise a clear error when ``x`` does not fit ``module`` (rank, channels, dtype)."""
    name = type(module).__name__
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise TypeError(f"{name} expects an array, got {type(x).__name__}")
    if x.ndim != ndim:
        raise ValueError(f"{name} expects a {ndim}-D input, got shape {tuple(x.shape)}")
    if channels is not None and x.shape[channel_axis] != channels:
        raise ValueError(
            f"{name} expects {channels} channels on axis {channel_axis}, got shape {tuple(x.shape)}"
        )
    if x.dtype.kind != "f":
        raise TypeError(f"{name} expects a floating-point input, got dtype {x.dtype}")
    params = list(module._parameters.values())
    if params and x.dtype != params[0].data.dtype:
        raise TypeError(
            f"{name} has {params[0].data.dtype} parameters but got a {x.dtype} input; "
            f"cast one of them (module.to(dtype=...) or x.astype(...))"
        )


def check_grad_output(module: Module, grad_output: Any, expected_shape: tuple) -> None:
    """Raise when backward is called before forward or with a mis-shaped gradient."""
    name = type(module).__name__
    if expected_shape is None:
        raise RuntimeError(f"{name}.backward called before forward")
    if tuple(grad_output.shape) != tuple(expected_shape):
        raise ValueError(
            f"{name}.backward expects a gradient of shape {tuple(expected_shape)} (the forward output), "
            f"got {tuple(grad_output.shape)}"
        )
