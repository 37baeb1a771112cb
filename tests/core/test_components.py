"""Spec dicts: nested and flat forms build the same component; unknown keys are refused."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnet_core as sn
from scratchnet_core.components import build_component, check_options, component_spec


@pytest.mark.parametrize(
    ("kind", "spec", "attribute", "value"),
    [
        ("optimizers", {"name": "adam", "lr": 0.1}, "lr", 0.1),
        ("costs", {"name": "huber", "delta": 5}, "delta", 5.0),
        ("activations", {"name": "leaky_relu", "negative_slope": 0.2}, "negative_slope", 0.2),
        ("optimizers", {"name": "adam", "config": {"lr": 0.1}}, "lr", 0.1),
    ],
)
def test_flat_and_nested_specs_keep_every_option(kind, spec, attribute, value) -> None:
    assert getattr(build_component(kind, spec), attribute) == value


def test_model_takes_a_flat_optimizer_spec() -> None:
    model = sn.Model([sn.get_layers()["linear"](2, 1)], "mse", {"name": "adam", "lr": 0.1})
    assert model.optimizer.lr == 0.1


def test_layer_activation_by_flat_spec() -> None:
    layer = sn.get_layers()["linear"](2, 3, {"name": "leaky_relu", "negative_slope": 0.3})
    assert layer.activation.negative_slope == 0.3


@pytest.mark.parametrize(
    ("kind", "spec", "match"),
    [
        (
            "optimizers",
            {"name": "adam", "learning_rate": 0.1},
            r"adam: unknown option 'learning_rate'; it accepts lr, betas",
        ),
        (
            "costs",
            {"name": "huber", "config": {"delt": 1}},
            r"huber: unknown option 'delt'; it accepts delta",
        ),
        (
            "activations",
            {"name": "relu", "slope": 1},
            r"relu: unknown option 'slope'; it accepts no options",
        ),
        ("optimizers", {"name": "sgd", "config": {"lr": 1}, "momentum": 0.9}, "not both"),
        ("optimizers", {"name": "sgd", "config": 3}, "'config' must be a table"),
        ("optimizers", {"lr": 3}, "needs a 'name' key"),
    ],
)
def test_unknown_or_misplaced_keys_are_errors(kind, spec, match) -> None:
    with pytest.raises(sn.ConfigurationError, match=match):
        build_component(kind, spec)


def test_model_refuses_unknown_cost_option() -> None:
    with pytest.raises(sn.ConfigurationError, match=r"cost_function 'huber': unknown option 'd'"):
        sn.Model([sn.get_layers()["linear"](2, 1)], {"name": "huber", "d": 1})


def test_spec_round_trip_and_instances_pass_through() -> None:
    act = sn.get_activation_functions()["leaky_relu"](0.25)
    assert build_component("activations", act) is act
    rebuilt = build_component("activations", component_spec("activations", act))
    assert rebuilt.negative_slope == 0.25
    assert np.allclose(rebuilt.forward(np.array([-4.0])), [-1.0])


def test_check_options_accepts_var_keyword() -> None:
    class Anything:
        def __init__(self, **options):
            self.options = options

    check_options("anything", Anything, ["whatever"])  # no error: it takes any keyword
    with pytest.raises(sn.ConfigurationError, match="unknown option 'x'"):
        check_options("sgd", sn.get_optimizers()["sgd"], ["x"])
