"""Checks any component against its interface: the conformance kit.

Gradients are compared with central finite differences in float64. The project's own tests
run these on every standard component; plugin authors run them in their own pytest::

    from scratchnet_core.testing import check_activation
    from my_plugin import Cube

    def test_cube():
        check_activation(Cube())

Each ``check_*`` raises ``AssertionError`` with the failing check's name and the numbers.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from .errors import BackwardError, ConfigurationError, ScratchnetError, ShapeError
from .interfaces import ActivationFunction, Array, CostFunction, Layer, Metric, Optimizer

__all__ = [
    "CheckResult",
    "assert_gradients_close",
    "check_activation",
    "check_activation_gradient",
    "check_backward_releases",
    "check_component",
    "check_conv_backend",
    "check_cost",
    "check_cost_gradient",
    "check_initializer",
    "check_layer",
    "check_layer_gradients",
    "check_metric",
    "check_optimizer",
    "numerical_gradient",
    "run_checks",
]

GRAD_RTOL = 1e-6
"""Default tolerance of the relative error ``|a - n| / (|a| + |n|)`` (norms) in float64."""

GRAD_ATOL = 1e-8
"""Differences below this (norm) pass whatever their relative size: gradients that are zero
in exact arithmetic come out of finite differences as round-off of about 1e-10."""


def numerical_gradient(f: Callable[[], float], x: Array, eps: float = 1e-6) -> Array:
    """``df/dx`` by central differences, perturbing ``x`` in place (restored after).

    ``f`` takes no argument and reads ``x``; ``x`` must be float64.

    >>> x = np.array([1.0, 2.0])
    >>> np.round(numerical_gradient(lambda: float(np.sum(x ** 2)), x), 6)
    array([2., 4.])
    """
    if x.dtype != np.float64:
        raise TypeError(f"numerical_gradient needs float64, got {x.dtype}")
    grad = np.zeros_like(x)
    flat = x.reshape(-1)  # a view: writes reach x
    gflat = grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = f()
        flat[i] = old - eps
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return grad


def assert_gradients_close(
    analytic: Array, numeric: Array, what: str, rtol: float = GRAD_RTOL, atol: float = GRAD_ATOL
) -> float:
    """Assert ``analytic`` matches ``numeric`` (relative error within ``rtol``, or absolute
    difference within ``atol``); returns the relative error.

    >>> assert_gradients_close(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-9]), "dL/dx") < 1e-6
    True
    """
    if analytic.shape != numeric.shape:
        raise AssertionError(
            f"{what}: gradient shape {analytic.shape} differs from the input's {numeric.shape}"
        )
    diff = float(np.linalg.norm(analytic - numeric))
    scale = float(np.linalg.norm(analytic) + np.linalg.norm(numeric))
    err = diff / scale if scale > 0 else 0.0
    if not (err <= rtol or diff <= atol):
        raise AssertionError(
            f"{what}: analytic and numerical gradients differ, relative error {err:.3e} > "
            f"{rtol:.0e} (max abs diff {float(np.max(np.abs(analytic - numeric))):.3e})"
        )
    return err


# ----------------------------------------------------------------------------- gradients


def check_activation_gradient(
    activation: ActivationFunction,
    z: Array,
    *,
    seed: int = 0,
    rtol: float = GRAD_RTOL,
    atol: float = GRAD_ATOL,
) -> float:
    """``activation.backward`` against finite differences of ``sum(forward(z) * g)``.

    >>> import scratchnet_core as sn
    >>> tanh = sn.get_activation_functions()["tanh"]()
    >>> check_activation_gradient(tanh, np.linspace(-2, 2, 7)) < 1e-8
    True
    """
    z = np.array(z, dtype=np.float64)
    g = np.random.default_rng(seed + 1).standard_normal(z.shape)  # not the inputs' stream
    activation.forward(z)
    analytic = activation.backward(g)
    numeric = numerical_gradient(lambda: float(np.sum(activation.forward(z) * g)), z)
    return assert_gradients_close(
        analytic, numeric, f"{type(activation).__name__}.backward", rtol, atol
    )


def check_cost_gradient(
    cost: CostFunction,
    y_pred: Array,
    y_true: Array,
    *,
    logits: bool = False,
    rtol: float = GRAD_RTOL,
    atol: float = GRAD_ATOL,
) -> float:
    """``cost.gradient`` (or, with ``logits``, the fused gradient) against finite differences.

    >>> import scratchnet_core as sn
    >>> mse = sn.get_cost_functions()["mse"]()
    >>> check_cost_gradient(mse, np.array([[0.2, 0.9]]), np.array([[0.0, 1.0]])) < 1e-8
    True
    """
    y_pred = np.array(y_pred, dtype=np.float64)
    name = type(cost).__name__
    if logits:
        analytic = cost.loss_and_gradient_from_logits(y_pred, y_true)[1]
        numeric = numerical_gradient(lambda: cost.loss_from_logits(y_pred, y_true), y_pred)
        return assert_gradients_close(analytic, numeric, f"{name} from logits", rtol, atol)
    analytic = cost.gradient(y_pred, y_true)
    numeric = numerical_gradient(lambda: cost.loss(y_pred, y_true), y_pred)
    return assert_gradients_close(analytic, numeric, f"{name}.gradient", rtol, atol)


def _reseed(layer: Layer, seed: int) -> None:
    """Layers that draw random numbers in training expose an ``rng`` attribute that, when set
    to a generator, is what they draw from; the kit sets a fresh one before every forward so
    finite differences see the same draws."""
    if hasattr(layer, "rng"):
        layer.rng = np.random.default_rng(seed)
    for child in layer.children().values():  # containers: every layer inside
        _reseed(child, seed)


def check_layer_gradients(
    layer: Layer, x: Array, *, seed: int = 0, rtol: float = GRAD_RTOL, atol: float = GRAD_ATOL
) -> dict[str, float]:
    """Input and parameter gradients of ``layer`` (converted to float64) at ``x``.

    The scalar checked is ``sum(layer.forward(x, training=True) * g)`` for a fixed random
    ``g``. Returns the relative error of each gradient, keyed ``"x"`` and parameter names.

    >>> import scratchnet_core as sn
    >>> layer = sn.get_layers()["linear"](3, 2, "tanh")
    >>> errors = check_layer_gradients(layer, np.random.default_rng(0).normal(size=(4, 3)))
    >>> sorted(errors), max(errors.values()) < 1e-6
    (['bias', 'weight', 'x'], True)
    """
    layer.to(np.float64)
    x = np.array(x, dtype=np.float64)
    _reseed(layer, seed)
    y = layer.forward(x, training=True)
    g = np.random.default_rng(seed + 1).standard_normal(y.shape)  # not the inputs' stream
    grad_x = layer.backward(g)
    if grad_x is None:
        raise AssertionError(f"{type(layer).__name__}.backward returned None with needs_input_grad")
    analytic = {name: np.array(v) for name, v in layer.gradients().items()}
    name = type(layer).__name__

    def scalar() -> float:
        _reseed(layer, seed)
        return float(np.sum(layer.forward(x, training=True) * g))

    numeric_x = numerical_gradient(scalar, x)
    errors = {"x": assert_gradients_close(grad_x, numeric_x, f"{name} dL/dx", rtol, atol)}
    for pname, value in layer.parameters().items():
        numeric = numerical_gradient(scalar, value)
        errors[pname] = assert_gradients_close(
            analytic[pname], numeric, f"{name} dL/d{pname}", rtol, atol
        )
    return errors


# ----------------------------------------------------------------------------- release


def _expect_backward_error(call: Callable[[], Any], what: str) -> None:
    try:
        call()
    except BackwardError:
        return
    raise AssertionError(
        f"{what} without a forward in between raised no BackwardError: keep what backward "
        "needs with save_for_backward(...) in forward and read it from self.saved"
    )


def check_backward_releases(component: ActivationFunction | Layer, x: Array) -> None:
    """What ``forward`` saved is released after ``backward``: a second ``backward`` raises
    `BackwardError`, for activations and layers alike; for a layer also with
    ``needs_input_grad`` cleared and, when it has an output activation it can bypass, after
    ``backward_preactivation`` (the fused loss path), which releases the activation too.

    >>> import scratchnet_core as sn
    >>> check_backward_releases(sn.get_layers()["linear"](3, 2, "softmax"), np.ones((4, 3)))
    """
    name = type(component).__name__
    if isinstance(component, ActivationFunction):
        y = component.forward(x)
        g = np.ones_like(y)
        component.backward(g)
        _expect_backward_error(lambda: component.backward(g), f"{name}: a second backward")
        return
    layer = component
    _reseed(layer, 0)
    y = layer.forward(x, training=True)
    g = np.ones_like(y)
    layer.backward(g)
    _expect_backward_error(lambda: layer.backward(g), f"{name}: a second backward")
    needed = layer.needs_input_grad
    try:
        layer.needs_input_grad = False
        _reseed(layer, 0)
        layer.forward(x, training=True)
        layer.backward(g)
        _expect_backward_error(
            lambda: layer.backward(g), f"{name}: a second backward (needs_input_grad=False)"
        )
    finally:
        layer.needs_input_grad = needed
    activation = layer.activation
    if activation is None or type(layer).backward_preactivation is Layer.backward_preactivation:
        return
    _reseed(layer, 0)
    layer.forward(x, training=True)
    if layer.preactivation is None:
        raise AssertionError(f"{name}: forward with an activation kept no preactivation")
    layer.backward_preactivation(np.ones_like(layer.preactivation))
    if getattr(layer, "preactivation", None) is not None:  # re-read: backward clears it
        raise AssertionError(f"{name}: backward_preactivation left preactivation in place")
    _expect_backward_error(lambda: layer.backward(g), f"{name}: backward after the fused path")
    _expect_backward_error(
        lambda: activation.backward(g), f"{name}'s activation: backward after the fused path"
    )


# ----------------------------------------------------------------------------- kit


def _config_round_trip(component: Any) -> Any:
    config = component.get_config()
    rebuilt = type(component).from_config(copy.deepcopy(config))
    if rebuilt.get_config() != config:
        raise AssertionError(
            f"{type(component).__name__}: from_config(get_config()) gives config "
            f"{rebuilt.get_config()}, expected {config}"
        )
    return rebuilt


def check_activation(
    activation: ActivationFunction,
    shape: Sequence[int] = (4, 5),
    *,
    seed: int = 0,
    rtol: float = GRAD_RTOL,
    atol: float = GRAD_ATOL,
) -> None:
    """Conformance of an activation: gradient (float64), a second backward refused
    (`check_backward_releases`), dtype and shape kept, config.

    >>> import scratchnet_core as sn
    >>> check_activation(sn.get_activation_functions()["sigmoid"]())  # passes silently
    """
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(tuple(shape)) * 2
    z[np.abs(z) < 1e-3] = 0.5  # stay off kinks such as relu's at 0
    check_activation_gradient(activation, z, seed=seed, rtol=rtol, atol=atol)
    check_backward_releases(activation, z)
    for dtype in (np.float32, np.float64):
        out = activation.forward(z.astype(dtype))
        if out.dtype != dtype or out.shape != z.shape:
            raise AssertionError(
                f"{type(activation).__name__}: {np.dtype(dtype).name} input {z.shape} gave "
                f"{out.dtype} output {out.shape}"
            )
    _config_round_trip(activation)


def check_cost(
    cost: CostFunction,
    y_pred: Array,
    y_true: Array,
    *,
    logits: Array | None = None,
    rtol: float = GRAD_RTOL,
    atol: float = GRAD_ATOL,
) -> None:
    """Conformance of a cost: float loss, gradient (float64), fused gradient, config.

    >>> import scratchnet_core as sn
    >>> p, y = np.array([[0.3, 0.7]]), np.array([[0.0, 1.0]])
    >>> check_cost(sn.get_cost_functions()["bce"](), p, y, logits=np.array([[-1.0, 2.0]]))
    """
    loss = cost.loss(np.asarray(y_pred, dtype=np.float64), y_true)
    if not isinstance(loss, float):
        raise AssertionError(f"{type(cost).__name__}.loss returned {type(loss).__name__}")
    check_cost_gradient(cost, y_pred, y_true, rtol=rtol, atol=atol)
    if logits is not None:
        check_cost_gradient(cost, logits, y_true, logits=True, rtol=rtol, atol=atol)
    _config_round_trip(cost)


def check_layer(
    layer_factory: Callable[..., Layer],
    input_shape: Sequence[int],
    *,
    batch: int = 3,
    seed: int = 0,
    bad_input_shape: Sequence[int] | None = None,
    rtol: float = GRAD_RTOL,
    atol: float = GRAD_ATOL,
) -> None:
    """Conformance of a layer built by ``layer_factory(dtype=...)`` for samples of ``input_shape``.

    Checks: gradients in float64; what forward saved released after backward
    (`check_backward_releases`); float32 in, float32 out; ``output_shape`` agrees with
    ``forward``; ``parameters()``/``gradients()`` keys agree; config round trip; and, given
    ``bad_input_shape``, that such input raises `ShapeError`.

    >>> import scratchnet_core as sn
    >>> linear = sn.get_layers()["linear"]
    >>> check_layer(lambda dtype: linear(4, 3, "relu", dtype=dtype), (4,), bad_input_shape=(5,))
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, *input_shape))
    layer = layer_factory(dtype="float64")
    name = type(layer).__name__
    check_layer_gradients(layer, x, seed=seed, rtol=rtol, atol=atol)
    check_backward_releases(layer, x)
    if set(layer.parameters()) != set(layer.gradients()):
        raise AssertionError(f"{name}: parameters() and gradients() keys differ")
    layer32 = layer_factory(dtype="float32")
    y = layer32.forward(x.astype(np.float32), training=True)
    if y.dtype != np.float32:
        raise AssertionError(f"{name}: float32 layer gave {y.dtype} output")
    for pname, value in {**layer32.parameters(), **layer32.buffers()}.items():
        if value.dtype != np.float32:  # containers: their children's arrays too
            raise AssertionError(f"{name}: float32 layer holds {pname!r} as {value.dtype}")
    if tuple(y.shape[1:]) != layer32.output_shape(tuple(input_shape)):
        raise AssertionError(
            f"{name}: output_shape says {layer32.output_shape(tuple(input_shape))}, forward "
            f"gave {y.shape[1:]}"
        )
    rebuilt = _config_round_trip(layer32)
    if rebuilt.dtype != layer32.dtype:
        raise AssertionError(f"{name}: config round trip changed dtype to {rebuilt.dtype}")
    if bad_input_shape is not None:
        try:
            layer32.forward(np.zeros((batch, *bad_input_shape), dtype=np.float32))
        except ShapeError:
            pass
        else:
            raise AssertionError(f"{name}: input of shape {bad_input_shape} raised no ShapeError")


