"""``scratchnet export MODEL.npz MODEL.onnx [--opset N] [--verify]``: the subcommand this
distribution contributes to the ``scratchnet`` command (entry-point group
``scratchnet.commands``).

>>> import argparse
>>> from scratchnet_onnx.command import ExportCommand
>>> parser = argparse.ArgumentParser(prog="scratchnet export")
>>> ExportCommand().add_arguments(parser)
>>> parser.parse_args(["m.npz", "m.onnx", "--opset", "20", "--input-shape", "1,8,8"]).input_shape
(1, 8, 8)
"""

from __future__ import annotations

import argparse
import re
import sys

__all__ = ["ExportCommand", "parse_shape"]


def parse_shape(text: str) -> tuple[int, ...]:
    """``"1,8,8"`` (or ``"1x8x8"``) -> ``(1, 8, 8)``, for ``--input-shape``.

    >>> parse_shape("1x8x8")
    (1, 8, 8)
    >>> parse_shape("1,8,x")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected positive integers separated by commas, ...
    """
    parts = [p.strip() for p in re.split(r"[,x]", text.strip())]
    if not all(p.isdigit() for p in parts) or min(int(p) for p in parts) < 1:
        raise argparse.ArgumentTypeError(
            f"expected positive integers separated by commas, such as 1,8,8; got {text!r}"
        )
    return tuple(int(p) for p in parts)


class ExportCommand:
    """Export a model file to ONNX, optionally checking it with ONNX Runtime.

    >>> ExportCommand.help
    'export a model file to ONNX (scratchnet-onnx)'
    """

    help = "export a model file to ONNX (scratchnet-onnx)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """The command's arguments."""
        parser.description = (
            "Write MODEL as an ONNX graph: input 'input' (batch, *input_shape), output "
            "'output', in the model's dtype, with a dynamic batch axis."
        )
        parser.add_argument("model", help="the scratchnet model file (.npz)")
        parser.add_argument("output", help="the ONNX file to write (.onnx)")
        parser.add_argument(
            "--opset",
            type=int,
            default=None,
            metavar="N",
            help="ai.onnx opset to write (default: scratchnet_onnx.DEFAULT_OPSET, 20)",
        )
        parser.add_argument(
            "--input-shape",
            type=parse_shape,
            default=None,
            metavar="SHAPE",
            help="one sample's shape, such as 1,8,8 (default: what the model was trained on)",
        )
        parser.add_argument(
            "--verify",
            action="store_true",
            help="run the export in ONNX Runtime on random input and compare with predict",
        )

    def run(self, args: argparse.Namespace) -> int:
        """Export (and verify); exit status 0 on success."""
        from scratchnet_core import Model

        from .exporter import export, verify

        model = Model.load(args.model)
        proto = export(model, args.output, input_shape=args.input_shape, opset=args.opset)
        graph = proto.graph

        def shape(value: object) -> str:
            dims = value.type.tensor_type.shape.dim  # type: ignore[attr-defined]
            return "(" + ", ".join(d.dim_param or str(d.dim_value) for d in dims) + ")"

        sys.stdout.write(
            f"wrote {args.output}: opset {proto.opset_import[0].version}, {model.dtype.name}, "
            f"{len(graph.node)} nodes; input {graph.input[0].name!r} {shape(graph.input[0])} "
            f"-> output {graph.output[0].name!r} {shape(graph.output[0])}\n"
        )
        if args.verify:
            sys.stdout.write(f"verify: {verify(model, proto)}\n")
        return 0
