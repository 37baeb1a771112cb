"""The digits ResNet example: the TOML and the script build one network; it learns."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scratchnet_core.config import run_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def test_toml_and_script_build_the_same_resnet(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    sys.path.insert(0, str(EXAMPLES))
    try:
        from digits_resnet import build
    finally:
        sys.path.remove(str(EXAMPLES))
    text = (EXAMPLES / "digits_resnet.toml").read_text()
    quick = text.replace("test_fraction = 0.25", "test_fraction = 0.9").replace(
        "epochs = 12", "epochs = 1"
    )  # a smoke run: one epoch on a tenth of the images
    config = tmp_path / "quick.toml"
    config.write_text(quick)
    result = run_config(config, output_dir=tmp_path, verbose=0)
    script = build()
    assert [layer.get_config() for layer in result.model.layers] == [
        layer.get_config() for layer in script.layers
    ]
    assert result.model.parameters().keys() == script.parameters().keys()
    assert "2.shortcut.0.weight" in script.parameters()
    assert Path(result.files["model"]).exists()


@pytest.mark.slow
def test_digits_resnet_example_reaches_098() -> None:
    pytest.importorskip("sklearn")
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "digits_resnet.py"), "--epochs", "12"],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
        env={**os.environ, **ONE_THREAD},  # BLAS threads fight on a busy 2-core machine
    ).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("scratchnet:"))
    assert float(line.split("test accuracy ")[1].split(",")[0]) >= 0.98
    assert "2.shortcut.0" in out  # the summary shows the tree
