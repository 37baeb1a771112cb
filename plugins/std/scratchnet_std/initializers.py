"""Standard weight initializers: ``init(shape, fan_in, fan_out, rng) -> ndarray``.

Fans follow scratchnet's layouts (see `scratchnet_core.initializers.fans`).
"""

from __future__ import annotations

import math

import numpy as np

from scratchnet_core.interfaces import Array

__all__ = ["glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "lecun_normal", "zeros"]

Shape = tuple[int, ...]


def he_normal(shape: Shape, fan_in: int, fan_out: int, rng: np.random.Generator) -> Array:
    """He (Kaiming) normal: ``N(0, 2 / fan_in)``, for the relu family.

    >>> w = he_normal((1000, 500), 1000, 500, np.random.default_rng(0))
    >>> round(float(w.std()), 3)  # sqrt(2 / 1000)
    0.045
    """
    return rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape)


def he_uniform(shape: Shape, fan_in: int, fan_out: int, rng: np.random.Generator) -> Array:
    """He (Kaiming) uniform: ``U(-sqrt(6 / fan_in), sqrt(6 / fan_in))``.

    >>> w = he_uniform((1000, 500), 1000, 500, np.random.default_rng(0))
    >>> bool(abs(w).max() <= np.sqrt(6 / 1000))
    True
    """
    limit = math.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=shape)


def glorot_uniform(shape: Shape, fan_in: int, fan_out: int, rng: np.random.Generator) -> Array:
    """Glorot (Xavier) uniform: ``U(-sqrt(6 / (fan_in + fan_out)), ...)``, for sigmoid, tanh.

    >>> w = glorot_uniform((300, 200), 300, 200, np.random.default_rng(0))
    >>> bool(abs(w).max() <= np.sqrt(6 / 500))
    True
    """
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape)


def glorot_normal(shape: Shape, fan_in: int, fan_out: int, rng: np.random.Generator) -> Array:
    """Glorot (Xavier) normal: ``N(0, 2 / (fan_in + fan_out))``.

    >>> w = glorot_normal((600, 400), 600, 400, np.random.default_rng(0))
    >>> round(float(w.std()), 3)  # sqrt(2 / 1000)
    0.045
    """
    return rng.normal(0.0, math.sqrt(2.0 / (fan_in + fan_out)), size=shape)


def lecun_normal(shape: Shape, fan_in: int, fan_out: int, rng: np.random.Generator) -> Array:
    """LeCun normal: ``N(0, 1 / fan_in)``.

    >>> w = lecun_normal((400, 100), 400, 100, np.random.default_rng(0))
    >>> round(float(w.std()), 2)  # sqrt(1 / 400)
    0.05
    """
    return rng.normal(0.0, math.sqrt(1.0 / fan_in), size=shape)


def zeros(shape: Shape, fan_in: int, fan_out: int, rng: np.random.Generator) -> Array:
    """All zeros.

    >>> zeros((2, 2), 2, 2, np.random.default_rng(0))
    array([[0., 0.],
           [0., 0.]])
    """
    return np.zeros(shape)
