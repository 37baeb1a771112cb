"""No NumPy RuntimeWarning escapes a standard component on extreme but finite input.

pytest runs with warnings as errors (pyproject.toml), so any overflow, invalid-value or
divide-by-zero warning fails these tests. Where a stable formula exists the answer must also
be right, not just quiet.
"""

from __future__ import annotations

import numpy as np
import pytest

import scratchnet_core as sn

EXTREMES = {
    np.float32: [-3e38, -1e30, -1000.0, 0.0, 1000.0, 1e30, 3e38],
    np.float64: [-1e300, -1e30, 0.0, 1e30, 1e300],
}
DTYPES = [np.float32, np.float64]
FUSED_COSTS = ("binary_cross_entropy", "categorical_cross_entropy", "label_smoothing_cross_entropy")


def extreme_batch(shape, dtype):
    values = np.array(EXTREMES[dtype], dtype=dtype)
    return np.resize(values, int(np.prod(shape))).reshape(shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(sn.get_activation_functions()))
def test_activations(name, dtype) -> None:
    act = sn.get_activation_functions()[name]()
    z = extreme_batch((3, 7), dtype)
    out = act.forward(z)
    assert out.shape == z.shape and out.dtype == dtype
    assert act.backward(np.ones_like(z)).shape == z.shape
    if name in ("sigmoid", "softmax", "tanh"):
        assert np.all(np.isfinite(out))
    if name == "softmax":
        np.testing.assert_allclose(out.sum(axis=1), 1, rtol=1e-6)


def layer_names():
    return [n for n in sorted(sn.get_layers()) if getattr(sn.get_layers()[n], "conformance", None)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", layer_names())
def test_layers(name, dtype) -> None:
    cls = sn.get_layers()[name]
    example = cls.conformance
    layer = cls(*example.get("args", []), **example.get("kwargs", {}), dtype=np.dtype(dtype).name)
    x = extreme_batch((4, *example["input_shape"]), dtype)
    for training in (True, False):
        y = layer.forward(x, training=training)
        assert layer.backward(np.ones_like(y)).shape == x.shape
    if name == "layer_norm" or (name.startswith("batch_norm")):
        y = layer.forward(x, training=True)
        assert np.all(np.isfinite(y))  # computed on x / max|x|: exact for any finite input


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(sn.get_cost_functions()))
def test_costs(name, dtype) -> None:
    cost = sn.get_cost_functions()[name]()
    z = extreme_batch((4, 3), dtype)
    y = np.eye(3, dtype=dtype)[[0, 1, 2, 0]]
    probabilities = (np.abs(z) / np.abs(z).max()).astype(dtype)  # in [0, 1], 0 and 1 included
    fused = type(cost).__name__ in {
        type(sn.get_cost_functions()[n]()).__name__ for n in FUSED_COSTS
    }
    for pred in (probabilities,) if fused else (probabilities, z):
        cost.loss(pred, y)
        cost.gradient(pred, y)
    if fused:
        loss, grad = cost.loss_and_gradient_from_logits(z, y)
        assert np.all(np.isfinite(grad))
        # the exact loss here is about 6e38: inf in float32 (IEEE), finite in float64; never NaN
        assert np.isfinite(loss) if dtype == np.float64 else not np.isnan(loss)
