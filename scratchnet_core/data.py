"""Small synthetic data sets for demos and tests."""

from __future__ import annotations

import numpy as np

from ._random import get_rng
from .errors import ConfigurationError, DataError, OptionalDependencyError
from .interfaces import Array

__all__ = ["digits", "load_npz", "spirals", "xor"]


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


def spirals(
    n: int = 600, classes: int = 3, noise: float = 0.2, *, rng: np.random.Generator | None = None
) -> tuple[Array, Array]:
    """Interleaved spiral arms: ``X: (n, 2)``, ``Y: (n,)`` in ``0 .. classes - 1``.

    >>> X, Y = spirals(90, classes=3, rng=np.random.default_rng(0))
    >>> X.shape, sorted(set(Y.tolist()))
    ((90, 2), [0, 1, 2])
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigurationError(f"spirals: n must be a positive integer, got {n!r}")
    if isinstance(classes, bool) or not isinstance(classes, (int, np.integer)) or classes < 2:
        raise ConfigurationError(f"spirals: classes must be an integer >= 2, got {classes!r}")
    rng = rng or get_rng()
    Y = np.arange(int(n)) % int(classes)
    radius = rng.uniform(0.05, 1.0, int(n))
    angle = Y * (2 * np.pi / classes) + radius * 4.0 + rng.normal(0, noise, int(n))
    X = np.c_[radius * np.sin(angle), radius * np.cos(angle)]
    return X, Y


def digits() -> tuple[Array, Array]:
    """scikit-learn's 8x8 handwritten digits (1797 images, bundled with scikit-learn):
    ``X: (1797, 1, 8, 8)`` scaled to [0, 1], ``Y: (1797,)`` in 0..9.

    Needs scikit-learn (``pip install 'scratchnet[examples]'``); nothing is downloaded.

    >>> X, Y = digits()
    >>> X.shape, Y.shape, float(X.max())
    ((1797, 1, 8, 8), (1797,), 1.0)
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise OptionalDependencyError(
            "the digits data set needs scikit-learn: pip install 'scratchnet[examples]'"
        ) from exc
    bunch = load_digits()
    X = np.asarray(bunch.images, dtype=np.float64)[:, None, :, :] / 16.0
    return X, np.asarray(bunch.target)


def load_npz(path: str) -> tuple[Array, Array]:
    """``X`` and ``Y`` from an ``.npz`` file (read with ``allow_pickle=False``).

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "d.npz")
    >>> np.savez(path, X=np.zeros((3, 2)), Y=np.arange(3))
    >>> [a.shape for a in load_npz(path)]
    [(3, 2), (3,)]
    """
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in ("X", "Y") if k not in f.files]
            if missing:
                raise DataError(
                    f"{path}: the archive has no {' or '.join(missing)} (it has {f.files})"
                )
            return np.asarray(f["X"]), np.asarray(f["Y"])
    except (OSError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{path}: cannot read X and Y: {exc}") from exc
