"""Standard activations: conformance, gradient checks in float64, stability at extremes."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnet_core as sn
from scratchnet_core.testing import check_activation, check_activation_gradient

from ..helpers import WrongSquare

NAMES = ["identity", "relu", "leaky_relu", "sigmoid", "tanh", "softmax"]


@pytest.mark.parametrize("name", NAMES)
def test_conformance(name: str) -> None:
    check_activation(sn.get_activation_functions()[name]())


def test_leaky_relu_slope_and_config() -> None:
    act = sn.get_activation_functions()["leaky_relu"](negative_slope=0.2)
    np.testing.assert_allclose(act.forward(np.array([-1.0, 2.0])), [-0.2, 2.0])
    check_activation(act)
    with pytest.raises(sn.ConfigurationError, match="negative_slope"):
        sn.get_activation_functions()["leaky_relu"](negative_slope="x")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_extreme_finite_inputs_raise_no_warning(name: str, dtype: type) -> None:
    # pytest runs with warnings as errors: an overflow RuntimeWarning would fail here
    z = np.array([[-1000.0, -50.0, 0.0, 50.0, 1000.0]], dtype=dtype)
    act = sn.get_activation_functions()[name]()
    out = act.forward(z)
    assert np.all(np.isfinite(out)) and out.dtype == dtype
    assert np.all(np.isfinite(act.backward(np.ones_like(z))))


def test_sigmoid_values_at_extremes() -> None:
    s = sn.get_activation_functions()["sigmoid"]()
    np.testing.assert_array_equal(s.forward(np.array([-1000.0, 1000.0])), [0.0, 1.0])
    np.testing.assert_allclose(s.forward(np.array([-30.0])), [1 / (1 + np.exp(30.0))], rtol=1e-12)


def test_softmax_backward_is_the_full_vector_jacobian_product() -> None:
    rng = np.random.default_rng(0)
    z = rng.standard_normal((3, 4))
    g = rng.standard_normal((3, 4))
    act = sn.get_activation_functions()["softmax"]()
    p = act.forward(z)
    expected = np.stack(
        [g[i] @ (np.diag(p[i]) - np.outer(p[i], p[i])) for i in range(3)]
    )  # the explicit Jacobian, row by row
    np.testing.assert_allclose(act.backward(g), expected, rtol=1e-12)
    assert not np.allclose(expected, g * p * (1 - p))  # the diagonal alone is different


def test_softmax_rows_sum_to_one_on_other_axis() -> None:
    act = sn.get_activation_functions()["softmax"](axis=0)
    z = np.random.default_rng(1).standard_normal((5, 2))
    np.testing.assert_allclose(act.forward(z).sum(axis=0), [1.0, 1.0])
    check_activation_gradient(act, z)


def test_preferred_initializers() -> None:
    acts = sn.get_activation_functions()
    assert acts["relu"].initializer == "he_normal"
    assert acts["leaky_relu"].initializer == "he_normal"
    for name in ("sigmoid", "tanh", "softmax"):
        assert acts[name].initializer == "glorot_uniform"


def test_checker_catches_a_wrong_gradient() -> None:
    with pytest.raises(AssertionError, match="relative error"):
        check_activation(WrongSquare())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_leaky_relu_is_the_two_branch_definition_bit_for_bit(dtype) -> None:
    z = np.array([-np.inf, -3.5, -1e-30, -0.0, 0.0, 1e-30, 2.25, np.inf, np.nan], dtype=dtype)
    g = np.array([1.0, np.inf, -2.0, 3.0, 4.0, -np.inf, 5.0, 6.0, 7.0], dtype=dtype)
    layer = sn.get_activation_functions()["leaky_relu"](0.1)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(layer.forward(z), np.where(z > 0, z, z * 0.1))
        np.testing.assert_array_equal(layer.backward(g), np.where(z > 0, g, g * 0.1))
    assert layer.forward(z).dtype == np.dtype(dtype)
