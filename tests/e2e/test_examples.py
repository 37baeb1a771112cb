"""The example scripts run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_digits_cnn_example_reaches_097() -> None:
    pytest.importorskip("sklearn")
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "digits_cnn.py"), "--epochs", "15"],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("scratchnet:"))
    assert float(line.split("test accuracy ")[1].split(",")[0]) >= 0.97
