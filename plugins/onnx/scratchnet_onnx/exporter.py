"""Export a model to ONNX, and check the export against ONNX Runtime.

The graph has one input, ``"input"``, of shape ``(batch, *input_shape)``, and one output,
``"output"``, of shape ``(batch, *output_shape)``; ``batch`` is a symbolic (dynamic)
dimension. Both have the model's dtype: ``tensor(float)`` for float32 models,
``tensor(double)`` for float64 ones. Initializers are named as ``Model.parameters()`` and
``Model.buffers()`` key them (``"0.weight"``, ``"2.running_mean"``).
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, NamedTuple

import numpy as np
import onnx
from onnx import helper

from scratchnet_core import ConfigurationError, Model, OptionalDependencyError
from scratchnet_core.serialization import write_atomically

from . import __version__
from .context import MIN_OPSET, ConversionContext
from .errors import (
    ExportError,
    ExportPathError,
    OpsetError,
    UnsupportedByRuntimeError,
    VerificationError,
)

__all__ = [
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
]

DEFAULT_OPSET: Final = 20
"""The opset written when none is asked for: the default of ``torch.onnx.export`` in
PyTorch 2.13, read by ONNX Runtime 1.17 and newer, the first with a ``Gelu`` operator."""

INPUT_NAME: Final = "input"
OUTPUT_NAME: Final = "output"
BATCH_DIM: Final = "batch"

TOLERANCES: Final = {"float32": 1e-5, "float64": 1e-10}
"""Largest accepted ``max |onnx - predict| / max |predict|`` per model dtype."""

_MAX_PROTO_BYTES: Final = 2**31 - 1


def max_opset() -> int:
    """The newest default-domain opset the installed ``onnx`` package knows.

    >>> from scratchnet_onnx import max_opset
    >>> max_opset() >= 18
    True
    """
    return int(onnx.defs.onnx_opset_version())


def _resolve_opset(opset: Any) -> int:
    if opset is None:
        return min(DEFAULT_OPSET, max_opset())
    if isinstance(opset, bool) or not isinstance(opset, numbers.Integral):
        raise OpsetError(f"export: opset must be an integer, got {opset!r}")
    if not MIN_OPSET <= int(opset) <= max_opset():
        raise OpsetError(
            f"export: opset must be between {MIN_OPSET} (the oldest scratchnet-onnx writes) and "
            f"{max_opset()} (the newest onnx {onnx.__version__} knows), got {opset}"
        )
    return int(opset)


def _resolve_input_shape(model: Model, input_shape: Any) -> tuple[int, ...]:
    if input_shape is None:
        known = getattr(model, "input_shape", None)
        if known is None:
            raise ConfigurationError(
                "export: input_shape is required for this model: it has not been trained (or "
                "its file does not record the input shape), so the shape of one input sample, "
                "without the batch axis, is unknown; pass input_shape=(...) such as (1, 8, 8) "
                "(--input-shape 1,8,8 on the command line)"
            )
        input_shape = known
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence):
        raise ConfigurationError(
            f"export: input_shape must be a sequence of positive integers, got {input_shape!r}"
        )
    shape: tuple[Any, ...] = tuple(input_shape)
    if not all(_positive_integer(s) for s in shape):
        raise ConfigurationError(
            "export: input_shape must be positive integers (one sample, no batch axis), got "
            f"{input_shape!r}"
        )
    return tuple(int(s) for s in shape)


def _positive_integer(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return False
    return int(value) >= 1


def _rename_output(ctx: ConversionContext, last: str) -> None:
    """Make the graph's last tensor the one named ``OUTPUT_NAME``."""
    producers = [n for n in ctx.nodes if last in n.output]
    if not producers:  # the input itself (a model of identities) or a constant
        ctx.add_node("Identity", [last], outputs=[OUTPUT_NAME])
        return
    for node in ctx.nodes:
        node.output[:] = [OUTPUT_NAME if o == last else o for o in node.output]
        node.input[:] = [OUTPUT_NAME if i == last else i for i in node.input]