def check_optimizer(
    optimizer_factory: Callable[[], Optimizer], *, steps: int = 5, seed: int = 0
) -> None:
    """Conformance of an optimizer: it descends a quadratic, and state round-trips exactly.

    Two copies run ``steps`` steps; one is rebuilt from ``get_config()`` and
    ``state_dict()`` halfway; both must end bit-identical.

    >>> import scratchnet_core as sn
    >>> check_optimizer(lambda: sn.get_optimizers()["adam"](lr=0.1))
    """
    rng = np.random.default_rng(seed)
    target = {"w": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}

    def grads(params: Mapping[str, Array]) -> dict[str, Array]:
        return {k: 2 * (params[k] - target[k]) for k in params}

    def loss(params: Mapping[str, Array]) -> float:
        return float(sum(np.sum((params[k] - target[k]) ** 2) for k in params))

    start = {"w": np.zeros((3, 4)), "b": np.zeros(4)}
    a = optimizer_factory()
    pa = copy.deepcopy(start)
    for _ in range(steps):
        a.step(pa, grads(pa))
    if not loss(pa) < loss(start):
        raise AssertionError(f"{type(a).__name__}: {steps} steps did not reduce a quadratic")

    b = optimizer_factory()
    pb = copy.deepcopy(start)
    half = steps // 2
    for _ in range(half):
        b.step(pb, grads(pb))
    try:
        resumed = type(b).from_config(b.get_config())
        resumed.load_state_dict(copy.deepcopy(b.state_dict()))
    except ScratchnetError as exc:  # pragma: no cover - reported as a failed check
        raise AssertionError(f"{type(b).__name__}: state round trip failed: {exc}") from exc
    for _ in range(steps - half):
        resumed.step(pb, grads(pb))
    for k in pa:
        if not np.array_equal(pa[k], pb[k]):
            raise AssertionError(
                f"{type(a).__name__}: resuming from state_dict() differs from uninterrupted "
                f"steps (parameter {k!r}, max diff {float(np.max(np.abs(pa[k] - pb[k]))):.3e})"
            )


