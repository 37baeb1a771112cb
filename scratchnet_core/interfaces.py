"""The base interfaces every component implements.

Four come from the seed (`ActivationFunction`, `Layer`, `Optimizer`,
`CostFunction`) and one was added for swappable convolution (`ConvBackend`).
The core ships no concrete subclass: those are plugins (see ``scratchnet-std``).

Shapes are written ``(N, ...)`` with ``N`` the batch. Arrays are NumPy floating arrays in
the component's dtype (float32 by default, float64 on request).
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeAlias

import numpy as np
from numpy.typing import DTypeLike, NDArray

from .errors import BackwardError, ConfigurationError

__all__ = [
    "ActivationFunction",
    "Array",
    "Component",
    "ConvBackend",
    "CostFunction",
    "DEFAULT_DTYPE",
    "Layer",
    "Metric",
    "Optimizer",
    "SavesForBackward",
    "as_float_dtype",
]

Array: TypeAlias = NDArray[Any]
"""A NumPy array; floating in the component's dtype unless said otherwise."""

DEFAULT_DTYPE: np.dtype[Any] = np.dtype(np.float32)
_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_float_dtype(dtype: DTypeLike | None, argument: str = "dtype") -> np.dtype[Any]:
    """Normalise a dtype argument to float32 or float64 (``None`` means float32).

    >>> as_float_dtype("float64")
    dtype('float64')
    """
    if dtype is None:
        return DEFAULT_DTYPE
    try:
        resolved = np.dtype(dtype)
    except TypeError as exc:
        raise ConfigurationError(
            f"{argument}: expected 'float32' or 'float64', got {dtype!r}"
        ) from exc
    if resolved not in _FLOAT_DTYPES:
        raise ConfigurationError(f"{argument}: expected 'float32' or 'float64', got {resolved}")
    return resolved


