"""Containers in TOML configs: nested arrays of tables, errors naming the full path."""

from __future__ import annotations

from pathlib import Path

import pytest

import scratchnet_core as sn
from scratchnet_core.config import run_config

HEAD = """
[data]
source = "xor"
samples = 32

[model]
cost = "binary_cross_entropy"

[[model.layers]]
type = "linear"
in_features = 2
out_features = 4
"""

BLOCK = """
[[model.layers]]
type = "residual"
activation = "relu"

[[model.layers.block]]
type = "linear"
in_features = 4
out_features = 4
activation = "tanh"

[[model.layers.block]]
type = "linear"
in_features = 4
out_features = {width}
"""

TAIL = """
[[model.layers]]
type = "concat"

[[model.layers.branches]]
type = "linear"
in_features = 4
out_features = 1

[[model.layers.branches]]
[[model.layers.branches.layers]]
type = "linear"
in_features = 4
out_features = 3
activation = "relu"

[[model.layers.branches.layers]]
type = "activation"
activation = "tanh"

[[model.layers]]
type = "linear"
in_features = 4
out_features = 1
activation = "sigmoid"

[fit]
epochs = 2
verbose = 0
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "net.toml"
    path.write_text(text)
    return path


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    lines = text.splitlines()
    hits = [i + 1 for i, line in enumerate(lines) if needle in line]
    return hits[occurrence - 1]


def test_nested_tables_build_containers(tmp_path: Path) -> None:
    text = HEAD + BLOCK.format(width=4) + BLOCK.format(width=4) + TAIL
    result = run_config(write(tmp_path, text), output_dir=tmp_path)
    model = result.model
    assert [type(layer).__name__ for layer in model.layers] == [
        "Linear",
        "Residual",
        "Residual",
        "Concat",
        "Linear",
    ]
    assert "2.block.1.weight" in model.parameters()
    assert "3.branches.1.0.weight" in model.parameters()
    assert type(model.layers[3].branches[1]).__name__ == "Sequential"  # type: ignore[attr-defined]
    assert len(result.history.epoch) == 2


def replace_nth(text: str, old: str, new: str, n: int) -> str:
    parts = text.split(old)
    return old.join(parts[:n]) + new + old.join(parts[n:])


def test_a_nested_unknown_name_names_the_path_line_and_suggestions(tmp_path: Path) -> None:
    text = HEAD + BLOCK.format(width=4) + BLOCK.format(width=4) + TAIL
    table = '[[model.layers.block]]\ntype = "linear"'
    broken = replace_nth(text, table, '[[model.layers.block]]\ntype = "lineer"', 4)
    with pytest.raises(sn.ConfigurationError) as info:
        run_config(write(tmp_path, broken), output_dir=tmp_path)
    message = str(info.value)
    assert (
        "model.layers[2].block[1].type: no layer named 'lineer'; did you mean 'linear'" in message
    )
    assert f"net.toml:{line_of(broken, 'lineer')}:" in message


def test_a_nested_bad_value_names_the_key(tmp_path: Path) -> None:
    text = HEAD + BLOCK.format(width=4) + BLOCK.format(width='"four"') + TAIL
    with pytest.raises(sn.ConfigurationError) as info:
        run_config(write(tmp_path, text), output_dir=tmp_path)
    message = str(info.value)
    assert "model.layers[2].block[1].out_features: linear: out_features must be" in message
    assert f"net.toml:{line_of(text, 'four')}:" in message


def test_a_nested_unknown_key_names_the_key(tmp_path: Path) -> None:
    text = HEAD + BLOCK.format(width=4) + TAIL.replace("out_features = 3\n", "out_feature = 3\n")
    with pytest.raises(sn.ConfigurationError) as info:
        run_config(write(tmp_path, text), output_dir=tmp_path)
    message = str(info.value)
    assert (
        "model.layers[2].branches[1].layers[0].out_feature: linear: unknown option 'out_feature'"
        in message
    )
    assert f"net.toml:{line_of(text, 'out_feature = 3')}:" in message


def test_shapes_are_checked_when_the_model_is_built(tmp_path: Path) -> None:
    text = HEAD + BLOCK.format(width=4) + BLOCK.format(width=5) + TAIL
    with pytest.raises(sn.ConfigurationError) as info:
        run_config(write(tmp_path, text), output_dir=tmp_path)
    message = str(info.value)
    assert "model.layers[2]: for data of shape (2,): layer 2 (Residual(" in message
    assert "block output (N, 5) but identity shortcut output (N, 4)" in message
    wrong_branch = TAIL.replace(
        "in_features = 4\nout_features = 3", "in_features = 5\nout_features = 3"
    )
    text = HEAD + BLOCK.format(width=4) + wrong_branch
    with pytest.raises(sn.ConfigurationError) as info:
        run_config(write(tmp_path, text), output_dir=tmp_path)
    message = str(info.value)
    assert "model.layers[2].branches[1].layers[0]:" in message
    assert f"net.toml:{line_of(text, '[[model.layers.branches.layers]]')}:" in message
