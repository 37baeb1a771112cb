"""Shared helpers of the ONNX export tests: export to a file, run it in ONNX Runtime."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

import scratchnet_core as sn
from scratchnet_onnx import VerificationReport, export, verify

Roundtrip = Callable[..., VerificationReport]


@pytest.fixture
def roundtrip(tmp_path: Path) -> Roundtrip:
    """Export ``model`` to a file, load it in ONNX Runtime and compare with ``predict``."""

    def run(
        model: sn.Model, input_shape: Sequence[int] | None = None, opset: int | None = None
    ) -> VerificationReport:
        path = tmp_path / "model.onnx"
        export(model, path, input_shape=input_shape, opset=opset)
        report = verify(model, path, batch_sizes=(1, 6))
        print(report)  # the measured error, shown with -s or on failure
        return report

    return run
