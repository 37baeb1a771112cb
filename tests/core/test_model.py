"""Model: fit/predict/evaluate, batching, determinism, hooks, dtypes and bad input."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnet_core as sn
from scratchnet_core.feeding import ArrayFeed
from scratchnet_core.layers import flatten, linear
from scratchnet_core.optimizers import sgd
from scratchnet_core.testing import assert_gradients_close, numerical_gradient


def blobs(n: int = 60, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    centers = rng.standard_normal((classes, 4)) * 3
    return centers[y] + rng.standard_normal((n, 4)), y


def classifier(**kwargs) -> sn.Model:
    return sn.Model(
        [linear(4, 8, "relu"), linear(8, 3, "softmax")],
        "categorical_cross_entropy",
        sgd(0.1),
        **kwargs,
    )


class Recorder:
    """A callback: a plain object with hook implementations."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    @sn.hookimpl
    def scratchnet_train_start(self, config):
        self.events.append(("train_start", config["steps_per_epoch"]))

    @sn.hookimpl
    def scratchnet_batch_end(self, epoch, batch, logs):
        self.events.append(("batch", epoch, batch, logs["size"]))

    @sn.hookimpl
    def scratchnet_epoch_end(self, epoch, logs):
        self.events.append(("epoch", epoch, sorted(logs)))

    @sn.hookimpl
    def scratchnet_train_end(self, history):
        self.events.append(("train_end", len(history.epoch)))


def test_fit_learns_and_returns_history() -> None:
    X, Y = blobs()
    hist = classifier().fit(X, Y, epochs=30, batch_size=16, verbose=0)
    assert len(hist["loss"]) == 30 and len(hist["accuracy"]) == 30 and hist.epoch == list(range(30))
    assert hist["loss"][-1] < hist["loss"][0] / 3
    assert hist["accuracy"][-1] > 0.9


def test_batches_include_the_last_partial_batch_and_hooks_fire_in_order() -> None:
    X, Y = blobs(10)
    rec = Recorder()
    classifier().fit(X, Y, epochs=2, batch_size=4, callbacks=[rec], verbose=0)
    assert rec.events[0] == ("train_start", 3)
    sizes = [e[3] for e in rec.events if e[0] == "batch"]
    assert sizes == [4, 4, 2, 4, 4, 2]
    assert ("epoch", 1, ["accuracy", "loss"]) in rec.events
    assert rec.events[-1] == ("train_end", 2)


def test_epoch_end_can_stop_training() -> None:
    class StopAtTwo:
        @sn.hookimpl
        def scratchnet_epoch_end(self, epoch):
            return epoch == 1

    X, Y = blobs()
    hist = classifier().fit(X, Y, epochs=10, callbacks=[StopAtTwo()], verbose=0)
    assert hist.epoch == [0, 1]


def test_a_callback_with_an_unknown_hook_is_refused() -> None:
    class Typo:
        @sn.hookimpl
        def scratchnet_epoch_ends(self, epoch):
            return None

    X, Y = blobs()
    with pytest.raises(sn.ConfigurationError, match="scratchnet_epoch_ends"):
        classifier().fit(X, Y, callbacks=[Typo()], verbose=0)


def test_same_seed_same_run_and_shuffling_depends_on_it() -> None:
    X, Y = blobs()

    def run(seed: int) -> np.ndarray:
        sn.seed(0)  # same initial weights
        m = classifier()
        m.fit(X, Y, epochs=3, batch_size=8, seed=seed, verbose=0)
        return m.layers[0].parameters()["weight"].copy()

    assert np.array_equal(run(1), run(1))
    assert not np.array_equal(run(1), run(2))


def test_integer_labels_and_one_hot_train_identically() -> None:
    X, Y = blobs()
    runs = []
    for labels in (Y, np.eye(3)[Y]):
        sn.seed(0)
        m = classifier(dtype="float64")
        m.fit(X, labels, epochs=2, batch_size=8, seed=0, verbose=0)
        runs.append(m.layers[1].parameters()["weight"].copy())
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-12)


def test_one_output_model_accepts_flat_targets() -> None:
    X, Y = blobs(classes=2)
    m = sn.Model([linear(4, 1, "sigmoid")], "binary_cross_entropy", sgd(0.5))
    hist = m.fit(X, Y, epochs=20, verbose=0)
    assert hist["accuracy"][-1] > 0.9
    assert m.predict(X).shape == (60, 1)


def test_predict_and_evaluate() -> None:
    X, Y = blobs()
    m = classifier(batch_size=7)
    m.fit(X, Y, epochs=20, verbose=0)
    p = m.predict(X)
    assert p.shape == (60, 3) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5)
    result = m.evaluate(X, Y)
    assert set(result) == {"loss", "accuracy"}
    expected_loss = -np.mean(np.log(p[np.arange(60), Y]))
    assert result["loss"] == pytest.approx(expected_loss, rel=1e-4)
    assert result["accuracy"] == pytest.approx(np.mean(p.argmax(1) == Y))


