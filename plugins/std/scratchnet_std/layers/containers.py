"""Containers: layers made of layers, so that skip connections and parallel branches compose.

- `Sequential` (``sequential``): its layers in order, as ``torch.nn.Sequential``;
- `Residual` (``residual``): ``activation(block(x) + shortcut(x))``, the shortcut the
  identity when not given, as in a ResNet;
- `Concat` (``concat``): every branch sees the same input, their outputs are joined
  along ``axis`` (channels by default), as in an Inception block;
- `Activation` (``activation``): an activation as a layer of its own, as Keras'
  ``Activation`` or ``torch.nn.ReLU``, for conv -> batch norm -> relu.

Wherever a container takes a layer it also takes a list of layers (a `Sequential`),
a registry name or a spec dict ``{"name": ..., "config": {...}}``; containers nest to any
depth (up to `MAX_DEPTH`). A container's parameters, gradients and buffers are its
children's, named by path: ``"0.weight"`` in a sequential, ``"block.1.weight"`` and
``"shortcut.0.weight"`` in a residual, ``"branches.2.0.bias"`` in a concat (a model adds its
own index in front: ``"3.block.1.weight"``). ``training``, ``needs_input_grad``, the dtype
(``to()``) and ``output_shape`` pass through to the children; a second ``backward`` without
a ``forward`` raises `BackwardError`, as for any layer (the base class's
``save_for_backward`` mechanism).

``get_config()`` names every child by registry name and config (a sequential child as a
plain list), so containers save to model files and rebuild from them like any layer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ClassVar

import numpy as np
from numpy.typing import DTypeLike

from scratchnet_core import (
    ActivationFunction,
    ConfigurationError,
    Layer,
    PluginNotFoundError,
    ScratchnetError,
    ShapeError,
)
from scratchnet_core.components import build_component, component_spec
from scratchnet_core.interfaces import Array, as_float_dtype
from scratchnet_core.numerics import ieee

__all__ = ["MAX_DEPTH", "Activation", "Concat", "Residual", "Sequential"]

MAX_DEPTH = 64
"""How deeply containers may nest; deeper specs (from a config or a model file) are refused."""

_PATH: ContextVar[tuple[str, ...]] = ContextVar("scratchnet_container_path", default=())


def _join(path: Sequence[str]) -> str:
    """``("residual", "block", "[1]")`` -> ``"residual.block[1]"``."""
    text = ""
    for part in path:
        text += part if part.startswith("[") or not text else f".{part}"
    return text


@contextmanager
def _inside(owner: str, label: str) -> Iterator[str]:
    """Build a child at ``label`` of the container being built (named ``owner`` at the root);
    yields the child's path, used in error messages."""
    path = (*(_PATH.get() or (owner,)), label)
    where = _join(path)
    if len(path) > MAX_DEPTH:
        error = ConfigurationError(f"{where}: containers nest deeper than {MAX_DEPTH} levels")
        error.scratchnet_path = where  # type: ignore[attr-defined]
        raise error
    token = _PATH.set(path)
    try:
        yield where
    finally:
        _PATH.reset(token)


def _child(spec: Any, owner: str, label: str) -> Layer:
    """A layer from a layer, a list of layers (a sequential), a registry name or a spec."""
    if isinstance(spec, Layer):
        return spec
    with _inside(owner, label) as where:
        try:
            if isinstance(spec, (list, tuple)):
                return Sequential(spec)
            if isinstance(spec, (str, Mapping)):
                layer: Layer = build_component("layers", spec, where)
                return layer
        except PluginNotFoundError as exc:
            if getattr(exc, "scratchnet_path", None):
                raise
            named = PluginNotFoundError(exc.kind, exc.requested, exc.available)
            named.args = (f"{where}: {exc}",)
            named.scratchnet_path = where  # type: ignore[attr-defined]
            raise named from None
        except (ScratchnetError, TypeError, ValueError) as exc:
            if getattr(exc, "scratchnet_path", None):
                raise
            error = ConfigurationError(f"{where}: {exc}")
            error.scratchnet_path = where  # type: ignore[attr-defined]
            raise error from None
        raise ConfigurationError(
            f"{where}: expected a layer, a list of layers, a registry name or a spec dict "
            f"{{'name': ..., 'config': {{...}}}}, got {type(spec).__name__} {spec!r}"
        )


