"""Data-parallel training over MPI: images/s of the default colorizer's training step on 1 and N
processes, and where a step's time goes (making the crops, forward + backward, the all-reduce).

    python benchmarks/distributed.py [--processes 1 2] [--steps 8] [--batch-size 16] [--crop 128]

Each configuration runs as its own job (``mpiexec -n N``) with cores/N BLAS threads per process
(OPENBLAS_NUM_THREADS / OMP_NUM_THREADS), so every row uses the whole machine; the global batch
is the same in every row.  Figures are medians over the timed steps after two warm-up steps.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def worker(args) -> None:
    sys.path.insert(0, str(ROOT))
    import numpy as np

    import nnscratch as nn
    from colorize.model import Colorizer
    from nnscratch import distributed

    comm = distributed.world()
    nn.keep_freed_memory()
    model = Colorizer(hints=True, seed=0)
    distributed.synchronize_batch_norm(model, comm)
    optimizer = nn.Adam(model.parameters(), lr=1e-4)
    criterion = nn.SmoothL1Loss(beta=0.1)
    local = args.batch_size // comm.size
    rng = np.random.default_rng(comm.rank)
    inputs = rng.random((local, 4, args.crop, args.crop), dtype=np.float32)
    targets = rng.normal(0, 0.2, (local, 2, args.crop, args.crop)).astype(np.float32)
    parameters = sum(p.data.size for p in model.parameters())
    times = {"step": [], "compute": [], "allreduce": []}
    for step in range(args.steps + 2):
        comm.barrier()
        start = time.perf_counter()
        optimizer.zero_grad()
        value = criterion.forward(model.forward(inputs), targets)
        model.backward(criterion.backward())
        computed = time.perf_counter()
        distributed.allreduce_gradients(model, comm)
        comm.allreduce_sum(np.array([value, 0.0]))
        reduced = time.perf_counter()
        optimizer.step()
        comm.barrier()
        end = time.perf_counter()
        if step >= 2:
            times["step"].append(end - start)
            times["compute"].append(computed - start)
            times["allreduce"].append(reduced - computed)
    medians = {key: statistics.median(values) for key, values in times.items()}
    # the slowest process sets the pace: report the largest median over the processes
    gathered = comm.gather(medians)
    if comm.rank == 0:
        worst = {key: max(m[key] for m in gathered) for key in medians}
        print(json.dumps({"processes": comm.size, "parameters": int(parameters), **worst}))


def launch(processes: int, args, cores: int) -> dict:
    threads = str(max(1, cores // processes))
    env = dict(os.environ, OPENBLAS_NUM_THREADS=threads, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    command = [sys.executable, __file__, "--worker", "--steps", str(args.steps), "--batch-size", str(args.batch_size),
               "--crop", str(args.crop)]
    if processes > 1:
        mpiexec = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")
        if mpiexec is None:
            raise SystemExit("no mpiexec: pip install -e '.[mpi]'")
        command = [mpiexec, "-n", str(processes), *command]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode:
        raise SystemExit(result.stderr)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return 0
    cores = os.cpu_count() or 1
    rows = [launch(n, args, cores) for n in args.processes]
    base = args.batch_size / rows[0]["step"]
    print(f"colorizer training step, global batch {args.batch_size} at {args.crop}², {cores} cores, "
          f"{rows[0]['parameters']:,} parameters ({rows[0]['parameters'] * 4 / 1e6:.1f} MB of float32 gradients)")
    print(f"{'processes':>9}  {'threads each':>12}  {'step s':>7}  {'images/s':>8}  {'vs 1':>5}  "
          f"{'compute s':>9}  {'all-reduce s':>12}  {'all-reduce share':>16}")
    for row in rows:
        n = row["processes"]
        print(f"{n:>9}  {max(1, cores // n):>12}  {row['step']:7.3f}  {args.batch_size / row['step']:8.1f}  "
              f"{args.batch_size / row['step'] / base:5.2f}  {row['compute']:9.3f}  {row['allreduce']:12.4f}  "
              f"{row['allreduce'] / row['step']:16.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