def test_regression_metrics_have_no_accuracy() -> None:
    X = np.random.default_rng(0).standard_normal((20, 4))
    m = sn.Model([linear(4, 2)], "mse", sgd(0.05))
    hist = m.fit(X, X[:, :2] * 2, epochs=5, verbose=0)
    assert set(hist.history) == {"loss"}
    assert set(m.evaluate(X, X[:, :2])) == {"loss"}


def test_validation_data_and_split() -> None:
    X, Y = blobs(80)
    hist = classifier().fit(X, Y, epochs=2, validation_data=(X[:10], Y[:10]), verbose=0)
    assert set(hist.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    rec = Recorder()
    classifier().fit(
        X, Y, epochs=1, batch_size=80, validation_split=0.25, callbacks=[rec], verbose=0
    )
    assert [e[3] for e in rec.events if e[0] == "batch"] == [60]


def test_float64_model_keeps_one_dtype() -> None:
    X, Y = blobs()
    m = classifier(dtype="float64")
    assert all(p.dtype == np.float64 for p in m.parameters().values())
    m.fit(X, Y, epochs=1, verbose=0)
    assert m.predict(X).dtype == np.float64
    assert all(p.dtype == np.float64 for p in m.parameters().values())


def test_layer_dtypes_must_agree_unless_chosen() -> None:
    layers = [linear(4, 8, "relu", dtype="float64"), linear(8, 3, "softmax")]
    with pytest.raises(sn.ConfigurationError, match="different dtypes"):
        sn.Model(layers, "categorical_cross_entropy")
    m = sn.Model(layers, "categorical_cross_entropy", dtype="float32")
    assert {p.dtype for p in m.parameters().values()} == {np.dtype(np.float32)}


@pytest.mark.parametrize("cost", ["categorical_cross_entropy", "mse"])
def test_model_gradient_matches_finite_differences(cost: str) -> None:
    """Back-propagation through the whole model, fused softmax path included."""
    X, Y = blobs(6)
    m = sn.Model(
        [linear(4, 5, "tanh"), linear(5, 4, "sigmoid"), flatten(), linear(4, 3, "softmax")],
        cost,
        sgd(0.1),
        dtype="float64",
    )
    feed = ArrayFeed(m, X, Y if cost != "mse" else np.eye(3)[Y])
    x, y = feed.read(np.arange(feed.samples))
    m._fused_now = m._fused
    assert m._fused_now == (cost == "categorical_cross_entropy")
    out = m.forward(x, training=True)
    _loss, grad, fused = m._loss_and_gradient(out, y)
    grad_x = m.backward(grad, preactivation=fused)
    analytic = {k: v.copy() for k, v in m.gradients().items()}

    def f() -> float:
        return m.evaluate(x, y)["loss"]

    for name, value in m.parameters().items():
        assert_gradients_close(analytic[name], numerical_gradient(f, value), name)
    assert_gradients_close(grad_x, numerical_gradient(f, x), "dL/dx")


def test_verbose_levels(capfd: pytest.CaptureFixture[str]) -> None:
    X, Y = blobs()
    classifier().fit(X, Y, epochs=2, verbose=0)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    classifier().fit(X, Y, epochs=2, verbose=1)
    out, err = capfd.readouterr()
    assert "epoch 2/2" in err and "loss=" in err
    classifier().fit(X, Y, epochs=1, batch_size=30, verbose=2)
    out, err = capfd.readouterr()
    assert "epoch 1 batch 2: loss" in err


def test_train_uses_the_constructor_data() -> None:
    X, Y = blobs()
    m = classifier(X=X, Y=Y, epochs=3, batch_size=20)
    hist = m.train()
    assert len(hist["loss"]) == 3
    with pytest.raises(sn.ConfigurationError, match="X and Y given to the constructor"):
        classifier().train()


def test_divergence_stops_with_the_last_finite_weights() -> None:
    X = np.random.default_rng(0).standard_normal((32, 4)) * 1e3
    m = sn.Model([linear(4, 16, "relu"), linear(16, 1)], "mse", sgd(1e3))
    with pytest.raises(sn.TrainingDivergedError, match=r"epoch \d+, batch \d+") as info:
        m.fit(X, X[:, :1] * 1e3, epochs=50, batch_size=8, verbose=0)
    assert isinstance(info.value, FloatingPointError)
    assert all(np.isfinite(p).all() for p in m.parameters().values())


def test_an_overflowing_update_restores_the_epoch_start_counted_from_one() -> None:
    X = np.random.default_rng(0).standard_normal((16, 4))
    m = sn.Model([linear(4, 1)], "mse", sgd(1e38), dtype="float32")
    start = m.get_weights()
    with pytest.raises(sn.TrainingDivergedError) as info:
        m.fit(X, np.full((16, 1), 100.0), epochs=1, batch_size=4, shuffle=False, verbose=0)
    assert "restored to the start of epoch 1" in str(info.value)
    assert info.value.epoch == 0  # the attribute stays 0-based for programs
    for name, value in m.get_weights().items():
        np.testing.assert_array_equal(value, start[name])


# ------------------------------------------------------------------------------- bad input


def test_wrong_feature_count_names_layer_index_and_shapes() -> None:
    X, Y = blobs()
    m = sn.Model([linear(4, 8, "relu"), linear(9, 3, "softmax")], "categorical_cross_entropy")
    with pytest.raises(sn.ShapeError) as info:
        m.fit(X, Y, verbose=0)
    assert info.value.index == 1
    assert "layer 1 (Linear(9, 3, Softmax))" in str(info.value)
    assert "expected input (N, 9), got shape (N, 8)" in str(info.value)
    with pytest.raises(
        sn.ShapeError, match=r"layer 0 .*expected input \(N, 4\), got shape \(2, 5\)"
    ):
        classifier().forward(np.zeros((2, 5), dtype=np.float32))


@pytest.mark.parametrize(
    ("X", "Y", "error", "match"),
    [
        (np.zeros((5, 4)), np.zeros(6, int), sn.DataError, "X has 5, Y has 6"),
        (np.zeros((0, 4)), np.zeros(0, int), sn.DataError, "X is empty"),
        (np.array([[np.nan, 0, 0, 0]]), np.zeros(1, int), sn.DataError, "NaN or inf"),
        (np.zeros((2, 4)), np.array([0.0, np.inf]), sn.DataError, "Y holds 1 NaN or inf"),
        (np.zeros((2, 4)), np.array([0, 3]), sn.DataError, r"class indices must lie in \[0, 2\]"),
        (np.zeros((2, 4)), np.array([0.5, 1]), sn.DataError, "whole numbers"),
        (np.zeros((2, 4)), np.zeros((2, 2)), sn.ShapeError, r"targets of shape \(N, 3\)"),
        (np.array([["a", "b", "c", "d"]]), np.zeros(1, int), sn.DataError, "numeric"),
    ],
)
def test_bad_data(X, Y, error, match) -> None:
    with pytest.raises(error, match=match):
        classifier().fit(X, Y, verbose=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_size": 0}, "batch_size must be >= 1, got 0"),
        ({"batch_size": 2.5}, "batch_size must be a positive integer"),
        ({"epochs": 0}, "epochs must be >= 1"),
        ({"verbose": 3}, "verbose must be 0, 1 or 2"),
        ({"validation_split": 1.5}, r"validation_split must be in \[0, 1\)"),
        ({"validation_data": (1, 2, 3)}, "validation_data must be a pair"),
    ],
)
def test_bad_fit_arguments(kwargs, match) -> None:
    X, Y = blobs()
    with pytest.raises(sn.ConfigurationError, match=match):
        classifier().fit(X, Y, **{"verbose": 0, **kwargs})


