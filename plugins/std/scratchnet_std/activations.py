"""Standard activation functions.

Each ``forward(z)`` keeps what its ``backward`` needs; ``backward(grad)`` is the
vector-Jacobian product. All keep the input's dtype and raise no NumPy warning for any
finite input.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from scratchnet_core import ActivationFunction, BackwardError, ConfigurationError
from scratchnet_core.interfaces import Array
from scratchnet_core.numerics import ieee

__all__ = ["Identity", "LeakyReLU", "ReLU", "Sigmoid", "Softmax", "Tanh", "sigmoid"]


class Identity(ActivationFunction):
    """``f(z) = z`` (registered as ``identity`` and ``linear``).

    >>> Identity().forward(np.array([-2.0, 3.0]))
    array([-2.,  3.])
    """

    def forward(self, z: Array) -> Array:
        return z

    def backward(self, grad: Array) -> Array:
        return grad


class ReLU(ActivationFunction):
    """``f(z) = max(z, 0)``; He initialisation.

    >>> ReLU().forward(np.array([-1.0, 2.0]))
    array([0., 2.])
    """

    initializer = "he_normal"
    _mask: Array | None = None

    def forward(self, z: Array) -> Array:
        self._mask = z > 0
        return np.maximum(z, 0)

    def backward(self, grad: Array) -> Array:
        mask, self._mask = self._mask, None
        if mask is None:
            raise BackwardError(self)
        return grad * mask


class LeakyReLU(ActivationFunction):
    """``f(z) = z`` for ``z > 0``, ``negative_slope * z`` otherwise; He initialisation.

    >>> LeakyReLU(0.1).forward(np.array([-2.0, 3.0]))
    array([-0.2,  3. ])
    """

    initializer = "he_normal"

    def __init__(self, negative_slope: float = 0.01) -> None:
        if isinstance(negative_slope, bool) or not isinstance(negative_slope, (int, float)):
            raise ConfigurationError(
                f"leaky_relu: negative_slope must be a number, got {negative_slope!r}"
            )
        if not math.isfinite(negative_slope):
            raise ConfigurationError(
                f"leaky_relu: negative_slope must be finite, got {negative_slope}"
            )
        self.negative_slope = float(negative_slope)

    def forward(self, z: Array) -> Array:
        self._mask = z > 0
        return np.where(self._mask, z, z * self.negative_slope)

    def backward(self, grad: Array) -> Array:
        return np.where(self._mask, grad, grad * self.negative_slope)

    def get_config(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}


def sigmoid(z: Array) -> Array:
    """The logistic function, computed without overflow for any finite ``z``.

    >>> sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    array([0. , 0.5, 1. ])
    """
    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


class Sigmoid(ActivationFunction):
    """``f(z) = 1 / (1 + exp(-z))``; Glorot initialisation. Stable at ``|z| = 1000``.

    >>> Sigmoid().forward(np.array([-1000.0, 0.0, 1000.0]))
    array([0. , 0.5, 1. ])
    """

    def forward(self, z: Array) -> Array:
        self._out = sigmoid(z)
        return self._out

    def backward(self, grad: Array) -> Array:
        out = self._out
        return grad * out * (1 - out)


class Tanh(ActivationFunction):
    """``f(z) = tanh(z)``; Glorot initialisation.

    >>> act = Tanh()
    >>> act.forward(np.array([0.0])), act.backward(np.array([1.0]))
    (array([0.]), array([1.]))
    """

    def forward(self, z: Array) -> Array:
        self._out = np.tanh(z)
        return self._out

    def backward(self, grad: Array) -> Array:
        out = self._out
        return grad * (1 - out * out)


class Softmax(ActivationFunction):
    """``f(z)_i = exp(z_i) / sum_j exp(z_j)`` along ``axis`` (default the last).

    ``backward`` is the full vector-Jacobian product ``p * (g - sum(g * p))``, not the
    diagonal. Usually fused with ``categorical_cross_entropy``, which then works from the
    logits.

    >>> Softmax().forward(np.array([[1000.0, 0.0]]))
    array([[1., 0.]])
    """

    _out: Array | None = None

    def __init__(self, axis: int = -1) -> None:
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ConfigurationError(f"softmax: axis must be an integer, got {axis!r}")
        self.axis = axis

    @ieee  # z - max(z) may overflow to -inf for extreme logits: exp gives the exact 0
    def forward(self, z: Array) -> Array:
        e = np.exp(z - z.max(axis=self.axis, keepdims=True))
        self._out = e / e.sum(axis=self.axis, keepdims=True)
        return self._out

    def backward(self, grad: Array) -> Array:
        p, self._out = self._out, None
        if p is None:
            raise BackwardError(self)
        return p * (grad - (grad * p).sum(axis=self.axis, keepdims=True))

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis}
