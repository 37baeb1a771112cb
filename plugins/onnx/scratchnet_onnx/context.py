"""What a converter sees: the graph being built, and how to add to it.

A converter is any callable ``convert(ctx, component, input_name) -> output_name``: it
reads the component's config and parameters, adds ONNX nodes (and initializers) through
``ctx``, and returns the name of the tensor holding the component's output. It is found in
the ``scratchnet.onnx_converters`` registry under the component's registry name.

For a layer, the converter emits the layer up to its *pre-activation*: when
``layer.activation`` is set, the exporter converts that activation after it (as
`scratchnet_core.Layer.activate` applies it after ``forward``). A container converts
its children with `ConversionContext.convert`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, Protocol, TypeVar, runtime_checkable

import numpy as np
import onnx
from numpy.typing import ArrayLike
from onnx import TensorProto, helper, numpy_helper

from scratchnet_core import ActivationFunction, Layer, PluginLoadError, ShapeError, get_registry

from .errors import ConverterNotFoundError, OpsetError

__all__ = [
    "GROUP",
    "MIN_OPSET",
    "ConversionContext",
    "Converter",
    "converter",
    "find_converter",
    "registry_names",
]

GROUP: Final = "scratchnet.onnx_converters"
"""The entry-point group converters are registered in."""

MIN_OPSET: Final = 13
"""The oldest default-domain opset any converter is written for (``Softmax`` over one axis,
``Unsqueeze``/``Split`` with their axes as inputs)."""

F = TypeVar("F", bound=Callable[..., str])


@runtime_checkable
class Converter(Protocol):
    """What a ``scratchnet.onnx_converters`` entry point names.

    A callable ``(ctx, component, input_name) -> output_name``; an optional ``min_opset``
    attribute says the oldest opset it can emit (set by `converter`).

    Examples
    --------
    >>> from scratchnet_onnx.context import Converter, converter
    >>> @converter()
    ... def convert_double(ctx, component, x):
    ...     return ctx.add_node("Add", [x, x])
    >>> isinstance(convert_double, Converter)
    True
    """

    def __call__(self, ctx: ConversionContext, component: Any, input_name: str) -> str: ...


def converter(min_opset: int = MIN_OPSET) -> Callable[[F], F]:
    """Mark a function as a converter that needs at least ``min_opset``.

    Exporting with an older opset is then an `OpsetError`
    naming the component and the opset it needs, raised before anything is built.

    >>> from scratchnet_onnx.context import converter
    >>> @converter(min_opset=17)
    ... def convert_layer_norm(ctx, layer, x):
    ...     ...
    >>> convert_layer_norm.min_opset
    17
    """

    def mark(fn: F) -> F:
        fn.min_opset = int(min_opset)  # type: ignore[attr-defined]
        return fn

    return mark


def registry_names(kind: str, component: object) -> list[str]:
    """Every registry name (aliases included) of ``component``'s class in ``kind``, the
    most descriptive first.

    >>> import scratchnet_core as sn
    >>> from scratchnet_onnx.context import registry_names
    >>> registry_names("layers", sn.get_layers()["conv2d"](1, 1, 3))
    ['convolutional_2d', 'conv2d']
    """
    registry = get_registry(kind)
    cls = type(component)
    names = [n for n in registry.runtime_names() if registry[n] is cls]
    value = f"{cls.__module__}:{cls.__qualname__}"
    names += [r.name for r in registry.records() if r.value == value and r.name not in names]
    best = registry.name_of(cls)
    ordered = sorted(set(names), key=lambda n: (-len(n), n))
    if best is not None and best in ordered:
        ordered.remove(best)
        ordered.insert(0, best)
    return ordered


def _kind_of(component: object) -> str:
    if isinstance(component, Layer):
        return "layers"
    if isinstance(component, ActivationFunction):
        return "activations"
    raise TypeError(
        f"ONNX export converts layers and activation functions, got {type(component).__name__}"
    )


def find_converter(component: object, where: str = "component") -> tuple[str, Converter]:
    """``(registry name, converter)`` for ``component``, trying each of its aliases; a
    `ConverterNotFoundError` names it when none is installed.

    >>> import scratchnet_core as sn
    >>> from scratchnet_onnx.context import find_converter
    >>> find_converter(sn.get_layers()["dense"](2, 3))[0]
    'linear'
    """
    kind = _kind_of(component)
    names = registry_names(kind, component)
    converters = get_registry("onnx_converters")
    for name in names:
        if name in converters:
            found = converters[name]
            if not callable(found):
                dist, _ = converters.origin(name)
                raise PluginLoadError(
                    "onnx_converters",
                    name,
                    repr(found),
                    dist,
                    f"a converter must be callable as convert(ctx, component, input_name), got "
                    f"{type(found).__name__}",
                )
            return name, found
    distribution = _distribution(kind, names[0]) if names else None
    raise ConverterNotFoundError(where, repr(component), names, distribution)


def _distribution(kind: str, name: str) -> str | None:
    try:
        dist, version = get_registry(kind).origin(name)
    except KeyError:
        return None
    return dist if dist == "<runtime>" else f"{dist} {version}"


def elem_type(dtype: np.dtype[Any]) -> int:
    """The ONNX element type of a NumPy dtype (``float32`` -> ``TensorProto.FLOAT``)."""
    return int(helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))


class ConversionContext:
    """The graph under construction, handed to every converter.

    Attributes
    ----------
    opset:
        The default-domain opset being emitted (``ai.onnx``).
    dtype:
        The model's NumPy dtype (``float32`` or ``float64``); every float tensor of the graph
        has it. ``elem_type`` is the same as an ONNX ``TensorProto`` element type.
    nodes, initializers:
        What has been emitted so far.

    Examples
    --------
    >>> import numpy as np
    >>> from scratchnet_onnx.context import ConversionContext
    >>> ctx = ConversionContext(opset=18, dtype=np.dtype("float32"))
    >>> w = ctx.add_initializer(np.ones((3, 2)), "0.weight")
    >>> y = ctx.add_node("MatMul", ["input", w])
    >>> w, y, ctx.nodes[0].op_type, ctx.initializers[0].data_type == 1
    ('0.weight', 'MatMul_0', 'MatMul', True)
    """

    def __init__(self, opset: int, dtype: np.dtype[Any]) -> None:
        self.opset = int(opset)
        self.dtype: np.dtype[Any] = np.dtype(dtype)
        self.elem_type = elem_type(self.dtype)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[TensorProto] = []
        self.path = ""
        self._used: set[str] = set()
        self._counters: dict[str, int] = {}
        self._constants: dict[tuple[str, bytes, tuple[int, ...]], str] = {}
        self._shapes: dict[str, tuple[int, ...]] = {}

    # ------------------------------------------------------------------ names
    def reserve(self, name: str) -> None:
        """Mark a name as taken (the graph's input and output names)."""
        self._used.add(name)

    def fresh_name(self, hint: str) -> str:
        """A tensor or node name not used yet in the graph: ``hint``, else ``hint_<k>``.

        >>> import numpy as np
        >>> ctx = ConversionContext(18, np.dtype("float32"))
        >>> ctx.fresh_name("x"), ctx.fresh_name("x"), ctx.fresh_name("Relu_0")
        ('x', 'x_0', 'Relu_0')
        """
        name = hint
        while name in self._used:
            k = self._counters.get(hint, 0)
            self._counters[hint] = k + 1
            name = f"{hint}_{k}"
        self._used.add(name)
        return name

    def _numbered(self, prefix: str) -> str:
        """``prefix_0``, ``prefix_1``, ...: the next unused one."""
        while True:
            k = self._counters.get(f"#{prefix}", 0)
            self._counters[f"#{prefix}"] = k + 1
            name = f"{prefix}_{k}"
            if name not in self._used:
                self._used.add(name)
                return name

    # ------------------------------------------------------------------ nodes
    def add_node(
        self,
        op_type: str,
        inputs: Sequence[str],
        *,
        outputs: Sequence[str] | None = None,
        domain: str = "",
        **attributes: Any,
    ) -> str:
        """Append a node; return the name of its (first) output.

        ``inputs`` are tensor names (``""`` for an omitted optional input); ``outputs``
        default to one fresh name after the operator. Attributes are ONNX attributes
        (ints, floats, strings, lists of them). An operator that does not exist in the
        target opset is an `OpsetError` naming the
        component being converted.
        """
        self._check_operator(op_type, domain)
        names = list(outputs) if outputs is not None else [self._numbered(op_type)]
        for name in names:
            self._used.add(name)
        node_name = self.fresh_name(f"{self.path or 'graph'}/{op_type}")
        self.nodes.append(
            helper.make_node(
                op_type, list(inputs), names, name=node_name, domain=domain or None, **attributes
            )
        )
        return names[0]

    def _check_operator(self, op_type: str, domain: str) -> None:
        if domain not in ("", "ai.onnx"):
            return  # custom domains are declared by the converter's runtime, not checked here
        try:
            schema = onnx.defs.get_schema(op_type, max_inclusive_version=self.opset, domain="")
        except onnx.defs.SchemaError:
            since = _first_version(op_type)
            needs = f"it exists from opset {since}" if since else "it is not an ONNX operator"
            raise OpsetError(
                f"cannot export {self.where} with opset {self.opset}: its converter emits "
                f"{op_type}, and {needs}; pass opset={since or '...'} or newer"
            ) from None
        if schema.deprecated:
            raise OpsetError(
                f"cannot export {self.where} with opset {self.opset}: {op_type} is deprecated there"
            )

    def require_opset(self, version: int, feature: str) -> None:
        """Refuse an opset older than ``version`` for ``feature`` (an
        `OpsetError` naming the component being converted).

        >>> import numpy as np
        >>> ConversionContext(13, np.dtype("float32")).require_opset(17, "LayerNormalization")
        Traceback (most recent call last):
        ...
        scratchnet_onnx.errors.OpsetError: cannot export the model with opset 13: ...
        """
        if self.opset < version:
            raise OpsetError(
                f"cannot export {self.where} with opset {self.opset}: {feature} needs opset "
                f"{version} or newer"
            )

    # ------------------------------------------------------------------ tensors
    def add_initializer(self, array: ArrayLike, name_hint: str = "const") -> str:
        """Store a constant tensor in the graph; return its name.

        Floating arrays are cast to the model's dtype, integers to int64, booleans stay.
        """
        value = np.asarray(array)
        if value.dtype.kind == "f":
            value = value.astype(self.dtype)
        elif value.dtype.kind in "iu":
            value = value.astype(np.int64)
        elif value.dtype.kind != "b":
            raise TypeError(f"initializer {name_hint!r}: unsupported dtype {value.dtype}")
        name = self.fresh_name(name_hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def constant(self, value: ArrayLike, name_hint: str = "const") -> str:
        """A constant in the model's float dtype (or int64 for integers), shared by every
        converter asking for the same value.

        >>> import numpy as np
        >>> ctx = ConversionContext(18, np.dtype("float64"))
        >>> ctx.constant(0.5) == ctx.constant(0.5), len(ctx.initializers)
        (True, 1)
        """
        array = np.asarray(value)
        array = array.astype(self.dtype if array.dtype.kind == "f" else np.int64)
        key = (array.dtype.str, array.tobytes(), array.shape)
        if key not in self._constants:
            self._constants[key] = self.add_initializer(array, name_hint)
        return self._constants[key]

    # ------------------------------------------------------------------ shapes
    def shape(self, name: str) -> tuple[int, ...] | None:
        """The per-sample shape (no batch axis) of a tensor the exporter knows, such as the
        input of the component being converted; ``None`` when unknown."""
        return self._shapes.get(name)

    def set_shape(self, name: str, sample_shape: Iterable[int]) -> None:
        """Record the per-sample shape of a tensor (the exporter does it for each output)."""
        self._shapes[name] = tuple(int(s) for s in sample_shape)

    # ------------------------------------------------------------------ components
    @property
    def where(self) -> str:
        """The component being converted, as errors name it (``"layer 3.block.0"``)."""
        return f"layer {self.path}" if self.path else "the model"

    def parameter(self, layer: Layer, name: str) -> str:
        """Store ``layer``'s parameter or buffer ``name`` as an initializer named by its path
        in the model (``"3.block.0.weight"``, as ``Model.parameters()`` keys it)."""
        arrays = {**layer.buffers(), **layer.parameters()}
        if name not in arrays:
            raise KeyError(f"{self.where} has no parameter or buffer {name!r}")
        return self.add_initializer(arrays[name], f"{self.path}.{name}" if self.path else name)

    def convert(
        self,
        component: Layer | ActivationFunction,
        input_name: str,
        path: str,
        *,
        activation: bool = True,
    ) -> str:
        """Convert one component (a layer of the model, a child of a container, or a layer's
        activation), then its output activation; return the name of its output.

        ``path`` names it, as parameters are named: ``"3"`` for the model's fourth layer,
        ``"3.block.0"`` for a child of a container, ``"3.activation"`` for an activation.
        ``activation=False`` returns a layer's pre-activation instead (for a container whose
        own ``activation`` is its last child's, as ``sequential``'s is).
        """
        where = f"layer {path}"
        name, found = find_converter(component, where)
        needed = int(getattr(found, "min_opset", MIN_OPSET))
        if self.opset < needed:
            raise OpsetError(
                f"cannot export {where} ({component!r}, converter {name!r}) with opset "
                f"{self.opset}: it needs opset {needed} or newer"
            )
        outer, self.path = self.path, path
        try:
            in_shape = self.shape(input_name)
            out_shape: tuple[int, ...] | None = in_shape
            if isinstance(component, Layer) and in_shape is not None:
                try:
                    out_shape = component.output_shape(in_shape)
                except ShapeError as exc:
                    raise _NestedShapeError(where, exc) from None
            output = found(self, component, input_name)
            if not isinstance(output, str):
                raise TypeError(
                    f"the ONNX converter {name!r} for {where} returned {output!r}; a converter "
                    "returns the name of its output tensor"
                )
            if out_shape is not None:
                self.set_shape(output, out_shape)
            after = component.activation if isinstance(component, Layer) and activation else None
            if after is not None:
                output = self.convert(after, output, f"{path}.activation")
        finally:
            self.path = outer
        return output


class _NestedShapeError(ShapeError):
    """A nested component cannot take the shape that reaches it (the path names it)."""

    def __init__(self, where: str, cause: ShapeError) -> None:
        ShapeError.__init__(
            self, f"{where} ({cause.layer})", cause.expected, cause.actual, None, cause.detail
        )


def _first_version(op_type: str) -> int | None:
    versions = [
        s.since_version
        for s in onnx.defs.get_all_schemas_with_history()
        if s.name == op_type and s.domain == ""
    ]
    return min(versions) if versions else None
