"""Numerical conventions and the stable formulas every component shares.

Layers follow IEEE 754 as PyTorch does: a result too large for the dtype is ``inf``,
silently. Costs then return an infinite loss and `Model.fit` stops with
`TrainingDivergedError`: one clear error instead of a stream of NumPy warnings. Where a
stable formula exists (softmax, sigmoid, the cross-entropies, the norms) components use
the ones here, and the answer is exact rather than ``inf``. Plugins (std, extras and third
parties) import them instead of writing their own.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "GRAD_EPS",
    "LOG_FLOOR",
    "categorical_accuracy",
    "clamped_log",
    "ieee",
    "log_softmax",
    "sigmoid",
    "softplus",
]

LOG_FLOOR: Final = -100.0
"""Lower clamp of ``log(p)`` in cross-entropies on probabilities (PyTorch's ``BCELoss``):
``log(0)`` counts as -100, not ``-inf``."""

GRAD_EPS: Final = 1e-12
"""Floor of the denominators (``p``, ``p (1 - p)``) in cross-entropy gradients on
probabilities (PyTorch's ``BCELoss`` backward)."""

ieee = np.errstate(over="ignore", invalid="ignore", divide="ignore")
"""Decorator (re-entrant) running a function with floating-point warnings off.

>>> import numpy as np
>>> from scratchnet_core.numerics import ieee
>>> @ieee
... def square(x):
...     return x * x
>>> square(np.array([1e200]))
array([inf])
"""


def sigmoid(z: NDArray[Any]) -> NDArray[Any]:
    """The logistic function ``1 / (1 + exp(-z))``, without overflow for any finite ``z``;
    keeps ``z``'s dtype.

    >>> sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    array([0. , 0.5, 1. ])
    """
    # exp(-|z|) is in (0, 1]: never overflows. The numerator is 1 for z >= 0 and exp(z)
    # (the same number as exp(-|z|)) below 0; computed without np.where, which branches on
    # every element (8x slower on random signs).
    out: NDArray[Any] = np.exp(np.minimum(z, 0)) / (1 + np.exp(-np.abs(z)))
    return out


def softplus(z: NDArray[Any]) -> NDArray[Any]:
    """``log(1 + exp(z))``, exact and finite for any finite ``z`` (``max(z, 0) +
    log1p(exp(-|z|))``).

    >>> softplus(np.array([-1000.0, 0.0, 1000.0])).round(4).tolist()
    [0.0, 0.6931, 1000.0]
    """
    out: NDArray[Any] = np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))
    return out


@ieee  # z - max(z) overflows to -inf only for logits ~1e308 apart: exp gives the exact 0
def log_softmax(z: NDArray[Any], axis: int = -1) -> NDArray[Any]:
    """``log(softmax(z))`` along ``axis``, shifted by the maximum so that no ``exp``
    overflows.

    >>> log_softmax(np.array([[1000.0, 0.0]])).round(4)
    array([[    0., -1000.]])
    """
    shifted = z - z.max(axis=axis, keepdims=True)
    out: NDArray[Any] = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return out


def clamped_log(p: NDArray[Any]) -> NDArray[Any]:
    """``log(p)`` clamped below at `LOG_FLOOR` (so ``log(0)`` is -100, quietly).

    >>> clamped_log(np.array([0.0, 1.0]))
    array([-100.,    0.])
    """
    with np.errstate(divide="ignore"):
        out: NDArray[Any] = np.maximum(np.log(p), LOG_FLOOR)
    return out


def categorical_accuracy(y_pred: NDArray[Any], y_true: NDArray[Any]) -> float:
    """Fraction of rows whose largest score is the target class: ``y_pred: (N, C)``,
    ``y_true`` class indices ``(N,)`` or one-hot (or soft) ``(N, C)``.

    >>> categorical_accuracy(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([0, 0]))
    0.5
    """
    labels = y_true if y_true.ndim == 1 else y_true.argmax(axis=1)
    return float(np.mean(y_pred.argmax(axis=1) == labels))
