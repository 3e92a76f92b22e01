"""Array backend: NumPy by default, CuPy when asked, one code path.

Array code starts with ``xp = get_array_module(x)`` and then only calls
``xp.*``; nothing in the engine converts a device array to NumPy behind the
caller's back.  Moving data between devices is explicit: :func:`to_device`
and :func:`asnumpy`.
"""
from __future__ import annotations

import types
from typing import Any

import numpy as np

DEFAULT_DTYPE = np.float32
FLOAT_DTYPES = (np.float16, np.float32, np.float64)

_cupy: Any = None
_rng = np.random.default_rng(0)


def _import_cupy():
    """Import CuPy once; return the module or None when it is unusable."""
    global _cupy
    if _cupy is None:
        try:
            import cupy  # noqa: PLC0415  (optional dependency)

            cupy.cuda.runtime.getDeviceCount()
            _cupy = cupy
        except Exception:  # ImportError, or no driver / no device
            _cupy = False
    return _cupy or None


def cuda_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    return _import_cupy() is not None


def get_array_module(*arrays: Any) -> types.ModuleType:
    """Return the array namespace (``numpy`` or ``cupy``) of the first array.

    Arrays that carry their own namespace (``__array_namespace__``, as CuPy
    arrays and array-API objects do) get that namespace; NumPy arrays,
    scalars and ``None`` give ``numpy``.
    """
    for array in arrays:
        if array is None or isinstance(array, (np.ndarray, np.generic, int, float)):
            continue
        if type(array).__module__.startswith("cupy"):
            return _import_cupy()
        namespace = getattr(array, "__array_namespace__", None)
        if namespace is not None:
            return namespace()
    return np


def uses_cpu_strategy(xp: types.ModuleType) -> bool:
    """Which algorithm a layer runs: the one place that decides, for every layer.

    NumPy gets the CPU-tuned algorithms (cache-sized blocks, chunked passes, shifted taps): there an
    array operation costs about what its arithmetic costs, and cache misses are the enemy.  Any
    other array module (CuPy; the tests' stand-in device) gets the device algorithms of
    :mod:`nnscratch.layers.device`: whole-array work in few operations, since on a GPU every
    operation is a kernel launch of several microseconds, and launches, not arithmetic, fill a
    step made of thousands of them.  Both compute the same function (proven by the tests).
    """
    return xp is np


def fuse(function):
    """``function`` (an elementwise expression of its array arguments, operators only) as one kernel.

    Where the array module can fuse (``cupy.fuse``; the tests' stand-in device counts it as one
    operation) the expression runs as a single kernel instead of one kernel per operator; NumPy
    runs ``function`` as it is.  Both compute the same values (a fused kernel may contract
    ``a * b + c`` into one rounding: float32 rounding apart).
    """
    compiled: dict[int, Any] = {}

    def call(*args):
        xp = get_array_module(*args)
        make = getattr(xp, "fuse", None)
        if make is None:
            return function(*args)
        kernel = compiled.get(id(xp))
        if kernel is None:
            kernel = compiled[id(xp)] = make(function)
        return kernel(*args)

    call.__name__, call.__doc__, call.plain = function.__name__, function.__doc__, function
    return call


def asnumpy(array: Any) -> np.ndarray:
    """Copy a device array to host memory (a NumPy array is returned as is)."""
    if isinstance(array, np.ndarray):
        return array
    if hasattr(array, "get"):  # cupy.ndarray
        return array.get()
    return np.asarray(array)


def to_device(array: Any, device: str) -> Any:
    """Return ``array`` on ``device`` ('cpu' or 'cuda'), copying only if needed."""
    device = check_device(device)
    if device == "cpu":
        return asnumpy(array)
    cupy = _import_cupy()
    if cupy is None:
        raise RuntimeError(
            "device 'cuda' was asked for, but CuPy is not installed or sees no GPU; "
            "install the 'gpu' extra (pip install -e '.[gpu]') on a machine with a GPU"
        )
    return cupy.asarray(array)


def check_device(device: str) -> str:
    """Validate a device name and return it in canonical form."""
    if not isinstance(device, str) or device.lower() not in ("cpu", "cuda", "gpu"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    return "cpu" if device.lower() == "cpu" else "cuda"


def device_of(array: Any) -> str:
    """'cpu' for NumPy arrays, 'cuda' for arrays of any other namespace (CuPy)."""
    return "cpu" if get_array_module(array) is np else "cuda"


def check_float_dtype(dtype: Any) -> np.dtype:
    """Return ``dtype`` as a NumPy dtype if it is float16/32/64, else raise TypeError."""
    dtype = np.dtype(dtype)
    if dtype not in [np.dtype(d) for d in FLOAT_DTYPES]:
        raise TypeError(f"expected a floating dtype (float16, float32 or float64), got {dtype}")
    return dtype


def manual_seed(seed: int) -> None:
    """Seed the generator that initialises new layers (like ``torch.manual_seed``)."""
    global _rng
    _rng = np.random.default_rng(seed)


def default_rng() -> np.random.Generator:
    """The generator new layers draw their initial weights from."""
    return _rng


def keep_freed_memory(limit_bytes: int = 1 << 30) -> bool:
    """Let the C library keep freed blocks of up to ``limit_bytes`` for reuse (glibc only).

    A training step allocates and frees the same large temporaries every time.
    By default glibc maps each block over 32 MB fresh from the kernel and
    unmaps it when freed, so every step pays page faults to zero-fill them
    again (about 5 ms per 36 MB array here; 10-13 % of a colorizer training
    step).  Raising glibc's mmap and trim thresholds keeps those pages in the
    heap instead, at the price of the process holding on to its peak memory.

    Process-wide, so the library never does it on import: the ``colorize``
    command and the benchmarks call it; scripts may.  Returns False, changing
    nothing, where the C library has no ``mallopt``.
    """
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    m_trim_threshold, m_mmap_threshold = -1, -3
    limit = int(min(limit_bytes, (1 << 31) - 1))
    return bool(mallopt(m_mmap_threshold, limit)) and bool(mallopt(m_trim_threshold, limit))
