"""The fit loop's seams for distributed training: batch indices, after-backward, epoch totals."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import scratchnet_core as sn
from scratchnet_core.layers import linear
from scratchnet_core.optimizers import sgd


def blobs(n: int = 60, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    centers = rng.standard_normal((classes, 4)) * 3
    return centers[y] + rng.standard_normal((n, 4)), y


def classifier(**kwargs: Any) -> sn.Model:
    sn.seed(0)
    return sn.Model(
        [linear(4, 8, "relu"), linear(8, 3, "softmax")],
        "categorical_cross_entropy",
        sgd(0.1),
        dtype="float64",
        **kwargs,
    )


def hand_loop(
    model: sn.Model, X: np.ndarray, Y: np.ndarray, epochs: int, batch: int, seed: int, pick: Any
) -> None:
    """The documented step order, written out: permutation from (seed, epoch), rows chosen."""
    model.layers[0].needs_input_grad = False
    for epoch in range(epochs):
        order = np.random.default_rng([seed, epoch]).permutation(X.shape[0])
        for start in range(0, X.shape[0], batch):
            rows = pick(order[start : start + batch])
            model.train_step(X[rows], Y[rows].astype(np.intp), epoch, start // batch)
    model.layers[0].needs_input_grad = True


class Shard:
    """Trains on every other row of each global batch and records what it saw."""

    def __init__(self, offset: int = 0) -> None:
        self.offset = offset
        self.indices: list[np.ndarray] = []
        self.sizes: list[int] = []
        self.keys: list[list[str]] = []

    @sn.hookimpl
    def scratchnet_batch_indices(self, indices: np.ndarray) -> np.ndarray:
        self.indices.append(indices.copy())
        return indices[self.offset :: 2]

    @sn.hookimpl
    def scratchnet_after_backward(self, gradients: dict[str, np.ndarray], size: int) -> None:
        self.sizes.append(size)
        self.keys.append(list(gradients))


def test_without_seams_fit_follows_the_documented_order() -> None:
    X, Y = blobs()
    model = classifier()
    model.fit(X, Y, epochs=3, batch_size=16, seed=7, verbose=0)
    reference = classifier()
    hand_loop(reference, X, Y, 3, 16, 7, lambda rows: rows)
    for name, value in model.get_weights().items():  # fit fuses softmax and cross-entropy
        np.testing.assert_allclose(value, reference.get_weights()[name], rtol=0, atol=1e-12)


def test_batch_indices_chooses_the_rows_and_after_backward_sees_their_count() -> None:
    X, Y = blobs()
    shard = Shard(offset=1)
    model = classifier()
    model.fit(X, Y, epochs=2, batch_size=16, seed=3, verbose=0, callbacks=[shard])
    orders = [np.random.default_rng([3, e]).permutation(60) for e in range(2)]
    expected = [o[s : s + 16] for o in orders for s in range(0, 60, 16)]
    assert len(shard.indices) == len(expected) == 8
    for got, want in zip(shard.indices, expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert shard.sizes == [8, 8, 8, 6] * 2
    assert shard.keys[0] == list(model.parameters())
    reference = classifier()
    hand_loop(reference, X, Y, 2, 16, 3, lambda rows: rows[1::2])
    for name, value in model.get_weights().items():
        np.testing.assert_allclose(value, reference.get_weights()[name], rtol=0, atol=1e-12)


def test_after_backward_changes_the_gradients_the_optimizer_uses() -> None:
    class Freeze:
        @sn.hookimpl
        def scratchnet_after_backward(self, gradients: dict[str, np.ndarray]) -> None:
            for g in gradients.values():
                g[...] = 0.0

    X, Y = blobs()
    model = classifier()
    before = model.get_weights()
    model.fit(X, Y, epochs=2, verbose=0, callbacks=[Freeze()])
    for name, value in model.get_weights().items():
        np.testing.assert_array_equal(value, before[name])


def test_an_empty_shard_contributes_a_zero_gradient() -> None:
    class Nothing:
        def __init__(self) -> None:
            self.sizes: list[int] = []
            self.norms: list[float] = []

        @sn.hookimpl
        def scratchnet_batch_indices(self, indices: np.ndarray) -> np.ndarray:
            return indices[:0]

        @sn.hookimpl
        def scratchnet_after_backward(self, gradients: dict[str, np.ndarray], size: int) -> None:
            self.sizes.append(size)
            self.norms.append(sum(float(np.abs(g).sum()) for g in gradients.values()))

    X, Y = blobs()
    model = classifier()
    before = model.get_weights()
    plugin = Nothing()
    model.fit(X, Y, epochs=1, batch_size=20, verbose=0, callbacks=[plugin])
    assert plugin.sizes == [0, 0, 0] and plugin.norms == [0.0, 0.0, 0.0]
    for name, value in model.get_weights().items():
        np.testing.assert_array_equal(value, before[name])


class TwoProcesses:
    """Plays the all-reduce of two processes with frozen weights: this one trains on the even
    rows of each global batch; the totals the other would report for the odd rows are added
    at the epoch's end, as ``comm.allreduce(totals)`` would."""

    def __init__(self, X: np.ndarray, Y: np.ndarray) -> None:
        self.X, self.Y = X, Y
        self.odd_rows: list[np.ndarray] = []
        self.length = 0

    @sn.hookimpl
    def scratchnet_batch_indices(self, indices: np.ndarray) -> np.ndarray:
        self.odd_rows.append(indices[1::2])
        return indices[0::2]

    @sn.hookimpl
    def scratchnet_after_backward(self, gradients: dict[str, np.ndarray]) -> None:
        for g in gradients.values():  # frozen, so the other process's outputs are known
            g[...] = 0.0

    @sn.hookimpl
    def scratchnet_epoch_totals(self, model: sn.Model, totals: np.ndarray) -> np.ndarray:
        self.length = totals.size
        rows = np.concatenate(self.odd_rows)
        self.odd_rows.clear()
        out = model.predict(self.X[rows])
        parts = [np.array([model.cost_function.loss(out, self.Y[rows]) * len(rows), len(rows)])]
        for metric in model.metrics:
            other = type(metric)(**metric.get_config())
            other.bind("categorical", (3,))
            other.update(out, self.Y[rows])
            parts.append(other.state())
        return totals + np.concatenate(parts)


