"""The process-wide random generator behind weight initialisation and shuffling."""

from __future__ import annotations

import numpy as np

__all__ = ["get_rng", "seed"]

_rng: np.random.Generator | None = None  # made on first use: numpy.random costs ~10 ms to import


def seed(value: int | None) -> None:
    """Seed scratchnet's generator (like ``torch.manual_seed``): same seed, same run.

    >>> import scratchnet_core as sn
    >>> sn.seed(0); a = sn.get_rng().random()
    >>> sn.seed(0); a == sn.get_rng().random()
    True
    """
    global _rng
    _rng = np.random.default_rng(value)


def get_rng() -> np.random.Generator:
    """The generator layers draw initial weights from and ``fit`` draws shuffling seeds from.

    >>> import scratchnet_core as sn
    >>> 0 <= sn.get_rng().random() < 1
    True
    """
    global _rng
    if _rng is None:
        _rng = np.random.default_rng()
    return _rng
