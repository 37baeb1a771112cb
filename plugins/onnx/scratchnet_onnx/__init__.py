"""scratchnet-onnx: export scratchnet models to ONNX, checked against ONNX Runtime.

>>> import scratchnet_core as sn, scratchnet_onnx
>>> model = sn.Model([sn.get_layers()["linear"](2, 1, "sigmoid")], "binary_cross_entropy")
>>> proto = scratchnet_onnx.to_onnx(model, input_shape=(2,))
>>> scratchnet_onnx.verify(model, proto).ok
True

Converters are plugins too (entry-point group ``scratchnet.onnx_converters``); see
:mod:`scratchnet_onnx.context` for the interface.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .context import GROUP, MIN_OPSET, ConversionContext, Converter, converter, find_converter
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
