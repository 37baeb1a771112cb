"""The bad-input matrix: one row per kind of bad input, each a clear ScratchnetError that is
also the builtin it refines, naming the layer or argument and the expected and actual values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import scratchnet_core as sn
from scratchnet_core.layers import (
    convolutional_2d,
    dropout,
    flatten,
    linear,
    max_pool2d,
)


def mlp() -> sn.Model:
    return sn.Model([linear(3, 4, "relu"), linear(4, 2, "softmax")], "categorical_cross_entropy")


def cnn() -> sn.Model:
    return sn.Model([convolutional_2d(1, 4, 3, 1, "relu"), convolutional_2d(3, 2, 3)], "mse")


X, Y = np.zeros((6, 3)), np.array([0, 1, 0, 1, 0, 1])


def fit(model=None, x=X, y=Y, **kwargs):
    return lambda: (model or mlp()).fit(x, y, **{"verbose": 0, **kwargs})


def load(path):
    return lambda: sn.Model.load(path)


def save(path):
    return lambda: mlp().save(path)


def backward_twice():
    layer = linear(2, 2, "relu")
    y = layer.forward(np.ones((3, 2), dtype=np.float32), training=True)
    layer.backward(np.ones_like(y))
    layer.backward(np.ones_like(y))


NOT_A_DIR = Path(__file__)  # a file: nothing can be saved "inside" it

ROWS = [
    (
        "backward twice",
        backward_twice,
        sn.BackwardError,
        RuntimeError,
        r"backward needs a forward first",
    ),
    # (id, action, error, builtin, message pattern)
    (
        "feature count",
        lambda: mlp().predict(np.zeros((2, 5))),
        sn.ShapeError,
        ValueError,
        r"layer 0 \(Linear\(3, 4, ReLU\)\): expected input \(N, 3\), got shape \(N, 5\)",
    ),
    (
        "feature count mid-model",
        lambda: sn.Model([linear(3, 4), linear(5, 2)], "mse").predict(np.zeros((2, 3))),
        sn.ShapeError,
        ValueError,
        r"layer 1 .*expected input \(N, 5\), got shape \(N, 4\)",
    ),
    (
        "rank",
        lambda: cnn().predict(np.zeros((2, 8, 8))),
        sn.ShapeError,
        ValueError,
        r"layer 0 .*\(N, C, H, W\) with rank 4, got shape \(N, 8, 8\)",
    ),
    (
        "channel count",
        lambda: cnn().predict(np.zeros((2, 1, 8, 8))),
        sn.ShapeError,
        ValueError,
        r"layer 1 .*C = 3 channels, got 4 channels",
    ),
    (
        "pool rank",
        lambda: max_pool2d(2).forward(np.zeros((2, 3))),
        sn.ShapeError,
        ValueError,
        r"MaxPool2d.*expected input \(N, C, H, W\), got shape \(2, 3\)",
    ),
    (
        "flatten rank",
        lambda: flatten().forward(np.zeros(3)),
        sn.ShapeError,
        ValueError,
        r"at least 2 axes, got shape \(3,\)",
    ),
    ("rows differ", fit(y=Y[:5]), sn.DataError, ValueError, r"X has 6, Y has 5"),
    (
        "empty X",
        fit(x=np.zeros((0, 3)), y=np.zeros(0, int)),
        sn.DataError,
        ValueError,
        r"X is empty: shape \(0, 3\)",
    ),
    (
        "non-numeric X",
        fit(x=np.array([["a"] * 3] * 6)),
        sn.DataError,
        ValueError,
        r"X: expected a numeric array, got dtype <U1",
    ),
    (
        "NaN in X",
        fit(x=np.full((6, 3), np.nan)),
        sn.DataError,
        ValueError,
        r"X holds 18 NaN or inf value\(s\), the first at index \(0, 0\)",
    ),
    (
        "inf in Y",
        fit(model=sn.Model([linear(3, 1)], "mse"), y=np.array([0, 1, np.inf, 0, 0, 0])),
        sn.DataError,
        ValueError,
        r"Y holds 1 NaN or inf value\(s\), the first at index \(2,\)",
    ),
    (
        "labels out of range",
        fit(y=np.array([0, 1, 2, 0, 1, 0])),
        sn.DataError,
        ValueError,
        r"class indices must lie in \[0, 1\] for a model with 2 outputs, got values from 0 to 2",
    ),
    (
        "labels not whole",
        fit(y=np.array([0, 0.5, 1, 0, 1, 0])),
        sn.DataError,
        ValueError,
        r"whole numbers, got values such as 0.5",
    ),
    (
        "non-binary targets",
        fit(model=sn.Model([linear(3, 1, "sigmoid")], "bce"), y=np.array([0, 1, 2, 0, 1, 0])),
        sn.DataError,
        ValueError,
        r"binary_cross_entropy needs targets in \[0, 1\], got values from 0 to 2",
    ),
    (
        "target shape",
        fit(y=np.zeros((6, 3))),
        sn.ShapeError,
        ValueError,
        r"targets of shape \(N, 2\).*got shape \(6, 3\)",
    ),
    (
        "batch_size 0",
        fit(batch_size=0),
        sn.ConfigurationError,
        ValueError,
        r"batch_size must be >= 1, got 0",
    ),
    (
        "batch_size type",
        fit(batch_size="32"),
        sn.ConfigurationError,
        ValueError,
        r"batch_size must be a positive integer, got '32' \(str\)",
    ),
    ("epochs 0", fit(epochs=0), sn.ConfigurationError, ValueError, r"epochs must be >= 1, got 0"),
    (
        "epochs type",
        fit(epochs=1.5),
        sn.ConfigurationError,
        ValueError,
        r"epochs must be a positive integer, got 1.5 \(float\)",
    ),
    (
        "initial_epoch",
        fit(epochs=2, initial_epoch=2),
        sn.ConfigurationError,
        ValueError,
        r"initial_epoch must be in \[0, epochs\), got 2",
    ),
    (
        "validation_split",
        fit(validation_split=1.0),
        sn.ConfigurationError,
        ValueError,
        r"validation_split must be in \[0, 1\), got 1.0",
    ),
    (
        "verbose",
        fit(verbose=5),
        sn.ConfigurationError,
        ValueError,
        r"verbose must be 0, 1 or 2, got 5",
    ),
    (
        "learning rate",
        lambda: sn.get_optimizers()["sgd"](-0.1),
        sn.ConfigurationError,
        ValueError,
        r"SGD: lr must be > 0, got -0.1",
    ),
    (
        "learning rate type",
        lambda: sn.get_optimizers()["adam"]("fast"),
        sn.ConfigurationError,
        ValueError,
        r"Adam: lr must be a number, got str",
    ),
    (
        "kernel 0",
        lambda: convolutional_2d(1, 1, 0),
        sn.ConfigurationError,
        ValueError,
        r"convolutional_2d: kernel_size must be >= 1, got 0",
    ),
    (
        "kernel type",
        lambda: convolutional_2d(1, 1, 2.5),
        sn.ConfigurationError,
        ValueError,
        r"kernel_size must be an int or a tuple of 2 ints, got 2.5",
    ),
    (
        "kernel larger than input",
        lambda: convolutional_2d(1, 1, 5).forward(np.zeros((1, 1, 3, 3))),
        sn.ShapeError,
        ValueError,
        r"at least the dilated kernel 5 after padding, got spatial shape \(3, 3\)",
    ),
    (
        "stride 0",
        lambda: convolutional_2d(1, 1, 3, stride=0),
        sn.ConfigurationError,
        ValueError,
        r"stride must be >= 1, got 0",
    ),
    (
        "padding negative",
        lambda: convolutional_2d(1, 1, 3, padding=-1),
        sn.ConfigurationError,
        ValueError,
        r"padding must be >= 0, got -1",
    ),
    (
        "padding word",
        lambda: convolutional_2d(1, 1, 3, padding="full"),
        sn.ConfigurationError,
        ValueError,
        r"'valid' or 'same', got 'full'",
    ),
    (
        "dilation 0",
        lambda: convolutional_2d(1, 1, 3, dilation=0),
        sn.ConfigurationError,
        ValueError,
        r"dilation must be >= 1, got 0",
    ),
    (
        "pool kernel",
        lambda: max_pool2d(0),
        sn.ConfigurationError,
        ValueError,
        r"max_pool2d: kernel_size must be >= 1, got 0",
    ),
    (
        "dropout p",
        lambda: dropout(1.5),
        sn.ConfigurationError,
        ValueError,
        r"dropout: p must be in \[0.0, 1.0\), got 1.5",
    ),
    (
        "dtype",
        lambda: linear(2, 2, dtype="int32"),
        sn.ConfigurationError,
        ValueError,
        r"dtype: expected 'float32' or 'float64', got int32",
    ),
    (
        "unknown activation",
        lambda: linear(2, 2, "rellu"),
        sn.PluginNotFoundError,
        KeyError,
        r"no activation named 'rellu'; did you mean 'relu'",
    ),
    (
        "unknown cost",
        lambda: sn.Model([linear(2, 2)], "msee"),
        sn.PluginNotFoundError,
        KeyError,
        r"no cost named 'msee'; did you mean 'mse'",
    ),
    (
        "unknown layer",
        lambda: sn.get_layers()["conv2"],
        sn.PluginNotFoundError,
        KeyError,
        r"no layer named 'conv2'; did you mean",
    ),
    (
        "unknown optimizer",
        lambda: sn.Model([linear(2, 2)], "mse", "adamm"),
        sn.PluginNotFoundError,
        KeyError,
        r"no optimizer named 'adamm'; did you mean 'adam'",
    ),
    (
        "unknown backend",
        lambda: convolutional_2d(1, 1, 3, backend="fast"),
        sn.PluginNotFoundError,
        KeyError,
        r"no conv_backend named 'fast'",
    ),
    (
        "unknown initializer",
        lambda: linear(2, 2, initializer="he"),
        sn.PluginNotFoundError,
        KeyError,
        r"no initializer named 'he'\. Installed initializers: .*he_normal",
    ),
    (
        "malformed qualified name",
        lambda: sn.get_layers()["std:"],
        sn.ConfigurationError,
        ValueError,
        r"expected 'distribution:name'",
    ),
    (
        "model file missing",
        load("/nonexistent/model.npz"),
        sn.ModelFileError,
        OSError,
        r"no model file at '/nonexistent/model.npz'",
    ),
    (
        "model file is a directory",
        load(Path(__file__).parent),
        sn.ModelFileError,
        OSError,
        r"is a directory, not a model file",
    ),
    (
        "model path not writable",
        save(NOT_A_DIR / "model.npz"),
        sn.ModelFileError,
        OSError,
        r"cannot save the model to .*model.npz",
    ),
    (
        "save over a directory",
        save(Path(__file__).parent),
        sn.ModelFileError,
        OSError,
        r"cannot save the model to .*: it is a directory",
    ),
]


@pytest.mark.parametrize(
    ("action", "error", "builtin", "pattern"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_bad_input(action, error, builtin, pattern) -> None:
    with pytest.raises(error, match=pattern) as info:
        action()
    assert isinstance(info.value, sn.ScratchnetError)
    assert isinstance(info.value, builtin)
