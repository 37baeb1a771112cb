"""Argument checks (scratchnet_core/checks.py): each names owner, argument, expected, given."""

from __future__ import annotations

import math

import numpy as np
import pytest

import scratchnet_core as sn
from scratchnet_core import checks


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: checks.positive_int("o", "n", 0), r"^o: n must be >= 1, got 0$"),
        (lambda: checks.positive_int("o", "n", True), r"o: n must be a positive integer.*bool"),
        (lambda: checks.positive_int("o", "n", 2.0), r"got 2\.0 \(float\)"),
        (lambda: checks.real_in_range("o", "p", 1.0, 0, 1, high_open=True), r"in \[0, 1\), got"),
        (lambda: checks.real_in_range("o", "p", "x", 0, 1), r"o: p must be a number, got 'x'"),
        (lambda: checks.real_in_range("o", "p", math.nan, 0, 1), r"got nan"),
        (lambda: checks.int_tuple("o", "k", (3,), 2, 1), r"an int or a tuple of 2 ints"),
        (lambda: checks.int_tuple("o", "k", (3, 0), 2, 1), r"o: k must be >= 1, got \(3, 0\)"),
        (lambda: checks.real_pair("o", "betas", [0.9], 0, 1), r"a pair of numbers"),
        (lambda: checks.real_pair("o", "betas", [0.9, 1.0], 0, 1, high_open=True), r"betas\[1\]"),
        (lambda: checks.finite_real("o", "a", math.inf), r"o: a must be a finite number, got inf"),
        (lambda: checks.finite_real("o", "a", None), r"must be a number, got None"),
        (lambda: checks.positive_real("o", "d", -1), r"o: d must be > 0, got -1\.0"),
        (lambda: checks.integer("o", "axis", 1.5), r"o: axis must be an integer, got 1\.5"),
        (lambda: checks.integer("o", "seed", -1, low=0), r"o: seed must be >= 0, got -1"),
        (lambda: checks.one_of("o", "m", "x", ("a", "b", "c")), r"'a', 'b' or 'c', got 'x'"),
        (lambda: checks.one_of("o", "m", 3, ("a", "b")), r"got 3"),
        (lambda: checks.shape_tuple("o", "s", []), r"positive int or a tuple of them"),
        (lambda: checks.shape_tuple("o", "s", [3, 0]), r"got \[3, 0\]"),
        (lambda: checks.shape_tuple("o", "s", True), r"got True"),
    ],
)
def test_bad_values_are_configuration_errors_naming_everything(call, match) -> None:
    with pytest.raises(sn.ConfigurationError, match=match) as info:
        call()
    assert isinstance(info.value, ValueError)


def test_good_values_are_normalised() -> None:
    assert checks.positive_int("o", "n", np.int64(3)) == 3
    assert checks.real_in_range("o", "p", np.float32(0.5), 0, 1) == 0.5
    assert checks.int_tuple("o", "k", 2, 3, 1) == (2, 2, 2)
    assert checks.int_tuple("o", "k", [1, 2], 2, 0) == (1, 2)
    assert checks.real_pair("o", "b", (0, 1), 0, 1) == (0.0, 1.0)
    assert checks.finite_real("o", "a", -2) == -2.0 and checks.positive_real("o", "a", 3) == 3.0
    assert checks.integer("o", "i", np.int8(-1)) == -1
    assert checks.one_of("o", "m", "b", ("a", "b")) == "b"
    assert checks.shape_tuple("o", "s", 4) == (4,) and checks.shape_tuple("o", "s", (2, 3)) == (
        2,
        3,
    )


@pytest.mark.parametrize(
    ("kind", "name", "kwargs", "match"),
    [
        ("activations", "leaky_relu", {"negative_slope": math.nan}, "leaky_relu: negative_slope"),
        ("activations", "softmax", {"axis": 1.0}, "softmax: axis must be an integer"),
        ("activations", "gelu", {"approximate": "erf"}, "gelu: approximate must be 'none' or"),
        ("activations", "softplus", {"beta": 0}, "softplus: beta must be > 0"),
        ("costs", "huber", {"delta": -1}, "huber: delta must be > 0"),
        ("layers", "dropout", {"p": 0.1, "seed": -1}, "dropout: seed must be >= 0"),
        ("layers", "layer_norm", {"normalized_shape": [0]}, "layer_norm: normalized_shape"),
    ],
)
def test_std_and_extras_report_bad_arguments_through_the_shared_checks(
    kind, name, kwargs, match
) -> None:
    with pytest.raises(sn.ConfigurationError, match=match):
        sn.get_registry(kind)[name](**kwargs)
