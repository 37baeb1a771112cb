"""scratchnet_core.numerics: the stable formulas against their textbook definitions."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnet_core.numerics import sigmoid


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_is_the_two_branch_definition_bit_for_bit(dtype) -> None:
    z = np.concatenate(
        [np.linspace(-120, 120, 2001), [-1e30, -0.0, 0.0, 1e30, -np.inf, np.inf]]
    ).astype(dtype)
    with np.errstate(over="ignore"):
        e = np.exp(-np.abs(z))
        expected = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
    out = sigmoid(z)
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out, expected)
    assert np.isnan(sigmoid(np.array([np.nan], dtype=dtype))).all()
