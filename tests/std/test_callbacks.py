"""Callbacks: early stopping, checkpoints, learning-rate schedules, CSV logs."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

import scratchnet_core as sn
from scratchnet_core.layers import linear
from scratchnet_std.callbacks import (
    CosineAnnealingLR,
    CSVLogger,
    EarlyStopping,
    ExponentialLR,
    LearningRateScheduler,
    ModelCheckpoint,
    StepLR,
)


def problem(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((60, 4))
    Y = (X[:, 0] + 0.5 * rng.standard_normal(60) > 0).astype(int)
    return X, Y


def model(lr=0.1):
    return sn.Model(
        [linear(4, 8, "tanh"), linear(8, 1, "sigmoid")],
        "binary_cross_entropy",
        sn.get_optimizers()["sgd"](lr),
    )


class ScriptedLoss:
    """Replaces val_loss with a script, to test the callbacks' logic on known sequences."""

    def __init__(self, values):
        self.values = values

    @sn.hookimpl(tryfirst=True)
    def scratchnet_epoch_end(self, epoch, logs):
        logs["val_loss"] = self.values[epoch]


def test_early_stopping_waits_patience_then_restores_best_weights() -> None:
    X, Y = problem()
    m = model()
    snapshots = []

    class Snap:
        @sn.hookimpl
        def scratchnet_epoch_end(self, model):
            snapshots.append(model.get_weights())

    stop = EarlyStopping(patience=2, restore_best_weights=True)
    hist = m.fit(
        X,
        Y,
        epochs=10,
        validation_split=0.2,
        verbose=0,
        callbacks=[ScriptedLoss([5, 4, 3, 3.5, 3.2, 1, 0, 0, 0, 0]), stop, Snap()],
    )
    assert hist.epoch == [0, 1, 2, 3, 4]  # best at epoch 2, two more epochs, then stop
    assert stop.stopped_epoch == 4 and stop.best_epoch == 2
    for name, value in m.get_weights().items():
        np.testing.assert_array_equal(value, snapshots[2][name])


def test_early_stopping_min_delta_and_missing_monitor() -> None:
    X, Y = problem()
    stop = EarlyStopping(min_delta=0.5, patience=0)
    hist = model().fit(
        X,
        Y,
        epochs=5,
        validation_split=0.2,
        verbose=0,
        callbacks=[ScriptedLoss([3, 2.8, 2.0, 1, 1]), stop],
    )
    assert hist.epoch == [0, 1]  # 2.8 is not 0.5 better than 3
    with pytest.raises(sn.ConfigurationError, match="monitor='val_loss' is not among"):
        model().fit(X, Y, epochs=2, verbose=0, callbacks=[EarlyStopping()])


def test_checkpoint_best_only_and_every_epoch(tmp_path: Path) -> None:
    X, Y = problem()
    best = ModelCheckpoint(tmp_path / "best.npz", save_best_only=True)
    every = ModelCheckpoint(tmp_path / "e{epoch:02d}-{loss:.2f}.npz", monitor="loss")
    m = model()
    m.fit(
        X,
        Y,
        epochs=4,
        validation_split=0.2,
        verbose=0,
        callbacks=[ScriptedLoss([3, 2, 2.5, 2.6]), best, every],
    )
    assert best.saved == [str(tmp_path / "best.npz")] * 2  # epochs 1 and 2 improved
    assert len(every.saved) == 4 and Path(every.saved[0]).name.startswith("e01-")
    loaded = sn.Model.load(tmp_path / "best.npz")
    assert loaded.epochs_trained == 2


def test_checkpoint_never_overwrites_a_good_file_with_non_finite_weights(tmp_path: Path) -> None:
    X, Y = problem()
    path = tmp_path / "ckpt.npz"
    m = model()
    m.fit(X, Y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(path, monitor="loss")])
    good = path.read_bytes()

    class Poison:
        @sn.hookimpl(tryfirst=True)
        def scratchnet_epoch_end(self, model):
            model.parameters()["0.weight"][0, 0] = np.nan

    m.fit(X, Y, epochs=1, verbose=0, callbacks=[Poison(), ModelCheckpoint(path, monitor="loss")])
    assert path.read_bytes() == good