class Component(ABC):  # noqa: B024 - a mixin of config helpers, abstract only in subclasses
    """What every component shares: a JSON-able config that rebuilds it.

    ``get_config()`` returns the keyword arguments of the constructor;
    ``from_config(config)`` calls the constructor with them. Model files store components as
    their registry name and this config, never as pickles.

    >>> import scratchnet_core as sn
    >>> act = sn.get_activation_functions()["leaky_relu"](0.2)
    >>> act.get_config(), type(act).from_config(act.get_config())
    ({'negative_slope': 0.2}, LeakyReLU(negative_slope=0.2))
    """

    def get_config(self) -> dict[str, Any]:
        """The constructor's keyword arguments, as JSON-able values."""
        return {}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Any:
        """Build a component from `get_config`'s output."""
        return cls(**dict(config))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _releasing(backward: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a ``backward`` so that it refuses to run once what it needs was released, and
    releases it when done (whatever happens)."""

    @functools.wraps(backward)
    def wrapper(self: SavesForBackward, *args: Any, **kwargs: Any) -> Any:
        if self._saved is None and self._uses_saved:
            raise BackwardError(self)
        try:
            return backward(self, *args, **kwargs)
        finally:
            self.release_saved()

    wrapper.__releases_saved__ = True  # type: ignore[attr-defined]
    return wrapper


class SavesForBackward:
    """What ``forward`` keeps for ``backward``, kept and released by the base class (as
    Chainer's ``retain_inputs`` and PyTorch's ``save_for_backward``).

    ``forward`` calls `save_for_backward` with what the gradient needs (nothing, for
    functions that need nothing); ``backward`` reads `saved`. The base wraps every
    subclass's ``backward`` (and a layer's ``backward_preactivation``): after it returns,
    what was saved is released, and a second ``backward`` without a ``forward`` in between
    raises `BackwardError` instead of silently reusing stale arrays. Nothing is copied:
    ``saved`` holds the very arrays given.

    Examples
    --------
    >>> import numpy as np, scratchnet_core as sn
    >>> class Cube(sn.ActivationFunction):
    ...     def forward(self, z):
    ...         self.save_for_backward(z)
    ...         return z**3
    ...     def backward(self, grad):
    ...         (z,) = self.saved
    ...         return grad * 3 * z**2
    >>> act = Cube()
    >>> _ = act.forward(np.array([2.0]))
    >>> act.backward(np.array([1.0]))
    array([12.])
    >>> act.backward(np.array([1.0]))
    Traceback (most recent call last):
    ...
    scratchnet_core.errors.BackwardError: Cube(): backward needs a forward first ...
    """

    _saved: tuple[Any, ...] | None = None
    _uses_saved: bool = False  # components that never save are not checked (older plugins)
    _released_methods: ClassVar[tuple[str, ...]] = ("backward",)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in cls._released_methods:
            method = cls.__dict__.get(name)
            if callable(method) and not getattr(method, "__releases_saved__", False):
                setattr(cls, name, _releasing(method))

    def save_for_backward(self, *values: Any) -> None:
        """Keep ``values`` (arrays, shapes, flags; not copied) for the next ``backward``."""
        self._saved = values
        self._uses_saved = True

    @property
    def saved(self) -> tuple[Any, ...]:
        """What the last ``forward`` saved; `BackwardError` if it was already used."""
        saved = self._saved
        if saved is None:
            raise BackwardError(self)
        return saved

    def release_saved(self) -> None:
        """Drop what was saved (the base calls it after ``backward``)."""
        self._saved = None


class ActivationFunction(SavesForBackward, Component):
    """An element-wise (or, for softmax, row-wise) activation ``a = f(z)``.

    ``forward(z)`` remembers what ``backward`` needs; ``backward(grad)`` returns the
    vector-Jacobian product ``grad @ J_f(z)``: for element-wise functions ``grad * f'(z)``,
    for softmax the full product, not the diagonal.

    ``initializer`` names the weight initializer (a ``scratchnet.initializers`` registry name)
    that layers using this activation should draw from: He for the relu family, Glorot for
    sigmoid, tanh and softmax.

    ``forward`` keeps what ``backward`` needs with ``save_for_backward`` (see
    `SavesForBackward`): a second ``backward`` then raises `BackwardError`.

    Examples
    --------
    >>> import numpy as np, scratchnet_core as sn
    >>> class Square(sn.ActivationFunction):
    ...     def forward(self, z):
    ...         self.save_for_backward(z)
    ...         return z * z
    ...     def backward(self, grad):
    ...         (z,) = self.saved
    ...         return 2 * z * grad
    >>> act = Square()
    >>> act.forward(np.array([3.0])), act.backward(np.array([1.0]))
    (array([9.]), array([6.]))
    """

    initializer: ClassVar[str] = "glorot_uniform"

    @abstractmethod
    def forward(self, z: Array) -> Array:
        """``z: (N, ...)`` -> ``a: (N, ...)``, same shape and dtype."""

    @abstractmethod
    def backward(self, grad: Array) -> Array:
        """``grad = dL/da: (N, ...)`` -> ``dL/dz: (N, ...)`` for the last `forward`."""

    def __call__(self, z: Array) -> Array:
        return self.forward(z)


class CostFunction(Component):
    """A loss averaged over the batch: layers never rescale gradients, costs do.

    ``loss(y_pred, y_true)`` returns a Python float; ``gradient(y_pred, y_true)`` returns
    ``dL/dy_pred`` with the shape of ``y_pred``.

    A cost may *fuse* with the activation of the model's output layer (cross-entropy with
    sigmoid or softmax): when `fuses_with` says so, the model calls
    `loss_and_gradient_from_logits` with the pre-activation ``z`` instead, which is
    exact and stable for any finite logits.

    Examples
    --------
    >>> import numpy as np, scratchnet_core as sn
    >>> mse = sn.get_cost_functions()["mse"]()
    >>> y_pred, y_true = np.zeros((2, 1)), np.ones((2, 1))
    >>> mse.loss(y_pred, y_true), mse.gradient(y_pred, y_true).ravel()
    (1.0, array([-1., -1.]))
    """

    accepts_class_indices: ClassVar[bool] = False
    """Whether ``y_true`` may be integer class indices ``(N,)`` instead of one-hot ``(N, C)``."""

    @abstractmethod
    def loss(self, y_pred: Array, y_true: Array) -> float:
        """Mean loss over the batch."""

    @abstractmethod
    def gradient(self, y_pred: Array, y_true: Array) -> Array:
        """``dL/dy_pred``, same shape as ``y_pred``."""

    def loss_and_gradient(self, y_pred: Array, y_true: Array) -> tuple[float, Array]:
        """Both at once; override when they share work."""
        return self.loss(y_pred, y_true), self.gradient(y_pred, y_true)

    def check_targets(self, y_true: Array, argument: str = "Y") -> None:
        """Refuse targets this cost cannot take (the model calls it once per ``fit``); raise
        `DataError` naming ``argument``. Default: accept."""

    def fuses_with(self, activation: ActivationFunction | None) -> bool:
        """Whether this cost can work from the logits of ``activation``'s input."""
        return False

    def loss_and_gradient_from_logits(
        self, z: Array, y_true: Array, y_pred: Array | None = None
    ) -> tuple[float, Array]:
        """Loss of ``activation(z)`` and ``dL/dz``; required when `fuses_with` is true.

        ``y_pred``, when given, is ``activation(z)`` as the layer already computed it; a cost
        may reuse it instead of computing it again.
        """
        raise NotImplementedError(f"{type(self).__name__} does not fuse with an activation")

    def loss_from_logits(self, z: Array, y_true: Array) -> float:
        """Loss of ``activation(z)`` alone (evaluation); override to skip the gradient."""
        return self.loss_and_gradient_from_logits(z, y_true)[0]

    def accuracy(self, y_pred: Array, y_true: Array) -> float | None:
        """Fraction of correct predictions for classification costs; ``None`` otherwise."""
        return None


