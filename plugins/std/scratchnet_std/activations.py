"""Standard activation functions.

Each ``forward(z)`` keeps what its ``backward`` needs with ``save_for_backward``;
``backward(grad)`` reads ``saved`` and returns the vector-Jacobian product (a second
``backward`` raises `BackwardError`). All keep the input's dtype and raise no NumPy warning
for any finite input.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratchnet_core import ActivationFunction
from scratchnet_core.checks import finite_real, integer
from scratchnet_core.interfaces import Array
from scratchnet_core.numerics import ieee, sigmoid

__all__ = ["Identity", "LeakyReLU", "ReLU", "Sigmoid", "Softmax", "Tanh", "sigmoid"]


class Identity(ActivationFunction):
    """``f(z) = z`` (registered as ``identity`` and ``linear``).

    >>> Identity().forward(np.array([-2.0, 3.0]))
    array([-2.,  3.])
    """

    def forward(self, z: Array) -> Array:
        self.save_for_backward()  # nothing needed, but a second backward is still an error
        return z

    def backward(self, grad: Array) -> Array:
        return grad


class ReLU(ActivationFunction):
    """``f(z) = max(z, 0)``; He initialisation.

    >>> ReLU().forward(np.array([-1.0, 2.0]))
    array([0., 2.])
    """

    initializer = "he_normal"

    def forward(self, z: Array) -> Array:
        self.save_for_backward(z > 0)
        return np.maximum(z, 0)

    def backward(self, grad: Array) -> Array:
        (mask,) = self.saved
        result: Array = grad * mask
        return result


class LeakyReLU(ActivationFunction):
    """``f(z) = z`` for ``z > 0``, ``negative_slope * z`` otherwise; He initialisation.

    >>> LeakyReLU(0.1).forward(np.array([-2.0, 3.0]))
    array([-0.2,  3. ])
    """

    initializer = "he_normal"

    def __init__(self, negative_slope: float = 0.01) -> None:
        self.negative_slope = finite_real("leaky_relu", "negative_slope", negative_slope)

    # the slope of each element, 1 or negative_slope, computed exactly without np.where
    # (which branches on every element); forward and backward multiply by it
    def forward(self, z: Array) -> Array:
        positive = z > 0
        slope = positive + self.negative_slope * ~positive
        slope = slope.astype(z.dtype, copy=False)
        self.save_for_backward(slope)
        result: Array = z * slope
        return result

    def backward(self, grad: Array) -> Array:
        (slope,) = self.saved
        result: Array = grad * slope
        return result

    def get_config(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}


class Sigmoid(ActivationFunction):
    """``f(z) = 1 / (1 + exp(-z))``; Glorot initialisation. Stable at ``|z| = 1000``.

    >>> Sigmoid().forward(np.array([-1000.0, 0.0, 1000.0]))
    array([0. , 0.5, 1. ])
    """

    def forward(self, z: Array) -> Array:
        out = sigmoid(z)
        self.save_for_backward(out)
        return out

    def backward(self, grad: Array) -> Array:
        (out,) = self.saved
        result: Array = grad * out * (1 - out)
        return result


class Tanh(ActivationFunction):
    """``f(z) = tanh(z)``; Glorot initialisation.

    >>> act = Tanh()
    >>> act.forward(np.array([0.0])), act.backward(np.array([1.0]))
    (array([0.]), array([1.]))
    """

    def forward(self, z: Array) -> Array:
        out = np.tanh(z)
        self.save_for_backward(out)
        return out

    def backward(self, grad: Array) -> Array:
        (out,) = self.saved
        result: Array = grad * (1 - out * out)
        return result


class Softmax(ActivationFunction):
    """``f(z)_i = exp(z_i) / sum_j exp(z_j)`` along ``axis`` (default the last).

    ``backward`` is the full vector-Jacobian product ``p * (g - sum(g * p))``, not the
    diagonal. Usually fused with ``categorical_cross_entropy``, which then works from the
    logits.

    >>> Softmax().forward(np.array([[1000.0, 0.0]]))
    array([[1., 0.]])
    """

    def __init__(self, axis: int = -1) -> None:
        self.axis = integer("softmax", "axis", axis)

    @ieee  # z - max(z) may overflow to -inf for extreme logits: exp gives the exact 0
    def forward(self, z: Array) -> Array:
        e = np.exp(z - z.max(axis=self.axis, keepdims=True))
        p: Array = e / e.sum(axis=self.axis, keepdims=True)
        self.save_for_backward(p)
        return p

    def backward(self, grad: Array) -> Array:
        (p,) = self.saved
        result: Array = p * (grad - (grad * p).sum(axis=self.axis, keepdims=True))
        return result

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis}
