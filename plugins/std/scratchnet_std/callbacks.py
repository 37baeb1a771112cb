"""Training callbacks as pluggy hook implementations: pass them to ``fit(callbacks=[...])``.

>>> from scratchnet_std.callbacks import EarlyStopping, LearningRateScheduler, CosineAnnealingLR
>>> callbacks = [EarlyStopping(patience=3, restore_best_weights=True),
...              LearningRateScheduler(CosineAnnealingLR(T_max=20))]

Each is an ordinary object whose methods carry ``@scratchnet_core.hookimpl``; a third party
writes its own the same way. Callbacks that write files (``ModelCheckpoint``, ``CSVLogger``)
write nothing in a process whose ``model.is_main_process`` is false: in data-parallel
training every process runs them with the same logs, and one process writes.
"""

from __future__ import annotations

import csv
import inspect
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TextIO

import numpy as np

from scratchnet_core import ConfigurationError, Model, hookimpl
from scratchnet_core.checks import one_of, output_path, positive_int, real_in_range

__all__ = [
    "CSVLogger",
    "CosineAnnealingLR",
    "EarlyStopping",
    "ExponentialLR",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "StepLR",
]

log = logging.getLogger(__name__)


def _mode(owner: str, monitor: str, mode: str, higher: dict[str, bool] | None = None) -> str:
    """``"min"`` or ``"max"``; ``"auto"`` asks the metric (``higher_is_better``, given to
    ``scratchnet_train_start`` as ``config["higher_is_better"]``), else guesses by name."""
    if one_of(owner, "mode", mode, ("auto", "min", "max")) == "auto":
        if higher is not None and monitor in higher:
            return "max" if higher[monitor] else "min"
        return "max" if "acc" in monitor else "min"
    return mode


class _Monitor:
    """Tracks the best value of one metric."""

    def __init__(
        self,
        owner: str,
        monitor: str,
        mode: str,
        min_delta: float,
        higher: dict[str, bool] | None = None,
    ) -> None:
        self.owner = owner
        self.monitor = monitor
        self.mode = _mode(owner, monitor, mode, higher)
        self.min_delta = abs(float(min_delta))
        self.best = math.inf if self.mode == "min" else -math.inf

    def check_available(self, metrics: list[str]) -> None:
        if self.monitor not in metrics:
            raise ConfigurationError(
                f"{self.owner}: monitor={self.monitor!r} is not among this fit's metrics "
                f"({', '.join(metrics)}); validation metrics need validation_data or "
                "validation_split"
            )

    def improved(self, logs: dict[str, float]) -> bool:
        value = logs.get(self.monitor)
        if value is None or not math.isfinite(value):
            return False
        if self.mode == "min":
            better = value < self.best - self.min_delta
        else:
            better = value > self.best + self.min_delta
        if better:
            self.best = value
        return better