class Layer(SavesForBackward, Component):
    """A differentiable function of its input with named parameters.

    Subclasses call ``super().__init__(dtype=dtype)`` and declare parameters with
    `add_parameter`. ``forward(x, training)`` keeps what ``backward`` needs with
    ``save_for_backward`` (see `SavesForBackward`); ``backward(grad)`` reads ``saved``,
    fills `gradients` (same keys as `parameters`) and returns ``dL/dx``. What was saved
    is released after ``backward`` (or ``backward_preactivation``), together with the
    output activation's and ``preactivation``.

    Layers that end in an activation expose it as ``activation``, keep the last
    pre-activation in ``preactivation`` and implement `backward_preactivation`; the
    model then lets a cross-entropy cost work from the logits (see
    `CostFunction.fuses_with`).

    ``needs_input_grad`` is cleared by the model on its first layer while training (as
    PyTorch skips gradients of inputs that do not require them): a layer may then skip
    computing ``dL/dx`` and return ``None`` from `backward`.

    Examples
    --------
    >>> import numpy as np, scratchnet_core as sn
    >>> layer = sn.get_layers()["linear"](3, 2)
    >>> y = layer.forward(np.ones((4, 3), dtype=np.float32), training=True)  # x: (N, 3)
    >>> layer.backward(np.ones_like(y)).shape, sorted(layer.gradients())
    ((4, 3), ['bias', 'weight'])
    """

    activation: ActivationFunction | None = None
    preactivation: Array | None = None
    needs_input_grad: bool = True
    _released_methods = ("backward", "backward_preactivation")

    def release_saved(self) -> None:
        """Drop what the last ``forward`` kept: the layer's saved values, ``preactivation``
        and its output activation's (the fused loss path never calls that one's backward)."""
        self._saved = None
        self.preactivation = None
        if self.activation is not None:
            self.activation.release_saved()

    def __init__(self, *, dtype: DTypeLike | None = None) -> None:
        self.dtype: np.dtype[Any] = as_float_dtype(dtype)
        self._params: dict[str, Array] = {}
        self._grads: dict[str, Array] = {}
        self._buffers: dict[str, Array] = {}

    @abstractmethod
    def forward(self, x: Array, training: bool = False) -> Array:
        """``x: (N, ...)`` -> ``y: (N, ...)``."""

    @abstractmethod
    def backward(self, grad: Array) -> Array | None:
        """``grad = dL/dy`` -> ``dL/dx``; stores ``dL/dparam`` in `gradients`.

        May return ``None`` when ``needs_input_grad`` is false.
        """

    def activate(self, z: Array) -> Array:
        """Apply the output ``activation`` (if any) to the pre-activation ``z``, keeping ``z``
        as ``preactivation`` for a cost that fuses with it. Call it at the end of ``forward``."""
        if self.activation is None:
            return z
        self.preactivation = z
        return self.activation.forward(z)

    def backward_through_activation(self, grad: Array) -> Array | None:
        """``backward`` for layers written as `activate` + `backward_preactivation`:
        the activation's vector-Jacobian product, then the layer's own."""
        if self.activation is not None:
            grad = self.activation.backward(grad)
        return self.backward_preactivation(grad)

    def backward_preactivation(self, grad_z: Array) -> Array | None:
        """Like `backward`, but ``grad_z`` is ``dL/dz`` for the pre-activation."""
        raise NotImplementedError(f"{type(self).__name__} has no output activation to bypass")

    def parameters(self) -> dict[str, Array]:
        """The live parameter arrays by name (optimizers update them in place)."""
        return self._params

    conformance: ClassVar[Mapping[str, Any] | None] = None
    """How the conformance kit builds and feeds this layer: ``{"args": [...], "kwargs": {...},
    "input_shape": [...], "bad_input_shape": [...]}`` (``scratchnet check`` skips layers
    without it)."""

    def gradients(self) -> dict[str, Array]:
        """The gradients of the last `backward`, keyed like `parameters`."""
        return self._grads

    def buffers(self) -> dict[str, Array]:
        """State that is not trained but is saved (batch norm's running statistics)."""
        buffers: dict[str, Array] = self.__dict__.get("_buffers", {})
        return buffers

    def add_buffer(self, name: str, value: Array) -> Array:
        """Declare a buffer: saved in model files, converted by `to`, not optimised."""
        array = np.ascontiguousarray(value, dtype=self.dtype)
        self._buffers[name] = array
        return array

    def add_parameter(self, name: str, value: Array) -> Array:
        """Declare a parameter (stored in the layer's dtype) and its gradient buffer."""
        array = np.ascontiguousarray(value, dtype=self.dtype)
        self._params[name] = array
        self._grads[name] = np.zeros_like(array)
        return array

    def to(self, dtype: DTypeLike) -> Layer:
        """Cast parameters (in place in this layer, as new arrays) to ``dtype``; returns self."""
        self.dtype = as_float_dtype(dtype)
        for name, value in list(self._params.items()):
            self._params[name] = value.astype(self.dtype)
            self._grads[name] = self._grads[name].astype(self.dtype)
        for name, value in list(self.buffers().items()):
            self._buffers[name] = value.astype(self.dtype)
        return self

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        """Shape of one output sample for one input sample of ``input_shape`` (no batch axis).

        The default runs `forward` on a zero batch of one; layers override it with
        arithmetic, raising `ShapeError` for shapes they cannot take.
        """
        out = self.forward(np.zeros((1, *input_shape), dtype=self.dtype))
        return tuple(int(s) for s in out.shape[1:])

    def num_parameters(self) -> int:
        """Count of trainable scalars."""
        return int(sum(p.size for p in self._params.values()))

    def children(self) -> dict[str, Layer]:
        """The layers inside this one by name, for containers (``{"0": ..., "1": ...}`` for a
        ``sequential``, ``{"block": ..., "shortcut": ...}`` for a ``residual``); a container's
        parameters are named ``"<child name>.<name>"``. Empty for a plain layer."""
        return {}

    def get_config(self) -> dict[str, Any]:
        return {"dtype": self.dtype.name}


