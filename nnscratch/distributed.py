"""Data parallelism over MPI: the same training run on many processes and machines.

Each process computes the gradients of its share of the batch; one all-reduce averages them, so
every process takes the same optimizer step and the weights stay identical (as ChainerMN and
Horovod do).  Launch with ``mpiexec -n 4 colorize train ...`` (``pip install -e '.[mpi]'`` gives
``mpi4py`` and an MPI with its ``mpiexec``), on several machines with
``mpiexec -hosts a,b -n 8 ...`` or a host file (``-f hosts``).

* :func:`world` — the communicator of this launch: MPI's world when started by ``mpiexec`` with
  more than one process, otherwise a single-process stand-in whose operations are no-ops (and
  ``mpi4py`` is never imported).
* :func:`allreduce_gradients` — one bucketed all-reduce of every gradient (one call, not one per
  parameter), divided by the number of processes.
* :func:`broadcast_parameters` — rank 0's weights and buffers to every process.
* :func:`synchronize_batch_norm` — batch norm whose batch statistics (forward) and their
  gradients (backward) are summed over the processes, so N processes holding N shares of a batch
  compute what one process computes on the whole batch (tested to 1e-10 in float64).

Arrays: NumPy, or CuPy.  With CuPy the buffers go to MPI directly when the MPI is CUDA-aware
(``NNSCRATCH_CUDA_AWARE_MPI=1``); otherwise each collective makes one explicit staged copy
through host memory (never a silent one per parameter).

A process that dies takes the job with it: MPI's launcher ends the other processes when one
exits abnormally, and :func:`abort_on_error` turns an exception in one process into ``MPI_Abort``
rather than leaving the others waiting in a collective forever.
"""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager

import numpy as np

from .backend import asnumpy, get_array_module

# Set by MPI launchers in every process they start: MPICH/Hydra, Intel MPI (PMI_SIZE),
# Open MPI (OMPI_COMM_WORLD_SIZE), PMIx-based launchers (PMIX_SIZE is not standard; Slurm sets
# SLURM_NTASKS only with srun).
_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


def launched_processes() -> int:
    """How many processes the MPI launcher started (1 when not launched by one)."""
    for name in _SIZE_VARIABLES:
        value = os.environ.get(name)
        if value and value.isdigit():
            return int(value)
    return 1


class SingleProcess:
    """The communicator of a run on one process: rank 0 of 1; every collective returns its input."""

    rank, size = 0, 1

    def allreduce_sum(self, array):
        return array

    def broadcast(self, array, root: int = 0):
        return array

    def gather(self, value, root: int = 0):
        return [value]

    def barrier(self) -> None:
        pass

    def send(self, array, dest: int) -> None:
        raise RuntimeError("one process has no other process to send to")

    def receive(self, shape, dtype, source: int):
        raise RuntimeError("one process has no other process to receive from")

    def abort(self, code: int = 1) -> None:
        sys.exit(code)


class MPICommunicator:
    """``mpi4py``'s communicator (default ``COMM_WORLD``) behind the same small interface."""

    def __init__(self, comm=None):
        from mpi4py import MPI

        self._mpi = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.cuda_aware = os.environ.get("NNSCRATCH_CUDA_AWARE_MPI") == "1"

    def _host(self, array):
        """The buffer MPI reads: the array itself (NumPy, or CuPy with a CUDA-aware MPI), else one host copy."""
        if isinstance(array, np.ndarray) or self.cuda_aware:
            return np.ascontiguousarray(array) if isinstance(array, np.ndarray) else array, False
        return np.ascontiguousarray(asnumpy(array)), True

    def allreduce_sum(self, array):
        """The element-wise sum of ``array`` over every process (a new array, same type)."""
        xp = get_array_module(array)
        send, staged = self._host(array)
        if not staged and not isinstance(send, np.ndarray):
            xp.cuda.get_current_stream().synchronize()
        receive = np.empty_like(send) if isinstance(send, np.ndarray) else xp.empty_like(send)
        self.comm.Allreduce(send, receive, op=self._mpi.SUM)
        return (xp.asarray(receive) if staged else receive).reshape(array.shape)

    def broadcast(self, array, root: int = 0):
        xp = get_array_module(array)
        buffer, staged = self._host(array)
        buffer = buffer.copy()                    # receive into a copy: the caller's array stays as it was
        self.comm.Bcast(buffer, root=root)
        return (xp.asarray(buffer) if staged else buffer).reshape(array.shape)

    def gather(self, value, root: int = 0):
        """Python values (numbers, short strings) from every process to ``root`` (others get None)."""
        return self.comm.gather(value, root=root)

    def barrier(self) -> None:
        self.comm.Barrier()

    def send(self, array, dest: int) -> None:
        """Send a NumPy array's values to process ``dest`` (which calls :meth:`receive` with its shape and
        dtype); returns when the buffer may be reused, so a sender runs at most one message ahead."""
        self.comm.Send(np.ascontiguousarray(array), dest=dest)

    def receive(self, shape, dtype, source: int) -> np.ndarray:
        """The array of ``shape`` and ``dtype`` that process ``source`` sends next."""
        buffer = np.empty(shape, dtype=dtype)
        self.comm.Recv(buffer, source=source)
        return buffer

    def abort(self, code: int = 1) -> None:
        self.comm.Abort(code)


_WORLD = None