def test_divergence_keeps_last_finite_weights_and_checkpoint(tmp_path: Path) -> None:
    X = np.random.default_rng(0).standard_normal((32, 4)) * 1e3
    path = tmp_path / "ckpt.npz"
    m = sn.Model([linear(4, 16, "relu"), linear(16, 1)], "mse", sn.get_optimizers()["sgd"](1e-9))
    m.fit(X, X[:, :1], epochs=1, verbose=0, callbacks=[ModelCheckpoint(path, monitor="loss")])
    good = path.read_bytes()
    m.optimizer.lr = 1e3
    with pytest.raises(sn.TrainingDivergedError):
        m.fit(
            X,
            X[:, :1] * 1e3,
            epochs=50,
            batch_size=8,
            verbose=0,
            callbacks=[ModelCheckpoint(path, monitor="loss")],
        )
    assert all(np.isfinite(p).all() for p in m.parameters().values())
    loaded = sn.Model.load(path)
    assert all(np.isfinite(p).all() for p in loaded.parameters().values())
    assert path.read_bytes() == good or loaded.epochs_trained >= 1


def test_schedules_match_pytorch_formulas() -> None:
    assert [StepLR(2, 0.5)(e, 1.0) for e in range(5)] == [1, 1, 0.5, 0.5, 0.25]
    assert ExponentialLR(0.9)(3, 2.0) == pytest.approx(2 * 0.9**3)
    cos = CosineAnnealingLR(T_max=4, eta_min=0.1)
    assert cos(0, 1.0) == pytest.approx(1.0) and cos(4, 1.0) == pytest.approx(0.1)
    assert cos(2, 1.0) == pytest.approx(0.55)


def test_scheduler_sets_lr_each_epoch_and_logs_it() -> None:
    X, Y = problem()
    m = model(lr=0.4)
    hist = m.fit(X, Y, epochs=4, verbose=0, callbacks=[LearningRateScheduler(StepLR(1, 0.5))])
    assert hist["lr"] == [0.4, 0.2, 0.1, 0.05]
    with pytest.raises(sn.ConfigurationError, match=r"lr=-1\.0"):
        model().fit(
            X, Y, epochs=1, verbose=0, callbacks=[LearningRateScheduler(lambda e, lr: -1.0)]
        )


def test_scheduler_passes_the_current_rate_as_keras_does() -> None:
    X, Y = problem()
    halving = LearningRateScheduler(lambda epoch, lr: lr * 0.5)
    hist = model(lr=0.4).fit(X, Y, epochs=3, verbose=0, callbacks=[halving])
    assert hist["lr"] == [0.2, 0.1, 0.05]  # not a constant 0.2
    epoch_only = LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))
    hist = model(lr=0.4).fit(X, Y, epochs=2, verbose=0, callbacks=[epoch_only])
    assert hist["lr"] == [0.1, 0.05]


@pytest.mark.parametrize(
    "schedule",
    [lambda: 0.1, lambda epoch, lr, extra: lr, lambda *, epoch, lr: lr, lambda e, lr, *, k: lr],
)
def test_scheduler_refuses_a_schedule_with_the_wrong_arguments(schedule) -> None:
    with pytest.raises(sn.ConfigurationError, match=r"must take \(epoch, lr\) or \(epoch\)"):
        LearningRateScheduler(schedule)


def test_scheduler_error_counts_epochs_from_1() -> None:
    X, Y = problem()
    bad = LearningRateScheduler(lambda epoch, lr: 0.1 if epoch == 0 else 0.0)
    with pytest.raises(sn.ConfigurationError, match=r"lr=0\.0 for epoch 2 \(counting from 1\)"):
        model().fit(X, Y, epochs=3, verbose=0, callbacks=[bad])