def _spec(layer: Layer) -> Any:
    """A child as a config holds it: a sequential as a plain list, others as a spec."""
    if type(layer) is Sequential:
        return [_spec(child) for child in layer.layers]
    return component_spec("layers", layer)


def _shape(shape: Sequence[int]) -> str:
    return "(N, " + ", ".join(str(int(s)) for s in shape) + ")" if shape else "(N,)"


def _nested(exc: ShapeError, container: str, label: str) -> ShapeError:
    """A child's `ShapeError`, now naming its path inside ``container``."""
    labels = (label, *getattr(exc, "scratchnet_labels", ()))
    leaf = getattr(exc, "scratchnet_leaf", exc.layer)
    error = ShapeError(
        f"{_join((container, *labels))}: {leaf}", exc.expected, exc.actual, None, exc.detail
    )
    error.scratchnet_labels = labels  # type: ignore[attr-defined]  # read by configs
    error.scratchnet_leaf = leaf  # type: ignore[attr-defined]
    return error


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}{'es' if noun.endswith('ch') else 's'}"


def _describe(layer: Layer | None) -> str:
    if layer is None:
        return "identity"
    if type(layer) is Sequential:
        return _count(len(layer.layers), "layer")
    return repr(layer)


class _Container(Layer):
    """What every container shares: children, parameters by path, dtype, input gradients."""

    registry_name: ClassVar[str]

    def __init__(self, *, dtype: DTypeLike | None = None) -> None:
        super().__init__(dtype=dtype)
        self._needs_input_grad = True

    def _finish(self, dtype: DTypeLike | None) -> None:
        """Check the children (no instance twice) and give them one dtype: ``dtype``, or
        else the one their parameters share."""
        seen: dict[int, str] = {}

        def walk(layer: Layer, path: tuple[str, ...]) -> None:
            for name, child in layer.children().items():
                here = (*path, name)
                if id(child) in seen:
                    raise ConfigurationError(
                        f"{self.registry_name}: one layer instance appears twice (at "
                        f"{seen[id(child)]} and {'.'.join(here)}); a layer keeps what its "
                        "backward needs, so each position needs its own instance"
                    )
                seen[id(child)] = ".".join(here)
                walk(child, here)

        walk(self, ())
        if dtype is None:
            found = {c.dtype for c in self.children().values() if c.num_parameters()}
            if len(found) > 1:
                raise ConfigurationError(
                    f"{self.registry_name}: children have different dtypes "
                    f"({', '.join(sorted(d.name for d in found))}); pass dtype= to choose one"
                )
            self.dtype = found.pop() if found else as_float_dtype(None)
        self.to(self.dtype)
        self.needs_input_grad = True

    # ------------------------------------------------------------------ children
    def _entries(self) -> list[Layer]:
        """The children that receive the container's own input."""
        return list(self.children().values())

    @property
    def needs_input_grad(self) -> bool:
        """Whether ``backward`` returns ``dL/dx``; passed on to the children that see ``x``."""
        return self._needs_input_grad

    @needs_input_grad.setter
    def needs_input_grad(self, value: bool) -> None:
        self._needs_input_grad = bool(value)
        for child in self._entries():
            child.needs_input_grad = bool(value)

    def parameters(self) -> dict[str, Array]:
        return {
            f"{name}.{key}": value
            for name, child in self.children().items()
            for key, value in child.parameters().items()
        }

    def gradients(self) -> dict[str, Array]:
        return {
            f"{name}.{key}": value
            for name, child in self.children().items()
            for key, value in child.gradients().items()
        }

    def buffers(self) -> dict[str, Array]:
        return {
            f"{name}.{key}": value
            for name, child in self.children().items()
            for key, value in child.buffers().items()
        }

    def num_parameters(self) -> int:
        return sum(child.num_parameters() for child in self.children().values())

    def to(self, dtype: DTypeLike) -> Layer:
        self.dtype = as_float_dtype(dtype)
        for child in self.children().values():
            if child.dtype != self.dtype or child.children():
                child.to(self.dtype)
        return self

    def child_input_shapes(self, input_shape: Sequence[int]) -> dict[str, tuple[int, ...]]:
        """The input shape (one sample) each child sees for container input ``input_shape``."""
        shape = tuple(int(s) for s in input_shape)
        return {name: shape for name in self.children()}

    def _child_output_shape(
        self, label: str, child: Layer, input_shape: tuple[int, ...]
    ) -> tuple[int, ...]:
        try:
            return child.output_shape(input_shape)
        except ShapeError as exc:
            raise _nested(exc, self.registry_name, label) from None

    def _child_forward(self, label: str, child: Layer, x: Array, training: bool) -> Array:
        try:
            return child.forward(x, training)
        except ShapeError as exc:
            raise _nested(exc, self.registry_name, label) from None


