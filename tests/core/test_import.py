"""Importing the core and listing names imports no plugin module."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
import scratchnet_core as sn
names = {kind: list(sn.get_registry(kind)) for kind in
         ("activations", "costs", "layers", "optimizers", "initializers", "hooks")}
assert "relu" in names["activations"] and "linear" in names["layers"], names
assert "sgd" in dir(__import__("scratchnet_core.optimizers", fromlist=["x"]))
loaded = sorted(m for m in sys.modules if m.startswith("scratchnet_std"))
print(loaded)
"""


def test_import_and_listing_import_no_plugin_module() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_core_import_reads_no_entry_points() -> None:
    code = "import sys, scratchnet_core; print('importlib_metadata' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
