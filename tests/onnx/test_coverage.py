"""Every layer and activation of scratchnet-std and scratchnet-extras, under every registry
name and alias, has an ONNX converter registered by scratchnet-onnx."""

from __future__ import annotations

import pytest

import scratchnet_core as sn
from scratchnet_onnx import Converter

OURS = {"scratchnet-std", "scratchnet-extras"}


def names(kind: str) -> list[str]:
    registry = sn.get_registry(kind)
    return sorted(r.name for r in registry.records() if r.distribution in OURS)


@pytest.mark.parametrize("kind", ["layers", "activations"])
def test_every_std_and_extras_component_has_a_converter(kind: str) -> None:
    converters = sn.get_registry("onnx_converters")
    assert names(kind), f"no {kind} from {OURS} installed"
    missing = [name for name in names(kind) if name not in converters]
    assert not missing, f"{kind} without an ONNX converter: {missing}"
    for name in names(kind):
        assert converters.origin(name)[0] == "scratchnet-onnx"
        assert isinstance(converters[name], Converter)
