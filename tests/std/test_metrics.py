"""Standard metrics: exact epoch values (checked against scikit-learn), merging of states,
fit with the cost, and their place in History, validation logs, CSV and callbacks."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import scratchnet_core as sn
from scratchnet_core.layers import flatten, linear
from scratchnet_std.callbacks import CSVLogger, EarlyStopping, ModelCheckpoint

METRICS = sn.get_metrics()


@pytest.fixture(scope="module")
def digits_model() -> tuple[sn.Model, np.ndarray, np.ndarray]:
    """A quickly (and deliberately not perfectly) trained digits classifier."""
    pytest.importorskip("sklearn")
    X, Y = sn.get_datasets()["digits"]()
    sn.seed(0)
    model = sn.Model(
        [flatten(), linear(64, 10, "softmax")],
        "categorical_cross_entropy",
        sn.get_optimizers()["sgd"](0.05),
        metrics=[
            "accuracy",
            "f1",
            "precision",
            "recall",
            {"name": "top_k_accuracy", "config": {"k": 3}},
        ],
    )
    model.fit(X, Y, epochs=1, batch_size=64, verbose=0, seed=0)
    return model, X, Y


def test_classification_metrics_equal_scikit_learn_on_digits(digits_model: Any) -> None:
    from sklearn.metrics import (
        accuracy_score,
        f1_score,
        precision_score,
        recall_score,
        top_k_accuracy_score,
    )

    model, X, Y = digits_model
    scores = model.predict(X)
    predicted = scores.argmax(axis=1)
    assert 0.3 < accuracy_score(Y, predicted) < 0.99  # imperfect, so the averages matter
    result = model.evaluate(X, Y, batch_size=100)  # 18 batches, the last one short
    expected = {
        "accuracy": accuracy_score(Y, predicted),
        "f1": f1_score(Y, predicted, average="macro", zero_division=0),
        "precision": precision_score(Y, predicted, average="macro", zero_division=0),
        "recall": recall_score(Y, predicted, average="macro", zero_division=0),
        "top_k_accuracy": top_k_accuracy_score(Y, scores, k=3, labels=np.arange(10)),
    }
    for name, value in expected.items():
        assert result[name] == pytest.approx(value, abs=1e-9), name
    # exact over the data: the batch size changes nothing (a mean of per-batch F1s would)
    whole = model.evaluate(X, Y, batch_size=len(X))
    for name in expected:
        assert result[name] == pytest.approx(whole[name], abs=1e-12)


def test_macro_averages_skip_classes_never_seen_like_scikit_learn() -> None:
    from sklearn.metrics import f1_score, precision_score, recall_score

    pytest.importorskip("sklearn")
    y_true = np.array([0, 0, 1, 1, 1, 3])
    y_pred = np.array([0, 1, 1, 1, 0, 1])  # class 2 appears nowhere, class 3 never predicted
    for name, reference in (
        ("f1", f1_score),
        ("precision", precision_score),
        ("recall", recall_score),
    ):
        metric = METRICS[name]()
        metric.bind("categorical", (4,))
        for part in (slice(0, 4), slice(4, 6)):
            metric.update(np.eye(4)[y_pred[part]], y_true[part])
        expected = reference(y_true, y_pred, average="macro", zero_division=0)
        assert metric.result() == pytest.approx(expected, abs=1e-12), name


def test_binary_definitions_for_one_sigmoid_output() -> None:
    from sklearn.metrics import f1_score, precision_score, recall_score

    pytest.importorskip("sklearn")
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, 200)
    y_prob = np.clip(y_true * 0.4 + rng.uniform(0, 0.6, 200), 0, 1)
    predicted = (y_prob > 0.5).astype(int)
    for name, reference in (
        ("f1", f1_score),
        ("precision", precision_score),
        ("recall", recall_score),
    ):
        metric = METRICS[name]()
        metric.bind("binary", (1,))
        for part in np.array_split(np.arange(200), 7):
            metric.update(y_prob[part, None], y_true[part, None].astype(float))
        assert metric.result() == pytest.approx(reference(y_true, predicted), abs=1e-12), name


def test_regression_metrics_equal_scikit_learn_on_digits() -> None:
    pytest.importorskip("sklearn")
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    X, Y = sn.get_datasets()["digits"]()
    sn.seed(1)
    model = sn.Model(
        [flatten(), linear(64, 16, "relu"), linear(16, 1)],
        "mse",
        "adam",
        metrics=["r2", "mae", "rmse"],
        dtype="float64",
    )
    history = model.fit(X, Y.astype(float), epochs=3, batch_size=64, verbose=0, seed=0)
    assert sorted(history.history) == ["loss", "mae", "r2", "rmse"]
    predicted = model.predict(X)[:, 0]
    result = model.evaluate(X, Y, batch_size=128)
    assert result["r2"] == pytest.approx(r2_score(Y, predicted), abs=1e-9)
    assert result["mae"] == pytest.approx(mean_absolute_error(Y, predicted), abs=1e-9)
    assert result["rmse"] == pytest.approx(np.sqrt(mean_squared_error(Y, predicted)), abs=1e-9)
    assert result["loss"] == pytest.approx(mean_squared_error(Y, predicted), abs=1e-9)


def test_multi_output_r2_averages_outputs_and_handles_constant_targets() -> None:
    from sklearn.metrics import r2_score

    pytest.importorskip("sklearn")
    rng = np.random.default_rng(0)
    y_true = np.c_[rng.normal(size=50), np.full(50, 2.0), rng.normal(size=50) * 5 + 100]
    y_pred = y_true + rng.normal(scale=0.3, size=y_true.shape)
    y_pred[:, 1] = 2.0  # a constant column predicted exactly scores 1
    metric = METRICS["r2"]()
    metric.bind("regression", (3,))
    for part in np.array_split(np.arange(50), 3):
        metric.update(y_pred[part], y_true[part])
    assert metric.result() == pytest.approx(r2_score(y_true, y_pred), abs=1e-9)


@pytest.mark.parametrize(
    "name", ["accuracy", "top_k_accuracy", "precision", "recall", "f1", "mae", "rmse"]
)
def test_states_of_two_halves_add_up_to_the_whole(name: str) -> None:
    rng = np.random.default_rng(1)
    scores = rng.random((40, 4))
    labels = rng.integers(0, 4, 40)
    options = {"k": 2} if name == "top_k_accuracy" else {}
    whole, first, second = (METRICS[name](**options) for _ in range(3))
    for metric in (whole, first, second):
        metric.bind("categorical", (4,))
    whole.update(scores, labels)
    first.update(scores[:15], labels[:15])
    second.update(scores[15:], labels[15:])
    first.load_state(first.state() + second.state())
    assert first.result() == pytest.approx(whole.result(), abs=1e-12)
    with pytest.raises(sn.DataError, match="expected"):
        first.load_state(np.zeros(first.state().size + 1))


def test_a_metric_that_does_not_fit_the_cost_is_refused() -> None:
    with pytest.raises(sn.ConfigurationError, match="f1 needs a binary or categorical output"):
        sn.Model([linear(2, 1)], "mse", metrics=["f1"])
    with pytest.raises(sn.ConfigurationError, match="top_k_accuracy needs a categorical"):
        sn.Model([linear(2, 1, "sigmoid")], "bce", metrics=["top_k_accuracy"])
    with pytest.raises(sn.ConfigurationError, match="accuracy needs a binary or categorical"):
        sn.Model([linear(2, 1)], "mse", metrics=["accuracy"])
    multi_label = sn.Model([linear(2, 3, "sigmoid")], "bce", metrics=["precision"])
    with pytest.raises(sn.ConfigurationError, match="3 sigmoid outputs"):  # at fit start
        multi_label.fit(np.zeros((4, 2)), np.zeros((4, 3)), verbose=0)
    k5 = sn.Model([linear(2, 3, "softmax")], "cross_entropy", metrics=["top_k_accuracy"])
    with pytest.raises(sn.ConfigurationError, match="k=5 exceeds the 3 classes"):
        k5.evaluate(np.zeros((4, 2)), np.zeros(4, dtype=int))


def test_unknown_and_duplicate_metrics() -> None:
    with pytest.raises(sn.PluginNotFoundError, match="did you mean 'f1'"):
        sn.Model([linear(2, 1, "sigmoid")], "bce", metrics=["f11"])
    with pytest.raises(sn.ConfigurationError, match="'accuracy' appears twice"):
        sn.Model([linear(2, 1, "sigmoid")], "bce", metrics=["accuracy", "acc"])
    with pytest.raises(sn.ConfigurationError, match="must be a list"):
        sn.Model([linear(2, 1, "sigmoid")], "bce", metrics="accuracy")


def test_default_metrics_are_accuracy_for_classification_and_none_for_regression() -> None:
    assert [type(m).__name__ for m in sn.Model([linear(2, 1, "sigmoid")], "bce").metrics] == [
        "Accuracy"
    ]
    assert sn.Model([linear(2, 1)], "mse").metrics == []


def blobs(n: int = 90, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    return rng.standard_normal((3, 4))[y] * 2 + rng.standard_normal((n, 4)), y


def test_metrics_reach_history_validation_csv_and_callbacks(tmp_path: Path) -> None:
    X, Y = blobs()
    sn.seed(0)
    model = sn.Model(
        [linear(4, 8, "relu"), linear(8, 3, "softmax")],
        "categorical_cross_entropy",
        "adam",
        metrics=["f1", "mae"],
    )
    stop = EarlyStopping(monitor="val_f1", patience=2, restore_best_weights=True)
    checkpoint = ModelCheckpoint(tmp_path / "best.npz", monitor="val_mae", save_best_only=True)
    log = tmp_path / "log.csv"
    history = model.fit(
        X,
        Y,
        epochs=6,
        validation_split=0.3,
        verbose=0,
        callbacks=[stop, checkpoint, CSVLogger(log)],
    )
    assert list(history.history) == ["loss", "f1", "mae", "val_loss", "val_f1", "val_mae"]
    assert stop._tracker.mode == "max" and checkpoint._tracker.mode == "min"
    rows = list(csv.reader(log.read_text().splitlines()))
    assert rows[0] == ["epoch", "loss", "f1", "mae", "val_loss", "val_f1", "val_mae"]
    assert float(rows[1][2]) == history["f1"][0]
    assert checkpoint.saved  # improved at least once


def test_metric_instances_with_their_own_names() -> None:
    a, b = METRICS["top_k_accuracy"](k=1), METRICS["top_k_accuracy"](k=2)
    a.name, b.name = "top1", "top2"
    model = sn.Model([linear(4, 3, "softmax")], "cross_entropy", metrics=[a, b])
    X, Y = blobs(30)
    result = model.evaluate(X, Y)
    assert set(result) == {"loss", "top1", "top2"} and result["top1"] <= result["top2"]


def test_progress_bar_shows_the_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    X, Y = blobs(30)
    model = sn.Model([linear(4, 3, "softmax")], "cross_entropy", metrics=["f1"])
    model.fit(X, Y, epochs=1, verbose=1)
    assert "f1=" in capsys.readouterr().err


def test_without_an_accuracy_plugin_the_default_is_the_loss_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from scratchnet_core import registry

    monkeypatch.setenv("SCRATCHNET_DISABLE_PLUGINS", "metrics:accuracy, metrics:acc")
    registry.refresh()
    try:
        model = sn.Model([linear(2, 1, "sigmoid")], "bce")
        assert model.metrics == []
        history = model.fit(np.zeros((4, 2)), np.zeros(4), epochs=1, verbose=0)
        assert list(history.history) == ["loss"]
    finally:
        monkeypatch.delenv("SCRATCHNET_DISABLE_PLUGINS")
        registry.refresh()
