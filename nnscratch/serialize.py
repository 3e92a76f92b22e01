"""Saving and loading nested state (model weights, optimizer state, checkpoints).

The file is an ordinary ``.npz`` archive: every array is one member, and the
structure around them (nested dicts and lists, ints, floats, strings, bools,
None) is a JSON document stored as the member ``__meta__`` with a format
version.  Loading never unpickles: ``numpy.load(allow_pickle=False)``, and a
file carrying pickled objects is refused.  Writing goes to a temporary file
in the same folder, is flushed to disk and then renamed over the target, so
a crash or a full disk never leaves a half-written file behind.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .backend import asnumpy

FORMAT_NAME = "nnscratch-state"
FORMAT_VERSION = 1
_META = "__meta__"
_ARRAY_MARK = "__array__"


class StateFileError(ValueError):
    """A state file that cannot be read: missing, truncated, corrupt, foreign or pickled."""


def _encode(value: Any, arrays: dict, where: str) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"state keys must be strings, got {key!r} at {where or 'top level'}")
            if key == _ARRAY_MARK:
                raise ValueError(f"the key {_ARRAY_MARK!r} is reserved (at {where or 'top level'})")
            out[key] = _encode(item, arrays, f"{where}/{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [_encode(item, arrays, f"{where}[{i}]") for i, item in enumerate(value)]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):  # keep the dtype: store as a 0-d array
        value = np.asarray(value)
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        array = asnumpy(value)
        if array.dtype.kind not in "biufc":
            raise TypeError(f"cannot save an array of dtype {array.dtype} at {where}: numbers and bools only")
        name = f"a{len(arrays)}"
        arrays[name] = array
        return {_ARRAY_MARK: name}
    raise TypeError(f"cannot save a {type(value).__name__} at {where or 'top level'}: "
                    "use dicts, lists, arrays, numbers, strings, bools and None")


def _decode(value: Any, archive, path) -> Any:
    if isinstance(value, dict):
        if set(value) == {_ARRAY_MARK}:
            try:
                return archive[value[_ARRAY_MARK]]
            except ValueError as error:  # object arrays need pickle
                raise StateFileError(f"{path}: refusing to load pickled data ({error})") from None
            except KeyError:
                raise StateFileError(f"{path}: array {value[_ARRAY_MARK]!r} is missing; the file is damaged") from None
        return {key: _decode(item, archive, path) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item, archive, path) for item in value]
    return value


def save(path: str | os.PathLike, state: dict, compress: bool = False) -> Path:
    """Write ``state`` (a nested dict) to ``path`` atomically; return the path.

    Arrays may be NumPy or CuPy (copied to host).  Tuples come back as lists.
    On any failure (e.g. a full disk) the temporary file is removed, an
    existing file at ``path`` is left as it was, and ``OSError`` is raised.
    """
    if not isinstance(state, dict):
        raise TypeError(f"save expects a dict, got {type(state).__name__}")
    path = Path(path)
    arrays: dict = {}
    tree = _encode(state, arrays, "")
    meta = json.dumps({"format": FORMAT_NAME, "version": FORMAT_VERSION, "tree": tree})
    arrays[_META] = np.frombuffer(meta.encode("utf-8"), dtype=np.uint8)
    write_atomically(path, lambda handle: (np.savez_compressed if compress else np.savez)(handle, **arrays))
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomically(path: str | os.PathLike, write) -> Path:
    """Call ``write(file_handle)`` on a temporary file beside ``path``, flush it to disk,
    then rename it into place.

    On any failure the temporary file is removed, an existing file at ``path``
    is left as it was, and an ``OSError`` names the path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o666 & ~_umask())  # temporary files are private; the result is not
        os.replace(handle.name, path)
    except BaseException as error:
        Path(handle.name).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise OSError(error.errno, f"could not write {path} ({error.strerror or error}); "
                                       "any earlier file there is unchanged") from error
        raise
    return path


def _check_magic(path: Path) -> None:
    """Refuse, from its first bytes, a file that is missing, empty, pickled or not a .npz archive."""
    if not path.is_file():
        raise FileNotFoundError(f"no such state file: {path}")
    with open(path, "rb") as handle:
        magic = handle.read(6)
    if not magic:
        raise StateFileError(f"{path} is empty: not a checkpoint or state file")
    if magic[:1] == b"\x80" and magic[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        raise StateFileError(f"{path}: refusing to load pickled data")
    if not (magic.startswith(b"PK\x03\x04") or magic.startswith(b"\x93NUMPY")):
        raise StateFileError(f"{path} is not a checkpoint or state file (not a .npz archive)")


def load(path: str | os.PathLike) -> dict:
    """Read a file written by :func:`save`; arrays come back as NumPy arrays.

    Raises ``FileNotFoundError`` for a missing file and :class:`StateFileError`
    (a ``ValueError``) for a truncated, corrupt, foreign or pickle-carrying one.
    """
    path = Path(path)
    _check_magic(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        if "pickle" in str(error):
            raise StateFileError(f"{path}: refusing to load pickled data") from None
        raise StateFileError(f"{path} is truncated or corrupt and cannot be read ({type(error).__name__}: {error})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise StateFileError(f"{path} is a single .npy array, not an nnscratch state file")
    try:
        with archive:
            if _META not in archive.files:
                raise StateFileError(f"{path} is not an nnscratch state file (no {_META} entry)")
            meta = json.loads(bytes(archive[_META]).decode("utf-8"))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
                raise StateFileError(f"{path} is not an nnscratch state file")
            if int(meta.get("version", 0)) > FORMAT_VERSION:
                raise StateFileError(f"{path} was written by a newer version (format {meta['version']}, "
                                     f"this one reads up to {FORMAT_VERSION})")
            return _decode(meta["tree"], archive, path)
    except StateFileError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, UnicodeDecodeError) as error:
        raise StateFileError(f"{path} is truncated or corrupt and cannot be read ({type(error).__name__}: {error})") from None