def to_onnx(
    model: Model, input_shape: Sequence[int] | None = None, opset: int | None = None
) -> onnx.ModelProto:
    """The ONNX model of ``model``, built and checked in memory (nothing is written).

    See `export` for the arguments and the graph's names.

    >>> import scratchnet_core as sn
    >>> from scratchnet_onnx import to_onnx
    >>> model = sn.Model([sn.get_layers()["linear"](3, 2, "relu")], "mse")
    >>> proto = to_onnx(model, input_shape=(3,))
    >>> [n.op_type for n in proto.graph.node], proto.opset_import[0].version
    (['Gemm', 'Relu'], 20)
    """
    version = _resolve_opset(opset)
    shape = _resolve_input_shape(model, input_shape)
    out_shape = model.output_shape(shape)  # a ShapeError names the layer before any work
    ctx = ConversionContext(version, model.dtype)
    ctx.reserve(INPUT_NAME)
    ctx.reserve(OUTPUT_NAME)
    ctx.set_shape(INPUT_NAME, shape)
    last = INPUT_NAME
    for i, layer in enumerate(model.layers):
        last = ctx.convert(layer, last, str(i))
    _rename_output(ctx, last)

    graph = helper.make_graph(
        ctx.nodes,
        "scratchnet",
        [helper.make_tensor_value_info(INPUT_NAME, ctx.elem_type, [BATCH_DIM, *shape])],
        [helper.make_tensor_value_info(OUTPUT_NAME, ctx.elem_type, [BATCH_DIM, *out_shape])],
        ctx.initializers,
    )
    opsets = [helper.make_opsetid("", version)]
    proto = helper.make_model(
        graph,
        opset_imports=opsets,
        producer_name="scratchnet-onnx",
        producer_version=__version__,
        doc_string=f"scratchnet model: {len(model.layers)} layers, {model.dtype.name}",
    )
    proto.ir_version = helper.find_min_ir_version_for(opsets)
    helper.set_model_props(
        proto,
        {
            "scratchnet.dtype": model.dtype.name,
            "scratchnet.input_shape": json.dumps(list(shape)),
            "scratchnet.output_shape": json.dumps(list(out_shape)),
            "scratchnet.layers": json.dumps([type(layer).__name__ for layer in model.layers]),
        },
    )
    if proto.ByteSize() > _MAX_PROTO_BYTES:
        raise ExportError(
            f"export: the model is {proto.ByteSize() / 2**30:.1f} GiB as ONNX, more than the "
            "2 GiB a single ONNX file can hold"
        )
    try:
        onnx.checker.check_model(proto, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise ExportError(
            f"export: the ONNX graph built from the model's converters is invalid: {exc}"
        ) from exc
    return proto


def _check_target(path: str | os.PathLike[str]) -> Path:
    target = Path(os.fspath(path))
    if target.is_dir():
        raise ExportPathError(f"cannot export to {str(target)!r}: it is a directory")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise ExportPathError(
            f"cannot export to {str(target)!r}: the directory {str(parent)!r} does not exist"
        )
    return target


def export(
    model: Model,
    path: str | os.PathLike[str],
    input_shape: Sequence[int] | None = None,
    opset: int | None = None,
) -> onnx.ModelProto:
    """Write ``model`` to ``path`` as an ONNX model, atomically; return the ONNX model.

    Parameters
    ----------
    model:
        A `scratchnet_core.Model`; every layer and activation in it needs a converter
        (``scratchnet.onnx_converters``), else a
        `ConverterNotFoundError` names it.
    path:
        The ``.onnx`` file. It is written beside and renamed over ``path`` once complete:
        an error leaves no file, and the previous one intact.
    input_shape:
        One input sample's shape, without the batch axis (``(1, 8, 8)``); by default the
        shape the model was trained on (``model.input_shape``). Required for a model that
        has not been trained.
    opset:
        The ``ai.onnx`` opset (`DEFAULT_OPSET` by default; 13 to `max_opset`).

    The graph's input is ``"input"`` ``(batch, *input_shape)``, its output ``"output"``
    ``(batch, *output_shape)``, in the model's dtype (float32 or float64); ``batch`` is
    dynamic. ``onnx.checker.check_model`` (with shape inference) passes on every export.

    Examples
    --------
    >>> import os, tempfile, scratchnet_core as sn
    >>> from scratchnet_onnx import export
    >>> model = sn.Model([sn.get_layers()["linear"](4, 3, "softmax")], "cross_entropy")
    >>> path = os.path.join(tempfile.mkdtemp(), "model.onnx")
    >>> proto = export(model, path, input_shape=(4,))
    >>> [i.name for i in proto.graph.input], [o.name for o in proto.graph.output]
    (['input'], ['output'])
    """
    target = _check_target(path)
    proto = to_onnx(model, input_shape, opset)
    blob = proto.SerializeToString()
    try:
        write_atomically(target, lambda f: f.write(blob))
    except OSError as exc:
        raise ExportPathError(f"cannot export to {str(target)!r}: {exc.strerror or exc}") from exc
    return proto


# --------------------------------------------------------------------------- verification


class VerificationReport(NamedTuple):
    """How closely ONNX Runtime reproduced `Model.predict`.

    ``relative_error`` is ``max_abs_error / scale`` with ``scale = max |predict|`` over the
    random inputs (1 when every output is 0); the export passes when it is at most
    ``tolerance``.

    >>> from scratchnet_onnx import VerificationReport
    >>> r = VerificationReport(2e-7, 4.0, 5e-8, 1e-5, "float32", (1, 5), "onnxruntime 1.x")
    >>> r.ok
    True
    """

    max_abs_error: float
    scale: float
    relative_error: float
    tolerance: float
    dtype: str
    batch_sizes: tuple[int, ...]
    runtime: str

    @property
    def ok(self) -> bool:
        """Whether the error is within the tolerance (and finite)."""
        return bool(math.isfinite(self.relative_error) and self.relative_error <= self.tolerance)

    def __str__(self) -> str:
        sizes = ", ".join(map(str, self.batch_sizes))
        verdict = "ok" if self.ok else "FAILED"
        return (
            f"{verdict}: {self.runtime} vs Model.predict on random {self.dtype} batches of "
            f"{sizes}: max |error| {self.max_abs_error:.3g}, {self.relative_error:.3g} relative "
            f"to scale {self.scale:.3g} (tolerance {self.tolerance:g})"
        )


_MISSING_KERNEL = re.compile(r"implementation for (\w+)\((\d+)\) node with name '([^']*)'")


def _session(blob: bytes, dtype: str) -> Any:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise OptionalDependencyError(
            "verifying an ONNX export needs onnxruntime: pip install 'scratchnet-onnx[verify]'"
        ) from exc
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: ONNX Runtime would warn on stderr otherwise
    try:
        return ort.InferenceSession(blob, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types, not exported
        text = str(exc)
        missing = _MISSING_KERNEL.search(text)
        if missing:
            op, version, node = missing.groups()
            where = f" (node {node!r}: layer {node.split('/')[0]})" if "/" in node else ""
            raise UnsupportedByRuntimeError(
                f"ONNX Runtime {ort.__version__} cannot run this {dtype} graph: its CPU provider "
                f"has no {dtype} kernel for {op} (version {version}){where}. The exported file "
                "is valid ONNX (onnx.checker passed); ONNX Runtime runs float64 exports of every "
                "component but convolution, average pooling and exact GELU. To serve this model "
                "with it, export a float32 copy: Model(model.layers, model.cost_function, "
                "dtype='float32') casts the layers"
            ) from exc
        raise VerificationError(f"ONNX Runtime cannot load the exported model: {text}") from exc


def verify(
    model: Model,
    exported: onnx.ModelProto | str | os.PathLike[str],
    *,
    batch_sizes: Sequence[int] = (1, 5),
    seed: int = 0,
    tolerance: float | None = None,
) -> VerificationReport:
    """Run the exported graph in ONNX Runtime on random normal inputs and compare with
    ``model.predict``; return the `VerificationReport`.

    Raises `VerificationError` when the relative error exceeds
    ``tolerance`` (`TOLERANCES`: 1e-5 for float32 models, 1e-10 for float64), and
    `UnsupportedByRuntimeError` when ONNX Runtime has no
    kernel for an operator in the model's dtype. Several batch sizes check that the batch
    axis is dynamic. Needs ``onnxruntime`` (``pip install 'scratchnet-onnx[verify]'``).

    Examples
    --------
    >>> import scratchnet_core as sn
    >>> from scratchnet_onnx import to_onnx, verify
    >>> model = sn.Model([sn.get_layers()["linear"](3, 2, "tanh")], "mse")
    >>> verify(model, to_onnx(model, input_shape=(3,))).ok
    True
    """
    if isinstance(exported, onnx.ModelProto):
        proto = exported
    else:
        try:
            proto = onnx.load(os.fspath(exported))
        except OSError as exc:
            raise ExportPathError(f"cannot read {os.fspath(exported)!r}: {exc}") from exc
    dtype = model.dtype.name
    limit = TOLERANCES[dtype] if tolerance is None else float(tolerance)
    session = _session(proto.SerializeToString(), dtype)
    (graph_input,) = session.get_inputs()
    expected_type = "tensor(double)" if dtype == "float64" else "tensor(float)"
    if graph_input.type != expected_type:
        raise VerificationError(
            f"the ONNX model's input is {graph_input.type}, but the model is {dtype} "
            f"({expected_type}): it was exported from another model"
        )
    sample = tuple(int(d) for d in graph_input.shape[1:])
    rng = np.random.default_rng(seed)
    worst, scale = 0.0, 0.0
    import onnxruntime as ort

    for n in batch_sizes:
        x = rng.standard_normal((int(n), *sample)).astype(model.dtype)
        expected = model.predict(x)
        (got,) = session.run(None, {graph_input.name: x})
        if got.shape != expected.shape or got.dtype != expected.dtype:
            raise VerificationError(
                f"ONNX Runtime returned {got.dtype} {got.shape} for a batch of {n}, "
                f"Model.predict {expected.dtype} {expected.shape}"
            )
        diff = np.abs(got.astype(np.float64) - expected.astype(np.float64))
        worst = max(worst, float(diff.max()) if np.isfinite(diff).all() else math.inf)
        scale = max(scale, float(np.abs(expected).max()))
    scale = scale if scale > 0 else 1.0
    report = VerificationReport(
        worst,
        scale,
        worst / scale,
        limit,
        dtype,
        tuple(int(n) for n in batch_sizes),
        f"onnxruntime {ort.__version__}",
    )
    if not report.ok:
        raise VerificationError(f"the ONNX export does not match Model.predict: {report}", report)
    return report
