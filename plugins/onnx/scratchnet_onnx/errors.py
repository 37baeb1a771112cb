"""The errors of ONNX export and verification.

Each is a `ScratchnetError` and also the builtin it refines, as
every scratchnet error is.
"""

from __future__ import annotations

from scratchnet_core import ScratchnetError

__all__ = [
    "ConverterNotFoundError",
    "ExportError",
    "ExportPathError",
    "OpsetError",
    "UnsupportedByRuntimeError",
    "VerificationError",
]


class ExportError(ScratchnetError, ValueError):
    """A model cannot be exported as asked; nothing was written.

    Examples
    --------
    >>> from scratchnet_onnx.errors import ExportError
    >>> issubclass(ExportError, ValueError)
    True
    """


class ConverterNotFoundError(ExportError, LookupError):
    """A component of the model has no ONNX converter installed.

    The message names the component (its place in the model, its registry name and the
    distribution it comes from) and the entry-point group in which a converter would be
    registered (``scratchnet.onnx_converters``).

    Examples
    --------
    >>> from scratchnet_onnx.errors import ConverterNotFoundError
    >>> print(ConverterNotFoundError("layer 2", "Scale(3)", ["scale"], "acme-layers"))
    cannot export layer 2 (Scale(3), registry name 'scale', from acme-layers): no ONNX ...
    """

    def __init__(
        self, where: str, component: str, names: list[str], distribution: str | None
    ) -> None:
        self.where = where
        self.component = component
        self.names = list(names)
        self.distribution = distribution
        shown = " or ".join(repr(n) for n in self.names) if self.names else "(none)"
        source = f", from {distribution}" if distribution else ""
        first = self.names[0] if self.names else "<its registry name>"
        super().__init__(
            f"cannot export {where} ({component}, registry name {shown}{source}): no ONNX "
            f"converter is installed for it. A converter is an entry point in the group "
            f"'scratchnet.onnx_converters' named {first!r} (or registered in this process "
            f"with @scratchnet_core.register('onnx_converters', {first!r})); see the ONNX page "
            "of the documentation, 'Adding a converter'"
        )


class OpsetError(ExportError):
    """The opset asked for is outside what the exporter, or one component, supports.

    Examples
    --------
    >>> from scratchnet_onnx.errors import OpsetError
    >>> issubclass(OpsetError, ValueError)
    True
    """


class ExportPathError(ExportError, OSError):
    """The output path cannot be written (missing directory, a directory, no permission).

    Examples
    --------
    >>> from scratchnet_onnx.errors import ExportPathError
    >>> issubclass(ExportPathError, OSError)
    True
    """

    def __str__(self) -> str:  # OSError would format (errno, strerror) pairs
        return str(self.args[0]) if self.args else ""


class VerificationError(ScratchnetError, AssertionError):
    """ONNX Runtime's outputs differ from `Model.predict` beyond the tolerance.

    ``report`` holds the measured `VerificationReport` (``None``
    when the graph could not be run at all).

    Examples
    --------
    >>> from scratchnet_onnx.errors import VerificationError
    >>> VerificationError("outputs differ").report is None
    True
    """

    def __init__(self, message: str, report: object | None = None) -> None:
        self.report = report
        super().__init__(message)


class UnsupportedByRuntimeError(VerificationError):
    """ONNX Runtime cannot run the exported graph (it has no kernel for one operator in
    the model's dtype, such as float64 ``Conv``). The file itself is valid ONNX.

    Examples
    --------
    >>> from scratchnet_onnx.errors import UnsupportedByRuntimeError, VerificationError
    >>> issubclass(UnsupportedByRuntimeError, VerificationError)
    True
    """
