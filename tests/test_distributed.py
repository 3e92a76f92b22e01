"""Data parallelism over MPI: N processes on N shares of a batch compute what one process does on all of it.

The tests that launch processes need ``mpiexec`` and ``mpi4py`` (the ``mpi`` extra, in ``test``);
they are skipped with that reason where MPI is not installed.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import nnscratch as nn
from colorize.model import build_model
from nnscratch import distributed
from tests.conftest import synthetic_photo

BIN = Path(sys.executable).parent


def mpiexec():
    found = shutil.which("mpiexec", path=str(BIN)) or shutil.which("mpiexec")
    if found is None:
        pytest.skip("no mpiexec: install the mpi extra (pip install -e '.[mpi]')")
    pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install -e '.[mpi]')")
    return found


def environment():
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).parent.parent))
    for name in ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE"):
        env.pop(name, None)
    return env


def launch(processes, *argv, timeout=240):
    command = [mpiexec(), "-n", str(processes), *map(str, argv)] if processes > 1 else list(map(str, argv))
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment())


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(6):
        Image.fromarray(synthetic_photo(48, 64, seed=index)).save(folder / f"p{index}.png")
    return folder


# --- one process: no-ops, nothing imported -----------------------------------------------------------

def test_one_process_is_a_no_op_and_never_imports_mpi4py():
    code = ("import sys; from nnscratch import distributed as d; w = d.world(); "
            "print(type(w).__name__, w.rank, w.size, 'mpi4py' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment())
    assert result.stdout.split() == ["SingleProcess", "0", "1", "False"], result.stderr


class Doubling:
    """A stand-in for two processes holding the same gradients: counts the all-reduce calls."""
    rank, size = 0, 2

    def __init__(self):
        self.calls = 0

    def allreduce_sum(self, array):
        self.calls += 1
        return array * 2


def test_allreduce_gradients_is_one_call_for_all_parameters():
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.Conv2d(3, 2, 3))
    rng = np.random.default_rng(0)
    for p in model.parameters():
        p.grad = rng.normal(size=p.data.shape).astype(p.data.dtype)
    before = [p.grad.copy() for p in model.parameters()]
    comm = Doubling()
    distributed.allreduce_gradients(model, comm)
    assert comm.calls == 1 and len(before) == 6
    for p, grad in zip(model.parameters(), before):       # (g + g) / 2 = g, shapes and dtypes kept
        np.testing.assert_array_equal(p.grad, grad)
        assert p.grad.shape == p.data.shape and p.grad.dtype == p.data.dtype


def test_the_summary_of_a_job_over_files_is_returned_for_the_command_to_show(capsys):
    comm = Doubling()                            # two processes, each with this process's failures
    assert distributed.files_summary("colorized", 10, 0, comm) == (0, "colorized 10 of 10 files on 2 processes")
    assert distributed.files_summary("enhanced", 10, 1, comm) == (1, "enhanced 8 of 10 files on 2 processes; 2 failed")
    comm.rank = 1                                # the other process: the same status, no line
    assert distributed.files_summary("colorized", 10, 1, comm) == (1, "")
    one = distributed.world()
    assert distributed.files_summary("colorized", 3, 0, one) == (0, "")      # one process, all well: quiet
    assert distributed.files_summary("colorized", 3, 1, one) == (1, "colorized 2 of 3 files; 1 failed")
    assert capsys.readouterr() == ("", "")       # the engine prints nothing


def test_a_batch_that_does_not_split_evenly_is_refused():
    comm = Doubling()
    assert distributed.share(8, comm) == range(0, 4)
    with pytest.raises(ValueError, match="cannot be split evenly over 2 processes"):
        distributed.share(5, comm)


# --- launched with mpiexec ---------------------------------------------------------------------------

RUN = """
import sys
from colorize.train import train
if sys.argv[3] == "unsynchronized":
    import nnscratch.distributed as d
    d.synchronize_batch_norm = lambda *args, **kwargs: 0
train(sys.argv[1], sys.argv[2], steps=3, batch_size=4, crop=16, width=4, dtype="float64", ema_decay=0,
      checkpoint_every=3, progress=False, quiet=True, photo_size=None, min_colorfulness=0, hints=True)
