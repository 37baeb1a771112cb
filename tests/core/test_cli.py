"""The command line: plugins, check; and runtime registration end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import scratchnet_core as sn
from scratchnet_core.cli import main
from scratchnet_core.layers import linear

from ..helpers import WRONG_SQUARE_MODULE


def test_check_all_installed_components_pass(capsys) -> None:
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "ok       activations:relu" in out and " 0 failed" in out


def test_check_fails_naming_component_and_check(make_distribution, capsys) -> None:
    make_distribution(
        "acme-bad",
        {
            "scratchnet.activations": {
                "wrong_square": "acme_wrong:WrongSquare",
                "boom": "acme_boom:X",
            }
        },
        {"acme_wrong": WRONG_SQUARE_MODULE, "acme_boom": "raise ImportError('no such thing')\n"},
    )
    assert main(["check", "wrong_square", "relu"]) == 1
    out = capsys.readouterr().out
    assert "failed   activations:wrong_square: WrongSquare.backward: analytic and numerical" in out
    assert "ok       activations:relu" in out
    assert main(["check", "boom"]) == 1
    assert "failed   activations:boom: load:" in capsys.readouterr().out
    assert main(["check", "no_such_component"]) == 1


def test_check_an_unknown_name_fails_with_suggestions(capsys) -> None:
    assert main(["check", "relu", "nope", "layers:lineer"]) == 1
    out = capsys.readouterr().out
    assert "ok       activations:relu" in out
    assert "failed   nope: no installed component is named 'nope'" in out
    assert "failed   layers:lineer: no installed component of kind layers is named 'lineer';" in out
    assert "did you mean 'linear'?" in out and "1 passed, 2 failed" in out


def test_plugins_shows_a_failed_plugin_and_exits_0(make_distribution, capsys) -> None:
    make_distribution(
        "acme-bad", {"scratchnet.layers": {"broken": "acme_boom2:X"}}, {"acme_boom2": "1 / 0\n"}
    )
    assert main(["plugins"]) == 0
    row = next(ln for ln in capsys.readouterr().out.splitlines() if " broken " in ln)
    assert "acme-bad" in row and "failed: ZeroDivisionError" in row
    assert sn.get_layers()["linear"].__name__ == "Linear"  # everything else still works


def test_runtime_registered_layer_trains_saves_and_loads(
    tmp_path: Path, fresh_runtime_registrations
) -> None:
    @sn.register("layers", "test_scale")
    class Scale(sn.Layer):
        def __init__(self, features, *, dtype=None):
            super().__init__(dtype=dtype)
            self.features = features
            self.add_parameter("weight", np.ones(features))

        def forward(self, x, training=False):
            self._x = x
            return x * self._params["weight"]

        def backward(self, grad):
            self._grads["weight"] = (grad * self._x).sum(axis=0)
            return grad * self._params["weight"]

        def get_config(self):
            return {"features": self.features, **super().get_config()}

    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((40, 3)), rng.integers(0, 2, 40)
    model = sn.Model([Scale(3), linear(3, 1, "sigmoid")], "binary_cross_entropy", "adam")
    before = model.get_weights()["0.weight"].copy()
    model.fit(X, Y, epochs=3, verbose=0)
    assert not np.array_equal(model.get_weights()["0.weight"], before)
    model.save(tmp_path / "m.npz")
    loaded = sn.Model.load(tmp_path / "m.npz")
    assert type(loaded.layers[0]) is Scale
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_unknown_command_arguments_exit_with_usage() -> None:
    with pytest.raises(SystemExit):
        main(["frobnicate"])