# ----------------------------------------------------------------------------- backends


def _reference_conv(
    x: Array, w: Array, stride: tuple[int, ...], padding: tuple[int, ...], dilation: tuple[int, ...]
) -> Array:
    """Cross-correlation from its definition, through sliding windows (small inputs only)."""
    d = x.ndim - 2
    xp = np.pad(x, ((0, 0), (0, 0), *((p, p) for p in padding)))
    spans = [dl * (k - 1) + 1 for k, dl in zip(w.shape[2:], dilation, strict=True)]
    windows = np.lib.stride_tricks.sliding_window_view(xp, spans, axis=tuple(range(2, 2 + d)))
    windows = windows[
        (
            slice(None),
            slice(None),
            *(slice(None, None, s) for s in stride),
            *(slice(None, None, dl) for dl in dilation),
        )
    ]
    letters = "ijk"[:d]  # output positions
    kernel = "uvw"[:d]  # kernel taps
    y: Array = np.einsum(f"nc{letters}{kernel},oc{kernel}->no{letters}", windows, w)
    return y


def _check_conv_gradients(
    backend: Any,
    x: Array,
    w: Array,
    conv: tuple[tuple[int, ...], ...],
    g: Array,
    rtol: float,
    atol: float,
) -> None:
    name = type(backend).__name__
    grad_x, grad_w = backend.backward(g, x, w, *conv)

    def scalar() -> float:
        return float(np.sum(backend.forward(x, w, *conv) * g))

    numeric_x, numeric_w = numerical_gradient(scalar, x), numerical_gradient(scalar, w)
    assert_gradients_close(grad_x, numeric_x, f"{name} dL/dx {x.shape}", rtol, atol)
    assert_gradients_close(grad_w, numeric_w, f"{name} dL/dw {w.shape}", rtol, atol)