class EarlyStopping:
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights`` the model ends training with the weights of its best epoch
    (whether it stopped early or ran out of epochs). ``mode="auto"`` maximises metrics whose
    ``higher_is_better`` is true (accuracy, F1, R², ...) and minimises losses and errors.

    Examples
    --------
    >>> import numpy as np, scratchnet_core as sn
    >>> X = np.random.default_rng(0).normal(size=(40, 2)); Y = (X[:, 0] > 0).astype(int)
    >>> model = sn.Model([sn.get_layers()["linear"](2, 1, "sigmoid")], "bce", "adam")
    >>> stop = EarlyStopping(monitor="loss", patience=2, restore_best_weights=True)
    >>> history = model.fit(X, Y, epochs=500, verbose=0, callbacks=[stop])
    >>> len(history.epoch) < 500 or stop.stopped_epoch is None
    True
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        mode: str = "auto",
        restore_best_weights: bool = False,
    ) -> None:
        self.monitor = monitor
        self.min_delta = real_in_range("EarlyStopping", "min_delta", min_delta, 0.0, math.inf)
        self.patience = 0 if patience == 0 else positive_int("EarlyStopping", "patience", patience)
        self.mode = mode
        self.restore_best_weights = bool(restore_best_weights)
        self._tracker = _Monitor("EarlyStopping", monitor, mode, self.min_delta)

    @hookimpl
    def scratchnet_train_start(self, config: dict[str, Any]) -> None:
        self._tracker = _Monitor(
            "EarlyStopping", self.monitor, self.mode, self.min_delta, config["higher_is_better"]
        )
        self._tracker.check_available(config["metrics"])
        self.wait = 0
        self.best_weights: dict[str, np.ndarray] | None = None
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None

    @hookimpl
    def scratchnet_epoch_end(self, model: Model, epoch: int, logs: dict[str, float]) -> bool:
        if self._tracker.improved(logs):
            self.wait = 0
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = model.get_weights()
            return False
        self.wait += 1
        if self.wait >= max(self.patience, 1):  # Keras: stop after `patience` flat epochs
            self.stopped_epoch = epoch
            return True
        return False

    @hookimpl
    def scratchnet_train_end(self, model: Model) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            model.set_weights(self.best_weights)
            shown = None if self.best_epoch is None else self.best_epoch + 1
            log.info("EarlyStopping: restored the weights of epoch %s", shown)


class ModelCheckpoint:
    """Save the model after every epoch, or only when ``monitor`` improves.

    ``path`` may hold ``{epoch}`` and metric names as format fields
    (``"ckpt-{epoch:03d}-{val_loss:.3f}.npz"``; ``epoch`` counts from 1). Its folder is
    created, and checked writable, when training starts. Weights that are not
    all finite are never written: a good file is never replaced by a diverged model.

    Examples
    --------
    >>> import os, tempfile, numpy as np, scratchnet_core as sn
    >>> folder = tempfile.mkdtemp()
    >>> X = np.zeros((8, 2)); Y = np.zeros(8, dtype=int)
    >>> model = sn.Model([sn.get_layers()["linear"](2, 1, "sigmoid")], "bce")
    >>> ckpt = ModelCheckpoint(os.path.join(folder, "e{epoch}.npz"), monitor="loss")
    >>> _ = model.fit(X, Y, epochs=2, verbose=0, callbacks=[ckpt])
    >>> [os.path.basename(p) for p in ckpt.saved]
    ['e1.npz', 'e2.npz']
    """

    def __init__(
        self,
        path: str | Path,
        monitor: str = "val_loss",
        save_best_only: bool = False,
        mode: str = "auto",
    ) -> None:
        self.path = str(path)
        self.monitor = monitor
        self.save_best_only = bool(save_best_only)
        self.mode = mode
        self.saved: list[str] = []

    @hookimpl
    def scratchnet_train_start(self, model: Model, config: dict[str, Any]) -> None:
        known = "{" not in str(Path(self.path).parent)
        if known and model.is_main_process:  # its folder is known: check it now
            output_path("ModelCheckpoint: path", self.path)
        self._tracker = _Monitor(
            "ModelCheckpoint", self.monitor, self.mode, 0.0, config["higher_is_better"]
        )
        if self.save_best_only:
            self._tracker.check_available(config["metrics"])

    @hookimpl
    def scratchnet_epoch_end(self, model: Model, epoch: int, logs: dict[str, float]) -> None:
        if self.save_best_only and not self._tracker.improved(logs):
            return
        if not model.is_main_process:  # data-parallel: one process writes
            return
        if not all(np.isfinite(p).all() for p in model.parameters().values()):
            log.warning("ModelCheckpoint: epoch %d has non-finite weights; not saved", epoch + 1)
            return
        try:
            target = self.path.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigurationError(
                f"ModelCheckpoint: path {self.path!r} names a field this fit does not log: {exc}"
            ) from exc
        model.save(target)
        self.saved.append(target)


