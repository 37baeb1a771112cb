"""The training events, as pluggy hook specifications.

A hook implementation is any module, object or class carrying methods of these names marked
with ``@scratchnet_core.hookimpl``; it asks only for the arguments it uses. Plugins in the
``scratchnet.hooks`` entry-point group are always on (a class is instantiated afresh for every
``fit``); objects passed as ``fit(callbacks=[...])`` are on for that call only.

``logs`` dicts hold plain floats: ``loss`` and one value per metric of the model (by
default ``accuracy`` for classification costs); with validation data also ``val_loss`` and
``val_<metric>``.

How a step runs, and where the seams for distributed training sit (see
`scratchnet_core.loop`):

1. ``indices``: the rows of the step's *global* batch, a slice of the epoch's permutation,
   which is drawn from ``(config["seed"], epoch)`` alone, so it is the same on every process;
2. ``scratchnet_batch_indices`` may choose this process's rows among them;
3. forward and backward on those rows only;
4. ``scratchnet_after_backward`` with the live gradients (the mean over the local rows);
5. the optimizer steps; ``scratchnet_batch_end`` with the local loss and row count.

An epoch's logs are computed from additive totals, never from per-batch means: the training
loss is ``sum(loss_b * size_b) / sum(size_b)`` over the steps ``b`` (``loss_b`` the local
batch's mean loss, ``size_b`` its rows), and each metric's value comes from its
`state` (sufficient statistics that add up across data). Before
the logs are formed, ``scratchnet_epoch_totals`` gets those totals as one float64 vector,
which a data-parallel plugin sums across processes (one all-reduce per epoch): then every
process logs the exact values of one process that saw the whole epoch. Validation data is
evaluated whole on each process (not sharded).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pluggy
from numpy.typing import NDArray

if TYPE_CHECKING:
    from .model import History, Model

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT: Final = "scratchnet"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def scratchnet_train_start(model: Model, config: dict[str, Any]) -> None:
    """Training begins.

    ``config`` holds ``epochs``, ``initial_epoch``, ``batch_size`` (of the global batch),
    ``samples`` (rows per epoch; ``None`` for an iterable of batches), ``steps_per_epoch``,
    ``shuffle`` (bool), ``seed`` (the shuffling seed: epoch ``e``'s order is
    ``np.random.default_rng([seed, e]).permutation(samples)``), ``verbose`` (0, 1 or 2),
    ``validation`` (bool), ``metrics`` (the keys the epoch logs will hold) and
    ``higher_is_better`` (key -> bool: which way each metric improves; ``False`` for losses).

    An implementation may replace ``config["seed"]``: the loop reads it back after this hook
    (a data-parallel plugin gives every process the root's seed, so that all shuffle alike).
    """


@hookspec
def scratchnet_epoch_start(model: Model, epoch: int) -> None:
    """Epoch ``epoch`` (0-based) begins."""


@hookspec(firstresult=True)
def scratchnet_batch_indices(
    model: Model, epoch: int, batch: int, indices: NDArray[np.intp]
) -> NDArray[np.intp] | None:
    """Choose the rows this process trains on in step ``batch`` of ``epoch``.

    ``indices`` are the rows of the global batch, in the epoch's (seeded) order: a slice of
    the epoch's permutation for arrays and datasets, ``0 .. n-1`` (the rows of the batch as
    it came) for an iterable of batches. The first implementation returning an array decides
    (a subset of ``indices``: rows of the data, not positions in ``indices``); with none, the
    process trains on all of ``indices``. Data-parallel plugins return this rank's shard
    (``indices[rank::size]``, or a contiguous block). An implementation may return an empty
    array: the process then skips forward and backward, contributes a zero gradient (and
    ``size = 0``) to ``scratchnet_after_backward``, and the optimizer still steps.

    Whether any plugin implements this hook is asked once per ``fit``: without one, a step
    pays nothing for it.
    """


@hookspec
def scratchnet_after_backward(
    model: Model, epoch: int, batch: int, gradients: dict[str, NDArray[Any]], size: int
) -> None:
    """The backward pass of a step ended; the optimizer has not stepped yet.

    ``gradients`` are the live gradient arrays keyed like ``model.parameters()``, in
    ``model.parameters()`` order: an implementation may change them in place (not rebind
    them); the optimizer then steps with them. ``size`` is the number of rows this process
    trained on; each gradient is the mean over those rows (costs average over the batch), so
    the gradient of the global batch is ``sum_p(size_p * g_p) / sum_p(size_p)`` over the
    processes ``p`` (for equal shards, the plain mean). With ``size == 0`` the gradients are
    zeros.

    Whether any plugin implements this hook is asked once per ``fit``.
    """


@hookspec(firstresult=True)
def scratchnet_epoch_totals(
    model: Model, epoch: int, totals: NDArray[np.float64]
) -> NDArray[np.float64] | None:
    """The epoch's training steps ended; its logs are about to be computed from ``totals``.

    ``totals`` is a 1-d float64 vector of additive statistics of what this process saw:
    ``[sum of loss * rows, rows, *metric_0.state(), *metric_1.state(), ...]`` (metrics in
    ``model.metrics`` order). Return the element-wise sum of every process's ``totals``
    (``comm.allreduce(totals, op=SUM)``, same shape) to make the epoch's ``loss`` and metrics
    those of the whole global epoch; the loop then loads each metric's part back with
    `load_state`. The first implementation returning an array
    decides; ``None`` keeps the local totals. Only asked when some plugin implements it (and
    then every metric must implement ``state``/``load_state``).
    """


@hookspec
def scratchnet_batch_end(model: Model, epoch: int, batch: int, logs: dict[str, float]) -> None:
    """A training step ended; ``logs`` holds this process's batch ``loss`` (the mean over its
    rows) and ``size`` (its rows)."""


@hookspec
def scratchnet_epoch_end(model: Model, epoch: int, logs: dict[str, float]) -> bool | None:
    """Epoch ``epoch`` ended with the epoch's metrics in ``logs`` (exact over the epoch).

    Return ``True`` to stop training after this epoch (early stopping does).
    """


@hookspec
def scratchnet_train_end(model: Model, history: History) -> None:
    """Training ended, normally or by a stop request (not by an exception)."""
