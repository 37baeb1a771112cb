"""Training progress on the terminal, as hook plugins.

``ProgressBar`` draws one tqdm bar over all training steps with the running loss when
``fit(verbose=1)``; ``BatchLog`` writes the seed's per-batch cost line when ``verbose=2``.
Both are silent at ``verbose=0``, and in every process of a data-parallel run but the
one whose ``model.is_main_process`` is true.
"""

from __future__ import annotations

import sys
from typing import Any

from scratchnet_core import Model, hookimpl

__all__ = ["BatchLog", "ProgressBar"]


class ProgressBar:
    """A tqdm progress bar with the running loss of the current epoch."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._loss_sum = 0.0
        self._seen = 0

    @hookimpl
    def scratchnet_train_start(self, model: Model, config: dict[str, Any]) -> None:
        if config["verbose"] != 1 or not model.is_main_process:
            return
        from tqdm.auto import tqdm

        self._bar = tqdm(
            total=config["epochs"] * config["steps_per_epoch"],
            unit="batch",
            desc="epoch 1",
            dynamic_ncols=True,
            file=sys.stderr,
        )
        self._epochs = config["epochs"]

    @hookimpl
    def scratchnet_epoch_start(self, epoch: int) -> None:
        self._loss_sum, self._seen = 0.0, 0
        if self._bar is not None:
            self._bar.set_description_str(f"epoch {epoch + 1}/{self._epochs}", refresh=False)

    @hookimpl
    def scratchnet_batch_end(self, logs: dict[str, float]) -> None:
        bar = self._bar
        if bar is None:
            return
        size = logs["size"]
        self._loss_sum += logs["loss"] * size
        self._seen += int(size)
        bar.update(1)
        if bar.n % 16 == 0:
            bar.set_postfix_str(f"loss={self._loss_sum / self._seen:.4f}", refresh=False)

    @hookimpl
    def scratchnet_epoch_end(self, logs: dict[str, float]) -> None:
        if self._bar is not None:
            shown = " ".join(f"{k}={v:.4f}" for k, v in logs.items())
            self._bar.set_postfix_str(shown, refresh=False)

    @hookimpl
    def scratchnet_train_end(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class BatchLog:
    """One line per batch (``epoch 3 batch 7: loss 0.6931``), as the seed printed."""

    def __init__(self) -> None:
        self._on = False

    @hookimpl
    def scratchnet_train_start(self, model: Model, config: dict[str, Any]) -> None:
        self._on = config["verbose"] == 2 and model.is_main_process

    @hookimpl
    def scratchnet_batch_end(self, epoch: int, batch: int, logs: dict[str, float]) -> None:
        if self._on:
            from tqdm.auto import tqdm

            tqdm.write(
                f"epoch {epoch + 1} batch {batch + 1}: loss {logs['loss']:.6f}", file=sys.stderr
            )

    @hookimpl
    def scratchnet_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self._on:
            from tqdm.auto import tqdm

            shown = " ".join(f"{k}={v:.6f}" for k, v in logs.items())
            tqdm.write(f"epoch {epoch + 1}: {shown}", file=sys.stderr)
