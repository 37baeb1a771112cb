"""Converters for the components of ``scratchnet-extras``.

Normalisation layers export in inference form: batch norm with its running statistics,
as ``model.predict`` computes it.

>>> import numpy as np, scratchnet_core as sn
>>> from scratchnet_onnx.context import ConversionContext
>>> ctx = ConversionContext(18, np.dtype("float32"))
>>> ctx.set_shape("input", (4,))
>>> y = ctx.convert(sn.get_layers()["batch_norm"](4), "input", "0")
>>> [n.op_type for n in ctx.nodes], [i.name for i in ctx.initializers]
(['BatchNormalization'], ['0.weight', '0.bias', '0.running_mean', '0.running_var'])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from scratchnet_core import Layer

from ..context import ConversionContext, converter

__all__ = [
    "convert_batch_norm",
    "convert_dropout",
    "convert_elu",
    "convert_gelu",
    "convert_layer_norm",
    "convert_silu",
    "convert_softplus",
]

GELU_OPSET = 20
"""The opset that has a ``Gelu`` operator; older opsets get its formula."""


# --------------------------------------------------------------------------- activations


@converter()
def convert_gelu(ctx: ConversionContext, activation: Any, x: str) -> str:
    """``gelu`` -> ``Gelu(approximate)`` from opset 20; before it, and for float64 models
    (ONNX Runtime's float64 ``Gelu`` is accurate to 1e-10 only), the formula:
    ``0.5 x (1 + erf(x / sqrt 2))``, or with ``approximate="tanh"``
    ``0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))``.

    >>> import numpy as np, scratchnet_core as sn
    >>> from scratchnet_onnx.context import ConversionContext
    >>> ctx = ConversionContext(18, np.dtype("float32"))
    >>> _ = convert_gelu(ctx, sn.get_activation_functions()["gelu"](), "x")
    >>> [n.op_type for n in ctx.nodes]
    ['Mul', 'Erf', 'Add', 'Mul', 'Mul']
    """
    approximate = str(activation.get_config()["approximate"])
    if ctx.opset >= GELU_OPSET and ctx.dtype != np.float64:
        return ctx.add_node("Gelu", [x], approximate=approximate)
    one, half = ctx.constant(1.0), ctx.constant(0.5)
    if approximate == "tanh":
        cube = ctx.add_node("Mul", [ctx.add_node("Mul", [x, x]), x])
        inner = ctx.add_node("Add", [x, ctx.add_node("Mul", [cube, ctx.constant(0.044715)])])
        scaled = ctx.add_node("Mul", [inner, ctx.constant(math.sqrt(2 / math.pi))])
        cdf2 = ctx.add_node("Add", [one, ctx.add_node("Tanh", [scaled])])
    else:
        erf = ctx.add_node("Erf", [ctx.add_node("Mul", [x, ctx.constant(1 / math.sqrt(2))])])
        cdf2 = ctx.add_node("Add", [one, erf])
    return ctx.add_node("Mul", [ctx.add_node("Mul", [x, half]), cdf2])


@converter()
def convert_silu(ctx: ConversionContext, activation: Any, x: str) -> str:
    """``silu`` / ``swish`` -> ``x * Sigmoid(x)``.

    >>> import numpy as np, scratchnet_core as sn
    >>> from scratchnet_onnx.context import ConversionContext
    >>> ctx = ConversionContext(18, np.dtype("float32"))
    >>> _ = convert_silu(ctx, sn.get_activation_functions()["silu"](), "x")
    >>> [n.op_type for n in ctx.nodes]
    ['Sigmoid', 'Mul']
    """
    return ctx.add_node("Mul", [x, ctx.add_node("Sigmoid", [x])])


@converter()
def convert_elu(ctx: ConversionContext, activation: Any, x: str) -> str:
    """``elu`` -> ``Elu(alpha)``; for float64 models its formula with a float64 ``alpha``
    (ONNX float attributes are float32, and ONNX Runtime has no float64 ``Elu`` from opset 21).

    >>> import numpy as np, scratchnet_core as sn
    >>> from scratchnet_onnx.context import ConversionContext
    >>> ctx = ConversionContext(18, np.dtype("float32"))
    >>> convert_elu(ctx, sn.get_activation_functions()["elu"](), "x")
    'Elu_0'
    """
    alpha = float(activation.get_config()["alpha"])
    if ctx.dtype != np.float64:
        return ctx.add_node("Elu", [x], alpha=alpha)
    negative = ctx.add_node("Min", [x, ctx.constant(0.0)])
    expm1 = ctx.add_node("Sub", [ctx.add_node("Exp", [negative]), ctx.constant(1.0)])
    scaled = ctx.add_node("Mul", [expm1, ctx.constant(alpha)])
    return ctx.add_node("Where", [ctx.add_node("Greater", [x, ctx.constant(0.0)]), x, scaled])


@converter()
def convert_softplus(ctx: ConversionContext, activation: Any, x: str) -> str:
    """``softplus`` -> ``Softplus(beta x) / beta``, and ``x`` itself where ``beta x >
    threshold`` (PyTorch's definition, as the extras activation has it). Float64 models get
    ``max(bx, 0) + log(1 + exp(-|bx|))`` instead of ``Softplus``, which ONNX Runtime has no
    float64 kernel for from opset 21.

    >>> import numpy as np, scratchnet_core as sn
    >>> from scratchnet_onnx.context import ConversionContext
    >>> ctx = ConversionContext(18, np.dtype("float32"))
    >>> _ = convert_softplus(ctx, sn.get_activation_functions()["softplus"](), "x")
    >>> [n.op_type for n in ctx.nodes]
    ['Softplus', 'Greater', 'Where']
    """
    config = activation.get_config()
    beta, threshold = float(config["beta"]), float(config["threshold"])
    bx = x if beta == 1.0 else ctx.add_node("Mul", [x, ctx.constant(beta)])
    if ctx.dtype != np.float64:
        soft = ctx.add_node("Softplus", [bx])
    else:  # max(bx, 0) + log(1 + exp(-|bx|)): no float64 Softplus kernel from opset 21
        tail = ctx.add_node("Exp", [ctx.add_node("Neg", [ctx.add_node("Abs", [bx])])])
        log1p = ctx.add_node("Log", [ctx.add_node("Add", [tail, ctx.constant(1.0)])])
        soft = ctx.add_node("Add", [ctx.add_node("Max", [bx, ctx.constant(0.0)]), log1p])
    if beta != 1.0:
        soft = ctx.add_node("Div", [soft, ctx.constant(beta)])
    linear = ctx.add_node("Greater", [bx, ctx.constant(threshold)])
    return ctx.add_node("Where", [linear, x, soft])


# --------------------------------------------------------------------------- layers


@converter()
def convert_dropout(ctx: ConversionContext, layer: Layer, x: str) -> str:
    """``dropout`` -> nothing: at inference it is the identity (as ``torch.onnx`` exports a
    model in eval mode).

    >>> import numpy as np, scratchnet_core as sn
    >>> from scratchnet_onnx.context import ConversionContext
    >>> ctx = ConversionContext(18, np.dtype("float32"))
    >>> convert_dropout(ctx, sn.get_layers()["dropout"](0.5), "x"), ctx.nodes
    ('x', [])
    """
    return x


@converter()
def convert_batch_norm(ctx: ConversionContext, layer: Layer, x: str) -> str:
    """``batch_norm`` / ``batch_norm1d`` / ``batch_norm2d`` -> ``BatchNormalization`` in
    inference mode: ``(x - running_mean) / sqrt(running_var + eps) * weight + bias``
    (ones and zeros for ``weight`` and ``bias`` when ``affine=False``). Float64 models get
    that arithmetic instead, with ``1 / sqrt(running_var + eps)`` computed in float64.

    >>> import numpy as np, scratchnet_core as sn
    >>> from scratchnet_onnx.context import ConversionContext
    >>> ctx = ConversionContext(18, np.dtype("float32"))
    >>> convert_batch_norm(ctx, sn.get_layers()["batch_norm2d"](3), "x")
    'BatchNormalization_0'
    """
    config = layer.get_config()
    if ctx.dtype == np.float64:
        return _batch_norm_arithmetic(ctx, layer, x)
    if config["affine"]:
        scale, bias = ctx.parameter(layer, "weight"), ctx.parameter(layer, "bias")
    else:
        features = int(config["num_features"])
        scale = ctx.add_initializer(np.ones(features), f"{ctx.path}.weight")
        bias = ctx.add_initializer(np.zeros(features), f"{ctx.path}.bias")
    mean, var = ctx.parameter(layer, "running_mean"), ctx.parameter(layer, "running_var")
    return ctx.add_node(
        "BatchNormalization", [x, scale, bias, mean, var], epsilon=float(config["eps"])
    )


def _batch_norm_arithmetic(ctx: ConversionContext, layer: Layer, x: str) -> str:
    """Batch norm as the layer computes it at inference, ``(x - mean) * inv_std * weight +
    bias`` with ``inv_std = 1 / sqrt(running_var + eps)`` computed here in float64 (the
    ``epsilon`` attribute of ``BatchNormalization`` is a float32)."""
    config, buffers, params = layer.get_config(), layer.buffers(), layer.parameters()
    rank = len(ctx.shape(x) or (0,))  # per-sample rank: (C,) or (C, L) or (C, H, W)
    view = [-1, *[1] * (rank - 1)]
    inv_std = 1 / np.sqrt(buffers["running_var"] + float(config["eps"]))

    def tensor(value: np.ndarray, name: str) -> str:
        return ctx.add_initializer(value.reshape(view), f"{ctx.path}.{name}")

    centered = ctx.add_node("Sub", [x, tensor(buffers["running_mean"], "running_mean")])
    xhat = ctx.add_node("Mul", [centered, tensor(inv_std, "inv_std")])
    if not config["affine"]:
        return xhat
    scaled = ctx.add_node("Mul", [xhat, tensor(params["weight"], "weight")])
    return ctx.add_node("Add", [scaled, tensor(params["bias"], "bias")])


@converter(min_opset=17)
def convert_layer_norm(ctx: ConversionContext, layer: Layer, x: str) -> str:
    """``layer_norm`` -> ``LayerNormalization`` over the last ``len(normalized_shape)`` axes
    (opset 17 and newer), its statistics computed in the model's dtype. Float64 models get
    the arithmetic instead (``ReduceMean``, ``Sqrt``, ...), with a float64 ``eps``.

    >>> import numpy as np, scratchnet_core as sn
    >>> from scratchnet_onnx.context import ConversionContext
    >>> ctx = ConversionContext(18, np.dtype("float32"))
    >>> _ = convert_layer_norm(ctx, sn.get_layers()["layer_norm"]([3, 4]), "x")
    >>> {a.name: a.i for a in ctx.nodes[0].attribute if a.type == 2}
    {'axis': -2, 'stash_type': 1}
    """
    config = layer.get_config()
    shape = tuple(int(s) for s in config["normalized_shape"])
    if ctx.dtype == np.float64:
        return _layer_norm_arithmetic(ctx, layer, x)
    if config["elementwise_affine"]:
        scale, bias = ctx.parameter(layer, "weight"), ctx.parameter(layer, "bias")
    else:
        scale = ctx.add_initializer(np.ones(shape), f"{ctx.path}.weight")
        bias = ctx.add_initializer(np.zeros(shape), f"{ctx.path}.bias")
    return ctx.add_node(
        "LayerNormalization",
        [x, scale, bias],
        axis=-len(shape),
        epsilon=float(config["eps"]),
        stash_type=ctx.elem_type,
    )


def _reduce_mean(ctx: ConversionContext, x: str, axes: list[int]) -> str:
    if ctx.opset >= 18:  # axes became an input in opset 18
        return ctx.add_node("ReduceMean", [x, ctx.constant(axes, "axes")], keepdims=1)
    return ctx.add_node("ReduceMean", [x], axes=axes, keepdims=1)


def _layer_norm_arithmetic(ctx: ConversionContext, layer: Layer, x: str) -> str:
    """Layer norm as arithmetic with a float64 ``eps`` (``LayerNormalization``'s ``epsilon``
    attribute is a float32): ``d = x - mean(x)``, ``d / sqrt(mean(d^2) + eps)``."""
    config = layer.get_config()
    axes = list(range(-len(config["normalized_shape"]), 0))
    centered = ctx.add_node("Sub", [x, _reduce_mean(ctx, x, axes)])
    var = _reduce_mean(ctx, ctx.add_node("Mul", [centered, centered]), axes)
    root = ctx.add_node("Sqrt", [ctx.add_node("Add", [var, ctx.constant(float(config["eps"]))])])
    xhat = ctx.add_node("Div", [centered, root])
    if not config["elementwise_affine"]:
        return xhat
    scaled = ctx.add_node("Mul", [xhat, ctx.parameter(layer, "weight")])
    return ctx.add_node("Add", [scaled, ctx.parameter(layer, "bias")])