class StepLR:
    """``lr = base_lr * gamma ** (epoch // step_size)`` (PyTorch's ``StepLR``).

    A closed form of the rate training started with (``from_initial_lr``): given to
    `LearningRateScheduler`, it receives that rate, not the current one.

    >>> [StepLR(step_size=2, gamma=0.5)(epoch, 1.0) for epoch in range(5)]
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    from_initial_lr: ClassVar[bool] = True

    def __init__(self, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = positive_int("StepLR", "step_size", step_size)
        self.gamma = real_in_range("StepLR", "gamma", gamma, 0.0, math.inf)

    def __call__(self, epoch: int, base_lr: float) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialLR:
    """``lr = base_lr * gamma ** epoch`` (PyTorch's ``ExponentialLR``); a closed form of the
    initial rate, as `StepLR`.

    >>> ExponentialLR(gamma=0.5)(3, 1.0)
    0.125
    """

    from_initial_lr: ClassVar[bool] = True

    def __init__(self, gamma: float) -> None:
        self.gamma = real_in_range("ExponentialLR", "gamma", gamma, 0.0, math.inf)

    def __call__(self, epoch: int, base_lr: float) -> float:
        return base_lr * self.gamma**epoch


class CosineAnnealingLR:
    """``lr = eta_min + (base_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2`` (PyTorch's
    closed form; after ``T_max`` it rises again, as there); a closed form of the initial rate,
    as `StepLR`.

    >>> schedule = CosineAnnealingLR(T_max=10)
    >>> schedule(0, 0.1), round(schedule(5, 0.1), 6), round(schedule(10, 0.1), 6)
    (0.1, 0.05, 0.0)
    """

    from_initial_lr: ClassVar[bool] = True

    def __init__(self, T_max: int, eta_min: float = 0.0) -> None:
        self.T_max = positive_int("CosineAnnealingLR", "T_max", T_max)
        self.eta_min = real_in_range("CosineAnnealingLR", "eta_min", eta_min, 0.0, math.inf)

    def __call__(self, epoch: int, base_lr: float) -> float:
        cosine = (1 + math.cos(math.pi * epoch / self.T_max)) / 2
        return self.eta_min + (base_lr - self.eta_min) * cosine


def _schedule_arity(schedule: Callable[..., float]) -> int:
    """How many positional arguments to pass: 2 (``epoch, lr``) or 1 (``epoch``); anything
    else is a `ConfigurationError` raised now, not at the first epoch."""
    try:
        signature = inspect.signature(schedule)
    except (TypeError, ValueError):  # no introspectable signature (some builtins): trust it
        return 2
    positional = [
        p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    required = [p for p in positional if p.default is p.empty]
    required_keyword = [
        p.name
        for p in signature.parameters.values()
        if p.kind is p.KEYWORD_ONLY and p.default is p.empty
    ]
    variadic = any(p.kind is p.VAR_POSITIONAL for p in signature.parameters.values())
    if not required_keyword and len(required) <= 2 and (len(positional) >= 2 or variadic):
        return 2
    if not required_keyword and len(required) == 1:
        return 1
    name = getattr(schedule, "__name__", type(schedule).__name__)
    raise ConfigurationError(
        f"LearningRateScheduler: schedule must take (epoch, lr) or (epoch), as in Keras; "
        f"{name}{signature} does not"
    )


class LearningRateScheduler:
    """Set the optimizer's ``lr`` at the start of every epoch from ``schedule(epoch, lr)``.

    As in Keras, ``epoch`` counts from 0 and ``lr`` is the optimizer's current rate, so
    ``lambda epoch, lr: lr * 0.5`` halves the rate every epoch; a schedule of ``(epoch)``
    alone is called with the epoch only. The built-in `StepLR`,
    `ExponentialLR` and `CosineAnnealingLR` are closed forms (PyTorch's): they
    say so with ``from_initial_lr = True`` and receive the rate training started with, so a
    run resumed with ``initial_epoch`` continues them exactly. A schedule of any other
    number of arguments is refused here. The epoch's rate is logged as ``lr``.

    Examples
    --------
    >>> import numpy as np, scratchnet_core as sn
    >>> model = sn.Model([sn.get_layers()["linear"](2, 1)], "mse", sn.get_optimizers()["sgd"](0.4))
    >>> history = model.fit(np.zeros((4, 2)), np.zeros(4), epochs=3, verbose=0,
    ...                     callbacks=[LearningRateScheduler(lambda epoch, lr: lr * 0.5)])
    >>> history["lr"]
    [0.2, 0.1, 0.05]
    >>> LearningRateScheduler(lambda: 0.1)
    Traceback (most recent call last):
    ...
    scratchnet_core.errors.ConfigurationError: LearningRateScheduler: schedule must take ...
    """

    def __init__(self, schedule: Callable[..., float]) -> None:
        if not callable(schedule):
            raise ConfigurationError(
                f"LearningRateScheduler: schedule must be callable, got {schedule!r}"
            )
        self.schedule = schedule
        self._arity = _schedule_arity(schedule)
        self._from_initial = bool(getattr(schedule, "from_initial_lr", False))
        self.base_lr: float | None = None

    @hookimpl
    def scratchnet_train_start(self, model: Model) -> None:
        if self.base_lr is None:
            self.base_lr = model.optimizer.lr

    @hookimpl
    def scratchnet_epoch_start(self, model: Model, epoch: int) -> None:
        assert self.base_lr is not None
        if self._arity == 1:
            value = self.schedule(epoch)
        else:
            value = self.schedule(epoch, self.base_lr if self._from_initial else model.optimizer.lr)
        lr = float(value)
        if not math.isfinite(lr) or lr <= 0:
            raise ConfigurationError(
                f"LearningRateScheduler: the schedule gave lr={lr} for epoch {epoch + 1} "
                "(counting from 1); it must be > 0"
            )
        model.optimizer.lr = lr

    @hookimpl(tryfirst=True)  # before CSVLogger, History and the progress bar read the logs
    def scratchnet_epoch_end(self, model: Model, logs: dict[str, float]) -> None:
        logs["lr"] = model.optimizer.lr


class CSVLogger:
    """Write one CSV row per epoch: ``epoch`` then every logged metric (``lr`` too, with a
    `LearningRateScheduler`). The file's folder is created when training starts.

    Examples
    --------
    >>> import os, tempfile, numpy as np, scratchnet_core as sn
    >>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
    >>> model = sn.Model([sn.get_layers()["linear"](2, 1)], "mse")
    >>> X, Y = np.zeros((4, 2)), np.zeros(4)
    >>> _ = model.fit(X, Y, epochs=2, verbose=0, callbacks=[CSVLogger(path)])
    >>> from pathlib import Path
    >>> Path(path).read_text().splitlines()[0]
    'epoch,loss'
    """

    def __init__(self, path: str | Path, append: bool = False) -> None:
        self.path = Path(path)
        self.append = bool(append)
        self._file: TextIO | None = None
        self._writer: Any = None
        self._keys: list[str] | None = None

    @hookimpl
    def scratchnet_train_start(self, model: Model) -> None:
        if not model.is_main_process:  # data-parallel: one process writes
            self._file = None
            return
        output_path("CSVLogger: path", self.path)
        new = not (self.append and self.path.exists() and self.path.stat().st_size > 0)
        self._file = self.path.open("a" if self.append else "w", newline="")
        self._keys = None
        self._new = new

    @hookimpl
    def scratchnet_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self._file is None:
            return
        if self._keys is None:
            self._keys = list(logs)
            self._writer = csv.writer(self._file)
            if self._new:
                self._writer.writerow(["epoch", *self._keys])
        self._writer.writerow(
            [epoch + 1, *(repr(float(logs.get(k, math.nan))) for k in self._keys)]
        )
        self._file.flush()

    @hookimpl
    def scratchnet_train_end(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
