"""scratchnet-onnx: export scratchnet models to ONNX, checked against ONNX Runtime.

>>> import scratchnet_core as sn, scratchnet_onnx
>>> model = sn.Model([sn.get_layers()["linear"](2, 1, "sigmoid")], "binary_cross_entropy")
>>> proto = scratchnet_onnx.to_onnx(model, input_shape=(2,))
>>> scratchnet_onnx.verify(model, proto).ok
True

Converters are plugins too (entry-point group ``scratchnet.onnx_converters``); see
`scratchnet_onnx.context` for the interface.
"""

from __future__ import annotations

__version__ = "0.1.0"

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import (
        GROUP,
        MIN_OPSET,
        ConversionContext,
        Converter,
        converter,
        find_converter,
    )
    from .errors import (
        ConverterNotFoundError,
        ExportError,
        ExportPathError,
        OpsetError,
        UnsupportedByRuntimeError,
        VerificationError,
    )
    from .exporter import (
        BATCH_DIM,
        DEFAULT_OPSET,
        INPUT_NAME,
        OUTPUT_NAME,
        TOLERANCES,
        VerificationReport,
        export,
        max_opset,
        to_onnx,
        verify,
    )

# Names load their module (and ``onnx``) on first use: the ``scratchnet export`` command is
# registered from this package, and every ``scratchnet`` invocation should not import onnx.
_HOME = {
    **dict.fromkeys(
        ["GROUP", "MIN_OPSET", "ConversionContext", "Converter", "converter", "find_converter"],
        "context",
    ),
    **dict.fromkeys(
        [
            "ConverterNotFoundError",
            "ExportError",
            "ExportPathError",
            "OpsetError",
            "UnsupportedByRuntimeError",
            "VerificationError",
        ],
        "errors",
    ),
    **dict.fromkeys(
        [
            "BATCH_DIM",
            "DEFAULT_OPSET",
            "INPUT_NAME",
            "OUTPUT_NAME",
            "TOLERANCES",
            "VerificationReport",
            "export",
            "max_opset",
            "to_onnx",
            "verify",
        ],
        "exporter",
    ),
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'scratchnet_onnx' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


__all__ = [
    "BATCH_DIM",
    "DEFAULT_OPSET",
    "GROUP",
    "INPUT_NAME",
    "MIN_OPSET",
    "OUTPUT_NAME",
    "TOLERANCES",
    "ConversionContext",
    "Converter",
    "ConverterNotFoundError",
    "ExportError",
    "ExportPathError",
    "OpsetError",
    "UnsupportedByRuntimeError",
    "VerificationError",
    "VerificationReport",
    "converter",
    "export",
    "find_converter",
    "max_opset",
    "to_onnx",
    "verify",
]
