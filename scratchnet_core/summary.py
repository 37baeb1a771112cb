"""The table behind `Model.summary`: layers, output shapes and parameter counts.

Containers (layers whose `Layer.children` is not empty) show as a tree: each child
on its own row, indented under its container, with its path (the prefix of its parameter
names, ``"1.block.0"``), its output shape and its parameter count; a container's count is
the sum of its children's. A container tells the summary what each child sees through
``child_input_shapes(input_shape) -> {child name: input shape}``; without it, the children's
output shapes show as ``?``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .errors import ShapeError
from .interfaces import Layer

if TYPE_CHECKING:
    from .model import Model

__all__ = ["layer_rows", "summarize"]

Row = tuple[str, str, str, str]


def _shown(shape: tuple[int, ...] | None) -> str:
    return "?" if shape is None else "(N, " + ", ".join(map(str, shape)) + ")"


def layer_rows(
    layer: Layer, path: str, input_shape: tuple[int, ...] | None, depth: int = 0
) -> tuple[list[Row], tuple[int, ...] | None]:
    """Rows ``(path, layer, output shape, parameters)`` for ``layer`` and, indented below it,
    everything inside it; returns them with the layer's output shape (``None`` if unknown).

    >>> import scratchnet_core as sn
    >>> layers = sn.get_layers()
    >>> block = layers["residual"]([layers["linear"](3, 3, "relu"), layers["linear"](3, 3)])
    >>> rows, shape = layer_rows(block, "0", (3,))
    >>> [row[0] for row in rows], shape
    (['0', '0.block', '0.block.0', '0.block.1'], (3,))
    """
    out = None if input_shape is None else layer.output_shape(input_shape)
    rows: list[Row] = [
        (path, "  " * depth + repr(layer), _shown(out), f"{layer.num_parameters():,}")
    ]
    children = layer.children()
    if children:
        shapes_of = getattr(layer, "child_input_shapes", None)
        shapes: dict[str, tuple[int, ...]] = (
            shapes_of(input_shape) if input_shape is not None and shapes_of is not None else {}
        )
        for name, child in children.items():
            child_rows, _ = layer_rows(child, f"{path}.{name}", shapes.get(name), depth + 1)
            rows.extend(child_rows)
    return rows, out


def summarize(
    model: Model,
    input_shape: Sequence[int] | None = None,
    print_fn: Callable[[str], Any] | None = None,
) -> str:
    """Print (with ``print_fn``, default: standard output) and return ``model``'s table.

    ``input_shape`` (one sample, no batch axis) defaults to the shape of the data the model
    last saw; without either, output shapes show as ``?``.

    >>> import scratchnet_core as sn
    >>> layers = sn.get_layers()
    >>> model = sn.Model([layers["sequential"]([layers["linear"](2, 4, "relu"),
    ...                                          layers["linear"](4, 1)])], "mse")
    >>> print(summarize(model, (2,), print_fn=lambda text: None))  # doctest: +ELLIPSIS
    #    layer                output shape  parameters
    ---------------------------------------------------
    0    Sequential(2 layers)  (N, 1)        17
    0.0    Linear(2, 4, ReLU)  (N, 4)        12
    0.1    Linear(4, 1)        (N, 1)        5
    ---------------------------------------------------
    total parameters: 17 (float32); cost MeanSquaredError, optimizer SGD(...)
    """
    shape = tuple(input_shape) if input_shape is not None else model.input_shape
    rows: list[Row] = [("#", "layer", "output shape", "parameters")]
    for i, layer in enumerate(model.layers):
        try:
            layer_table, shape = layer_rows(layer, str(i), shape)
        except ShapeError as exc:
            raise exc.at_index(i) from None
        rows.extend(layer_table)
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    rule = "-" * max(len(line) for line in lines)
    text = "\n".join(
        [
            lines[0],
            rule,
            *lines[1:],
            rule,
            f"total parameters: {model.num_parameters():,} ({model.dtype.name}); "
            f"cost {type(model.cost_function).__name__}, optimizer {model.optimizer!r}",
        ]
    )
    (print_fn or (lambda line: sys.stdout.write(line + "\n")))(text)
    return text
