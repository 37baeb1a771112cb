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
        self.z = z
        return z * z

    def backward(self, grad):
        return grad * 2 * self.z * 1.001


class SlightlyOffScale(sn.Layer):
    """``y = w * x`` whose ``dL/dx`` (only) is 0.1 % too large."""

    def __init__(self, *, dtype=None):
        super().__init__(dtype=dtype)
        self.add_parameter("weight", np.full((3,), 1.5))

    def forward(self, x, training=False):
        self.x = x
        return x * self._params["weight"]

    def backward(self, grad):
        self._grads["weight"] = (grad * self.x).sum(axis=0)
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
            self._grads["weight"] = (grad * self.x).sum(axis=0)
            return grad * self._params["weight"]

        def output_shape(self, input_shape):
            return (4,)

    with pytest.raises(AssertionError, match="output_shape says"):
        check_layer(lambda dtype: Liar(dtype=dtype), (3,))


def test_run_checks_counts_a_name_no_component_has_as_failed() -> None:
    results = testing.run_checks(["relu", "nope"])
    assert [(r.name, r.status) for r in results] == [("relu", "ok"), ("nope", "failed")]
