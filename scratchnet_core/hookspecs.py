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

import pluggy

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