class Optimizer(Component):
    """Updates parameters in place from their gradients.

    ``step(params, grads)`` takes two dicts keyed alike (the model uses ``"<index>.<name>"``,
    such as ``"0.weight"``). Per-parameter state is keyed by the same names, so
    `state_dict` / `load_state_dict` resume training exactly.

    Per-parameter state lives in the base: a subclass names its kinds in ``state_names``
    (``("exp_avg", "exp_avg_sq")``) and asks `buffer` for the array of one parameter
    (created on first use); `state_dict` / `load_state_dict` save and restore them with
    ``iterations``. Scalars of its own it adds by extending both methods.

    Examples
    --------
    >>> import numpy as np, scratchnet_core as sn
    >>> params, grads = {"0.weight": np.array([1.0])}, {"0.weight": np.array([2.0])}
    >>> sn.get_optimizers()["sgd"](lr=0.25).step(params, grads)
    >>> params["0.weight"]
    array([0.5])
    """

    def __init__(self, lr: float) -> None:
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating)):
            raise ConfigurationError(
                f"{type(self).__name__}: lr must be a number, got {type(lr).__name__}"
            )
        if not np.isfinite(lr) or lr <= 0:
            raise ConfigurationError(f"{type(self).__name__}: lr must be > 0, got {lr}")
        self.lr = float(lr)
        self.iterations = 0
        self.buffers: dict[str, dict[str, Array]] = {kind: {} for kind in self.state_names}

    state_names: ClassVar[tuple[str, ...]] = ()
    """The kinds of per-parameter state this optimizer keeps (each a dict name -> array)."""

    def buffer(self, kind: str, name: str, like: Array, fill: float | None = 0.0) -> Array:
        """The ``kind`` state of parameter ``name``, created shaped like ``like`` on first use:
        filled with ``fill``, or a copy of ``like`` when ``fill`` is None (SGD's momentum
        starts at the first gradient).

        >>> import numpy as np, scratchnet_core as sn
        >>> opt = sn.get_optimizers()["adam"]()
        >>> opt.buffer("exp_avg", "0.weight", np.ones(2)) is opt.buffers["exp_avg"]["0.weight"]
        True
        """
        store = self.buffers[kind]
        buf = store.get(name)
        if buf is None:
            buf = store[name] = like.copy() if fill is None else np.full_like(like, fill)
        return buf

    @abstractmethod
    def step(self, params: Mapping[str, Array], grads: Mapping[str, Array]) -> None:
        """Update every ``params[name]`` in place from ``grads[name]``."""

    def state_dict(self) -> dict[str, Any]:
        """Everything `load_state_dict` needs to continue exactly (arrays and scalars):
        ``iterations`` and a copy of each kind in ``state_names``."""
        state: dict[str, Any] = {"iterations": self.iterations}
        for kind in self.state_names:
            state[kind] = {k: v.copy() for k, v in self.buffers[kind].items()}
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the state saved by `state_dict` (a kind missing from ``state`` starts
        empty)."""
        self.iterations = int(state["iterations"])
        self.buffers = {
            kind: {k: np.array(v) for k, v in state.get(kind, {}).items()}
            for kind in self.state_names
        }

    def get_config(self) -> dict[str, Any]:
        return {"lr": self.lr}


class ConvBackend(Component):
    """Computes N-d cross-correlation (1, 2 or 3 spatial dims) and its gradients.

    Layouts as PyTorch: ``x: (N, C_in, *spatial)``, ``w: (C_out, C_in, *kernel)``,
    ``y: (N, C_out, *out_spatial)``. ``stride``, ``padding`` and ``dilation`` are tuples with
    one entry per spatial dimension (``padding`` already resolved to integers, the same on
    both sides).

    Optional for ``auto``: `supports` (which geometries the backend takes) and
    `estimate` (its predicted seconds for one); see the plugin-author guide.

    A backend instance belongs to one layer and may keep what its last ``forward`` computed
    for the ``backward`` that follows (the im2col buffer, the input's transform); layers call
    `clear_cache` when no backward will follow (inference).

    Examples
    --------
    >>> import numpy as np, scratchnet_core as sn
    >>> backend = sn.get_conv_backends()["direct"]()
    >>> x, w = np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3))  # (N, C, H, W), (C_out, C_in, k, k)
    >>> backend.forward(x, w, (1, 1), (0, 0), (1, 1))
    array([[[[9., 9.],
             [9., 9.]]]])
    """

    def clear_cache(self) -> None:
        """Drop anything kept from the last `forward` (default: nothing is kept)."""

    def supports(
        self,
        x_shape: tuple[int, ...],
        w_shape: tuple[int, ...],
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
        dtype: Any = None,
    ) -> bool:
        """Whether this backend computes this geometry (default: every valid one).

        ``auto`` never offers a backend a geometry it declines; a backend that accepts a
        geometry and then fails on it is reported and left out of ``auto`` for the process.
        Called with valid geometries only (``auto`` checks the shapes first).
        """
        return True

    def estimate(
        self,
        x_shape: tuple[int, ...],
        w_shape: tuple[int, ...],
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
        dtype: Any = None,
    ) -> float | None:
        """Predicted seconds of one ``forward`` + ``backward``, or ``None`` (default).

        ``auto`` picks the smallest estimate without running anything (deterministic);
        a backend returning ``None`` is timed once per geometry instead, as
        ``torch.backends.cudnn.benchmark`` does. An estimate must be a finite number
        ``>= 0``; anything else, or an exception, is reported and the backend left out.
        """
        return None

    @abstractmethod
    def forward(
        self,
        x: Array,
        w: Array,
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
    ) -> Array:
        """``y = x (*) w`` (cross-correlation, no bias)."""

    @abstractmethod
    def backward(
        self,
        grad_y: Array,
        x: Array,
        w: Array,
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
    ) -> tuple[Array, Array]:
        """``(dL/dx, dL/dw)`` for ``grad_y = dL/dy``."""


class Metric(Component):
    """A streaming measure of predictions against targets, exact over a whole epoch.

    The loop calls `bind` once per ``fit``/``evaluate`` (the task and output shape),
    `reset` at the start of an epoch (or an evaluation), `update` once per batch
    with ``y_pred: (N, ...)`` (the model's output) and ``y_true`` (the targets as the cost
    takes them: class indices ``(N,)`` or one-hot ``(N, C)`` for ``"categorical"``, ``(N,
    *output_shape)`` otherwise), and `result` at the end. A metric keeps sufficient
    statistics (counts, sums, a confusion matrix), never a mean of per-batch values, so F1
    over an epoch equals F1 over all its predictions at once.

    Those statistics are one float64 vector, `state`, and they add up: the state of
    two halves of the data summed element-wise is the state of the whole. That is how a
    data-parallel plugin makes epoch values exact when each process saw only its shard:
    it sums the states across processes and loads the sum with `load_state` (see
    ``scratchnet_epoch_totals`` in `scratchnet_core.hookspecs`). A metric without
    `state` still works in one process.

    ``higher_is_better`` tells callbacks that monitor the metric (early stopping,
    checkpoints) which way is an improvement. ``name`` (default: the registry name) is the
    key in logs and `History` (``val_`` + name for validation).

    Examples
    --------
    >>> import numpy as np, scratchnet_core as sn
    >>> class MeanPrediction(sn.Metric):
    ...     higher_is_better = True
    ...     def reset(self): self.totals = np.zeros(2)
    ...     def update(self, y_pred, y_true): self.totals += (y_pred.sum(), y_pred.size)
    ...     def result(self): return float(self.totals[0] / max(self.totals[1], 1))
    ...     def state(self): return self.totals.copy()
    ...     def load_state(self, state): self.totals = np.array(state, dtype=float)
    >>> m = MeanPrediction(); m.reset(); m.update(np.array([1.0, 3.0]), np.array([0, 1]))
    >>> other = MeanPrediction(); other.reset(); other.update(np.array([8.0]), np.array([1]))
    >>> m.result(), other.result()
    (2.0, 8.0)
    >>> m.load_state(m.state() + other.state()); m.result()  # as if one saw all three rows
    4.0
    """

    higher_is_better: ClassVar[bool] = True
    name: str | None = None
    """The key in logs; ``None``: the registry name (or the class name, lower-cased)."""

    TASKS: ClassVar[tuple[str, ...]] = ("binary", "categorical", "regression")
    """The kinds of output `bind` is told about."""

    def bind(self, task: str, output_shape: tuple[int, ...] | None) -> None:
        """Check that this metric fits the model; raise
        `ConfigurationError` if not.

        ``task`` is ``"binary"`` (sigmoid outputs with 0/1 targets: a classification cost
        that takes no class indices), ``"categorical"`` (one of ``C`` classes: class indices
        or one-hot targets) or ``"regression"`` (a cost with no notion of accuracy).
        ``output_shape`` is one output sample's shape, ``None`` while still unknown (at
        model construction). Default: accept anything.
        """

    @abstractmethod
    def reset(self) -> None:
        """Forget everything seen so far."""

    @abstractmethod
    def update(self, y_pred: Array, y_true: Array) -> None:
        """Accumulate one batch: ``y_pred: (N, ...)``, ``y_true`` as the cost takes it."""

    @abstractmethod
    def result(self) -> float:
        """The value over everything seen since `reset`."""

    def state(self) -> NDArray[np.float64]:
        """The sufficient statistics seen since `reset`, as a 1-d float64 vector of a
        length fixed after `bind`; states of disjoint data add up element-wise."""
        raise NotImplementedError(
            f"metric {type(self).__name__} has no state(): it cannot be merged across processes"
        )

    def load_state(self, state: NDArray[np.float64]) -> None:
        """Replace the statistics with ``state`` (as from `state`, or a sum of them)."""
        raise NotImplementedError(
            f"metric {type(self).__name__} has no load_state(): it cannot be merged across "
            "processes"
        )
