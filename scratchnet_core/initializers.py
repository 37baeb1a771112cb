"""Weight initializers, by registry name, and the seed's ``initialize_weights`` helper.

An initializer is a callable ``init(shape, fan_in, fan_out, rng) -> ndarray`` registered in
the ``scratchnet.initializers`` entry-point group (``he_normal``, ``glorot_uniform``, ... in
``scratchnet-std``). Each activation names the one it prefers (``ActivationFunction.initializer``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from ._family import family
from ._random import get_rng
from .errors import ConfigurationError
from .interfaces import ActivationFunction, Array, as_float_dtype
from .registry import get_registry

__all__ = ["fans", "initialize_weights"]

__getattr__, __dir__ = family("initializers")

_PLACEHOLDER: ContextVar[bool] = ContextVar("scratchnet_placeholder_weights", default=False)


@contextmanager
def placeholder_weights() -> Iterator[None]:
    """Within this block, :func:`initialize_weights` returns uninitialised arrays.

    Used while loading a model file: the file's values replace them, and untouched pages of
    a (possibly hostile, huge) declared shape are never committed to memory.
    """
    token = _PLACEHOLDER.set(True)
    try:
        yield
    finally:
        _PLACEHOLDER.reset(token)


def fans(shape: Sequence[int]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight in scratchnet's layouts.

    Linear weights are ``(in_features, out_features)``; convolution weights are
    ``(out_channels, in_channels, *kernel)``.

    >>> fans((784, 256))
    (784, 256)
    >>> fans((32, 16, 3, 3))
    (144, 288)
    """
    if len(shape) == 0:
        raise ConfigurationError("initialize_weights: shape must have at least one axis")
    if len(shape) == 1:
        return int(shape[0]), int(shape[0])
    if len(shape) == 2:
        return int(shape[0]), int(shape[1])
    receptive = math.prod(int(s) for s in shape[2:])
    return int(shape[1]) * receptive, int(shape[0]) * receptive


def initialize_weights(
    shape: Sequence[int],
    activation: str | ActivationFunction | type[ActivationFunction] | None = None,
    *,
    initializer: str | None = None,
    rng: np.random.Generator | None = None,
    dtype: DTypeLike | None = None,
) -> Array:
    """Initial weights of ``shape`` suited to ``activation``.

    The initializer is ``initializer`` if given, else the one ``activation`` prefers (He for
    the relu family, Glorot for sigmoid, tanh and softmax; Glorot uniform with no activation).

    >>> import scratchnet_core as sn
    >>> w = sn.initialize_weights((784, 256), "relu", rng=np.random.default_rng(0))
    >>> w.shape, w.dtype, round(float(w.std()), 3)  # He: std = sqrt(2 / 784)
    ((784, 256), dtype('float32'), 0.05)
    """
    if any(not isinstance(s, (int, np.integer)) or s < 1 for s in shape):
        raise ConfigurationError(
            f"initialize_weights: shape must be positive integers, got {shape}"
        )
    if _PLACEHOLDER.get():
        return np.empty(tuple(int(s) for s in shape), dtype=as_float_dtype(dtype))
    name = initializer or _preferred_initializer(activation)
    init = get_registry("initializers")[name]
    fan_in, fan_out = fans(shape)
    values = init(tuple(int(s) for s in shape), fan_in, fan_out, rng or get_rng())
    return np.asarray(values, dtype=as_float_dtype(dtype))


def _preferred_initializer(activation: Any) -> str:
    if activation is None:
        return ActivationFunction.initializer
    if isinstance(activation, str):
        activation = get_registry("activations")[activation]
    preferred = getattr(activation, "initializer", ActivationFunction.initializer)
    return str(preferred)
