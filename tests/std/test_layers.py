"""Standard dense-path layers: conformance, initialisation, shape errors."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnet_core as sn
from scratchnet_core.layers import flatten, linear
from scratchnet_core.testing import check_layer


@pytest.mark.parametrize("activation", [None, "relu", "sigmoid", "tanh", "softmax", "leaky_relu"])
def test_linear_conformance(activation: str | None) -> None:
    check_layer(lambda dtype: linear(5, 4, activation, dtype=dtype), (5,), bad_input_shape=(6,))


def test_linear_without_bias() -> None:
    layer = linear(3, 2, bias=False)
    assert set(layer.parameters()) == {"weight"}
    check_layer(lambda dtype: linear(3, 2, "tanh", bias=False, dtype=dtype), (3,))


def test_flatten_conformance() -> None:
    check_layer(lambda dtype: flatten(dtype=dtype), (2, 3, 4), bad_input_shape=())


def test_linear_layout_matches_pytorch_convention() -> None:
    layer = linear(3, 2, dtype="float64")
    x = np.random.default_rng(0).standard_normal((4, 3))
    W, b = layer.parameters()["weight"], layer.parameters()["bias"]
    assert W.shape == (3, 2) and b.shape == (2,)
    np.testing.assert_allclose(layer.forward(x), x @ W + b)


@pytest.mark.parametrize(
    ("activation", "std"),
    [("relu", np.sqrt(2 / 400)), ("sigmoid", np.sqrt(2 / 700)), ("softmax", np.sqrt(2 / 700))],
)
def test_initialisation_follows_the_activation(activation: str, std: float) -> None:
    w = linear(400, 300, activation).parameters()["weight"]
    assert w.std() == pytest.approx(std, rel=0.03)  # He: 2/fan_in; Glorot: 2/(fan_in+fan_out)
    assert w.dtype == np.float32


def test_initialize_weights_public_helper() -> None:
    w = sn.initialize_weights((64, 32, 3, 3), "relu", dtype="float64")
    assert w.shape == (64, 32, 3, 3) and w.dtype == np.float64
    assert w.std() == pytest.approx(np.sqrt(2 / (32 * 9)), rel=0.05)
    with pytest.raises(sn.ConfigurationError, match="positive integers"):
        sn.initialize_weights((0, 3), "relu")
    with pytest.raises(sn.PluginNotFoundError, match="relu"):
        sn.initialize_weights((3, 3), "rellu")


def test_wrong_feature_count_is_a_shape_error() -> None:
    with pytest.raises(sn.ShapeError, match=r"expected input \(N, 3\), got shape \(2, 4\)"):
        linear(3, 2).forward(np.zeros((2, 4), dtype=np.float32))


@pytest.mark.parametrize(
    ("args", "match"),
    [((0, 2), "in_features must be >= 1"), ((2.5, 2), "in_features must be a positive integer")],
)
def test_bad_constructor_arguments(args: tuple, match: str) -> None:
    with pytest.raises(sn.ConfigurationError, match=match):
        linear(*args)


def test_activation_by_instance_and_spec() -> None:
    act = sn.get_activation_functions()["leaky_relu"](negative_slope=0.3)
    layer = linear(2, 2, act)
    assert layer.activation is act
    config = layer.get_config()
    assert config["activation"] == {"name": "leaky_relu", "config": {"negative_slope": 0.3}}
    rebuilt = type(layer).from_config(config)
    assert rebuilt.activation.negative_slope == 0.3
