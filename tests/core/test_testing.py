"""The conformance kit itself: it catches wrong gradients and honours its tolerances."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnet_core as sn
from scratchnet_core import testing
from scratchnet_core.testing import (
    assert_gradients_close,
    check_activation,
    check_activation_gradient,
    check_cost,
    check_layer,
    check_layer_gradients,
    numerical_gradient,
)

from ..helpers import WrongSquare


class SlightlyOffSquare(sn.ActivationFunction):
    """``z * z`` whose gradient is 0.1 % too large: wrong for the default tolerance, fine
    for a plugin author who asks for ``rtol=1e-2``."""

    def forward(self, z):
        self.save_for_backward(z)
        return z * z

    def backward(self, grad):
        (z,) = self.saved
        return grad * 2 * z * 1.001


class SlightlyOffScale(sn.Layer):
    """``y = w * x`` whose ``dL/dx`` (only) is 0.1 % too large."""

    def __init__(self, *, dtype=None):
        super().__init__(dtype=dtype)
        self.add_parameter("weight", np.full((3,), 1.5))

    def forward(self, x, training=False):
        self.save_for_backward(x)
        return x * self._params["weight"]

    def backward(self, grad):
        (x,) = self.saved
        self._grads["weight"] = (grad * x).sum(axis=0)
        return grad * self._params["weight"] * 1.001


class SlightlyOffMSE(sn.CostFunction):
    def loss(self, y_pred, y_true):
        return float(np.mean((y_pred - y_true) ** 2))

    def gradient(self, y_pred, y_true):
        return 2 * (y_pred - y_true) / y_pred.size * 1.001


Z = np.linspace(-2, 2, 9).reshape(3, 3) + 0.05


def test_a_wrong_activation_gradient_is_caught() -> None:
    with pytest.raises(AssertionError, match=r"WrongSquare\.backward: analytic and numerical"):
        check_activation(WrongSquare())


def test_activation_gradient_honours_rtol_and_atol() -> None:
    with pytest.raises(AssertionError, match="relative error"):
        check_activation_gradient(SlightlyOffSquare(), Z)
    assert check_activation_gradient(SlightlyOffSquare(), Z, rtol=1e-2) < 1e-2
    assert check_activation_gradient(SlightlyOffSquare(), Z, rtol=0, atol=1.0) > 0
    check_activation(SlightlyOffSquare(), rtol=1e-2)
    with pytest.raises(AssertionError):
        check_activation(SlightlyOffSquare())


def test_layer_input_gradient_honours_rtol_and_atol() -> None:
    x = np.random.default_rng(0).normal(size=(4, 3))
    with pytest.raises(AssertionError, match=r"SlightlyOffScale dL/dx"):
        check_layer_gradients(SlightlyOffScale(), x)
    errors = check_layer_gradients(SlightlyOffScale(), x, rtol=1e-2)
    assert 1e-5 < errors["x"] < 1e-2 and errors["weight"] < 1e-6
    check_layer_gradients(SlightlyOffScale(), x, rtol=0.0, atol=1.0)


def test_cost_gradient_honours_rtol() -> None:
    p, y = np.array([[0.2, 0.9]]), np.array([[0.0, 1.0]])
    with pytest.raises(AssertionError, match=r"SlightlyOffMSE\.gradient"):
        check_cost(SlightlyOffMSE(), p, y)
    check_cost(SlightlyOffMSE(), p, y, rtol=1e-2)


def test_assert_gradients_close_reports_shape_and_numbers() -> None:
    with pytest.raises(AssertionError, match="gradient shape"):
        assert_gradients_close(np.zeros(2), np.zeros(3), "dL/dx")
    with pytest.raises(AssertionError, match=r"relative error 1\.000e\+00"):
        assert_gradients_close(np.array([1.0]), np.array([-1.0]), "dL/dx")


def test_numerical_gradient_needs_float64_and_restores_x() -> None:
    x = np.array([1.0, -2.0])
    grad = numerical_gradient(lambda: float(np.sum(x**3)), x)
    assert np.allclose(grad, 3 * x**2) and np.array_equal(x, [1.0, -2.0])
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda: 0.0, np.zeros(2, dtype=np.float32))


def test_check_layer_catches_a_wrong_output_shape_claim() -> None:
    class Liar(SlightlyOffScale):
        def backward(self, grad):
            (x,) = self.saved
            self._grads["weight"] = (grad * x).sum(axis=0)
            return grad * self._params["weight"]

        def output_shape(self, input_shape):
            return (4,)

    with pytest.raises(AssertionError, match="output_shape says"):
        check_layer(lambda dtype: Liar(dtype=dtype), (3,))


def test_run_checks_counts_a_name_no_component_has_as_failed() -> None:
    results = testing.run_checks(["relu", "nope"])
    assert [(r.name, r.status) for r in results] == [("relu", "ok"), ("nope", "failed")]


class StaleSquare(sn.ActivationFunction):
    """Keeps its input as a plain attribute: a second backward silently reuses it."""

    def forward(self, z):
        self.z = z
        return z * z

    def backward(self, grad):
        return 2 * self.z * grad


class StaleScale(sn.Layer):
    def __init__(self, *, dtype=None):
        super().__init__(dtype=dtype)
        self.add_parameter("weight", np.full((3,), 1.5))

    def forward(self, x, training=False):
        self.x = x
        return x * self._params["weight"]

    def backward(self, grad):
        self._grads["weight"] = (grad * self.x).sum(axis=0)
        return grad * self._params["weight"]


def test_the_kit_refuses_components_that_reuse_stale_state() -> None:
    check_activation_gradient(StaleSquare(), Z)  # its gradient is right ...
    with pytest.raises(AssertionError, match="StaleSquare: a second backward without a forward"):
        check_activation(StaleSquare())  # ... but it does not release what it kept
    with pytest.raises(AssertionError, match="StaleScale: a second backward"):
        check_layer(lambda dtype: StaleScale(dtype=dtype), (3,))


def test_save_for_backward_releases_after_backward_and_forward_renews() -> None:
    act = SlightlyOffSquare()
    with pytest.raises(sn.BackwardError):
        _ = act.saved  # nothing saved yet
    act.forward(np.array([1.0]))
    act.backward(np.array([1.0]))
    with pytest.raises(sn.BackwardError, match="backward needs a forward first"):
        act.backward(np.array([1.0]))
    act.forward(np.array([2.0]))
    assert act.backward(np.array([1.0]))[0] == pytest.approx(4.004)


def test_older_components_that_never_save_keep_working_outside_the_kit() -> None:
    act = StaleSquare()
    for value in (1.0, 2.0):
        act.forward(np.array([value]))
        assert act.backward(np.array([1.0]))[0] == 2 * value


def test_the_fused_path_releases_the_layer_and_its_activation() -> None:
    layer = sn.get_layers()["linear"](3, 2, "softmax", dtype="float64")
    x = np.ones((4, 3))
    layer.forward(x, training=True)
    layer.backward_preactivation(np.ones((4, 2)))
    assert layer.preactivation is None
    with pytest.raises(sn.BackwardError):
        layer.backward(np.ones((4, 2)))
    with pytest.raises(sn.BackwardError):
        layer.activation.backward(np.ones((4, 2)))


@pytest.mark.parametrize(
    ("kind", "name"),
    [(kind, name) for kind in ("activations", "layers") for name in sorted(sn.get_registry(kind))],
)
def test_every_installed_activation_and_layer_refuses_a_second_backward(kind, name) -> None:
    """The issue's list (leaky_relu, sigmoid, tanh, extras activations, pooling, flatten,
    dropout, batch norm, ...) and everything else installed."""
    cls = sn.get_registry(kind)[name]
    if kind == "activations":
        testing.check_backward_releases(cls(), np.random.default_rng(0).normal(size=(4, 5)))
        return
    example = cls.conformance
    if not example:
        pytest.skip(f"{name} has no conformance example")
    layer = cls(*example.get("args", []), **example.get("kwargs", {}), dtype="float64")
    x = np.random.default_rng(0).normal(size=(3, *example["input_shape"]))
    testing.check_backward_releases(layer, x)


class _MeanOfBatchMeans(sn.Metric):
    """Wrong on purpose: the mean of per-batch MAEs, not the MAE over the epoch."""

    def reset(self) -> None:
        self.means: list[float] = []

    def update(self, y_pred, y_true) -> None:
        self.means.append(float(np.abs(y_pred - y_true).mean()))

    def result(self) -> float:
        return float(np.mean(self.means))


class _NeverForgets(sn.Metric):
    """Wrong on purpose: reset() keeps the totals."""

    def __init__(self) -> None:
        self.totals = np.zeros(2)

    def bind(self, task: str, output_shape: tuple[int, ...] | None) -> None:
        if task != "regression":
            raise sn.ConfigurationError("regression only")

    def reset(self) -> None:
        pass

    def update(self, y_pred, y_true) -> None:
        self.totals += (np.abs(y_pred - y_true).sum(), y_pred.size)

    def result(self) -> float:
        return float(self.totals[0] / self.totals[1])


def test_check_metric_passes_every_installed_metric() -> None:
    for name, metric in sn.get_metrics().items():
        testing.check_metric(metric)
        assert name


def test_check_metric_catches_a_mean_of_batch_values() -> None:
    with pytest.raises(AssertionError, match="per-batch means"):
        testing.check_metric(_MeanOfBatchMeans)


def test_check_metric_catches_a_reset_that_forgets_nothing() -> None:
    with pytest.raises(AssertionError, match="did not forget"):
        testing.check_metric(_NeverForgets)
