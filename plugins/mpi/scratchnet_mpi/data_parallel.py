"""``DataParallel``: data-parallel training over MPI, as a training callback.

Every process (rank) builds the same model and reads the same data; ``fit`` draws the same
global batch order on every rank (same seed). Each step, rank ``r`` trains on its contiguous
shard of the global batch, and the gradients of all ranks are summed in one fused buffer by a
single ``Allreduce``, weighted by shard sizes so that the result is the mean over the global
batch, exactly what one process training on the whole batch computes. Every rank then takes
the same optimizer step, so parameters stay identical without ever being sent again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from scratchnet_core import ConfigurationError, DataError, Model, hookimpl

from .comm import _comm, abort_on_exit, install_excepthook, mpi

if TYPE_CHECKING:
    from mpi4py import MPI

__all__ = ["DataParallel", "shard_bounds"]

log = logging.getLogger("scratchnet_mpi")


def shard_bounds(batch: int, size: int, rank: int) -> tuple[int, int]:
    """``(start, stop)`` of rank ``rank``'s contiguous shard of a ``batch``-row global batch.

    The first ``batch % size`` ranks get one row more; when ``batch < size`` the last ranks
    get none.

    >>> [shard_bounds(7, 3, r) for r in range(3)]
    [(0, 3), (3, 5), (5, 7)]
    >>> [shard_bounds(1, 3, r) for r in range(3)]
    [(0, 1), (1, 1), (1, 1)]
    """
    share, extra = divmod(batch, size)
    start = rank * share + min(rank, extra)
    return start, start + share + (rank < extra)


def _leaf_layers(layers: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(path, layer)`` for every layer that holds no other, containers walked to any depth
    (``"3.block.1"`` for a batch norm inside a residual block)."""
    named = layers.items() if isinstance(layers, Mapping) else enumerate(layers)
    for name, layer in named:
        children = layer.children()
        if children:
            yield from _leaf_layers(children, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", layer


def _describe(model: Model, config: Mapping[str, Any]) -> dict[str, Any]:
    """What must agree on every rank, as small picklable values."""
    optimizer = model.optimizer
    return {
        "architecture": ", ".join(repr(layer) for layer in model.layers),
        "parameter shapes": {k: tuple(v.shape) for k, v in model.parameters().items()},
        "buffer shapes": {k: tuple(v.shape) for k, v in model.buffers().items()},
        "dtype": model.dtype.name,
        "cost": type(model.cost_function).__name__,
        "optimizer": repr(optimizer),
        "batch size": config.get("batch_size"),
        "data length (samples)": config.get("samples"),
        "steps per epoch": config.get("steps_per_epoch"),
        "epochs": config.get("epochs"),
        "initial epoch": config.get("initial_epoch"),
        "shuffle": config.get("shuffle"),
        "validation": config.get("validation"),
        "metrics": list(config.get("metrics", ())),
    }


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def _disagreements(descriptions: list[dict[str, Any]], root: int) -> list[str]:
    """One line per field and rank that differs from ``root``'s description."""
    reference = descriptions[root]
    problems = []
    for key, expected in reference.items():
        for r, description in enumerate(descriptions):
            if description.get(key) != expected:
                problems.append(
                    f"{key}: rank {r} has {_shown(description.get(key))}, root {_shown(expected)}"
                )
    return problems


class DataParallel:
    """Train one model on several MPI processes: pass it as ``fit(callbacks=[DataParallel()])``.

    Run the same script under ``mpiexec -n 4 python train.py`` (or ``scratchnet train`` with
    ``[distributed] backend = "mpi"``). At the start of ``fit`` the ranks check that they
    agree on the architecture, parameter shapes, dtype, batch size and data length (a
    mismatch raises `ConfigurationError` on every rank), then take
    the parameters, buffers and optimizer state of ``root``. Each step, every rank trains on
    its shard of the same global batch and the gradients are averaged over the global batch
    with one ``Allreduce``; epoch logs are summed across ranks, so every rank logs (and
    early-stops on) the values one process would compute. Only ``root`` writes files, logs
    and the progress bar: the callback clears ``model.is_main_process`` on the others.

    Parameters
    ----------
    comm : mpi4py.MPI.Intracomm, optional
        The processes that train together; default ``MPI.COMM_WORLD``.
    root : int
        The rank whose initial weights everyone takes and that writes outputs.
    abort_on_error : bool
        End the whole job (``comm.Abort``) on an uncaught exception, and when a process exits
        between creating this callback and the end of a ``fit`` (an error left ``fit``, or
        came before it, and was caught), so that the others are not left waiting in a
        collective (default ``True``). Errors that every rank raises together (the checks at
        the start of ``fit``) are ordinary exceptions.

    Attributes
    ----------
    allreduce_calls, allreduce_seconds, allreduce_bytes : int, float, int
        Gradient all-reduces done, the time spent in them and the bytes each sent.

    Examples
    --------
    In one process (plain ``python``) it trains exactly as without it and sends nothing (it
    still refuses what it would refuse on several):

    >>> import numpy as np, scratchnet_core as sn
    >>> from scratchnet_core.layers import linear
    >>> X = np.random.default_rng(0).normal(size=(40, 3)); Y = X.sum(1)
    >>> model = sn.Model([linear(3, 1)], "mse", "sgd", dtype="float64")
    >>> dp = DataParallel()
    >>> history = model.fit(X, Y, epochs=2, batch_size=16, seed=0, verbose=0, callbacks=[dp])
    >>> dp.rank, dp.size, dp.allreduce_calls
    (0, 1, 0)
    """

    def __init__(
        self, comm: MPI.Intracomm | None = None, root: int = 0, *, abort_on_error: bool = True
    ) -> None:
        self.comm = _comm(comm)
        self.size = int(self.comm.Get_size())
        self.rank = int(self.comm.Get_rank())
        if isinstance(root, bool) or not isinstance(root, (int, np.integer)):
            raise ConfigurationError(f"DataParallel: root must be an integer, got {root!r}")
        if not 0 <= root < self.size:
            raise ConfigurationError(
                f"DataParallel: root must be a rank in [0, {self.size}), got {root}"
            )
        self.root = int(root)
        self.abort_on_error = bool(abort_on_error)
        self.allreduce_calls = 0
        self.allreduce_seconds = 0.0
        self.allreduce_bytes = 0
        # from here until a fit ends (normally, or by an error every rank raised together),
        # leaving the process would strand the others: at exit it aborts the job instead.
        # (A flag of its own: the exit check must not keep this object alive, and must still
        # see the flag when this object is gone.)
        self._exit_guard = {"unfinished": True}
        self._buffer: NDArray[Any] | None = None
        self._global_rows: dict[int, int] = {}
        self._layout: list[tuple[str, int, int, tuple[int, ...]]] = []
        self._synchronised: list[Any] = []
        if self.abort_on_error and self.size > 1:
            install_excepthook(self.comm)
            guard = self._exit_guard
            abort_on_exit(self.comm, lambda: guard["unfinished"])

    @property
    def is_main_process(self) -> bool:
        """Whether this rank is ``root``: the one that writes files (known before ``fit``,
        so that ``scratchnet train`` checks its output paths on this rank only)."""
        return self.rank == self.root

    # ------------------------------------------------------------------ helpers
    def _collective_error(self, message: str) -> ConfigurationError:
        """An error every rank raises at the same point: no need to abort the job."""
        self._exit_guard["unfinished"] = False
        return ConfigurationError(message)

    # ------------------------------------------------------------------ train start
    @hookimpl(tryfirst=True)  # before callbacks that open files or draw a progress bar
    def scratchnet_train_start(self, model: Model, config: dict[str, Any]) -> None:
        self._exit_guard["unfinished"] = True
        model.is_main_process = self.rank == self.root
        comm, root = self.comm, self.root
        descriptions = comm.allgather(_describe(model, config))
        problems = _disagreements(descriptions, root)
        if problems:
            raise self._collective_error(
                f"DataParallel: the {self.size} processes did not build the same training "
                "run (each must build the same model and read the same data): "
                + "; ".join(problems)
            )
        self._synchronised = self._batch_statistics(model, config)
        self._broadcast_state(model)
        if "seed" in config:  # every rank shuffles with root's seed (the loop reads it back)
            config["seed"] = comm.bcast(config["seed"], root=root)
        params = model.parameters()
        total = sum(p.size for p in params.values())
        self._layout = []
        offset = 0
        for name, p in params.items():
            self._layout.append((name, offset, p.size, p.shape))
            offset += p.size
        # the gradients, then this rank's row count: summing it gives the global batch size
        self._buffer = np.zeros(total + 1, dtype=model.dtype)
        self._global_rows = {}
        if self.size > 1:  # one process: the layers' own statistics are already global
            for layer in self._synchronised:
                layer.sum_across_processes = self._sum_across

    def _batch_statistics(self, model: Model, config: Mapping[str, Any]) -> list[Any]:
        """Layers that normalise over the batch: synchronised if they can be, else refused."""
        layers, names = [], []
        for i, layer in _leaf_layers(model.layers):
            if not layer.buffers():
                continue
            if not hasattr(layer, "sum_across_processes"):
                raise self._collective_error(
                    f"DataParallel: layer {i} {layer!r} keeps statistics of each batch "
                    f"({', '.join(layer.buffers())}) and cannot synchronise them across "
                    "processes (it has no sum_across_processes attribute): each process would "
                    "compute them over its own shard only, so data-parallel training refuses "
                    "it (use a synchronising layer such as batch_norm, or layer_norm)"
                )
            layers.append(layer)
            names.append(i)
        batch, samples = config.get("batch_size"), config.get("samples")
        if layers and self.size > 1 and isinstance(batch, int) and isinstance(samples, int):
            smallest = min(batch, samples % batch or batch)
            if smallest < self.size:
                raise self._collective_error(
                    f"DataParallel: synchronised batch norm (layer {names[0]}"
                    f" {layers[0]!r}) needs rows on every process in every step, but with "
                    f"{samples} samples in batches of {batch} a step has only {smallest} rows "
                    f"for {self.size} processes; choose a batch size whose last batch "
                    f"(samples % batch_size) is 0 or at least {self.size}"
                )
        return layers

    def _sum_across(self, values: NDArray[Any]) -> NDArray[Any]:
        """Element-wise sum over the ranks (synchronised batch norm's statistics)."""
        summed = np.array(values, dtype=np.float64, copy=True)
        self.comm.Allreduce(mpi().IN_PLACE, summed, op=mpi().SUM)
        return summed

    def _broadcast_state(self, model: Model) -> None:
        comm, root = self.comm, self.root
        for group in (model.parameters(), model.buffers()):
            for array in group.values():
                if array.flags.c_contiguous and array.flags.writeable:
                    comm.Bcast(array, root=root)
                else:
                    copy = np.ascontiguousarray(array)
                    comm.Bcast(copy, root=root)
                    array[...] = copy
        state = comm.bcast(model.optimizer.state_dict() if self.rank == root else None, root=root)
        if self.rank != root:
            model.optimizer.load_state_dict(state)

    # ------------------------------------------------------------------ each step
    @hookimpl
    def scratchnet_batch_indices(self, batch: int, indices: NDArray[np.intp]) -> NDArray[np.intp]:
        if self._synchronised and self.size > 1 and len(indices) < self.size:
            raise self._collective_error(
                f"DataParallel: step {batch} has {len(indices)} rows for {self.size} processes; "
                "synchronised batch norm needs rows on every process"
            )
        # by step: with prefetching, the next step's rows are chosen before this step ends
        self._global_rows[batch] = len(indices)
        start, stop = shard_bounds(len(indices), self.size, self.rank)
        return indices[start:stop]

    @hookimpl
    def scratchnet_after_backward(
        self, epoch: int, batch: int, gradients: dict[str, NDArray[Any]], size: int
    ) -> None:
        if self.size == 1:  # nothing to sum: one process trains bit for bit as without this
            return
        buffer = self._buffer
        assert buffer is not None, "scratchnet_after_backward before scratchnet_train_start"
        for name, offset, count, _ in self._layout:
            part = buffer[offset : offset + count]
            if size:
                np.multiply(gradients[name].reshape(-1), size, out=part)
            else:  # an empty shard: its "mean" gradient may be NaN, and contributes nothing
                part[...] = 0
        buffer[-1] = size
        started = time.perf_counter()
        self.comm.Allreduce(mpi().IN_PLACE, buffer, op=mpi().SUM)
        self.allreduce_seconds += time.perf_counter() - started
        self.allreduce_calls += 1
        self.allreduce_bytes = buffer.nbytes
        total = buffer[-1]
        expected = self._global_rows.pop(batch, None)
        if expected is not None and total != expected:
            # shards cut from global batches of different sizes: at least one rank sees it
            raise DataError(
                f"DataParallel: step {batch} of epoch {epoch}: the {self.size} processes "
                f"trained on {int(total)} rows in all, but this process's global batch has "
                f"{expected}; every process must feed the same batches"
            )
        for name, offset, count, shape in self._layout:
            np.divide(buffer[offset : offset + count].reshape(shape), total, out=gradients[name])

    # ------------------------------------------------------------------ epoch logs
    @hookimpl
    def scratchnet_epoch_totals(self, totals: NDArray[np.float64]) -> NDArray[np.float64]:
        """Sum the epoch's loss and metric statistics over the ranks: exact epoch logs, the
        same on every rank (so early stopping and checkpoints decide alike)."""
        summed = np.array(totals, dtype=np.float64, copy=True)
        self.comm.Allreduce(mpi().IN_PLACE, summed, op=mpi().SUM)
        return summed

    # ------------------------------------------------------------------ end
    @hookimpl
    def scratchnet_train_end(self) -> None:
        self._exit_guard["unfinished"] = False
        for layer in self._synchronised:
            layer.sum_across_processes = None
