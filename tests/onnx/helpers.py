"""Helpers shared by the ONNX export tests."""

from __future__ import annotations

import numpy as np

import scratchnet_core as sn


def train_briefly(model: sn.Model, input_shape: tuple[int, ...], steps: int = 3) -> None:
    """A few optimizer steps on random data: weights move, batch-norm statistics fill in."""
    rng = np.random.default_rng(0)
    n = 16 * steps
    X = rng.normal(1.5, 2.0, size=(n, *input_shape))
    out = model.output_shape(input_shape)
    if isinstance(model.cost_function, type(sn.get_cost_functions()["cross_entropy"]())):
        Y = rng.integers(0, out[-1], size=n)
    else:
        Y = rng.normal(size=(n, *out))
    model.fit(X, Y, epochs=1, batch_size=16, verbose=0)
