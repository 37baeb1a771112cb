"""The seed README's XOR example, run as written (only import lines added)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

import scratchnet_core as sn
from scratchnet_core.cli import main


def test_seed_readme_example_learns_xor() -> None:
    np.random.seed(0)
    sn.seed(0)
    # --- import lines added to the seed's example ---
    from scratchnet_core import Model as model
    from scratchnet_core.layers import linear
    from scratchnet_core.optimizers import SGD

    # --- the seed README, as written ---
    # fmt: off
    # XOR Dataset
    X = np.random.randn(500, 2)
    Y = np.logical_xor(X[:, 0] > 0, X[:, 1] > 0).astype(int)

    # Model definition
    trainable_model = model([
        linear(2, 32, "relu"),
        linear(32, 32, "relu"),
        linear(32, 1, "sigmoid")
    ], "binary_cross_entropy", SGD(0.001), batch_size=100, X=X, Y=Y, epochs=10000)

    trainable_model.train()
    # fmt: on
    # --- end of the seed's example ---

    X_test = np.random.randn(2000, 2)
    Y_test = np.logical_xor(X_test[:, 0] > 0, X_test[:, 1] > 0).astype(int)
    assert trainable_model.evaluate(X_test, Y_test)["accuracy"] >= 0.95


def test_demo_command(capsys) -> None:
    assert main(["demo", "xor", "--quiet"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if "held-out accuracy" in ln)
    assert float(line.rsplit(":", 1)[1]) >= 0.95


def test_plugins_command_lists_kind_name_distribution_version() -> None:
    for cmd in (["scratchnet", "plugins"], [sys.executable, "-m", "scratchnet_core", "plugins"]):
        if cmd[0] == "scratchnet":
            cmd[0] = str(__import__("pathlib").Path(sys.executable).with_name("scratchnet"))
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        assert out.splitlines()[0].split() == ["kind", "name", "distribution", "version", "state"]
        rows = [line.split() for line in out.splitlines()[1:]]
        assert ["activations", "relu", "scratchnet-std", "0.1.0", "loaded"] in rows
        assert any(r[:2] == ["optimizers", "sgd"] for r in rows)
    out = subprocess.run(
        [sys.executable, "-m", "scratchnet_core", "plugins", "--no-load"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert ["activations", "relu", "scratchnet-std", "0.1.0", "not", "loaded"] in [
        line.split() for line in out.splitlines()
    ]
