"""GELU, SiLU (swish), ELU and softplus, with PyTorch's definitions and defaults."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import erf

from scratchnet_core import ActivationFunction, ConfigurationError
from scratchnet_core.interfaces import Array
from scratchnet_core.numerics import ieee

__all__ = ["ELU", "GELU", "SiLU", "Softplus"]


def _number(owner: str, name: str, value: Any, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigurationError(f"{owner}: {name} must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise ConfigurationError(f"{owner}: {name} must be > 0, got {value}")
    return float(value)


def _sigmoid(z: Array) -> Array:
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


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
        if approximate not in ("none", "tanh"):
            raise ConfigurationError(
                f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}"
            )
        self.approximate = approximate

    def forward(self, z: Array) -> Array:
        self._z = z
        if self.approximate == "tanh":
            zc = np.clip(z, -20, 20)  # tanh is exactly +-1 beyond; z**3 would overflow
            inner = math.sqrt(2 / math.pi) * (zc + 0.044715 * zc**3)
            self._t = np.tanh(inner)
            return 0.5 * z * (1 + self._t)
        self._cdf = (0.5 * (1 + erf(z / math.sqrt(2)))).astype(z.dtype, copy=False)
        return z * self._cdf

    @ieee
    def backward(self, grad: Array) -> Array:
        z = np.clip(self._z, -40, 40)  # beyond, the pdf terms are exactly 0 in float64
        if self.approximate == "tanh":
            t = self._t
            d_inner = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * z**2)
            return grad * (0.5 * (1 + t) + 0.5 * z * (1 - t * t) * d_inner)
        pdf = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
        return grad * (self._cdf + z * pdf)

    def get_config(self) -> dict[str, Any]:
        return {"approximate": self.approximate}


class SiLU(ActivationFunction):
    """``z * sigmoid(z)`` (registered as ``silu`` and ``swish``).

    >>> SiLU().forward(np.array([0.0, 1.0])).round(4)
    array([0.    , 0.7311])
    """

    initializer = "he_normal"

    def forward(self, z: Array) -> Array:
        self._z = z
        self._s = _sigmoid(z)
        return z * self._s

    def backward(self, grad: Array) -> Array:
        s = self._s
        return grad * (s * (1 + self._z * (1 - s)))


class ELU(ActivationFunction):
    """``z`` for ``z > 0``, ``alpha (exp(z) - 1)`` otherwise.

    Examples
    --------
    >>> ELU(alpha=1.0).forward(np.array([-1.0, 2.0])).round(4)
    array([-0.6321,  2.    ])
    """

    initializer = "he_normal"

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = _number("elu", "alpha", alpha)

    def forward(self, z: Array) -> Array:
        self._mask = z > 0
        self._neg = self.alpha * np.expm1(np.minimum(z, 0))  # exp of non-positives: no overflow
        return np.where(self._mask, z, self._neg)

    def backward(self, grad: Array) -> Array:
        return np.where(self._mask, grad, grad * (self._neg + self.alpha))

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
        self.beta = _number("softplus", "beta", beta, positive=True)
        self.threshold = _number("softplus", "threshold", threshold)

    def forward(self, z: Array) -> Array:
        self._bz = bz = self.beta * z
        soft = (np.maximum(bz, 0) + np.log1p(np.exp(-np.abs(bz)))) / self.beta
        return np.where(bz > self.threshold, z, soft)

    def backward(self, grad: Array) -> Array:
        bz = self._bz
        return np.where(bz > self.threshold, grad, grad * _sigmoid(bz))

    def get_config(self) -> dict[str, Any]:
        return {"beta": self.beta, "threshold": self.threshold}