class Sequential(_Container):
    """Its layers in order: ``layers[-1](... layers[0](x))``, as ``torch.nn.Sequential``.

    Parameters
    ----------
    layers:
        At least one layer: instances, registry names, spec dicts
        ``{"name": ..., "config": {...}}``, or lists of those (a nested sequential).
        Kept as ``.layers``; parameters are named ``"<position>.<name>"`` (``"0.weight"``).
    dtype:
        ``float32`` or ``float64``; by default the dtype the children's parameters share.

    A sequential ending in a layer with an output activation (``linear(..., "softmax")``,
    or an ``activation`` layer) exposes that ``activation`` and ``preactivation``, so a model
    ending in it still lets cross-entropy work from the logits.

    Examples
    --------
    >>> import numpy as np
    >>> from scratchnet_core.layers import linear
    >>> block = Sequential([linear(4, 8, "relu"), linear(8, 2)])
    >>> block.forward(np.ones((3, 4), dtype=np.float32)).shape, sorted(block.parameters())
    ((3, 2), ['0.bias', '0.weight', '1.bias', '1.weight'])
    """

    registry_name = "sequential"
    conformance: ClassVar[Mapping[str, Any] | None] = {
        "args": [
            [
                {
                    "name": "convolutional_2d",
                    "config": {"in_channels": 2, "out_channels": 3, "kernel_size": 3, "padding": 1},
                },
                {"name": "activation", "config": {"activation": "tanh"}},
                [{"name": "avg_pool2d", "config": {"kernel_size": 2}}, "flatten"],
                {"name": "linear", "config": {"in_features": 12, "out_features": 2}},
            ]
        ],
        "input_shape": [2, 4, 4],
        "bad_input_shape": [3, 4, 4],
    }

    def __init__(self, layers: Sequence[Any], *, dtype: DTypeLike | None = None) -> None:
        super().__init__(dtype=dtype)
        if isinstance(layers, (str, Mapping, Layer)) or not isinstance(layers, Sequence):
            raise ConfigurationError(
                f"sequential: layers must be a list of layers, got {type(layers).__name__} "
                f"{layers!r}"
            )
        if not layers:
            raise ConfigurationError(
                "sequential: layers must hold at least one layer, got an empty list"
            )
        self.layers: list[Layer] = [
            _child(spec, "sequential", f"[{i}]") for i, spec in enumerate(layers)
        ]
        self._finish(dtype)

    def children(self) -> dict[str, Layer]:
        return {str(i): layer for i, layer in enumerate(self.layers)}

    def _entries(self) -> list[Layer]:
        return [self.layers[0]]

    # ------------------------------------------------------------------ output activation
    @property
    def activation(self) -> ActivationFunction | None:
        """The last layer's output activation, when that layer can hand over its logits."""
        last = self.layers[-1]
        if type(last).backward_preactivation is Layer.backward_preactivation:
            return None
        return last.activation

    @activation.setter
    def activation(self, value: ActivationFunction | None) -> None:
        raise ConfigurationError("sequential: its activation is its last layer's; set it there")

    @property
    def preactivation(self) -> Array | None:
        """The last layer's pre-activation (logits) from the last forward."""
        return self.layers[-1].preactivation

    @preactivation.setter
    def preactivation(self, value: Array | None) -> None:
        self.layers[-1].preactivation = value

    # ------------------------------------------------------------------ passes
    def forward(self, x: Array, training: bool = False) -> Array:
        for i, layer in enumerate(self.layers):
            x = self._child_forward(f"[{i}]", layer, x, training)
        self.save_for_backward()  # nothing of its own: a second backward is refused
        return x

    def backward(self, grad: Array) -> Array | None:
        return self._back_from_last(self.layers[-1].backward(grad))

    def backward_preactivation(self, grad_z: Array) -> Array | None:
        return self._back_from_last(self.layers[-1].backward_preactivation(grad_z))

    def _back_from_last(self, out: Array | None) -> Array | None:
        for i in range(len(self.layers) - 2, -1, -1):
            if out is None:
                raise ShapeError(
                    f"sequential[{i + 1}]: {self.layers[i + 1]!r}",
                    "a gradient for the layer before it",
                    "None",
                )
            out = self.layers[i].backward(out)
        return out

    # ------------------------------------------------------------------ shapes, config
    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        shape = tuple(int(s) for s in input_shape)
        for i, layer in enumerate(self.layers):
            shape = self._child_output_shape(f"[{i}]", layer, shape)
        return shape

    def child_input_shapes(self, input_shape: Sequence[int]) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {}
        shape = tuple(int(s) for s in input_shape)
        for i, layer in enumerate(self.layers):
            shapes[str(i)] = shape
            shape = self._child_output_shape(f"[{i}]", layer, shape)
        return shapes

    def get_config(self) -> dict[str, Any]:
        return {"layers": [_spec(layer) for layer in self.layers], **super().get_config()}

    def __repr__(self) -> str:
        return f"Sequential({_count(len(self.layers), 'layer')})"


