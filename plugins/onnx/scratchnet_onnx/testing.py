"""Check a converter the way the project checks its own: export an example model using the
component and compare ONNX Runtime with ``Model.predict``.

A plugin author's test of a converter is one line::

    def test_offset_exports():
        check_converter("layers", "offset")
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratchnet_core import ConfigurationError, Layer, Model, get_registry

from .exporter import VerificationReport, to_onnx, verify

__all__ = ["check_converter", "example_model"]


def example_model(kind: str, name: str, dtype: str = "float32") -> tuple[Model, tuple[int, ...]]:
    """A small model exercising component ``name`` and the input shape it takes.

    A layer is built from its ``conformance`` example (the one the conformance kit uses:
    ``{"args": [...], "kwargs": {...}, "input_shape": [...]}``), with random parameters and
    buffers; an activation is the output activation of a ``linear(5, 4)`` layer.

    >>> from scratchnet_onnx.testing import example_model
    >>> model, shape = example_model("layers", "conv1d")
    >>> model.layers, shape
    ([Conv1d(2, 3, kernel_size=(3,), padding=(1,), Tanh)], (2, 6))
    """
    rng = np.random.default_rng(0)
    cls = get_registry(kind)[name]
    if kind == "activations":
        linear = get_registry("layers")["linear"]
        dense = linear(5, 4, {"name": name, "config": {}}, dtype=dtype)
        return Model([dense], "mse", dtype=dtype), (5,)
    if kind != "layers":
        raise ConfigurationError(
            f"check_converter: kind must be 'layers' or 'activations', got {kind!r}"
        )
    example = getattr(cls, "conformance", None)
    if not example:
        raise ConfigurationError(
            f"check_converter: layer {name!r} has no conformance example (a class attribute "
            "conformance = {'args': [...], 'input_shape': [...]}) to build a model from"
        )
    layer: Layer = cls(*example.get("args", []), **example.get("kwargs", {}))
    layer.to(dtype)
    arrays: dict[str, Any] = {**layer.parameters(), **layer.buffers()}
    for key, value in arrays.items():
        noise = rng.uniform(0.5, 1.5, size=value.shape)  # positive: valid running variances
        value[...] = noise if "var" in key else value + noise - 1.0
    return Model([layer], "mse", dtype=dtype), tuple(int(s) for s in example["input_shape"])


def check_converter(
    kind: str, name: str, *, dtype: str = "float32", opset: int | None = None
) -> VerificationReport:
    """Export `example_model` of ``kind:name`` (``onnx.checker`` included) and verify it
    in ONNX Runtime against ``Model.predict``; return the report, or raise the export's or
    the verification's error.

    >>> from scratchnet_onnx.testing import check_converter
    >>> check_converter("activations", "elu").ok
    True
    """
    model, shape = example_model(kind, name, dtype)
    return verify(model, to_onnx(model, shape, opset))
