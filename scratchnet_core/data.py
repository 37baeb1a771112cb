"""Small synthetic data sets for demos and tests."""

from __future__ import annotations

import numpy as np

from ._random import get_rng
from .errors import ConfigurationError
from .interfaces import Array

__all__ = ["xor"]


def xor(n: int = 500, *, rng: np.random.Generator | None = None) -> tuple[Array, Array]:
    """The seed's XOR problem: ``X: (n, 2)`` standard normal, ``Y: (n,)`` in {0, 1}.

    ``Y`` is 1 where exactly one coordinate is positive (the quadrants' XOR).

    >>> X, Y = xor(4, rng=np.random.default_rng(0))
    >>> X.shape, Y.tolist() == np.logical_xor(X[:, 0] > 0, X[:, 1] > 0).astype(int).tolist()
    ((4, 2), True)
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigurationError(f"xor: n must be a positive integer, got {n!r}")
    rng = rng or get_rng()
    X = rng.standard_normal((int(n), 2))
    Y = np.logical_xor(X[:, 0] > 0, X[:, 1] > 0).astype(int)
    return X, Y