def _shortcut_hint(input_shape: Sequence[int], block_shape: Sequence[int]) -> str:
    """How to make the shortcut's output match the block's: a 1x1 convolution (or a linear
    layer for flat features) from the input's shape to the block's."""
    if len(input_shape) == 1 and len(block_shape) == 1:
        return (
            f"give shortcut=linear({input_shape[0]}, {block_shape[0]}) to project the input "
            "to the block's shape"
        )
    if len(input_shape) == len(block_shape) and 2 <= len(input_shape) <= 4:
        dims = len(input_shape) - 1
        strides = [
            i // b if b and i % b == 0 else None
            for i, b in zip(input_shape[1:], block_shape[1:], strict=True)
        ]
        stride = ""
        if None not in strides and any(s != 1 for s in strides):
            stride = f", stride={strides[0] if len(set(strides)) == 1 else tuple(strides)}"
        return (
            f"give a 1x1 convolution shortcut, such as shortcut=[convolutional_{dims}d("
            f"{input_shape[0]}, {block_shape[0]}, kernel_size=1{stride})] (optionally followed "
            "by batch norm), to match the block's shape"
        )
    return "give a shortcut layer that maps the input to the block's output shape"


class Residual(_Container):
    """``activation(block(x) + shortcut(x))``: a skip connection, as in a ResNet.

    Parameters
    ----------
    block:
        A layer or a list of layers (a sequential); kept as ``.block``; its parameters are
        named ``"block.<...>"``.
    shortcut:
        ``None`` (the identity, kept as ``.shortcut = None``) or a layer or list, such as a
        strided 1x1 convolution and batch norm where the block changes the shape.
    activation:
        ``None`` or an activation (registry name, spec or instance) applied after the sum.
    dtype:
        ``float32`` or ``float64``; by default the dtype the children's parameters share.

    Both paths must give one shape; a mismatch is a `ShapeError`
    naming both and the shortcut that would fix it, raised by ``output_shape`` (which a model
    calls on its data before the first step).

    Examples
    --------
    >>> import numpy as np
    >>> from scratchnet_core.layers import convolutional_2d
    >>> res = Residual([convolutional_2d(4, 4, 3, 1, "relu"), convolutional_2d(4, 4, 3, 1)],
    ...                activation="relu")
    >>> res.forward(np.ones((2, 4, 6, 6), dtype=np.float32)).shape
    (2, 4, 6, 6)
    >>> sorted(res.parameters())[:2]
    ['block.0.bias', 'block.0.weight']
    >>> Residual([convolutional_2d(4, 8, 3, 1, stride=2)]).output_shape((4, 6, 6))
    Traceback (most recent call last):
    ...
    scratchnet_core.errors.ShapeError: ... got block output (N, 8, 3, 3) but identity ...
    """

    registry_name = "residual"
    conformance: ClassVar[Mapping[str, Any] | None] = {
        "args": [
            [
                {
                    "name": "convolutional_2d",
                    "config": {
                        "in_channels": 2,
                        "out_channels": 3,
                        "kernel_size": 3,
                        "padding": 1,
                        "activation": "tanh",
                    },
                },
                {
                    "name": "convolutional_2d",
                    "config": {"in_channels": 3, "out_channels": 3, "kernel_size": 3, "padding": 1},
                },
            ],
            [
                {
                    "name": "convolutional_2d",
                    "config": {"in_channels": 2, "out_channels": 3, "kernel_size": 1},
                }
            ],
            "tanh",
        ],
        "input_shape": [2, 4, 4],
        "bad_input_shape": [3, 4, 4],
    }

    def __init__(
        self,
        block: Any,
        shortcut: Any = None,
        activation: str | ActivationFunction | Mapping[str, Any] | None = None,
        *,
        dtype: DTypeLike | None = None,
    ) -> None:
        super().__init__(dtype=dtype)
        self.block: Layer = _child(block, "residual", "block")
        self.shortcut: Layer | None = (
            None if shortcut is None else _child(shortcut, "residual", "shortcut")
        )
        self.activation = (
            None
            if activation is None
            else build_component("activations", activation, "residual: activation")
        )
        self._finish(dtype)

    def children(self) -> dict[str, Layer]:
        if self.shortcut is None:
            return {"block": self.block}
        return {"block": self.block, "shortcut": self.shortcut}

    # ------------------------------------------------------------------ passes
    @ieee
    def forward(self, x: Array, training: bool = False) -> Array:
        out = self._child_forward("block", self.block, x, training)
        skip = (
            x
            if self.shortcut is None
            else self._child_forward("shortcut", self.shortcut, x, training)
        )
        if out.shape != skip.shape:
            raise self._mismatch(x.shape[1:], out.shape[1:], skip.shape[1:])
        self.save_for_backward()
        return self.activate(out + skip)

    def backward(self, grad: Array) -> Array | None:
        return self.backward_through_activation(grad)

    @ieee
    def backward_preactivation(self, grad_z: Array) -> Array | None:
        grad_block = self.block.backward(grad_z)
        grad_skip = grad_z if self.shortcut is None else self.shortcut.backward(grad_z)
        if not self.needs_input_grad:
            return None
        if grad_block is None or grad_skip is None:
            raise ShapeError(
                repr(self), "a gradient from both paths", "None from the block or shortcut"
            )
        return grad_block + grad_skip

    # ------------------------------------------------------------------ shapes, config
    def _mismatch(
        self, input_shape: Sequence[int], block: Sequence[int], skip: Sequence[int]
    ) -> ShapeError:
        which = "identity shortcut" if self.shortcut is None else "shortcut"
        return ShapeError(
            repr(self),
            "for which the block and the shortcut give one shape",
            f"block output {_shape(block)} but {which} output {_shape(skip)} "
            f"for input {_shape(input_shape)}",
            detail=_shortcut_hint(input_shape, block),
        )

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        shape = tuple(int(s) for s in input_shape)
        out = self._child_output_shape("block", self.block, shape)
        skip = (
            shape
            if self.shortcut is None
            else self._child_output_shape("shortcut", self.shortcut, shape)
        )
        if out != skip:
            raise self._mismatch(shape, out, skip)
        return out

    def get_config(self) -> dict[str, Any]:
        return {
            "block": _spec(self.block),
            "shortcut": None if self.shortcut is None else _spec(self.shortcut),
            "activation": None
            if self.activation is None
            else component_spec("activations", self.activation),
            **super().get_config(),
        }

    def __repr__(self) -> str:
        act = "" if self.activation is None else f", {type(self.activation).__name__}"
        return (
            f"Residual(block: {_describe(self.block)}, shortcut: {_describe(self.shortcut)}{act})"
        )


