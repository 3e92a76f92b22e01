"""Saving and loading state: round trips, no pickle, atomic writes, clear errors."""
import errno
import pickle

import numpy as np
import pytest

import nnscratch as nn
from nnscratch.serialize import StateFileError, load, save


def example_state():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    optimizer = nn.Adam(net.parameters())
    net.backward(net.forward(np.ones((2, 1, 5, 5), dtype=np.float32)))
    optimizer.step()
    return {"model": dict(net.state_dict()), "optimizer": optimizer.state_dict(), "step": 12, "lr": 1e-4,
            "name": "run", "flags": [True, None, 2.5], "rng": np.random.default_rng(3).bit_generator.state}


def test_round_trip_keeps_arrays_dtypes_and_plain_values(tmp_path):
    state = example_state()
    path = save(tmp_path / "state.npz", state)
    back = load(path)
    assert back["step"] == 12 and back["lr"] == 1e-4 and back["name"] == "run" and back["flags"] == [True, None, 2.5]
    for key, value in state["model"].items():
        assert back["model"][key].dtype == value.dtype
        np.testing.assert_array_equal(back["model"][key], value)
    assert back["optimizer"]["state"]["0"]["step"] == 1
    assert back["rng"] == state["rng"]  # 128-bit generator state survives JSON
    generator = np.random.default_rng()
    generator.bit_generator.state = back["rng"]
    assert generator.random() == np.random.default_rng(3).random()


def test_pickled_files_are_refused(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(StateFileError, match="pickle"):
        load(tmp_path / "objects.npy")
    np.savez(tmp_path / "objects.npz", __meta__=np.frombuffer(
        b'{"format": "nnscratch-state", "version": 1, "tree": {"x": {"__array__": "a0"}}}', dtype=np.uint8),
        a0=np.array([object()], dtype=object))
    with pytest.raises(StateFileError, match="pickle"):
        load(tmp_path / "objects.npz")
    (tmp_path / "plain.pkl").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(StateFileError):
        load(tmp_path / "plain.pkl")


@pytest.mark.parametrize("keep", [0, 10, 0.5, 0.9])
def test_truncated_files_give_a_clear_error(tmp_path, keep):
    path = save(tmp_path / "state.npz", example_state())
    data = path.read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(data[: int(keep * len(data)) if isinstance(keep, float) else keep])
    with pytest.raises(StateFileError, match="truncated or corrupt|not an nnscratch|is empty"):
        load(cut)


def test_images_and_garbage_are_called_what_they_are_not(tmp_path):
    from PIL import Image

    Image.new("RGB", (4, 4)).save(tmp_path / "photo.jpg")
    (tmp_path / "garbage.npz").write_bytes(b"this is no checkpoint at all")
    (tmp_path / "empty.npz").write_bytes(b"")
    for name, message in (("photo.jpg", "not a checkpoint or state file"), ("garbage.npz", "not a checkpoint"),
                          ("empty.npz", "is empty")):
        with pytest.raises(StateFileError, match=message) as error:
            load(tmp_path / name)
        assert "pickle" not in str(error.value)


def test_foreign_and_missing_files(tmp_path):
    np.savez(tmp_path / "other.npz", weights=np.ones(3))
    with pytest.raises(StateFileError, match="not an nnscratch state file"):
        load(tmp_path / "other.npz")
    with pytest.raises(FileNotFoundError, match="no such state file"):
        load(tmp_path / "missing.npz")


def test_unsupported_values_are_rejected_before_writing(tmp_path):
    with pytest.raises(TypeError, match="cannot save a set"):
        save(tmp_path / "x.npz", {"bad": {1, 2}})
    with pytest.raises(TypeError, match="keys must be strings"):
        save(tmp_path / "x.npz", {1: 2})
    assert not list(tmp_path.iterdir())


def test_a_failed_write_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = save(tmp_path / "ckpt.npz", {"step": 1, "w": np.arange(4)})
    before = path.read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(OSError, match="No space left on device.*unchanged"):
        save(path, {"step": 2, "w": np.arange(8)})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]  # no temporary file left behind
    assert load(path)["step"] == 1


def test_written_files_get_ordinary_permissions(tmp_path):
    import os
    import stat

    mask = os.umask(0o022)
    try:
        path = save(tmp_path / "x.npz", {"a": 1})
    finally:
        os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
