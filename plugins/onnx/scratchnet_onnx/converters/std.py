"""Converters for the components of ``scratchnet-std``.

Layers emit their output up to the pre-activation; the exporter converts a layer's
``activation`` after it. Pooling follows the std layers' PyTorch semantics:
``count_include_pad=1`` for average pooling, ``ceil_mode=0``, max pooling ignores padding.

>>> import numpy as np, scratchnet_core as sn
>>> from scratchnet_onnx.context import ConversionContext
>>> ctx = ConversionContext(18, np.dtype("float32"))
>>> ctx.set_shape("input", (1, 8, 8))
>>> y = ctx.convert(sn.get_layers()["conv2d"](1, 4, 3, "same", "relu"), "input", "0")
>>> [n.op_type for n in ctx.nodes], ctx.shape(y)
(['Conv', 'Relu'], (4, 8, 8))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratchnet_core import ActivationFunction, Layer

from ..context import ConversionContext, converter

__all__ = [
    "convert_avg_pool",
    "convert_conv",
    "convert_flatten",
    "convert_global_avg_pool",
    "convert_identity",
    "convert_leaky_relu",
    "convert_linear",
    "convert_max_pool",
    "convert_relu",
    "convert_sigmoid",
    "convert_softmax",
    "convert_tanh",
]


# --------------------------------------------------------------------------- activations


@converter()
def convert_identity(ctx: ConversionContext, activation: ActivationFunction, x: str) -> str:
    """``identity``: no node, the input is the output.

    >>> import numpy as np, scratchnet_core as sn
    >>> from scratchnet_onnx.context import ConversionContext
    >>> ctx = ConversionContext(18, np.dtype("float32"))
    >>> convert_identity(ctx, sn.get_activation_functions()["identity"](), "x"), ctx.nodes
    ('x', [])
    """
    return x


@converter()
def convert_relu(ctx: ConversionContext, activation: ActivationFunction, x: str) -> str:
    """``relu`` -> ``Relu``.

    >>> import numpy as np, scratchnet_core as sn
    >>> from scratchnet_onnx.context import ConversionContext
    >>> ctx = ConversionContext(18, np.dtype("float32"))
    >>> convert_relu(ctx, sn.get_activation_functions()["relu"](), "x")
    'Relu_0'
    """
    return ctx.add_node("Relu", [x])


@converter()
def convert_leaky_relu(ctx: ConversionContext, activation: Any, x: str) -> str:
    """``leaky_relu`` -> ``LeakyRelu(alpha=negative_slope)``; for float64 models its
    formula with the slope as a float64 tensor (ONNX float attributes are float32, and ONNX
    Runtime has no float64 ``LeakyRelu`` or ``PRelu`` from opset 21).

    >>> import numpy as np, scratchnet_core as sn
    >>> from scratchnet_onnx.context import ConversionContext
    >>> ctx = ConversionContext(18, np.dtype("float32"))
    >>> _ = convert_leaky_relu(ctx, sn.get_activation_functions()["leaky_relu"](0.2), "x")
    >>> round(ctx.nodes[0].attribute[0].f, 6)
    0.2
    """
    slope = float(activation.get_config()["negative_slope"])
    if ctx.dtype == np.float64:  # ONNX float attributes are float32: keep the slope exact
        positive = ctx.add_node("Greater", [x, ctx.constant(0.0)])
        return ctx.add_node("Where", [positive, x, ctx.add_node("Mul", [x, ctx.constant(slope)])])
    return ctx.add_node("LeakyRelu", [x], alpha=slope)


@converter()
def convert_sigmoid(ctx: ConversionContext, activation: ActivationFunction, x: str) -> str:
    """``sigmoid`` -> ``Sigmoid``.

    >>> import numpy as np, scratchnet_core as sn
    >>> from scratchnet_onnx.context import ConversionContext
    >>> ctx = ConversionContext(18, np.dtype("float32"))
    >>> convert_sigmoid(ctx, sn.get_activation_functions()["sigmoid"](), "x")
    'Sigmoid_0'
    """
    return ctx.add_node("Sigmoid", [x])


@converter()
def convert_tanh(ctx: ConversionContext, activation: ActivationFunction, x: str) -> str:
    """``tanh`` -> ``Tanh``.

    >>> import numpy as np, scratchnet_core as sn
    >>> from scratchnet_onnx.context import ConversionContext
    >>> ctx = ConversionContext(18, np.dtype("float32"))
    >>> convert_tanh(ctx, sn.get_activation_functions()["tanh"](), "x")
    'Tanh_0'
    """
    return ctx.add_node("Tanh", [x])


@converter()
def convert_softmax(ctx: ConversionContext, activation: Any, x: str) -> str:
    """``softmax`` -> ``Softmax`` over the activation's ``axis`` (default ``-1``, the last,
    as the std activation; opset 13 semantics: one axis, not "coerced to 2-d").

    >>> import numpy as np, scratchnet_core as sn
    >>> from scratchnet_onnx.context import ConversionContext
    >>> ctx = ConversionContext(18, np.dtype("float32"))
    >>> _ = convert_softmax(ctx, sn.get_activation_functions()["softmax"](), "x")
    >>> ctx.nodes[0].attribute[0].i
    -1
    """
    return ctx.add_node("Softmax", [x], axis=int(activation.get_config()["axis"]))


# --------------------------------------------------------------------------- layers


@converter()
def convert_linear(ctx: ConversionContext, component: Any, x: str) -> str:
    """``linear`` layer -> ``Gemm(x, weight, bias)`` (weight ``(in, out)``, no transpose).

    The name ``linear`` is also the identity activation's alias: given an activation, this
    converter is the identity.

    >>> import numpy as np, scratchnet_core as sn
    >>> from scratchnet_onnx.context import ConversionContext
    >>> ctx = ConversionContext(18, np.dtype("float32"))
    >>> ctx.path = "0"
    >>> _ = convert_linear(ctx, sn.get_layers()["linear"](3, 2), "x")
    >>> ctx.nodes[0].op_type, list(ctx.nodes[0].input)
    ('Gemm', ['x', '0.weight', '0.bias'])
    """
    if isinstance(component, ActivationFunction):
        return x
    inputs = [x, ctx.parameter(component, "weight")]
    if "bias" in component.parameters():
        inputs.append(ctx.parameter(component, "bias"))
    return ctx.add_node("Gemm", inputs)


def conv_pads(layer: Layer) -> list[int]:
    """ONNX ``pads`` (all befores, then all afters) of a std convolution, ``"same"`` and
    ``"valid"`` resolved as the layer does (for even kernels the extra zero goes after).

    >>> import scratchnet_core as sn
    >>> conv_pads(sn.get_layers()["conv2d"](1, 1, (2, 3), "same"))
    [0, 1, 1, 1]
    """
    config = layer.get_config()
    kernel, dilation, padding = config["kernel_size"], config["dilation"], config["padding"]
    if padding == "valid":
        return [0] * (2 * len(kernel))
    if padding == "same":
        total = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
        before = [t // 2 for t in total]
        return before + [t - b for t, b in zip(total, before, strict=True)]
    return [int(p) for p in padding] * 2


@converter()
def convert_conv(ctx: ConversionContext, layer: Layer, x: str) -> str:
    """``convolutional_{1,2,3}d`` -> ``Conv`` with ``strides``, ``dilations`` and explicit
    ``pads`` (the weight layout ``(C_out, C_in, *kernel)`` is ONNX's).

    >>> import numpy as np, scratchnet_core as sn
    >>> from scratchnet_onnx.context import ConversionContext
    >>> ctx = ConversionContext(18, np.dtype("float32"))
    >>> _ = convert_conv(ctx, sn.get_layers()["conv1d"](2, 3, 5, stride=2), "x")
    >>> {a.name: list(a.ints) for a in ctx.nodes[0].attribute}["strides"]
    [2]
    """
    config = layer.get_config()
    inputs = [x, ctx.parameter(layer, "weight")]
    if config["bias"]:
        inputs.append(ctx.parameter(layer, "bias"))
    return ctx.add_node(
        "Conv",
        inputs,
        kernel_shape=list(config["kernel_size"]),
        strides=list(config["stride"]),
        dilations=list(config["dilation"]),
        pads=conv_pads(layer),
        group=1,
    )


def _pool_attributes(layer: Layer) -> dict[str, Any]:
    config = layer.get_config()
    return {
        "kernel_shape": list(config["kernel_size"]),
        "strides": list(config["stride"]),
        "pads": [int(p) for p in config["padding"]] * 2,
        "ceil_mode": 0,
    }


@converter()
def convert_max_pool(ctx: ConversionContext, layer: Layer, x: str) -> str:
    """``max_pool{,1d,2d,3d}`` -> ``MaxPool`` (padding never wins a maximum, as the std
    layer's ``-inf`` padding; outputs round down).

    >>> import numpy as np, scratchnet_core as sn
    >>> from scratchnet_onnx.context import ConversionContext
    >>> ctx = ConversionContext(18, np.dtype("float32"))
    >>> convert_max_pool(ctx, sn.get_layers()["max_pool2d"](2), "x")
    'MaxPool_0'
    """
    return ctx.add_node("MaxPool", [x], **_pool_attributes(layer))


@converter()
def convert_avg_pool(ctx: ConversionContext, layer: Layer, x: str) -> str:
    """``avg_pool{,1d,2d,3d}`` -> ``AveragePool(count_include_pad=1)``: padded zeros count
    in the mean, as in the std layer (PyTorch's default).

    >>> import numpy as np, scratchnet_core as sn
    >>> from scratchnet_onnx.context import ConversionContext
    >>> ctx = ConversionContext(18, np.dtype("float32"))
    >>> _ = convert_avg_pool(ctx, sn.get_layers()["avg_pool2d"](3, 1, 1), "x")
    >>> {a.name: a.i for a in ctx.nodes[0].attribute}["count_include_pad"]
    1
    """
    return ctx.add_node("AveragePool", [x], count_include_pad=1, **_pool_attributes(layer))


@converter()
def convert_global_avg_pool(ctx: ConversionContext, layer: Layer, x: str) -> str:
    """``global_avg_pool`` -> ``ReduceMean`` over the spatial axes, ``(N, C, ...)`` ->
    ``(N, C)`` (``GlobalAveragePool`` + ``Flatten`` when the rank is unknown).

    ``ReduceMean`` rather than ``GlobalAveragePool``: ONNX Runtime runs it in float64 too.

    >>> import numpy as np, scratchnet_core as sn
    >>> from scratchnet_onnx.context import ConversionContext
    >>> ctx = ConversionContext(18, np.dtype("float64"))
    >>> ctx.set_shape("x", (3, 4, 5))
    >>> _ = convert_global_avg_pool(ctx, sn.get_layers()["global_avg_pool"](), "x")
    >>> ctx.nodes[0].op_type
    'ReduceMean'
    """
    shape = ctx.shape(x)
    if shape is None:
        pooled = ctx.add_node("GlobalAveragePool", [x])
        return ctx.add_node("Flatten", [pooled], axis=1)
    axes = list(range(2, len(shape) + 1))
    if ctx.opset >= 18:
        return ctx.add_node("ReduceMean", [x, ctx.constant(axes, "spatial_axes")], keepdims=0)
    return ctx.add_node("ReduceMean", [x], axes=axes, keepdims=0)


@converter()
def convert_flatten(ctx: ConversionContext, layer: Layer, x: str) -> str:
    """``flatten`` -> ``Flatten(axis=1)``: ``(N, d1, d2, ...)`` -> ``(N, d1 * d2 * ...)``.

    >>> import numpy as np, scratchnet_core as sn
    >>> from scratchnet_onnx.context import ConversionContext
    >>> ctx = ConversionContext(18, np.dtype("float32"))
    >>> convert_flatten(ctx, sn.get_layers()["flatten"](), "x")
    'Flatten_0'
    """
    return ctx.add_node("Flatten", [x], axis=1)
