"""Standard cost functions, each averaged over the batch.

Cross-entropies fuse with their output activation (sigmoid, softmax): the model then hands
them the logits, and both loss and gradient stay exact and finite for any finite logits.
Without fusion they work from probabilities, clamping ``log`` at -100 as PyTorch does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratchnet_core import ActivationFunction, CostFunction, DataError, ShapeError
from scratchnet_core.checks import same_shape
from scratchnet_core.interfaces import Array
from scratchnet_core.numerics import (
    GRAD_EPS,
    categorical_accuracy,
    clamped_log,
    log_softmax,
    sigmoid,
    softplus,
)

from .activations import Sigmoid, Softmax

__all__ = ["BinaryCrossEntropy", "CategoricalCrossEntropy", "MeanSquaredError"]


def _quiet() -> np.errstate:
    """Losses of diverging models overflow to inf quietly; the model stops on a non-finite loss."""
    return np.errstate(over="ignore", invalid="ignore")


def _binary_targets(y_true: Array) -> None:
    """Targets of binary cross-entropy are probabilities (0/1 labels or soft labels)."""
    low, high = y_true.min(), y_true.max()
    if not (low >= 0 and high <= 1):  # also catches NaN
        raise DataError(
            f"binary_cross_entropy: targets must lie in [0, 1], got values from {low} to {high}"
        )


def _weighted_sum(weights: Array, logp: Array) -> Array:
    """``sum(weights * logp)`` where a zero weight counts zero even against ``log p = -inf``
    (a class the target does not name cannot make the loss NaN)."""
    result: Array = np.sum(np.where(weights != 0, weights * logp, 0))
    return result


def _probabilities(cost: str, y_pred: Array, output: str) -> None:
    """Cross-entropies take probabilities; raw scores would make ``log`` NaN and look like a
    divergence. (NaN predictions pass: that *is* a divergence, and fit reports it.)"""
    low, high = y_pred.min(), y_pred.max()
    if low < 0 or high > 1:
        raise DataError(
            f"{cost}: predictions must be probabilities in [0, 1], got values from {low} to "
            f"{high}; end the model with a {output} activation (or use a cost for raw scores, "
            "such as mse)"
        )


class MeanSquaredError(CostFunction):
    """``mean((y_pred - y_true)**2)`` over every element (PyTorch's and Keras' mean).

    >>> MeanSquaredError().loss(np.array([[1.0, 2.0]]), np.array([[0.0, 0.0]]))
    2.5
    """

    def loss(self, y_pred: Array, y_true: Array) -> float:
        return self.loss_and_gradient(y_pred, y_true)[0]

    def gradient(self, y_pred: Array, y_true: Array) -> Array:
        return self.loss_and_gradient(y_pred, y_true)[1]

    def loss_and_gradient(self, y_pred: Array, y_true: Array) -> tuple[float, Array]:
        same_shape("mse", y_pred, y_true)
        with _quiet():
            d = y_pred - y_true
            return float(np.mean(d * d)), d * (2 / y_pred.size)


class BinaryCrossEntropy(CostFunction):
    """``-mean(y log p + (1 - y) log(1 - p))`` over every element; targets in [0, 1].

    Fuses with a ``sigmoid`` output: from logits ``z`` the loss is
    ``mean(max(z, 0) - z y + log(1 + exp(-|z|)))`` and ``dL/dz = (sigmoid(z) - y) / size``.

    >>> round(BinaryCrossEntropy().loss_from_logits(np.array([[1000.0]]), np.array([[0.0]])), 6)
    1000.0
    """

    def loss(self, y_pred: Array, y_true: Array) -> float:
        same_shape("binary_cross_entropy", y_pred, y_true)
        _binary_targets(y_true)
        _probabilities("binary_cross_entropy", y_pred, "sigmoid")
        with _quiet():
            ll = y_true * clamped_log(y_pred) + (1 - y_true) * clamped_log(1 - y_pred)
            return float(-np.mean(ll))

    def gradient(self, y_pred: Array, y_true: Array) -> Array:
        same_shape("binary_cross_entropy", y_pred, y_true)
        _binary_targets(y_true)
        _probabilities("binary_cross_entropy", y_pred, "sigmoid")
        with _quiet():
            denom = np.maximum(y_pred * (1 - y_pred), GRAD_EPS)
            result: Array = (y_pred - y_true) / denom / y_pred.size
            return result

    def check_targets(self, y_true: Array, argument: str = "Y") -> None:
        low, high = y_true.min(), y_true.max()
        if not (low >= 0 and high <= 1):
            raise DataError(
                f"{argument}: binary_cross_entropy needs targets in [0, 1], got values from "
                f"{low} to {high}"
            )

    def fuses_with(self, activation: ActivationFunction | None) -> bool:
        return isinstance(activation, Sigmoid)

    def loss_from_logits(self, z: Array, y_true: Array) -> float:
        same_shape("binary_cross_entropy", z, y_true)
        _binary_targets(y_true)
        with _quiet():
            return float(np.mean(softplus(z) - z * y_true))

    def loss_and_gradient_from_logits(
        self, z: Array, y_true: Array, y_pred: Array | None = None
    ) -> tuple[float, Array]:
        loss = self.loss_from_logits(z, y_true)
        p = y_pred if y_pred is not None and y_pred.shape == z.shape else sigmoid(z)
        with _quiet():
            return loss, (p - y_true) / z.size

    def accuracy(self, y_pred: Array, y_true: Array) -> float:
        return float(np.mean((y_pred > 0.5) == (y_true > 0.5)))


class CategoricalCrossEntropy(CostFunction):
    """``-mean_n sum_c y[n, c] log p[n, c]`` for ``p: (N, C)`` probabilities.

    ``y_true`` is one-hot (or soft) ``(N, C)``, or integer class indices ``(N,)``. Fuses
    with a ``softmax`` output: from logits, ``loss = mean(logsumexp(z) - z[y])`` and
    ``dL/dz = (softmax(z) - y) / N``.

    >>> cce = CategoricalCrossEntropy()
    >>> cce.loss_from_logits(np.array([[1000.0, -1000.0]]), np.array([1]))
    2000.0
    """

    accepts_class_indices = True

    @staticmethod
    def _check(y_pred: Array, y_true: Array) -> None:
        if y_pred.ndim != 2:
            raise ShapeError(
                "categorical_cross_entropy", "predictions of shape (N, C)", y_pred.shape
            )
        if y_true.ndim == 1:
            if y_true.shape[0] != y_pred.shape[0]:
                raise ShapeError(
                    "categorical_cross_entropy",
                    f"class indices of shape ({y_pred.shape[0]},)",
                    y_true.shape,
                )
            classes = y_pred.shape[1]
            if y_true.dtype.kind not in "iu":
                raise DataError(
                    "categorical_cross_entropy: class indices must be integers, got dtype "
                    f"{y_true.dtype}"
                )
            if y_true.size and (y_true.min() < 0 or y_true.max() >= classes):
                raise DataError(
                    f"categorical_cross_entropy: class indices must lie in [0, {classes - 1}], "
                    f"got values from {y_true.min()} to {y_true.max()}"
                )
        else:
            same_shape("categorical_cross_entropy", y_pred, y_true)

    def loss(self, y_pred: Array, y_true: Array) -> float:
        self._check(y_pred, y_true)
        _probabilities("categorical_cross_entropy", y_pred, "softmax")
        n = y_pred.shape[0]
        with _quiet():
            if y_true.ndim == 1:
                return float(-np.mean(clamped_log(y_pred[np.arange(n), y_true])))
            return float(-np.sum(y_true * clamped_log(y_pred)) / n)

    def gradient(self, y_pred: Array, y_true: Array) -> Array:
        self._check(y_pred, y_true)
        _probabilities("categorical_cross_entropy", y_pred, "softmax")
        n = y_pred.shape[0]
        if y_true.ndim == 1:
            grad = np.zeros_like(y_pred)
            rows = np.arange(n)
            grad[rows, y_true] = -1 / np.maximum(y_pred[rows, y_true], GRAD_EPS) / n
            return grad
        result: Array = -y_true / np.maximum(y_pred, GRAD_EPS) / n
        return result

    def fuses_with(self, activation: ActivationFunction | None) -> bool:
        return isinstance(activation, Softmax) and activation.axis in (-1, 1)

    def loss_from_logits(self, z: Array, y_true: Array) -> float:
        self._check(z, y_true)
        logp = log_softmax(z, axis=1)
        with _quiet():
            if y_true.ndim == 1:
                return float(-np.mean(logp[np.arange(z.shape[0]), y_true]))
            return float(-_weighted_sum(y_true, logp) / z.shape[0])

    def loss_and_gradient_from_logits(
        self, z: Array, y_true: Array, y_pred: Array | None = None
    ) -> tuple[float, Array]:
        self._check(z, y_true)
        n = z.shape[0]
        if y_true.ndim == 1 and y_pred is not None and y_pred.shape == z.shape:
            # the softmax output is at hand: dL/dz = (p - onehot) / N, and -log p[y] is exact
            # unless p[y] underflowed (a logit gap of ~87 in float32): then use the logits
            rows = np.arange(n)
            p_true = y_pred[rows, y_true]
            if p_true.min() > np.finfo(y_pred.dtype).tiny:
                loss = float(-np.mean(np.log(p_true)))
                grad = y_pred.copy()
                grad[rows, y_true] -= 1
                grad /= n
                return loss, grad
        logp = log_softmax(z, axis=1)
        p = np.exp(logp)
        if y_true.ndim == 1:
            rows = np.arange(n)
            loss = float(-np.mean(logp[rows, y_true]))
            p[rows, y_true] -= 1
            p /= n
            return loss, p
        with _quiet():
            loss = float(-_weighted_sum(y_true, logp) / n)
            grad = (p * y_true.sum(axis=1, keepdims=True) - y_true) / n
        return loss, grad

    def accuracy(self, y_pred: Array, y_true: Array) -> float:
        return categorical_accuracy(y_pred, y_true)

    def get_config(self) -> dict[str, Any]:
        return {}
