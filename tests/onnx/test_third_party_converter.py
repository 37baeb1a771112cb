"""A third-party layer ships its own ONNX converter: one entry point, no change here.

One real package is built and pip-installed (into a folder of its own, as
tests/e2e/test_plugin_author_path.py does with a full venv, but without dependencies, so it
takes seconds); a subprocess with that folder on its path trains a model using the layer,
saves it and runs ``scratchnet export --verify``. Runtime registration is checked in
process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import scratchnet_core as sn
from scratchnet_onnx import export, verify

PYPROJECT = """
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "scratchnet-offset"
version = "0.3.0"
dependencies = ["numpy"]

[tool.setuptools]
py-modules = ["scratchnet_offset"]

[project.entry-points."scratchnet.layers"]
offset = "scratchnet_offset:Offset"

[project.entry-points."scratchnet.onnx_converters"]
offset = "scratchnet_offset:convert_offset"
"""

MODULE = '''
"""y = x + shift: one learned shift per feature, and its ONNX converter."""

import numpy as np

import scratchnet_core as sn


class Offset(sn.Layer):
    def __init__(self, features, *, dtype=None):
        super().__init__(dtype=dtype)
        self.features = features
        self.add_parameter("shift", sn.constant((features,), 0.5, dtype=self.dtype))

    def forward(self, x, training=False):
        return x + self._params["shift"]

    def backward(self, grad):
        self._grads["shift"] = grad.sum(axis=0)
        return grad

    def get_config(self):
        return {"features": self.features, **super().get_config()}


def convert_offset(ctx, layer, x):
    return ctx.add_node("Add", [x, ctx.parameter(layer, "shift")])
'''

SCRIPT = """
import sys
import numpy as np
import scratchnet_core as sn
from scratchnet_core.cli import main

L = sn.get_layers()
model = sn.Model([L["linear"](3, 4, "tanh"), L["offset"](4), L["linear"](4, 2)], "mse", "adam")
rng = np.random.default_rng(0)
model.fit(rng.normal(size=(32, 3)), rng.normal(size=(32, 2)), epochs=2, verbose=0)
model.save("model.npz")
sys.exit(main(["export", "model.npz", "model.onnx", "--input-shape", "3", "--verify"])
         or main(["plugins"]))
"""


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@pytest.mark.slow
def test_installed_package_exports_with_its_own_converter(tmp_path: Path) -> None:
    package = tmp_path / "scratchnet-offset"
    package.mkdir()
    (package / "pyproject.toml").write_text(PYPROJECT)
    (package / "scratchnet_offset.py").write_text(MODULE)
    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run([*pip, "--no-deps", "--target", str(site), str(package)], tmp_path)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCRATCHNET", "PYTHON"))}
    env["PYTHONPATH"] = str(site)
    out = run([sys.executable, "-c", textwrap.dedent(SCRIPT)], tmp_path, env)
    assert "verify: ok: onnxruntime" in out
    assert any(
        row.split()[:3] == ["onnx_converters", "offset", "scratchnet-offset"]
        for row in out.splitlines()
    )
    assert (tmp_path / "model.onnx").exists()


def test_runtime_registered_layer_and_converter(fresh_runtime_registrations, tmp_path) -> None:
    @sn.register("layers", "test_square_plus")
    class SquarePlus(sn.Layer):
        """y = x * x + 1."""

        def forward(self, x, training=False):
            self._x = x
            return x * x + 1

        def backward(self, grad):
            return 2 * self._x * grad

    @sn.register("onnx_converters", "test_square_plus")
    def convert(ctx, layer, x):
        return ctx.add_node("Add", [ctx.add_node("Mul", [x, x]), ctx.constant(1.0)])

    layers = [sn.get_layers()["linear"](3, 4), SquarePlus(), sn.get_layers()["linear"](4, 1)]
    for dtype in ("float32", "float64"):
        model = sn.Model(layers, "mse", dtype=dtype)
        model.fit(np.ones((8, 3)), np.ones((8, 1)), verbose=0)
        export(model, tmp_path / "m.onnx")
        assert verify(model, tmp_path / "m.onnx").ok
