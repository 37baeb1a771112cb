"""Containers (sequential, residual, concat, activation layer) export by converting their
children, at any depth; ONNX Runtime agrees with Model.predict."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import scratchnet_core as sn
from scratchnet_onnx import to_onnx

from .helpers import train_briefly

L = sn.get_layers()


def ops(model: sn.Model, shape: tuple[int, ...]) -> list[str]:
    return [n.op_type for n in to_onnx(model, shape).graph.node]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_residual_mlp_blocks(roundtrip, dtype: str) -> None:
    block = L["residual"](
        [L["linear"](8, 8, "relu"), L["linear"](8, 8)], activation="relu", dtype=dtype
    )
    projected = L["residual"](
        [L["linear"](8, 4, "tanh")], shortcut=L["linear"](8, 4), activation="elu", dtype=dtype
    )
    layers = [L["linear"](5, 8, "relu"), block, L["layer_norm"](8), projected, L["linear"](4, 2)]
    model = sn.Model(layers, "mse", "adam", dtype=dtype)
    train_briefly(model, (5,))
    proto = to_onnx(model, (5,))
    names = {i.name for i in proto.graph.initializer}
    assert set(model.parameters()) <= names  # "1.block.0.weight", "3.shortcut.bias", ...
    assert roundtrip(model).ok


def test_resnet_basic_blocks_with_batch_norm_and_activation_layers(roundtrip) -> None:
    def basic(c_in: int, c_out: int, stride: int):
        block = [
            L["conv2d"](c_in, c_out, 3, 1, stride=stride, bias=False),
            L["batch_norm2d"](c_out),
            L["activation"]("relu"),
            L["conv2d"](c_out, c_out, 3, 1, bias=False),
            L["batch_norm2d"](c_out),
        ]
        shortcut = None
        if stride != 1 or c_in != c_out:
            shortcut = [L["conv2d"](c_in, c_out, 1, stride=stride), L["batch_norm2d"](c_out)]
        return L["residual"](block, shortcut, activation="relu")

    layers = [
        L["conv2d"](1, 4, 3, 1),
        L["batch_norm2d"](4),
        L["activation"]("relu"),
        basic(4, 4, 1),
        basic(4, 8, 2),
        L["global_avg_pool"](),
        L["linear"](8, 3, "softmax"),
    ]
    model = sn.Model(layers, "cross_entropy", "adam")
    train_briefly(model, (1, 8, 8))
    assert np.abs(model.buffers()["4.block.1.running_mean"]).max() > 1e-3
    assert ops(model, (1, 8, 8)).count("Add") == 2
    assert roundtrip(model).ok


def test_inception_concat(roundtrip) -> None:
    inception = L["concat"](
        [
            L["conv2d"](3, 4, 1, activation="relu"),
            [L["conv2d"](3, 2, 1, activation="relu"), L["conv2d"](2, 6, 3, 1)],
            [L["max_pool2d"](3, 1, 1), L["conv2d"](3, 2, 1)],
            [L["avg_pool2d"](3, 1, 1), L["activation"]("tanh")],
        ]
    )
    model = sn.Model([inception, L["flatten"](), L["linear"](15 * 36, 2)], "mse")
    assert "Concat" in ops(model, (3, 6, 6))
    assert roundtrip(model, (3, 6, 6)).ok


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_concat_along_the_last_axis_and_nested_sequentials(roundtrip, dtype: str) -> None:
    branches = [
        L["linear"](4, 3, "sigmoid"),
        [L["linear"](4, 5, "relu"), [L["linear"](5, 2), L["activation"]("tanh")]],
    ]
    head = L["sequential"]([L["linear"](5, 6, "silu"), L["linear"](6, 3, "softmax")])
    layers = [L["concat"](branches, axis=-1), L["dropout"](0.2), head]
    model = sn.Model(layers, "cross_entropy", "adam", dtype=dtype)
    train_briefly(model, (4,))
    # the sequential's activation is its last layer's: softmax is emitted once
    assert ops(model, (4,)).count("Softmax") == 1
    assert roundtrip(model).ok


def test_activation_layer_after_batch_norm(roundtrip) -> None:
    layers = [
        L["conv1d"](2, 3, 3, 1),
        L["batch_norm"](3),
        L["activation"]({"name": "leaky_relu", "config": {"negative_slope": 0.1}}),
        L["flatten"](),
        L["linear"](24, 2),
        L["activation"]("softmax"),
    ]
    model = sn.Model(layers, "cross_entropy", "adam")
    train_briefly(model, (2, 8))
    assert ops(model, (2, 8))[-1] == "Softmax"
    assert roundtrip(model).ok


def test_the_digits_resnet_example(roundtrip) -> None:
    examples = str(Path(__file__).resolve().parents[2] / "examples")
    sys.path.insert(0, examples)
    try:
        from digits_resnet import build
    finally:
        sys.path.remove(examples)
    model = build()
    train_briefly(model, (1, 8, 8))
    report = roundtrip(model)
    assert report.ok and report.relative_error < 1e-6