def check_conv_backend(
    backend: Any, *, seed: int = 0, rtol: float = GRAD_RTOL, atol: float = GRAD_ATOL
) -> None:
    """Conformance of a convolution backend: forward against the definition in 1, 2 and 3
    dimensions with stride, padding and dilation; gradients in float64; float32 kept;
    a channel mismatch raises `ShapeError`.

    >>> import scratchnet_core as sn
    >>> check_conv_backend(sn.get_conv_backends()["direct"]())
    """
    rng = np.random.default_rng(seed)
    name = type(backend).__name__
    cases = [
        ((2, 2, 7), (3, 2, 3), (2,), (1,), (1,)),
        ((2, 2, 6, 5), (3, 2, 3, 2), (1, 2), (1, 0), (2, 1)),
        ((1, 2, 4, 5, 4), (2, 2, 2, 3, 2), (1, 1, 2), (0, 1, 1), (1, 1, 1)),
    ]
    for x_shape, w_shape, stride, padding, dilation in cases:
        x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
        y = backend.forward(x, w, stride, padding, dilation)
        expected = _reference_conv(x, w, stride, padding, dilation)
        if y.shape != expected.shape or not np.allclose(y, expected, rtol=1e-9, atol=1e-9):
            raise AssertionError(
                f"{name}: forward differs from the definition for x {x_shape}, w {w_shape}"
            )
        g = rng.standard_normal(y.shape)
        _check_conv_gradients(backend, x, w, (stride, padding, dilation), g, rtol, atol)
        y32 = backend.forward(x.astype(np.float32), w.astype(np.float32), stride, padding, dilation)
        if y32.dtype != np.float32:
            raise AssertionError(f"{name}: float32 inputs gave {y32.dtype} output")
    try:
        backend.forward(np.zeros((1, 2, 5, 5)), np.zeros((1, 3, 3, 3)), (1, 1), (0, 0), (1, 1))
    except ShapeError:
        pass
    else:
        raise AssertionError(f"{name}: a channel mismatch raised no ShapeError")