"""


def weights(run):
    return nn.load(Path(run) / "checkpoints" / "step-00000003.npz")["model"]


def largest_relative_difference(a, b):
    return max(float(np.abs(a[k] - b[k]).max() / max(np.abs(a[k]).max(), 1e-300)) for k in a if a[k].dtype.kind == "f")


def test_two_processes_reach_the_weights_of_one_in_float64(photos, tmp_path):
    script = tmp_path / "run.py"
    script.write_text(RUN)
    runs = {}
    for name, processes, mode in [("one", 1, "synchronized"), ("two", 2, "synchronized"),
                                  ("unsynchronized", 2, "unsynchronized")]:
        result = launch(processes, sys.executable, script, photos, tmp_path / name, mode)
        assert result.returncode == 0, result.stderr
        runs[name] = weights(tmp_path / name)
    assert largest_relative_difference(runs["one"], runs["two"]) < 1e-10
    # without batch-norm statistics over the whole batch the two shares train another network
    assert largest_relative_difference(runs["one"], runs["unsynchronized"]) > 1e-3
    config = json.loads((tmp_path / "two" / "config.json").read_text())
    assert config["processes"] == 2 and config["batch_size"] == 4


def colorize_train(processes, photos, out, *extra):
    return launch(processes, BIN / "colorize", "train", "--data", photos, "--out", out, "--batch-size", 4,
                  "--crop", 16, "--width", 4, "--photo-size", 64, "--min-colorfulness", 0, "--log-every", 1,
                  "--checkpoint-every", 2, "--no-progress", *extra)       # not --quiet: it would silence 'done


def losses(run):
    return [r["loss"] for r in map(json.loads, (Path(run) / "metrics.jsonl").read_text().splitlines()) if "loss" in r]


def test_the_command_on_two_processes_follows_the_loss_curve_of_one_and_resumes_on_one(photos, tmp_path):
    one = colorize_train(1, photos, tmp_path / "one", "--steps", 6)
    two = colorize_train(2, photos, tmp_path / "two", "--steps", 4)
    assert one.returncode == 0 and two.returncode == 0, (one.stderr, two.stderr)
    assert two.stdout.count("done: step 4") == 1                 # process 0 alone speaks
    np.testing.assert_allclose(losses(tmp_path / "two"), losses(tmp_path / "one")[:4], rtol=1e-4)
    resumed = colorize_train(1, photos, tmp_path / "two", "--steps", 6, "--resume")    # 2 processes -> 1
    assert resumed.returncode == 0, resumed.stderr
    np.testing.assert_allclose(losses(tmp_path / "two"), losses(tmp_path / "one"), rtol=1e-4)
    assert json.loads((tmp_path / "two" / "config.json").read_text())["processes"] == 1
    a = nn.load(tmp_path / "one" / "checkpoints" / "step-00000006.npz")["model"]
    b = nn.load(tmp_path / "two" / "checkpoints" / "step-00000006.npz")["model"]
    config = json.loads((tmp_path / "one" / "config.json").read_text())
    start = build_model(config["model"], seed=config["seed"]).state_dict()    # where both runs began
    # float32 rounding differs between the two summation orders, and Adam turns a rounding-sized
    # gradient into a step of up to lr, so single weights can differ by a fraction of a step (1.2e-5
    # of 6e-4 measured); what the two runs did as a whole must agree: the weights' differences add up
    # to under 1 % of how far the 6 steps moved them (0.07 % measured), running statistics to 1e-4
    trained = [k for k in a if a[k].dtype.kind == "f" and "running" not in k]
    difference = sum(float(np.abs(a[k] - b[k]).sum()) for k in trained)
    movement = sum(float(np.abs(a[k] - start[k]).sum()) for k in trained)
    assert movement > 0 and difference < 0.01 * movement, (difference, movement)
    for key in (k for k in a if "running" in k):
        np.testing.assert_allclose(a[key], b[key], rtol=1e-4, atol=1e-7)


def rank_pids(marker):
    """{rank: pid} of the processes whose command line contains ``marker``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker not in (entry / "cmdline").read_bytes().decode(errors="replace"):
                continue
            variables = dict(v.split("=", 1) for v in (entry / "environ").read_bytes().decode(errors="replace")
                             .split("\0") if "=" in v)
        except OSError:
            continue
        if "PMI_RANK" in variables:
            found[int(variables["PMI_RANK"])] = int(entry.name)
    return found


