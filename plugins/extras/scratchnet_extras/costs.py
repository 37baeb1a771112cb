"""Huber loss and categorical cross-entropy with label smoothing."""

from __future__ import annotations

from typing import Any

import numpy as np

from scratchnet_core import (
    ActivationFunction,
    CostFunction,
    ShapeError,
    get_activation_functions,
)
from scratchnet_core.checks import positive_real, real_in_range, same_shape
from scratchnet_core.interfaces import Array
from scratchnet_core.numerics import GRAD_EPS, categorical_accuracy, clamped_log, ieee, log_softmax

__all__ = ["Huber", "LabelSmoothingCrossEntropy"]

_NAME = "label_smoothing_cross_entropy"


class Huber(CostFunction):
    """``0.5 d^2`` where ``|d| <= delta``, ``delta (|d| - 0.5 delta)`` beyond; mean over all
    elements (``torch.nn.HuberLoss``).

    Examples
    --------
    >>> huber = Huber(delta=1.0)
    >>> huber.loss(np.array([[0.5], [3.0]]), np.zeros((2, 1)))  # (0.125 + 2.5) / 2
    1.3125
    """

    def __init__(self, delta: float = 1.0) -> None:
        self.delta = positive_real("huber", "delta", delta)

    def _diff(self, y_pred: Array, y_true: Array) -> Array:
        same_shape("huber", y_pred, y_true)
        result: Array = y_pred - y_true
        return result

    @ieee
    def loss(self, y_pred: Array, y_true: Array) -> float:
        d = np.abs(self._diff(y_pred, y_true))
        quad = np.minimum(d, self.delta)
        return float(np.mean(0.5 * quad * quad + self.delta * (d - quad)))

    @ieee
    def gradient(self, y_pred: Array, y_true: Array) -> Array:
        d = self._diff(y_pred, y_true)
        return np.clip(d, -self.delta, self.delta) / d.size

    def get_config(self) -> dict[str, Any]:
        return {"delta": self.delta}


class LabelSmoothingCrossEntropy(CostFunction):
    """Categorical cross-entropy against ``(1 - label_smoothing) y + label_smoothing / C``
    (``torch.nn.CrossEntropyLoss(label_smoothing=...)``). Targets one-hot ``(N, C)`` or class
    indices ``(N,)``; fuses with a ``softmax`` output, as the standard cross-entropy does.

    Examples
    --------
    >>> cost = LabelSmoothingCrossEntropy(0.1)
    >>> round(cost.loss(np.array([[0.5, 0.5]]), np.array([0])), 4)  # -log(0.5)
    0.6931
    """

    accepts_class_indices = True

    def __init__(self, label_smoothing: float = 0.1) -> None:
        self.label_smoothing = real_in_range(_NAME, "label_smoothing", label_smoothing, 0.0, 1.0)

    def _targets(self, y_pred: Array, y_true: Array) -> Array:
        if y_pred.ndim != 2:
            raise ShapeError(
                "label_smoothing_cross_entropy", "predictions of shape (N, C)", y_pred.shape
            )
        n, c = y_pred.shape
        if y_true.ndim == 1:
            if y_true.shape[0] != n:
                raise ShapeError(
                    "label_smoothing_cross_entropy", f"class indices of shape ({n},)", y_true.shape
                )
            onehot = np.zeros_like(y_pred)
            onehot[np.arange(n), y_true] = 1
        elif y_true.shape != y_pred.shape:
            raise ShapeError(
                "label_smoothing_cross_entropy", f"targets of shape {y_pred.shape}", y_true.shape
            )
        else:
            onehot = y_true
        result: Array = (1 - self.label_smoothing) * onehot + self.label_smoothing / c
        return result

    @ieee
    def loss(self, y_pred: Array, y_true: Array) -> float:
        t = self._targets(y_pred, y_true)
        return float(-np.sum(t * clamped_log(y_pred)) / y_pred.shape[0])

    @ieee
    def gradient(self, y_pred: Array, y_true: Array) -> Array:
        t = self._targets(y_pred, y_true)
        result: Array = -t / np.maximum(y_pred, GRAD_EPS) / y_pred.shape[0]
        return result

    def fuses_with(self, activation: ActivationFunction | None) -> bool:
        softmax = get_activation_functions().get("softmax")
        return (
            softmax is not None
            and isinstance(activation, softmax)
            and getattr(activation, "axis", -1) in (-1, 1)
        )

    @ieee
    def loss_and_gradient_from_logits(
        self, z: Array, y_true: Array, y_pred: Array | None = None
    ) -> tuple[float, Array]:
        t = self._targets(z, y_true)
        logp = log_softmax(z, axis=1)
        n = z.shape[0]
        loss = float(-np.sum(t * logp) / n)
        grad = (np.exp(logp) * t.sum(axis=1, keepdims=True) - t) / n
        return loss, grad

    def accuracy(self, y_pred: Array, y_true: Array) -> float:
        return categorical_accuracy(y_pred, y_true)

    def get_config(self) -> dict[str, Any]:
        return {"label_smoothing": self.label_smoothing}
