"""A stand-in "device" array for testing the one-code-path promise without a GPU.

``DeviceArray`` behaves like a CuPy array in the ways that matter here:
array code reaches its namespace through ``get_array_module`` /
``__array_namespace__``; implicit conversion to NumPy (``np.asarray``,
``__array__``) raises; mixing it with a host ``numpy.ndarray`` in a ufunc or a
NumPy function raises; explicit transfer uses ``.get()`` (as CuPy's does).
Any engine code that silently drops to host memory therefore fails loudly
or leaves a plain ndarray behind, which the tests detect.

It also counts, as a GPU's kernel launches would be counted: inside ``with counting() as
counts:`` every operation that writes array memory adds one to ``counts[name]`` — a ufunc, a
NumPy or namespace function whose result is not a view of its input, a method such as ``sum``
or ``copy``, an assignment into an array, fancy indexing, a transfer from the host.  Views
(slices, transposes, reshapes that need no copy, ``as_strided``) are free, as on a GPU.  A
function made by ``FAKE_DEVICE.fuse`` (CuPy's ``cupy.fuse``: one kernel for a whole elementwise
expression) counts once, whatever it does inside.  Reads back to the host (``float``,
``.item()``, ``.get()``, ``bool``) are counted under ``"to host"``: a GPU waits for them.
"""
from __future__ import annotations

import collections
import contextlib
import types

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin


class HostConversionError(TypeError):
    pass


_counts: list[collections.Counter] = []      # the active counters (innermost last); empty: not counting
_paused = [0]                                 # > 0 inside a fused function


@contextlib.contextmanager
def counting():
    """Count the array operations run inside the block: yields a ``collections.Counter``."""
    counts = collections.Counter()
    _counts.append(counts)
    try:
        yield counts
    finally:       # by identity: list.remove compares, and an outer counter can equal this one
        del _counts[next(i for i in range(len(_counts) - 1, -1, -1) if _counts[i] is counts)]


def _count(name: str) -> None:
    if _counts and not _paused[0]:
        for counts in _counts:
            counts[name] += 1


def _arrays(values):
    for value in values:
        if isinstance(value, DeviceArray):
            yield value._array
        elif isinstance(value, np.ndarray):
            yield value
        elif isinstance(value, (list, tuple)):
            yield from _arrays(value)


def _count_unless_view(name: str, result, inputs) -> None:
    """Count an operation whose ``result`` is new memory (not a view of any of ``inputs``)."""
    if not _counts or _paused[0]:
        return
    outputs = list(_arrays(result if isinstance(result, (list, tuple)) else (result,)))
    sources = list(_arrays(inputs))
    if outputs and all(any(np.may_share_memory(out, src) for src in sources) for out in outputs):
        return
    _count(name)


def _unwrap(value):
    if isinstance(value, DeviceArray):
        return value._array
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def _wrap(value):
    if isinstance(value, (np.ndarray, np.generic)) and not isinstance(value, (np.dtype,)):
        return DeviceArray(np.asarray(value))
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


def _refuse_host_arrays(values, what):
    for value in values:
        if isinstance(value, (list, tuple)):
            _refuse_host_arrays(value, what)
        elif isinstance(value, np.ndarray):
            raise HostConversionError(f"{what}: a host numpy.ndarray was mixed with device arrays")


