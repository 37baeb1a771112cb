"""Each layer and activation of scratchnet-std and scratchnet-extras, exported alone from
its conformance example (random parameters and statistics) and run in ONNX Runtime:
float32 within 1e-5, float64 within 1e-10 or refused by ONNX Runtime for lack of a float64
kernel (Conv, AveragePool, Erf)."""

from __future__ import annotations

import pytest

import scratchnet_core as sn
from scratchnet_onnx import UnsupportedByRuntimeError
from scratchnet_onnx.testing import check_converter

OURS = {"scratchnet-std", "scratchnet-extras"}


def components() -> list[tuple[str, str]]:
    found = []
    for kind in ("layers", "activations"):
        registry = sn.get_registry(kind)
        seen = set()
        for record in registry.records():
            if record.distribution in OURS and record.value not in seen:
                seen.add(record.value)
                found.append((kind, registry.name_of(registry[record.name])))
    return sorted(found)


@pytest.mark.parametrize(("kind", "name"), components(), ids=lambda v: str(v))
def test_component_exports_and_runs(kind: str, name: str) -> None:
    report = check_converter(kind, name)
    print(kind, name, report)
    assert report.ok
    try:
        report = check_converter(kind, name, dtype="float64")
    except UnsupportedByRuntimeError as exc:
        assert any(op in str(exc) for op in ("Conv", "AveragePool", "Erf")), exc
    else:
        print(kind, name, report)
        assert report.ok
