"""The training events, as pluggy hook specifications.

A hook implementation is any module, object or class carrying methods of these names marked
with ``@scratchnet_core.hookimpl``; it asks only for the arguments it uses. Plugins in the
``scratchnet.hooks`` entry-point group are always on (a class is instantiated afresh for every
``fit``); objects passed as ``fit(callbacks=[...])`` are on for that call only.

``logs`` dicts hold plain floats: ``loss`` and, for classification costs, ``accuracy``; with
validation data also ``val_loss`` and ``val_accuracy``.
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

    ``config`` holds ``epochs``, ``batch_size``, ``samples``, ``steps_per_epoch``,
    ``verbose`` (0, 1 or 2), ``validation`` (bool) and ``metrics`` (names that will appear in
    the logs).
    """


@hookspec
def scratchnet_epoch_start(model: Model, epoch: int) -> None:
    """Epoch ``epoch`` (0-based) begins."""


@hookspec(firstresult=True)
def scratchnet_batch_indices(
    model: Model, epoch: int, batch: int, indices: NDArray[np.intp]
) -> NDArray[np.intp] | None:
    """Choose the rows this process trains on in step ``batch`` of ``epoch``.

    ``indices`` are the rows of the global batch, in the epoch's (seeded) order. The first
    implementation returning an array decides; with none, the process trains on all of
    ``indices``. Data-parallel plugins return this rank's shard. An implementation may
    return an empty array: the process then contributes a zero gradient to the step.
    """


@hookspec
def scratchnet_after_backward(
    model: Model, epoch: int, batch: int, gradients: dict[str, NDArray[Any]], size: int
) -> None:
    """The backward pass of a step ended; the optimizer has not stepped yet.

    ``gradients`` are the live gradient arrays keyed like ``model.parameters()``: an
    implementation may change them in place (a data-parallel plugin sums them across
    processes). ``size`` is the number of rows this process trained on; each gradient is the
    mean over those rows (costs average over the batch).
    """


@hookspec
def scratchnet_batch_end(model: Model, epoch: int, batch: int, logs: dict[str, float]) -> None:
    """A training step ended; ``logs`` holds this batch's ``loss`` and ``size``."""


@hookspec
def scratchnet_epoch_end(model: Model, epoch: int, logs: dict[str, float]) -> bool | None:
    """Epoch ``epoch`` ended with the epoch's mean metrics in ``logs``.

    Return ``True`` to stop training after this epoch (early stopping does).
    """


@hookspec
def scratchnet_train_end(model: Model, history: History) -> None:
    """Training ended, normally or by a stop request (not by an exception)."""
