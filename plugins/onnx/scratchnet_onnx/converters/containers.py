"""Converters for the containers of ``scratchnet-std``: they convert their children with
`convert`, so any layer with a converter
can sit inside them, at any depth.

>>> import numpy as np, scratchnet_core as sn
>>> from scratchnet_onnx.context import ConversionContext
>>> L = sn.get_layers()
>>> block = L["residual"]([L["linear"](4, 4, "relu"), L["linear"](4, 4)], activation="relu")
>>> ctx = ConversionContext(18, np.dtype("float32"))
>>> ctx.set_shape("input", (4,))
>>> y = ctx.convert(block, "input", "0")
>>> [n.op_type for n in ctx.nodes], [i.name for i in ctx.initializers][:2]
(['Gemm', 'Relu', 'Gemm', 'Add', 'Relu'], ['0.block.0.weight', '0.block.0.bias'])
"""

from __future__ import annotations

from typing import Any

from ..context import ConversionContext, converter

__all__ = ["convert_activation_layer", "convert_concat", "convert_residual", "convert_sequential"]


@converter()
def convert_sequential(ctx: ConversionContext, layer: Any, x: str) -> str:
    """``sequential``: its layers in order. Its ``activation`` is its last layer's, applied
    by the exporter after this converter, so the last layer is converted up to its
    pre-activation then.

    >>> import numpy as np, scratchnet_core as sn
    >>> from scratchnet_onnx.context import ConversionContext
    >>> L = sn.get_layers()
    >>> ctx = ConversionContext(18, np.dtype("float32"))
    >>> _ = ctx.convert(L["sequential"]([L["linear"](3, 2, "relu"), L["linear"](2, 2, "tanh")]),
    ...                 "x", "0")
    >>> [n.op_type for n in ctx.nodes]
    ['Gemm', 'Relu', 'Gemm', 'Tanh']
    """
    children = list(layer.children().items())
    own_activation = layer.activation is not None
    for i, (name, child) in enumerate(children):
        last = i == len(children) - 1
        x = ctx.convert(child, x, f"{ctx.path}.{name}", activation=not (last and own_activation))
    return x


@converter()
def convert_residual(ctx: ConversionContext, layer: Any, x: str) -> str:
    """``residual``: ``Add(block(x), shortcut(x))`` (``x`` itself for the identity
    shortcut); the exporter applies the residual's ``activation`` after the sum.

    >>> import numpy as np, scratchnet_core as sn
    >>> from scratchnet_onnx.context import ConversionContext
    >>> L = sn.get_layers()
    >>> ctx = ConversionContext(18, np.dtype("float32"))
    >>> _ = convert_residual(ctx, L["residual"](L["linear"](3, 3)), "x")
    >>> [(n.op_type, list(n.input)) for n in ctx.nodes][-1]
    ('Add', ['Gemm_0', 'x'])
    """
    children = layer.children()
    out = ctx.convert(children["block"], x, f"{ctx.path}.block")
    skip = x
    if "shortcut" in children:
        skip = ctx.convert(children["shortcut"], x, f"{ctx.path}.shortcut")
    return ctx.add_node("Add", [out, skip])


@converter()
def convert_concat(ctx: ConversionContext, layer: Any, x: str) -> str:
    """``concat``: every branch on the same input, joined by ``Concat`` along the layer's
    ``axis`` (an axis of the full ``(N, ...)`` tensor, 1 by default).

    >>> import numpy as np, scratchnet_core as sn
    >>> from scratchnet_onnx.context import ConversionContext
    >>> L = sn.get_layers()
    >>> ctx = ConversionContext(18, np.dtype("float32"))
    >>> _ = convert_concat(ctx, L["concat"]([L["linear"](3, 2), L["linear"](3, 4)]), "x")
    >>> ctx.nodes[-1].op_type, ctx.nodes[-1].attribute[0].i
    ('Concat', 1)
    """
    outputs = [
        ctx.convert(branch, x, f"{ctx.path}.{name}") for name, branch in layer.children().items()
    ]
    return ctx.add_node("Concat", outputs, axis=int(layer.get_config()["axis"]))


@converter()
def convert_activation_layer(ctx: ConversionContext, layer: Any, x: str) -> str:
    """``activation`` (the layer): nothing here; the exporter converts its ``activation``
    as it does any layer's output activation.

    >>> import numpy as np, scratchnet_core as sn
    >>> from scratchnet_onnx.context import ConversionContext
    >>> ctx = ConversionContext(18, np.dtype("float32"))
    >>> _ = ctx.convert(sn.get_layers()["activation"]("sigmoid"), "x", "0")
    >>> [n.op_type for n in ctx.nodes]
    ['Sigmoid']
    """
    return x