def test_a_killed_process_ends_the_whole_job_and_the_checkpoint_survives(photos, tmp_path):
    if not Path("/proc/self/environ").exists():
        pytest.skip("finding the processes needs /proc")
    out = tmp_path / "killed"
    command = [mpiexec(), "-n", "2", str(BIN / "colorize"), "train", "--data", str(photos), "--out", str(out),
               "--steps", "1000000", "--batch-size", "4", "--crop", "16", "--width", "4", "--photo-size", "64",
               "--min-colorfulness", "0", "--checkpoint-every", "3", "--no-progress", "--quiet"]
    job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment())
    try:
        deadline = time.monotonic() + 120
        while not list((out / "checkpoints").glob("step-*.npz")) and time.monotonic() < deadline:
            time.sleep(0.2)
        pids = rank_pids(str(out))
        assert set(pids) == {0, 1}, pids
        os.kill(pids[1], signal.SIGKILL)
        killed_at = time.monotonic()
        job.wait(timeout=60)
        ended_after = time.monotonic() - killed_at
    finally:
        if job.poll() is None:
            job.kill()
            job.wait()
    assert job.returncode != 0 and ended_after < 30, (job.returncode, ended_after)
    newest = max((out / "checkpoints").glob("step-*.npz"))
    assert nn.load(newest)["format"] == "colorize-checkpoint"     # whole: written atomically


def test_predict_splits_a_folder_over_processes(photos, tmp_path):
    one = launch(1, BIN / "colorize", "predict", photos, "-o", tmp_path / "one")
    two = launch(2, BIN / "colorize", "predict", photos, "-o", tmp_path / "two")
    assert one.returncode == 0 and two.returncode == 0, (one.stderr, two.stderr)
    assert two.stdout.strip() == "colorized 6 of 6 files on 2 processes", two.stdout
    for path in sorted((tmp_path / "one").iterdir()):
        assert np.array_equal(np.asarray(Image.open(path)), np.asarray(Image.open(tmp_path / "two" / path.name)))


def test_enhance_splits_a_folder_over_processes(photos, tmp_path):
    one = launch(1, BIN / "enhance", photos, tmp_path / "one", "equalize", "gamma:0.8")
    two = launch(2, BIN / "enhance", photos, tmp_path / "two", "equalize", "gamma:0.8")
    assert one.returncode == 0 and two.returncode == 0, (one.stderr, two.stderr)
    assert two.stdout.strip() == "enhanced 6 of 6 files on 2 processes", two.stdout
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(p.name for p in (tmp_path / "one").iterdir())
    for path in (tmp_path / "one").iterdir():
        assert path.read_bytes() == (tmp_path / "two" / path.name).read_bytes()


def test_an_exception_in_one_process_ends_the_job_instead_of_a_hang(tmp_path):
    script = tmp_path / "fail.py"
    script.write_text("from nnscratch import distributed\n"
                      "with distributed.abort_on_error(name='job') as comm:\n"
                      "    if comm.rank == 1:\n"
                      "        raise OSError('disk full')\n"
                      "    comm.barrier()          # process 0 would wait here forever\n")
    started = time.monotonic()
    result = launch(2, sys.executable, script, timeout=60)
    assert result.returncode != 0 and time.monotonic() - started < 60
    assert "job: process 1 of 2 failed (OSError: disk full); ending the whole job" in result.stderr, result


def test_a_batch_three_processes_cannot_share_is_said_once_and_ends_cleanly(photos, tmp_path):
    result = launch(3, sys.executable, "-m", "colorize", "train", "--data", photos, "--out", tmp_path / "run",
                    "--steps", "1", "--batch-size", "16", "--crop", "16", "--width", "2", "--hidden-layers", "6",
                    "--no-progress")
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("cannot be split evenly over 3 processes") == 1, result.stderr
    assert "Abort" not in result.stderr and "ending the whole job" not in result.stderr, result.stderr
    assert not (tmp_path / "run").exists()