class Concat(_Container):
    """Parallel branches on one input, outputs joined along ``axis``: an Inception block.

    Parameters
    ----------
    branches:
        At least one branch, each a layer or a list of layers (a sequential); kept as
        ``.branches``; parameters are named ``"branches.<branch>.<...>"``.
    axis:
        The axis of the full ``(N, ...)`` output to join along: 1 (channels, the default)
        or any other non-batch axis (negative counts from the end). The branches' outputs
        must agree on every other axis.
    dtype:
        ``float32`` or ``float64``; by default the dtype the children's parameters share.

    Examples
    --------
    >>> import numpy as np
    >>> from scratchnet_core.layers import convolutional_2d, max_pool2d
    >>> block = Concat([convolutional_2d(3, 4, 1),
    ...                 [convolutional_2d(3, 2, 1), convolutional_2d(2, 6, 3, 1)],
    ...                 [max_pool2d(3, 1, 1), convolutional_2d(3, 2, 1)]])
    >>> block.forward(np.ones((5, 3, 8, 8), dtype=np.float32)).shape  # 4 + 6 + 2 channels
    (5, 12, 8, 8)
    """

    registry_name = "concat"
    conformance: ClassVar[Mapping[str, Any] | None] = {
        "args": [
            [
                {
                    "name": "convolutional_2d",
                    "config": {
                        "in_channels": 2,
                        "out_channels": 2,
                        "kernel_size": 1,
                        "activation": "tanh",
                    },
                },
                [
                    {
                        "name": "convolutional_2d",
                        "config": {
                            "in_channels": 2,
                            "out_channels": 3,
                            "kernel_size": 3,
                            "padding": 1,
                        },
                    },
                    {"name": "activation", "config": {"activation": "sigmoid"}},
                ],
                {"name": "avg_pool2d", "config": {"kernel_size": 3, "stride": 1, "padding": 1}},
            ]
        ],
        "input_shape": [2, 4, 4],
        "bad_input_shape": [3, 4, 4],
    }

    def __init__(
        self, branches: Sequence[Any], axis: int = 1, *, dtype: DTypeLike | None = None
    ) -> None:
        super().__init__(dtype=dtype)
        if isinstance(branches, (str, Mapping, Layer)) or not isinstance(branches, Sequence):
            raise ConfigurationError(
                "concat: branches must be a list of branches (each a layer or a list of "
                f"layers), got {type(branches).__name__} {branches!r}"
            )
        if not branches:
            raise ConfigurationError("concat: branches must hold at least one branch, got none")
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ConfigurationError(f"concat: axis must be an integer, got {axis!r}")
        if axis == 0:
            raise ConfigurationError(
                "concat: axis 0 is the batch axis; join along 1 (channels) or a later axis"
            )
        self.axis = int(axis)
        self.branches: list[Layer] = [
            _child(spec, "concat", f"branches[{j}]") for j, spec in enumerate(branches)
        ]
        self._finish(dtype)

    def children(self) -> dict[str, Layer]:
        return {f"branches.{j}": branch for j, branch in enumerate(self.branches)}

    def _resolve(self, ndim: int) -> int:
        """``axis`` as an index of a full ``(N, ...)`` array of ``ndim`` axes."""
        axis = self.axis + ndim if self.axis < 0 else self.axis
        if not 1 <= axis < ndim:
            raise ShapeError(
                repr(self),
                f"branch outputs with a non-batch axis {self.axis}",
                f"outputs of rank {ndim}",
            )
        return axis

    def _joined(self, shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
        """The joined shape of full ``(N, ...)`` branch outputs ``shapes``."""
        first = shapes[0]
        axis = self._resolve(len(first))
        for j, shape in enumerate(shapes[1:], start=1):
            if len(shape) != len(first) or any(
                a != b for k, (a, b) in enumerate(zip(shape, first, strict=True)) if k != axis
            ):
                listed = ", ".join(f"branch {i} {_shape(s[1:])}" for i, s in enumerate(shapes))
                raise ShapeError(
                    repr(self),
                    f"branch outputs equal on every axis but axis {self.axis}",
                    f"branch {j} output {_shape(shape[1:])} where branch 0 gives "
                    f"{_shape(first[1:])}",
                    detail=f"outputs: {listed}",
                )
        total = sum(s[axis] for s in shapes)
        return (*first[:axis], total, *first[axis + 1 :])

    # ------------------------------------------------------------------ passes
    def forward(self, x: Array, training: bool = False) -> Array:
        outs = [
            self._child_forward(f"branches[{j}]", branch, x, training)
            for j, branch in enumerate(self.branches)
        ]
        self._joined([out.shape for out in outs])
        axis = self._resolve(outs[0].ndim)
        self.save_for_backward(axis, [out.shape[axis] for out in outs])
        return np.concatenate(outs, axis=axis)

    @ieee
    def backward(self, grad: Array) -> Array | None:
        axis, sizes = self.saved
        total: Array | None = None
        parts = np.split(grad, np.cumsum(sizes)[:-1], axis=axis)
        for branch, part in zip(self.branches, parts, strict=True):
            grad_x = branch.backward(np.ascontiguousarray(part))
            if not self.needs_input_grad:
                continue
            if grad_x is None:
                raise ShapeError(repr(branch), "a gradient for the branch's input", "None")
            total = grad_x if total is None else total + grad_x
        return total

    # ------------------------------------------------------------------ shapes, config
    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        shape = tuple(int(s) for s in input_shape)
        outs = [
            (0, *self._child_output_shape(f"branches[{j}]", branch, shape))
            for j, branch in enumerate(self.branches)
        ]
        return self._joined(outs)[1:]

    def get_config(self) -> dict[str, Any]:
        return {
            "branches": [_spec(branch) for branch in self.branches],
            "axis": self.axis,
            **super().get_config(),
        }

    def __repr__(self) -> str:
        return f"Concat({_count(len(self.branches), 'branch')}, axis={self.axis})"


class Activation(Layer):
    """An activation as a layer of its own: ``y = activation(x)``, any shape.

    Keras' ``Activation``, PyTorch's ``nn.ReLU``: for conv -> batch norm -> relu, or
    ``activation("softmax")`` after a ``linear`` layer (a model ending in it still lets
    cross-entropy work from the logits). In TOML: ``type = "activation"``,
    ``activation = "relu"``.

    Parameters
    ----------
    activation:
        A registry name (``"relu"``), a spec dict or an instance; kept as ``.activation``.
    dtype:
        ``float32`` or ``float64`` (the layer has no parameters).

    Examples
    --------
    >>> import numpy as np
    >>> relu = Activation("relu")
    >>> relu.forward(np.array([[-1.0, 2.0]]), training=True)
    array([[0., 2.]])
    >>> relu.backward(np.array([[5.0, 5.0]]))
    array([[0., 5.]])
    """

    conformance: ClassVar[Mapping[str, Any] | None] = {"args": ["tanh"], "input_shape": [3, 4]}

    def __init__(
        self,
        activation: str | ActivationFunction | Mapping[str, Any],
        *,
        dtype: DTypeLike | None = None,
    ) -> None:
        super().__init__(dtype=dtype)
        if activation is None:
            raise ConfigurationError(
                "activation: needs an activation (a registry name such as 'relu'), got None"
            )
        self.activation = build_component("activations", activation, "activation")

    def forward(self, x: Array, training: bool = False) -> Array:
        self.save_for_backward()
        return self.activate(x)

    def backward(self, grad: Array) -> Array | None:
        return self.backward_through_activation(grad)

    def backward_preactivation(self, grad_z: Array) -> Array | None:
        return grad_z if self.needs_input_grad else None

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        return tuple(int(s) for s in input_shape)

    def get_config(self) -> dict[str, Any]:
        assert self.activation is not None
        return {
            "activation": component_spec("activations", self.activation),
            **super().get_config(),
        }

    def __repr__(self) -> str:
        return f"Activation({type(self.activation).__name__})"