def test_bad_constructor_arguments() -> None:
    with pytest.raises(sn.PluginNotFoundError, match="did you mean 'binary_cross_entropy'"):
        sn.Model([linear(2, 1)], "binary_crossentropy")
    with pytest.raises(sn.PluginNotFoundError, match="optimizer named 'sdg'"):
        sn.Model([linear(2, 1)], "mse", "sdg")
    with pytest.raises(sn.ConfigurationError, match=r"layers\[1\] must be a scratchnet_core.Layer"):
        sn.Model([linear(2, 1), "relu"], "mse")
    with pytest.raises(sn.ConfigurationError, match="at least one layer"):
        sn.Model([], "mse")
    with pytest.raises(sn.ConfigurationError, match="batch_size must be >= 1"):
        sn.Model([linear(2, 1)], "mse", batch_size=0)
    with pytest.raises(sn.ConfigurationError, match="cost_function: expected"):
        sn.Model([linear(2, 1)], 42)


def test_errors_refine_builtins() -> None:
    assert issubclass(sn.PluginNotFoundError, KeyError)
    assert issubclass(sn.ShapeError, ValueError)
    assert issubclass(sn.DataError, ValueError)
    assert issubclass(sn.PluginLoadError, ImportError)
    for cls in (sn.PluginNotFoundError, sn.ShapeError, sn.DataError, sn.ConfigurationError):
        assert issubclass(cls, sn.ScratchnetError)
