"""Every public class and function has a docstring with a runnable example (run as doctests
by pytest's --doctest-modules), so the reference cannot drift from the code."""

from __future__ import annotations

import importlib
import inspect

import pytest

MODULES = [
    "scratchnet_core",
    "scratchnet_core.checks",
    "scratchnet_core.components",
    "scratchnet_core.config",
    "scratchnet_core.conv_geometry",
    "scratchnet_core.feeding",
    "scratchnet_core.history",
    "scratchnet_core.initializers",
    "scratchnet_core.interfaces",
    "scratchnet_core.loop",
    "scratchnet_core.registry",
    "scratchnet_core.serialization",
    "scratchnet_core.summary",
    "scratchnet_core.numerics",
    "scratchnet_core.testing",
    "scratchnet_std.activations",
    "scratchnet_std.callbacks",
    "scratchnet_std.conv_backends._workspace",
    "scratchnet_std.conv_backends.auto",
    "scratchnet_std.conv_backends.direct",
    "scratchnet_std.conv_backends.fft",
    "scratchnet_std.costs",
    "scratchnet_std.datasets",
    "scratchnet_std.initializers",
    "scratchnet_std.layers.containers",
    "scratchnet_std.layers.conv",
    "scratchnet_std.layers.dense",
    "scratchnet_std.layers.pooling",
    "scratchnet_std.layers.reshape",
    "scratchnet_std.metrics",
    "scratchnet_std.optimizers",
    "scratchnet_extras.activations",
    "scratchnet_extras.costs",
    "scratchnet_extras.layers",
    "scratchnet_extras.optimizers",
    "scratchnet_numba.backend",
    "scratchnet_onnx",
    "scratchnet_onnx.command",
    "scratchnet_onnx.context",
    "scratchnet_onnx.converters.containers",
    "scratchnet_onnx.converters.extras",
    "scratchnet_onnx.converters.std",
    "scratchnet_onnx.errors",
    "scratchnet_onnx.exporter",
    "scratchnet_onnx.testing",
    "scratchnet_mpi",
    "scratchnet_mpi.comm",
    "scratchnet_mpi.data_parallel",
]

WITHOUT_EXAMPLE_OK: set[str] = set()


def public(module_name: str):
    module = importlib.import_module(module_name)
    for name in getattr(module, "__all__", []):
        obj = getattr(module, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            yield f"{module_name}.{name}", obj


@pytest.mark.parametrize("module_name", MODULES)
def test_public_names_have_docstrings_with_examples(module_name: str) -> None:
    missing_doc, missing_example = [], []
    for qualified, obj in public(module_name):
        doc = inspect.getdoc(obj) or ""
        if not doc.strip():
            missing_doc.append(qualified)
        elif ">>>" not in doc and module_name not in WITHOUT_EXAMPLE_OK:
            missing_example.append(qualified)
    assert not missing_doc, f"no docstring: {missing_doc}"
    assert not missing_example, f"no example: {missing_example}"
