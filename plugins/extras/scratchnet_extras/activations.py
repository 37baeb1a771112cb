"""GELU, SiLU (swish), ELU and softplus, with PyTorch's definitions and defaults."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import erf

from scratchnet_core import ActivationFunction
from scratchnet_core.checks import finite_real, one_of, positive_real
from scratchnet_core.interfaces import Array
from scratchnet_core.numerics import ieee, sigmoid, softplus

__all__ = ["ELU", "GELU", "SiLU", "Softplus"]


class GELU(ActivationFunction):
    """``z * Phi(z)`` with ``Phi`` the standard normal CDF (``approximate="none"``), or the
    tanh approximation (``approximate="tanh"``), as ``torch.nn.GELU``.

    Examples
    --------
    >>> GELU().forward(np.array([-1.0, 0.0, 1.0])).round(4)
    array([-0.1587,  0.    ,  0.8413])
    """

    initializer = "he_normal"

    def __init__(self, approximate: str = "none") -> None:
        self.approximate = one_of("gelu", "approximate", approximate, ("none", "tanh"))

    def forward(self, z: Array) -> Array:
        if self.approximate == "tanh":
            zc = np.clip(z, -20, 20)  # tanh is exactly +-1 beyond; z**3 would overflow
            inner = math.sqrt(2 / math.pi) * (zc + 0.044715 * zc**3)
            t = np.tanh(inner)
            self.save_for_backward(z, t)
            result: Array = 0.5 * z * (1 + t)
            return result
        cdf = (0.5 * (1 + erf(z / math.sqrt(2)))).astype(z.dtype, copy=False)
        self.save_for_backward(z, cdf)
        result = z * cdf
        return result

    @ieee
    def backward(self, grad: Array) -> Array:
        z, t_or_cdf = self.saved
        z = np.clip(z, -40, 40)  # beyond, the pdf terms are exactly 0 in float64
        if self.approximate == "tanh":
            t = t_or_cdf
            d_inner = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * z**2)
            result: Array = grad * (0.5 * (1 + t) + 0.5 * z * (1 - t * t) * d_inner)
            return result
        pdf = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
        result = grad * (t_or_cdf + z * pdf)
        return result

    def get_config(self) -> dict[str, Any]:
        return {"approximate": self.approximate}


class SiLU(ActivationFunction):
    """``z * sigmoid(z)`` (registered as ``silu`` and ``swish``).

    >>> SiLU().forward(np.array([0.0, 1.0])).round(4)
    array([0.    , 0.7311])
    """

    initializer = "he_normal"

    def forward(self, z: Array) -> Array:
        s = sigmoid(z)
        self.save_for_backward(z, s)
        result: Array = z * s
        return result

    def backward(self, grad: Array) -> Array:
        z, s = self.saved
        result: Array = grad * (s * (1 + z * (1 - s)))
        return result


class ELU(ActivationFunction):
    """``z`` for ``z > 0``, ``alpha (exp(z) - 1)`` otherwise.

    Examples
    --------
    >>> ELU(alpha=1.0).forward(np.array([-1.0, 2.0])).round(4)
    array([-0.6321,  2.    ])
    """

    initializer = "he_normal"

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = finite_real("elu", "alpha", alpha)

    def forward(self, z: Array) -> Array:
        mask = z > 0
        neg = self.alpha * np.expm1(np.minimum(z, 0))  # exp of non-positives: no overflow
        self.save_for_backward(mask, neg)
        return np.where(mask, z, neg)

    def backward(self, grad: Array) -> Array:
        mask, neg = self.saved
        return np.where(mask, grad, grad * (neg + self.alpha))

    def get_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


class Softplus(ActivationFunction):
    """``log(1 + exp(beta z)) / beta``, linear where ``beta z > threshold`` (PyTorch).

    Examples
    --------
    >>> Softplus().forward(np.array([0.0, 100.0])).round(4)
    array([  0.6931, 100.    ])
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        self.beta = positive_real("softplus", "beta", beta)
        self.threshold = finite_real("softplus", "threshold", threshold)

    def forward(self, z: Array) -> Array:
        bz = self.beta * z
        self.save_for_backward(bz)
        return np.where(bz > self.threshold, z, softplus(bz) / self.beta)

    def backward(self, grad: Array) -> Array:
        (bz,) = self.saved
        return np.where(bz > self.threshold, grad, grad * sigmoid(bz))

    def get_config(self) -> dict[str, Any]:
        return {"beta": self.beta, "threshold": self.threshold}
