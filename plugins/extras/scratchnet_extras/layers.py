"""Dropout, batch normalisation (1-d and 2-d) and layer normalisation, as PyTorch has them."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.typing import DTypeLike

from scratchnet_core import Layer, ShapeError, constant, get_rng
from scratchnet_core.checks import integer, positive_int, real_in_range, shape_tuple
from scratchnet_core.interfaces import Array
from scratchnet_core.numerics import ieee

__all__ = ["BatchNorm1d", "BatchNorm2d", "Dropout", "LayerNorm"]


@ieee
def _normalize(x: Array, axes: tuple[int, ...], eps: float) -> tuple[Array, Array, Array, Array]:
    """``(xhat, 1 / sqrt(var + eps), mean, var)`` over ``axes``, computed on ``x / max|x|`` so
    that no square overflows for any finite input (the result is scale-invariant)."""
    scale = np.max(np.abs(x), axis=axes, keepdims=True)
    scale = np.where(scale > 0, scale, 1).astype(x.dtype, copy=False)
    xs = x / scale
    mean = xs.mean(axis=axes, keepdims=True)
    var = xs.var(axis=axes, keepdims=True)
    root = np.sqrt(var + eps / (scale * scale))
    xhat = (xs - mean) / root
    return xhat, 1 / (root * scale), mean * scale, var * scale * scale


def _per_channel(x: Array) -> Array:
    """``(N, C, *rest)`` as a ``(N, C, M)`` array (a view when ``x`` is contiguous)."""
    return x.reshape(x.shape[0], x.shape[1], -1)


@ieee
def _batch_statistics(x: Array, eps: float) -> tuple[Array, Array, Array, Array]:
    """Batch norm's ``(xhat, 1 / sqrt(var + eps), mean, var)``, per channel (axis 1).

    Two passes over ``x`` and one over the centred copy, which becomes ``xhat`` in place;
    the per-channel sums are einsum's (as accurate as NumPy's float32 pairwise sums over
    these axes, measured 2e-7 relative, and 2.5-4x faster). Where a square overflows, the
    statistics are recomputed on ``x / max|x|`` (`_normalize`), so any finite input works.
    """
    x3 = _per_channel(x)
    count = x3.shape[0] * x3.shape[2]
    mean = np.einsum("nci->c", x3) / count
    xhat = x3 - mean[:, None]
    var = np.einsum("nci,nci->c", xhat, xhat) / count
    if not (np.isfinite(mean).all() and np.isfinite(var).all()):
        axes = (0, *range(2, x.ndim))
        xhat4, inv_std, mean, var = _normalize(x, axes, eps)
        return xhat4, inv_std.reshape(-1), mean.reshape(-1), var.reshape(-1)
    inv_std = 1 / np.sqrt(var + eps)
    xhat *= inv_std[:, None]
    return xhat.reshape(x.shape), inv_std, mean, var


@ieee
def _standardize(x: Array, mean: Array, inv_std: Array) -> Array:
    return (x - mean) * inv_std


@ieee
def _affine(xhat: Array, scale: Array, shift: Array) -> Array:
    return xhat * scale + shift


class Dropout(Layer):
    """Inverted dropout: in training, zero each element with probability ``p`` and scale the
    rest by ``1 / (1 - p)``; at inference, the identity.

    The ``step``-th training mask is drawn from ``default_rng([seed, step])``: ``seed`` (drawn
    from scratchnet's generator when not given) and ``step`` are part of the config, so a
    saved model resumes the same sequence of masks. Setting ``rng`` to a generator makes
    every mask come from it instead (the conformance kit does, to check gradients).

    Examples
    --------
    >>> layer = Dropout(0.5, seed=0)
    >>> x = np.ones((2, 6))
    >>> bool((layer.forward(x) == x).all())  # inference: the identity
    True
    >>> sorted(set(layer.forward(x, training=True).ravel().tolist()))  # dropped or doubled
    [0.0, 2.0]
    """

    conformance = {"args": [0.3], "input_shape": [4, 3]}

    def __init__(
        self,
        p: float = 0.5,
        *,
        seed: int | None = None,
        step: int = 0,
        dtype: DTypeLike | None = None,
    ) -> None:
        super().__init__(dtype=dtype)
        self.p = real_in_range("dropout", "p", p, 0.0, 1.0, high_open=True)
        self.seed = (
            integer("dropout", "seed", seed, low=0)
            if seed is not None
            else int(get_rng().integers(2**63))
        )
        self.step = integer("dropout", "step", step, low=0)
        self.rng: np.random.Generator | None = None

    @ieee
    def forward(self, x: Array, training: bool = False) -> Array:
        if not training or self.p == 0:
            self.save_for_backward(None)
            return x
        rng = self.rng if self.rng is not None else np.random.default_rng([self.seed, self.step])
        self.step += 1
        keep = rng.random(x.shape) >= self.p
        scale = keep.astype(x.dtype) / (1 - self.p)
        self.save_for_backward(scale)
        return x * scale

    def backward(self, grad: Array) -> Array | None:
        (scale,) = self.saved
        if not self.needs_input_grad:
            return None
        return grad if scale is None else grad * scale

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        return tuple(int(s) for s in input_shape)

    def get_config(self) -> dict[str, Any]:
        return {"p": self.p, "seed": self.seed, "step": self.step, **super().get_config()}

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"


class _BatchNorm(Layer):
    """Normalise each channel over the batch (and spatial axes) with learnable scale/shift.

    Training uses the batch's mean and (biased) variance and updates ``running_mean`` and
    ``running_var`` (unbiased) with ``momentum``; inference uses the running statistics.

    Synchronised batch norm: in data-parallel training each process holds a shard of the
    batch, and a data-parallel plugin sets `sum_across_processes`. The statistics (and
    the backward pass's batch means) are then those of the whole global batch, so that the
    processes train the function one process would train on that batch.
    """

    ranks: ClassVar[tuple[int, ...]]
    layout: ClassVar[str]

    sum_across_processes: Callable[[Array], Array] | None = None
    """``None`` (one process), or a function returning the element-wise sum of a float64
    array over the processes that share each batch, set by a data-parallel plugin (such as
    ``scratchnet_mpi.DataParallel``) while it trains. Each process's upstream gradient is
    taken to be that of the mean loss over its own rows, and the global loss the row-weighted
    mean of those, as data-parallel gradient averaging makes it."""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        *,
        dtype: DTypeLike | None = None,
    ) -> None:
        super().__init__(dtype=dtype)
        owner = type(self).__name__
        self.num_features = positive_int(owner, "num_features", num_features)
        self.eps = real_in_range(owner, "eps", eps, 0.0, math.inf)
        self.momentum = real_in_range(owner, "momentum", momentum, 0.0, 1.0)
        self.affine = bool(affine)
        shape, dtype = (self.num_features,), self.dtype
        if self.affine:
            self.add_parameter("weight", constant(shape, 1.0, dtype=dtype))
            self.add_parameter("bias", constant(shape, 0.0, dtype=dtype))
        self.add_buffer("running_mean", constant(shape, 0.0, dtype=dtype))
        self.add_buffer("running_var", constant(shape, 1.0, dtype=dtype))

    def _check(self, shape: Sequence[int], shown: str | None = None) -> None:
        if len(shape) not in self.ranks or shape[1] != self.num_features:
            raise ShapeError(
                repr(self), f"{self.layout} with C = {self.num_features}", shown or tuple(shape)
            )

    def _axes(self, ndim: int) -> tuple[int, ...]:
        return (0, *range(2, ndim))

    def forward(self, x: Array, training: bool = False) -> Array:
        self._check(x.shape)
        view = (1, -1, *(1,) * (x.ndim - 2))
        self._sum = self.sum_across_processes if training else None
        if training and self._sum is not None:
            axes = self._axes(x.ndim)
            xhat, inv_std, mean, var, count = self._global_statistics(x, axes, view)
            self._update_running(mean, var, count)
        elif training:
            count = x.size // self.num_features
            if count < 2:
                raise ShapeError(repr(self), "more than one value per channel in training", x.shape)
            xhat, inv_std, mean, var = _batch_statistics(x, self.eps)
            self._update_running(mean, var, count)
        else:
            mean, var = self._buffers["running_mean"], self._buffers["running_var"]
            inv_std = 1 / np.sqrt(var + self.eps)
            xhat = _standardize(x, mean.reshape(view), inv_std.reshape(view))
        self.save_for_backward(xhat, inv_std, training)
        if not self.affine:
            return xhat
        scale, shift = self._params["weight"].reshape(view), self._params["bias"].reshape(view)
        return _affine(xhat, scale, shift)

    @ieee
    def _global_statistics(
        self, x: Array, axes: tuple[int, ...], view: tuple[int, ...]
    ) -> tuple[Array, Array, Array, Array, int]:
        """``(xhat, 1 / sqrt(var + eps), mean, var, count)`` over every process's rows."""
        assert self._sum is not None
        local = x.size // self.num_features
        first = self._sum(np.concatenate([[float(local)], x.sum(axis=axes, dtype=np.float64)]))
        count = round(float(first[0]))
        if count < 2:
            raise ShapeError(repr(self), "more than one value per channel in training", x.shape)
        mean = (first[1:] / count).astype(x.dtype)
        centred = x - mean.reshape(view)
        squares = np.asarray(np.sum(centred * centred, axis=axes, dtype=np.float64))
        var = self._sum(squares) / count
        inv_std = (1 / np.sqrt(var + self.eps)).astype(x.dtype)
        self._share = local / count  # this process's part of the global batch
        self._count = count
        return centred * inv_std.reshape(view), inv_std, mean, var.astype(x.dtype), count

    @ieee  # running statistics of extreme inputs may overflow to inf: IEEE, as in PyTorch
    def _update_running(self, mean: Array, var: Array, count: int) -> None:
        m = self.momentum
        buffers = self._buffers
        buffers["running_mean"] *= 1 - m
        buffers["running_mean"] += m * mean
        buffers["running_var"] *= 1 - m
        buffers["running_var"] += m * var * count / (count - 1)

    @ieee
    def backward(self, grad: Array) -> Array | None:
        xhat, inv_std, training = self.saved
        if training and self._sum is None:
            return self._batch_backward(grad, xhat, inv_std)
        axes = self._axes(grad.ndim)
        view = (1, -1, *(1,) * (grad.ndim - 2))
        if self.affine:
            self._grads["weight"] = (grad * xhat).sum(axis=axes)
            self._grads["bias"] = grad.sum(axis=axes)
            grad = grad * self._params["weight"].reshape(view)
        if not self.needs_input_grad:
            return None
        inv_std = inv_std.reshape(view)
        if not training:
            result: Array = grad * inv_std
            return result
        # synchronised: the batch means of the global loss's gradient
        total = self._sum
        assert total is not None  # local training returned through _batch_backward above
        share = self._share
        local = [
            grad.sum(axis=axes, dtype=np.float64),
            (grad * xhat).sum(axis=axes, dtype=np.float64),
        ]
        sums = total(share * np.concatenate(local)) / (self._count * share)
        mean_g = sums[: self.num_features].astype(grad.dtype).reshape(view)
        mean_gx = sums[self.num_features :].astype(grad.dtype).reshape(view)
        result = inv_std * (grad - mean_g - xhat * mean_gx)
        return result

    def _batch_backward(self, grad: Array, xhat: Array, inv_std: Array) -> Array | None:
        """The training backward on one process: ``inv_std * w * (grad - mean(grad) - xhat *
        mean(grad * xhat))`` per channel, from two einsum reductions and three passes."""
        g3, xhat3 = _per_channel(grad), _per_channel(xhat)
        sum_g = np.einsum("nci->c", g3)
        sum_gx = np.einsum("nci,nci->c", g3, xhat3)
        scale = inv_std
        if self.affine:
            self._grads["weight"] = sum_gx
            self._grads["bias"] = sum_g
            scale = inv_std * self._params["weight"]
        if not self.needs_input_grad:
            return None
        count = g3.shape[0] * g3.shape[2]
        result = xhat3 * (scale * (sum_gx / count))[:, None]
        np.subtract(g3 * scale[:, None], result, out=result)
        result -= (scale * (sum_g / count))[:, None]
        shaped: Array = result.reshape(grad.shape)
        return shaped

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        shown = "shape (N, " + ", ".join(str(int(s)) for s in input_shape) + ")"
        self._check((0, *input_shape), shown)  # 0 stands for the batch axis, shown as N
        return tuple(int(s) for s in input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            "num_features": self.num_features,
            "eps": self.eps,
            "momentum": self.momentum,
            "affine": self.affine,
            **super().get_config(),
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.num_features})"


class BatchNorm1d(_BatchNorm):
    """Batch norm over ``(N, C)`` or ``(N, C, L)`` (registered as ``batch_norm``).

    >>> x = np.random.default_rng(0).normal(5.0, 2.0, (64, 3))
    >>> y = BatchNorm1d(3, dtype="float64").forward(x, training=True)
    >>> y.mean(axis=0).round(6) + 0, y.std(axis=0).round(3)
    (array([0., 0., 0.]), array([1., 1., 1.]))
    """

    ranks = (2, 3)
    layout = "(N, C) or (N, C, L)"
    conformance = {"args": [3], "input_shape": [3, 4], "bad_input_shape": [4, 4]}


class BatchNorm2d(_BatchNorm):
    """Batch norm over ``(N, C, H, W)``.

    >>> bn = BatchNorm2d(2, momentum=1.0, dtype="float64")
    >>> _ = bn.forward(np.full((4, 2, 3, 3), 7.0), training=True)
    >>> bn.buffers()["running_mean"]
    array([7., 7.])
    """

    ranks = (4,)
    layout = "(N, C, H, W)"
    conformance = {"args": [2], "input_shape": [2, 3, 3], "bad_input_shape": [3, 3, 3]}


class LayerNorm(Layer):
    """Normalise over the last ``len(normalized_shape)`` axes of each sample, then scale and
    shift elementwise (``weight``, ``bias`` of ``normalized_shape``), as ``torch.nn.LayerNorm``.

    Examples
    --------
    >>> y = LayerNorm(4, dtype="float64").forward(np.array([[1.0, 2.0, 3.0, 4.0]]))
    >>> y.round(4)
    array([[-1.3416, -0.4472,  0.4472,  1.3416]])
    """

    conformance = {"args": [[3, 4]], "input_shape": [2, 3, 4], "bad_input_shape": [2, 4, 3]}

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        *,
        dtype: DTypeLike | None = None,
    ) -> None:
        super().__init__(dtype=dtype)
        self.normalized_shape = shape_tuple("layer_norm", "normalized_shape", normalized_shape)
        self.eps = real_in_range("layer_norm", "eps", eps, 0.0, math.inf)
        self.elementwise_affine = bool(elementwise_affine)
        if self.elementwise_affine:
            self.add_parameter("weight", constant(self.normalized_shape, 1.0, dtype=self.dtype))
            self.add_parameter("bias", constant(self.normalized_shape, 0.0, dtype=self.dtype))

    def _axes(self, ndim: int) -> tuple[int, ...]:
        return tuple(range(ndim - len(self.normalized_shape), ndim))

    def forward(self, x: Array, training: bool = False) -> Array:
        k = len(self.normalized_shape)
        if x.ndim < k + 1 or tuple(x.shape[-k:]) != self.normalized_shape:
            raise ShapeError(
                repr(self), f"(N, ..., {', '.join(map(str, self.normalized_shape))})", x.shape
            )
        xhat, inv_std, _, _ = _normalize(x, self._axes(x.ndim), self.eps)
        self.save_for_backward(xhat, inv_std)
        if not self.elementwise_affine:
            return xhat
        return _affine(xhat, self._params["weight"], self._params["bias"])

    @ieee
    def backward(self, grad: Array) -> Array | None:
        xhat, inv_std = self.saved
        batch_axes = tuple(range(grad.ndim - len(self.normalized_shape)))
        if self.elementwise_affine:
            self._grads["weight"] = (grad * xhat).sum(axis=batch_axes)
            self._grads["bias"] = grad.sum(axis=batch_axes)
            grad = grad * self._params["weight"]
        if not self.needs_input_grad:
            return None
        axes = self._axes(grad.ndim)
        mean_g = grad.mean(axis=axes, keepdims=True)
        mean_gx = (grad * xhat).mean(axis=axes, keepdims=True)
        result: Array = inv_std * (grad - mean_g - xhat * mean_gx)
        return result

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        k = len(self.normalized_shape)
        if len(input_shape) < k or tuple(input_shape[-k:]) != self.normalized_shape:
            raise ShapeError(
                repr(self),
                f"(N, ..., {', '.join(map(str, self.normalized_shape))})",
                f"shape (N, {', '.join(map(str, input_shape))})",
            )
        return tuple(int(s) for s in input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            "normalized_shape": list(self.normalized_shape),
            "eps": self.eps,
            "elementwise_affine": self.elementwise_affine,
            **super().get_config(),
        }

    def __repr__(self) -> str:
        return f"LayerNorm({self.normalized_shape})"
