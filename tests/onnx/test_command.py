"""`scratchnet export MODEL.npz MODEL.onnx [--opset N] [--verify]`, the plugin's subcommand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

import scratchnet_core as sn
from scratchnet_core.cli import main

L = sn.get_layers()


def trained_cnn(path: Path, dtype: str = "float32") -> sn.Model:
    layers = [L["conv2d"](1, 3, 3, padding=1, activation="relu"), L["max_pool2d"](2)]
    layers += [L["flatten"](), L["linear"](18, 4, "softmax")]
    model = sn.Model(layers, "cross_entropy", "adam", dtype=dtype)
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(32, 1, 4, 6)), rng.integers(0, 4, 32), epochs=1, verbose=0)
    model.save(path)
    return model


def test_export_and_verify_a_model_file(tmp_path: Path, capsys) -> None:
    trained_cnn(tmp_path / "cnn.npz")
    out = tmp_path / "cnn.onnx"
    args = ["export", str(tmp_path / "cnn.npz"), str(out), "--input-shape", "1,4,6", "--verify"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "wrote" in text and "opset 20, float32" in text
    assert "input 'input' (batch, 1, 4, 6) -> output 'output' (batch, 4)" in text
    assert "verify: ok: onnxruntime" in text and "tolerance 1e-05" in text
    assert onnx.load(out).opset_import[0].version == 20
    assert main([*args, "--opset", "21"]) == 0
    assert onnx.load(out).opset_import[0].version == 21


def test_a_trained_model_file_knows_its_input_shape(tmp_path: Path, capsys) -> None:
    trained_cnn(tmp_path / "cnn.npz")
    assert main(["export", str(tmp_path / "cnn.npz"), str(tmp_path / "c.onnx"), "--verify"]) == 0
    text = capsys.readouterr().out
    assert "(batch, 1, 4, 6)" in text and "verify: ok" in text


def test_float64_conv_model_exports_but_verify_explains(tmp_path: Path, capsys) -> None:
    trained_cnn(tmp_path / "cnn64.npz", dtype="float64")
    out = tmp_path / "cnn64.onnx"
    args = ["export", str(tmp_path / "cnn64.npz"), str(out), "--input-shape", "1,4,6"]
    assert main(args) == 0 and out.exists()
    assert main([*args, "--verify"]) == 1
    err = capsys.readouterr().err
    assert "no float64 kernel for Conv" in err and "float32" in err


def test_errors_are_reported_with_status_1(tmp_path: Path, capsys) -> None:
    model = sn.Model([L["linear"](3, 2)], "mse")
    model.save(tmp_path / "untrained.npz")
    assert main(["export", str(tmp_path / "untrained.npz"), str(tmp_path / "m.onnx")]) == 1
    assert "input_shape is required" in capsys.readouterr().err
    missing_dir = str(tmp_path / "nowhere" / "m.onnx")
    args = ["export", str(tmp_path / "untrained.npz"), missing_dir, "--input-shape", "3"]
    assert main(args) == 1
    assert "does not exist" in capsys.readouterr().err
    args = ["export", str(tmp_path / "none.npz"), str(tmp_path / "m.onnx"), "--input-shape", "3"]
    assert main(args) == 1
    assert "no model file" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["untrained.npz"]


def test_building_the_command_line_does_not_import_onnx() -> None:
    code = (
        "import sys; from scratchnet_core.cli import build_parser; "
        "assert 'export' in build_parser().format_help(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('onnx', 'onnxruntime')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_malformed_input_shape_is_a_usage_error(capsys) -> None:
    for bad in ("1,8,x", ",8", "0,3", "a"):
        with pytest.raises(SystemExit) as info:
            main(["export", "m.npz", "m.onnx", "--input-shape", bad])
        assert info.value.code == 2
        assert "expected positive integers" in capsys.readouterr().err