class DeviceArray(NDArrayOperatorsMixin):
    """A device-resident array (wraps a NumPy array it never lets out implicitly)."""

    __slots__ = ("_array",)

    def __init__(self, array: np.ndarray):
        self._array = array

    # -- the guards ---------------------------------------------------------
    def __array__(self, *args, **kwargs):
        raise HostConversionError("implicit conversion of a device array to NumPy; use .get()")

    def __array_namespace__(self, api_version=None):
        return FAKE_DEVICE

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        _refuse_host_arrays(inputs, f"np.{ufunc.__name__}")
        _refuse_host_arrays(kwargs.get("out", ()), f"np.{ufunc.__name__}(out=...)")
        out = kwargs.get("out")
        _count(ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}")
        result = getattr(ufunc, method)(*_unwrap(inputs), **_unwrap(kwargs))
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _wrap(result)

    def __array_function__(self, func, types_, args, kwargs):
        _refuse_host_arrays(args, f"np.{func.__name__}")
        result = func(*_unwrap(args), **_unwrap(kwargs))
        _count_unless_view(func.__name__, result, args)
        return _wrap(result)

    # -- explicit transfer and scalar access (allowed, as in CuPy) -------------
    def get(self):
        _count("to host")
        return self._array.copy()

    def item(self):
        _count("to host")
        return self._array.item()

    def __float__(self):
        _count("to host")
        return float(self._array)

    def __int__(self):
        _count("to host")
        return int(self._array)

    def __bool__(self):
        _count("to host")
        return bool(self._array)

    def __index__(self):
        return self._array.__index__()

    # -- array behaviour ------------------------------------------------------
    @property
    def shape(self):
        return self._array.shape

    @property
    def dtype(self):
        return self._array.dtype

    @property
    def ndim(self):
        return self._array.ndim

    @property
    def size(self):
        return self._array.size

    @property
    def T(self):
        return DeviceArray(self._array.T)

    @property
    def flags(self):
        return self._array.flags

    def __len__(self):
        return len(self._array)

    def __getitem__(self, key):
        _refuse_host_arrays(key if isinstance(key, tuple) else (key,), "indexing")
        result = self._array[_unwrap(key)]
        if not isinstance(result, np.generic):        # one element is a 0-d view on a GPU
            _count_unless_view("getitem", result, (self,))
        return _wrap(result)

    def __setitem__(self, key, value):
        _refuse_host_arrays((value,) + (key if isinstance(key, tuple) else (key,)), "assignment")
        _count("setitem")
        self._array[_unwrap(key)] = _unwrap(value)

    def __getattr__(self, name):
        if name.startswith("__"):  # __array_interface__, __array_struct__, __dlpack__ ...: no back doors
            raise AttributeError(name)
        attribute = getattr(self._array, name)
        if callable(attribute):
            def method(*args, **kwargs):
                _refuse_host_arrays(args, f"ndarray.{name}")
                result = attribute(*_unwrap(args), **_unwrap(kwargs))
                _count_unless_view(name, result, (self,))
                return _wrap(result)
            return method
        return _wrap(attribute)

    def __deepcopy__(self, memo):
        return DeviceArray(self._array.copy())

    def __repr__(self):
        return f"DeviceArray({self._array!r})"


class _Namespace(types.SimpleNamespace):
    """``numpy`` seen from the device: results are device arrays; host arrays come in only via asarray/array."""

    def __init__(self, module, transfers_allowed=False):
        super().__init__()
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "_transfers_allowed", transfers_allowed)

    def __getattr__(self, name):
        attribute = getattr(self._module, name)
        if isinstance(attribute, types.ModuleType):
            return _Namespace(attribute)
        if isinstance(attribute, type) or not callable(attribute):
            return attribute

        def function(*args, **kwargs):
            if name not in ("asarray", "array", "ascontiguousarray"):
                _refuse_host_arrays(args, f"xp.{name}")
            result = attribute(*_unwrap(args), **_unwrap(kwargs))
            _count_unless_view(name, result, (args, tuple(kwargs.values())))
            return _wrap(result)
        return function


def _fuse(function):
    """The stand-in's ``cupy.fuse``: run ``function`` on device arrays as it is, counted as one kernel."""
    def fused(*args):
        _count(f"fused {function.__name__}")
        _paused[0] += 1
        try:
            return function(*args)
        finally:
            _paused[0] -= 1
    fused.__name__ = function.__name__
    return fused


FAKE_DEVICE = _Namespace(np)
object.__setattr__(FAKE_DEVICE, "fuse", _fuse)


def to_fake_device(module):
    """Move a module's parameters and buffers onto the fake device."""
    for _, sub in module.named_modules():
        for param in sub._parameters.values():
            param.data = FAKE_DEVICE.asarray(param.data)
        for name in sub._buffers:
            object.__setattr__(sub, name, FAKE_DEVICE.asarray(getattr(sub, name)))
    return module
