"""The standard datasets, registered in the ``scratchnet.datasets`` entry-point group.

Each is a callable taking keyword options and returning ``(X, Y)`` arrays; ``npy`` returns
memory-mapped arrays, which ``fit`` reads batch by batch. In a TOML config, ``[data] source =
"NAME"`` names one and the other keys of ``[data]`` are its options (``samples = 500``);
options whose names are ``path`` or end in ``_path`` are relative to the config file.

>>> import scratchnet_core as sn
>>> X, Y = sn.get_datasets()["spirals"](samples=30, classes=3, seed=0)
>>> X.shape, sorted(set(Y.tolist()))
((30, 2), [0, 1, 2])
"""

from __future__ import annotations

import os

import numpy as np

from scratchnet_core import ConfigurationError, DataError, OptionalDependencyError, get_rng
from scratchnet_core.checks import positive_int, real_in_range
from scratchnet_core.interfaces import Array

__all__ = ["digits", "npy", "npz", "spirals", "xor"]


def _rng(seed: int | None) -> np.random.Generator:
    return np.random.default_rng(seed) if seed is not None else get_rng()


def xor(samples: int = 500, seed: int | None = None) -> tuple[Array, Array]:
    """The seed's XOR problem: ``X: (samples, 2)`` standard normal, ``Y: (samples,)`` in
    {0, 1}, 1 where exactly one coordinate is positive (the quadrants' XOR).

    ``seed`` fixes the draw; default: scratchnet's generator (`scratchnet_core.seed`).

    >>> X, Y = xor(4, seed=0)
    >>> X.shape, Y.tolist() == np.logical_xor(X[:, 0] > 0, X[:, 1] > 0).astype(int).tolist()
    ((4, 2), True)
    """
    samples = positive_int("xor", "samples", samples)
    X = _rng(seed).standard_normal((samples, 2))
    Y = np.logical_xor(X[:, 0] > 0, X[:, 1] > 0).astype(int)
    return X, Y


def spirals(
    samples: int = 600, classes: int = 3, noise: float = 0.2, seed: int | None = None
) -> tuple[Array, Array]:
    """Interleaved spiral arms: ``X: (samples, 2)``, ``Y: (samples,)`` in ``0 .. classes-1``.

    >>> X, Y = spirals(90, classes=3, seed=0)
    >>> X.shape, sorted(set(Y.tolist()))
    ((90, 2), [0, 1, 2])
    """
    samples = positive_int("spirals", "samples", samples)
    classes = positive_int("spirals", "classes", classes)
    if classes < 2:
        raise ConfigurationError(f"spirals: classes must be >= 2, got {classes}")
    noise = real_in_range("spirals", "noise", noise, 0.0, np.inf)
    rng = _rng(seed)
    Y = np.arange(samples) % classes
    radius = rng.uniform(0.05, 1.0, samples)
    angle = Y * (2 * np.pi / classes) + radius * 4.0 + rng.normal(0, noise, samples)
    X = np.c_[radius * np.sin(angle), radius * np.cos(angle)]
    return X, Y


def digits() -> tuple[Array, Array]:
    """scikit-learn's 8x8 handwritten digits (1797 images, bundled with scikit-learn):
    ``X: (1797, 1, 8, 8)`` scaled to [0, 1], ``Y: (1797,)`` in 0..9.

    Needs scikit-learn (``pip install 'scratchnet[examples]'``); nothing is downloaded.

    >>> import pytest; _ = pytest.importorskip("sklearn")
    >>> X, Y = digits()
    >>> X.shape, Y.shape, float(X.max())
    ((1797, 1, 8, 8), (1797,), 1.0)
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise OptionalDependencyError(
            "the digits dataset needs scikit-learn: pip install 'scratchnet[examples]'"
        ) from exc
    bunch = load_digits()
    X = np.asarray(bunch.images, dtype=np.float64)[:, None, :, :] / 16.0
    return X, np.asarray(bunch.target)


def npz(path: str | os.PathLike[str], x: str = "X", y: str = "Y") -> tuple[Array, Array]:
    """Arrays ``x`` and ``y`` (default ``X`` and ``Y``) of an ``.npz`` file, read with
    ``allow_pickle=False`` (loaded into memory).

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "d.npz")
    >>> np.savez(path, X=np.zeros((3, 2)), Y=np.arange(3))
    >>> [a.shape for a in npz(path)]
    [(3, 2), (3,)]
    """
    try:
        with np.load(os.fspath(path), allow_pickle=False) as f:
            missing = [k for k in (x, y) if k not in f.files]
            if missing:
                raise DataError(
                    f"npz: {os.fspath(path)} has no array {' or '.join(map(repr, missing))} "
                    f"(it has {', '.join(f.files) or 'none'})"
                )
            return np.asarray(f[x]), np.asarray(f[y])
    except (OSError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"npz: cannot read {os.fspath(path)}: {exc}") from exc


def npy(
    x_path: str | os.PathLike[str], y_path: str | os.PathLike[str], mmap: bool = True
) -> tuple[Array, Array]:
    """A pair of ``.npy`` files, opened memory-mapped (``mmap_mode="r"``) unless ``mmap`` is
    false: ``fit`` then reads them batch by batch and never loads them whole.

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> np.save(os.path.join(folder, "x.npy"), np.zeros((5, 3), dtype=np.float32))
    >>> np.save(os.path.join(folder, "y.npy"), np.arange(5))
    >>> X, Y = npy(os.path.join(folder, "x.npy"), os.path.join(folder, "y.npy"))
    >>> type(X).__name__, X.shape, Y.shape
    ('memmap', (5, 3), (5,))
    """
    arrays = []
    for argument, path in (("x_path", x_path), ("y_path", y_path)):
        try:
            arrays.append(
                np.load(os.fspath(path), mmap_mode="r" if mmap else None, allow_pickle=False)
            )
        except (OSError, ValueError) as exc:
            raise DataError(f"npy: {argument}: cannot read {os.fspath(path)}: {exc}") from exc
    X, Y = arrays
    if X.ndim == 0 or Y.ndim == 0 or X.shape[0] != Y.shape[0]:
        raise DataError(
            f"npy: {os.fspath(x_path)} and {os.fspath(y_path)} must hold the same number of "
            f"rows, got shapes {X.shape} and {Y.shape}"
        )
    return X, Y