@pytest.mark.parametrize("logger_first", [True, False])
def test_csv_logger_has_the_lr_column_history_has(tmp_path: Path, logger_first: bool) -> None:
    X, Y = problem()
    path = tmp_path / "log.csv"
    callbacks = [CSVLogger(path), LearningRateScheduler(StepLR(1, 0.5))]
    if not logger_first:
        callbacks.reverse()
    hist = model(lr=0.4).fit(X, Y, epochs=2, verbose=0, callbacks=callbacks)
    rows = list(csv.DictReader(path.read_text().splitlines()))
    assert [float(r["lr"]) for r in rows] == hist["lr"] == [0.4, 0.2]


def test_csv_logger(tmp_path: Path) -> None:
    X, Y = problem()
    path = tmp_path / "log.csv"
    model().fit(X, Y, epochs=3, validation_split=0.2, verbose=0, callbacks=[CSVLogger(path)])
    rows = list(csv.reader(path.read_text().splitlines()))
    assert rows[0] == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]
    assert [r[0] for r in rows[1:]] == ["1", "2", "3"]
    assert all(math.isfinite(float(v)) for r in rows[1:] for v in r)
    model().fit(X, Y, epochs=1, verbose=0, callbacks=[CSVLogger(path, append=True)])
    assert len(path.read_text().splitlines()) == 5


def test_history_plot(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    X, Y = problem()
    hist = model().fit(X, Y, epochs=2, validation_split=0.2, verbose=0)
    hist.plot(tmp_path / "h.png")
    assert (tmp_path / "h.png").stat().st_size > 1000


class _NotMainProcess:
    """What a data-parallel plugin does on every process but one."""

    @sn.hookimpl(tryfirst=True)
    def scratchnet_train_start(self, model: sn.Model) -> None:
        model.is_main_process = False


def test_writers_stay_silent_outside_the_main_process(tmp_path: Path, capsys) -> None:
    X, Y = problem()
    model = sn.Model([linear(4, 1, "sigmoid")], "bce", "adam")
    callbacks = [
        _NotMainProcess(),
        ModelCheckpoint(tmp_path / "ckpts" / "e{epoch}.npz", monitor="loss"),
        CSVLogger(tmp_path / "logs" / "log.csv"),
    ]
    history = model.fit(X, Y, epochs=2, verbose=2, callbacks=callbacks)
    assert len(history["loss"]) == 2 and not model.is_main_process
    assert list(tmp_path.iterdir()) == [] and capsys.readouterr().err == ""


def test_callback_output_folders_are_created_before_the_first_epoch(tmp_path: Path) -> None:
    X, Y = problem()
    log_path = tmp_path / "logs" / "new" / "log.csv"
    ckpt = ModelCheckpoint(tmp_path / "ckpts" / "e{epoch}.npz", monitor="loss")
    model().fit(X, Y, epochs=1, verbose=0, callbacks=[CSVLogger(log_path), ckpt])
    assert log_path.is_file() and (tmp_path / "ckpts" / "e1.npz").is_file()
    (tmp_path / "blocker").write_text("")
    trained = []

    class Spy:
        @sn.hookimpl
        def scratchnet_epoch_start(self, epoch):
            trained.append(epoch)

    with pytest.raises(sn.ConfigurationError, match="CSVLogger: path: cannot write to"):
        model().fit(
            X, Y, epochs=1, verbose=0, callbacks=[Spy(), CSVLogger(tmp_path / "blocker" / "l.csv")]
        )
    assert not trained


def test_an_unknown_monitor_mode_is_refused_at_construction() -> None:
    with pytest.raises(sn.ConfigurationError, match=r"EarlyStopping: mode must be 'auto', 'min'"):
        EarlyStopping(mode="up")