def world():
    """The communicator of this launch (created once): MPI's world under ``mpiexec -n N`` with N > 1,
    otherwise :class:`SingleProcess` (nothing is imported)."""
    global _WORLD
    if _WORLD is None:
        if launched_processes() > 1:
            try:
                _WORLD = MPICommunicator()
            except ImportError:
                raise RuntimeError("started by an MPI launcher with several processes, but mpi4py is not "
                                   "installed: pip install -e '.[mpi]'") from None
        else:
            _WORLD = SingleProcess()
    return _WORLD


def _flatten(arrays, xp, dtype):
    return xp.concatenate([xp.asarray(a, dtype=dtype).reshape(-1) for a in arrays])


def allreduce_gradients(module, comm=None) -> None:
    """Average every parameter's gradient over the processes, in one all-reduce of one buffer.

    Each process's loss must be the mean over its own share of the batch, with equal shares;
    then the average of the processes' gradients is the gradient of the whole batch's mean loss.
    A parameter without a gradient contributes zeros.
    """
    comm = world() if comm is None else comm
    if comm.size == 1:
        return
    params = module.parameters()
    xp = get_array_module(params[0].data)
    dtype = params[0].data.dtype
    flat = _flatten([p.grad if p.grad is not None else xp.zeros_like(p.data) for p in params], xp, dtype)
    total = comm.allreduce_sum(flat)
    total /= comm.size
    offset = 0
    for p in params:
        size = p.data.size
        average = total[offset:offset + size].reshape(p.data.shape).astype(p.data.dtype, copy=False)
        if p.grad is not None and p.grad is p.grad_slot:
            p.grad[...] = average            # stays in the optimizer's flat buffer of gradients
        else:
            p.grad = average
        offset += size


def broadcast_parameters(module, root: int = 0, comm=None) -> None:
    """Give every process ``root``'s parameters and buffers (batch-norm statistics)."""
    comm = world() if comm is None else comm
    if comm.size == 1:
        return
    state = module.state_dict()
    received = {name: comm.broadcast(value, root) for name, value in state.items()}
    module.load_state_dict(received)


class _SumOverProcesses:
    """What a synchronized batch norm calls to sum its per-channel statistics over the processes.
    Copies of a model (a moving average, say) share it rather than duplicating the communicator."""

    def __init__(self, comm):
        self.comm = comm

    def __call__(self, array):
        return self.comm.allreduce_sum(array)

    def __deepcopy__(self, memo):
        return self


def synchronize_batch_norm(module, comm=None) -> int:
    """Make every ``BatchNorm2d`` in ``module`` use the statistics of the whole batch across processes
    in training (evaluation uses running statistics, the same on every process).  Returns how many
    layers were synchronized; with one process, none is changed."""
    from .layers import BatchNorm2d

    comm = world() if comm is None else comm
    if comm.size == 1:
        return 0
    layers = [m for _, m in module.named_modules() if isinstance(m, BatchNorm2d)]
    for layer in layers:
        layer.set_reduce(_SumOverProcesses(comm))
    return len(layers)


class UnevenSplit(ValueError):
    """A batch that the processes cannot share equally: every process raises it at the same point."""


def share(total: int, comm=None) -> range:
    """The items ``0..total-1`` this process handles: a contiguous block, equal for all processes
    (``total`` must divide evenly: a batch split unequally would weight its shares unequally)."""
    comm = world() if comm is None else comm
    if total % comm.size:
        raise UnevenSplit(f"a batch of {total} cannot be split evenly over {comm.size} processes: "
                          f"give a batch size that {comm.size} divides")
    part = total // comm.size
    return range(comm.rank * part, (comm.rank + 1) * part)


def files_summary(done: str, total: int, failed: int, comm=None) -> tuple[int, str]:
    """The end of a job over files split between processes: the exit status, the same on every
    process (1 when any process had a failure), and the line process 0 should show for the whole job
    (``"colorized 98 of 100 files on 4 processes; 2 failed"``; empty on the other processes, and on
    one process when all went well).  Nothing is printed here: the command decides where it goes."""
    comm = world() if comm is None else comm
    failed = int(comm.allreduce_sum(np.array([failed], dtype=np.int64))[0])
    line = ""
    if comm.rank == 0 and (failed or comm.size > 1):
        where = f" on {comm.size} processes" if comm.size > 1 else ""
        line = f"{done} {total - failed} of {total} files{where}" + (f"; {failed} failed" if failed else "")
    return (1 if failed else 0), line


# MPI_Abort can kill the launcher's forwarding before it has passed on what the failing process
# wrote just before (MPICH's Hydra lost the whole stderr of such a process in one run of the test
# suite): a moment's grace first, so that the message saying why the job ended reaches the user.
ABORT_GRACE_S = 0.5


@contextmanager
def abort_on_error(comm=None, name: str = "nnscratch", collective: tuple = ()):
    """Around a process's main work under MPI: an exception in this process is printed with its rank
    and ends the whole job (``MPI_Abort``), so that no other process waits for it forever.
    Exceptions in ``collective`` are ones every process raises at the same point (a decision
    they reached together); those pass through and each process exits normally."""
    comm = world() if comm is None else comm
    try:
        yield comm
    except BaseException as error:
        if comm.size > 1 and not isinstance(error, (SystemExit, *collective)):
            print(f"{name}: process {comm.rank} of {comm.size} failed ({type(error).__name__}: {error}); "
                  "ending the whole job", file=sys.stderr, flush=True)
            time.sleep(ABORT_GRACE_S)
            comm.abort(1)
        raise