def check_initializer(init: Callable[..., Array], *, seed: int = 0) -> None:
    """An initializer returns finite values of the requested shape.

    >>> import scratchnet_core as sn
    >>> check_initializer(sn.get_initializers()["he_normal"])
    """
    for shape in ((5, 4), (3, 2, 3, 3)):
        fan_in = shape[0] if len(shape) == 2 else shape[1] * 9
        fan_out = shape[1] if len(shape) == 2 else shape[0] * 9
        values = np.asarray(init(shape, fan_in, fan_out, np.random.default_rng(seed)))
        if values.shape != shape or not np.all(np.isfinite(values)):
            raise AssertionError(f"{getattr(init, '__name__', init)}: bad values for shape {shape}")


# ----------------------------------------------------------------------------- by name


class CheckResult(NamedTuple):
    """The outcome of the kit on one component: ``status`` is ``ok``, ``failed`` or ``skipped``.

    >>> CheckResult("activations", "relu", "ok")
    CheckResult(kind='activations', name='relu', status='ok', detail='')
    """

    kind: str
    name: str
    status: str
    detail: str = ""


def _default_cost_inputs(seed: int) -> tuple[Array, Array, Array]:
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((4, 3)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    onehot = np.eye(3)[rng.integers(0, 3, 4)]
    return probs, onehot, logits


def _metric_data(task: str, rng: np.random.Generator, n: int) -> tuple[Array, Array, tuple[int]]:
    """Outputs and targets of ``n`` rows as a model of ``task`` produces and takes them."""
    if task == "binary":
        return rng.uniform(size=(n, 1)), (rng.uniform(size=(n, 1)) > 0.5).astype(float), (1,)
    if task == "categorical":
        logits = rng.standard_normal((n, 7))
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        return probs, rng.integers(0, 7, size=n), (7,)
    return rng.standard_normal((n, 3)), rng.standard_normal((n, 3)), (3,)


def _metric_over(
    metric: Metric, y_pred: Array, y_true: Array, cuts: Sequence[int], task: str
) -> float:
    """``metric`` over one epoch of ``y_pred``/``y_true`` fed in batches cut at ``cuts``."""
    metric.reset()
    for lo, hi in itertools.pairwise([0, *cuts, len(y_pred)]):
        metric.update(y_pred[lo:hi], y_true[lo:hi])
    value = metric.result()
    assert isinstance(value, float) and math.isfinite(value), (
        f"{metric!r}: result() must be a finite float, got {value!r} ({task})"
    )
    return value


def check_metric(make: Callable[[], Metric], *, seed: int = 0) -> None:
    """Check a `Metric` on every task it accepts: its value over an epoch does not depend on
    how the epoch is cut into batches, `reset` forgets, the config rebuilds an equal
    metric, and (if it has `state`) the states of two halves add up to the whole's.

    >>> import scratchnet_core as sn
    >>> check_metric(sn.get_metrics()["f1"])
    """
    tasks = []
    for task in Metric.TASKS:
        try:
            make().bind(task, None)
        except ConfigurationError:
            continue
        tasks.append(task)
    assert tasks, f"{make()!r} accepts none of the tasks {Metric.TASKS}"
    for task in tasks:
        rng = np.random.default_rng(seed)
        y_pred, y_true, shape = _metric_data(task, rng, 37)

        def over(metric: Metric, cuts: Sequence[int]) -> float:
            return _metric_over(metric, y_pred, y_true, cuts, task)  # noqa: B023 - used at once

        metric = make()
        metric.bind(task, shape)
        whole = over(metric, [])
        for cuts in ([1, 2, 20], [18], [5, 10, 15, 20, 25, 30, 35]):
            batched = over(metric, cuts)
            assert math.isclose(batched, whole, rel_tol=1e-12, abs_tol=1e-12), (
                f"{metric!r} ({task}): {batched} over batches cut at {cuts} but {whole} over "
                "the whole epoch at once; keep sufficient statistics, not per-batch means"
            )
        metric.reset()
        metric.update(y_pred[:5], y_true[:5])  # something else first; reset must forget it
        assert math.isclose(over(metric, []), whole, rel_tol=1e-12, abs_tol=1e-12), (
            f"{metric!r} ({task}): reset() did not forget the previous epoch"
        )
        rebuilt = _config_round_trip(metric)
        rebuilt.bind(task, shape)
        assert math.isclose(over(rebuilt, []), whole, rel_tol=1e-12, abs_tol=1e-12), (
            f"{metric!r} ({task}): from_config(get_config()) measures differently"
        )
        try:
            metric.reset()
            metric.update(y_pred[:18], y_true[:18])
            first = metric.state()
        except NotImplementedError:
            continue  # no state: works in one process only
        assert first.dtype == np.float64 and first.ndim == 1, (
            f"{metric!r}: state() must be a 1-d float64 vector, got {first.dtype} {first.shape}"
        )
        metric.reset()
        metric.update(y_pred[18:], y_true[18:])
        metric.load_state(first + metric.state())
        assert math.isclose(metric.result(), whole, rel_tol=1e-12, abs_tol=1e-12), (
            f"{metric!r} ({task}): the states of two halves summed give {metric.result()}, "
            f"the whole gives {whole}"
        )


def check_component(kind: str, name: str, seed: int = 0, **options: Any) -> None:
    """Run the kit on the registered component ``kind``/``name``; raises ``AssertionError``.

    Layers are built from their class's ``conformance`` example (or ``options``:
    ``args``, ``kwargs``, ``input_shape``, ``bad_input_shape``).

    >>> check_component("layers", "linear")  # built from Linear.conformance
    >>> check_component("activations", "leaky_relu", kwargs={"negative_slope": 0.2})
    """
    from .registry import get_registry

    obj = get_registry(kind)[name]
    if kind == "activations":
        check_activation(obj(**options.get("kwargs", {})), seed=seed)
    elif kind == "costs":
        cost = obj(**options.get("kwargs", {}))
        probs, onehot, logits = _default_cost_inputs(seed)
        fused = any(
            cost.fuses_with(act()) for act_name, act in _instantiable(get_registry("activations"))
        )
        check_cost(cost, probs, onehot, logits=logits if fused else None)
    elif kind == "layers":
        example = {**(getattr(obj, "conformance", None) or {}), **options}
        if "input_shape" not in example:
            raise _Skip("no conformance example (class attribute `conformance`)")
        args, kwargs = list(example.get("args", [])), dict(example.get("kwargs", {}))
        check_layer(
            lambda dtype: obj(*args, **kwargs, dtype=dtype),
            example["input_shape"],
            seed=seed,
            bad_input_shape=example.get("bad_input_shape"),
        )
    elif kind == "optimizers":
        check_optimizer(lambda: obj(**options.get("kwargs", {"lr": 0.05})), seed=seed)
    elif kind == "conv_backends":
        check_conv_backend(obj(), seed=seed)
    elif kind == "initializers":
        check_initializer(obj, seed=seed)
    elif kind == "metrics":
        kwargs = dict(options.get("kwargs", {}))
        check_metric(lambda: obj(**kwargs), seed=seed)
    else:
        raise _Skip(f"the kit has no checks for {kind}")


class _Skip(Exception):
    pass


def _instantiable(registry: Any) -> list[tuple[str, Any]]:
    out = []
    for name in registry:
        try:
            out.append((name, registry[name]))
        except ScratchnetError:
            continue
    return out


def run_checks(names: Sequence[str] = (), seed: int = 0) -> list[CheckResult]:
    """The kit over installed components (all, or those whose registry name is in ``names``;
    ``kind:name`` narrows to one kind). Aliases of one object are checked once. A name no
    installed component has is a failed result (kind ``""`` unless given), with close matches.

    >>> [r.status for r in run_checks(["relu", "costs:mse"])]
    ['ok', 'ok']
    """
    from .registry import KINDS, get_registry

    wanted = [n.strip().lower() for n in names]
    matched: set[str] = set()
    results: list[CheckResult] = []
    for kind in KINDS:
        if kind in ("hooks", "onnx_converters", "commands"):
            continue  # not components the kit checks; their distributions test them
        registry = get_registry(kind)
        seen: dict[int, str] = {}
        for name in registry:
            if wanted and name not in wanted and f"{kind}:{name}" not in wanted:
                continue
            matched.update({name, f"{kind}:{name}"})
            try:
                obj = registry[name]
            except ScratchnetError as exc:
                results.append(CheckResult(kind, name, "failed", f"load: {exc}"))
                continue
            if id(obj) in seen:
                continue
            seen[id(obj)] = name
            try:
                check_component(kind, name, seed=seed)
            except _Skip as exc:
                results.append(CheckResult(kind, name, "skipped", str(exc)))
            except AssertionError as exc:
                results.append(CheckResult(kind, name, "failed", str(exc)))
            except Exception as exc:  # a crash in a plugin is a failed check, not a crash here
                results.append(CheckResult(kind, name, "failed", f"{type(exc).__name__}: {exc}"))
            else:
                results.append(CheckResult(kind, name, "ok"))
    results.extend(_unknown(n) for n in dict.fromkeys(wanted) if n not in matched)
    return results


def _unknown(requested: str) -> CheckResult:
    """A failed result for a name no installed component has, with close matches."""
    from .registry import KINDS, get_registry

    kind, _, bare = requested.rpartition(":")
    kinds = [kind] if kind in KINDS else [k for k in KINDS if k != "hooks"]
    candidates = sorted({n for k in kinds for n in get_registry(k)})
    close = difflib.get_close_matches(bare, candidates, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    where = f" of kind {kind}" if kind in KINDS else ""
    detail = f"no installed component{where} is named {bare!r}{hint}"
    return CheckResult(kind if kind in KINDS else "", bare, "failed", detail)
