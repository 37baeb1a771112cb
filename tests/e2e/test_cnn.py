"""A small CNN (conv, pool, flatten, linear) learns a synthetic image task through fit()."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnet_core as sn
from scratchnet_core.layers import convolutional_2d, flatten, linear, max_pool2d
from scratchnet_core.optimizers import sgd


def bars(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """8x8 images holding a horizontal bar (0), a vertical bar (1) or a diagonal (2), in noise."""
    y = rng.integers(0, 3, n)
    x = rng.normal(0, 0.3, (n, 1, 8, 8))
    pos = rng.integers(1, 7, n)
    for i in range(n):
        if y[i] == 0:
            x[i, 0, pos[i], 1:7] += 1
        elif y[i] == 1:
            x[i, 0, 1:7, pos[i]] += 1
        else:
            x[i, 0, np.arange(8), (np.arange(8) + pos[i]) % 8] += 1
    return x, y


@pytest.mark.parametrize("backend", sorted(set(sn.get_conv_backends()) - {"auto"}))
def test_cnn_learns_bars(backend: str) -> None:
    rng = np.random.default_rng(0)
    X, Y = bars(600, rng)
    X_test, Y_test = bars(300, rng)
    sn.seed(0)
    with sn.conv_backend(backend):
        model = sn.Model(
            [
                convolutional_2d(1, 8, 3, 1, "relu"),
                max_pool2d(2),
                flatten(),
                linear(8 * 4 * 4, 3, "softmax"),
            ],
            "categorical_cross_entropy",
            sgd(0.05, momentum=0.9),
            batch_size=32,
        )
        history = model.fit(X, Y, epochs=8, verbose=0, validation_data=(X_test, Y_test))
        accuracy = model.evaluate(X_test, Y_test)["accuracy"]
    assert history["loss"][-1] < history["loss"][0] / 4
    assert accuracy >= 0.95