def test_epoch_totals_are_summed_into_exact_epoch_logs() -> None:
    X, Y = blobs()
    model = classifier(metrics=["accuracy", "f1"])
    plugin = TwoProcesses(X, Y)
    history = model.fit(X, Y, epochs=2, batch_size=16, verbose=0, callbacks=[plugin])
    assert plugin.length == 2 + 2 + 9  # loss and rows, accuracy (2), f1 over 3 classes (9)
    whole = model.evaluate(X, Y)  # one process that saw all 60 rows
    for key in ("loss", "accuracy", "f1"):
        assert history[key] == pytest.approx([whole[key]] * 2, rel=1e-12, abs=1e-12)
    assert model.metrics[0].state()[1] == 60  # evaluate counted every row too


def test_epoch_totals_without_metric_state_is_a_clear_error() -> None:
    class Stateless(sn.Metric):
        name = "stateless"

        def reset(self) -> None: ...

        def update(self, y_pred: np.ndarray, y_true: np.ndarray) -> None: ...

        def result(self) -> float:
            return 0.0

    class Sum:
        @sn.hookimpl
        def scratchnet_epoch_totals(self, totals: np.ndarray) -> np.ndarray:
            return totals

    X, Y = blobs()
    model = classifier(metrics=[Stateless()])
    assert model.fit(X, Y, verbose=0).history["stateless"] == [0.0]  # fine in one process
    with pytest.raises(sn.ConfigurationError, match="Stateless has no state"):
        model.fit(X, Y, verbose=0, callbacks=[Sum()])


def test_train_start_config_describes_the_global_run_and_its_seed_can_be_replaced() -> None:
    configs: list[dict[str, Any]] = []

    class RootSeed:
        @sn.hookimpl
        def scratchnet_train_start(self, config: dict[str, Any]) -> None:
            configs.append(dict(config))
            config["seed"] = 11

    X, Y = blobs()
    model = classifier()
    model.fit(
        X,
        Y,
        epochs=2,
        batch_size=16,
        seed=5,
        verbose=0,
        callbacks=[RootSeed()],
        validation_split=0.25,
    )
    config = configs[0]
    assert config["samples"] == 45 and config["batch_size"] == 16
    assert config["steps_per_epoch"] == 3 and config["seed"] == 5 and config["shuffle"] is True
    assert config["metrics"] == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert config["higher_is_better"] == {
        "loss": False,
        "accuracy": True,
        "val_loss": False,
        "val_accuracy": True,
    }
    reference = classifier()
    reference.fit(X, Y, epochs=2, batch_size=16, seed=11, verbose=0, validation_split=0.25)
    for name, value in model.get_weights().items():
        np.testing.assert_array_equal(value, reference.get_weights()[name])
