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

__all__ = ["constant", "fans", "initialize_weights", "placeholder_weights"]

__getattr__, __dir__ = family("initializers")


class _Budget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0


_PLACEHOLDER: ContextVar[_Budget | None] = ContextVar("scratchnet_placeholder", default=None)


@contextmanager
def placeholder_weights(max_elements: int) -> Iterator[None]:
    """Within this block, `initialize_weights` and `constant` return
    uninitialised arrays, and refuse to allocate more than ``max_elements`` in all.

    Used while loading a model file: the file's values replace the arrays, and an
    architecture declaring more parameters than the file stores is refused before any memory
    is allocated for it.

    >>> with placeholder_weights(max_elements=10):
    ...     initialize_weights((100, 100), "relu")
    Traceback (most recent call last):
    ...
    scratchnet_core.errors.ConfigurationError: the architecture declares more than 10 ...
    """
    token = _PLACEHOLDER.set(_Budget(max_elements))
    try:
        yield
    finally:
        _PLACEHOLDER.reset(token)


def _placeholder(shape: tuple[int, ...], dtype: DTypeLike | None) -> Array | None:
    budget = _PLACEHOLDER.get()
    if budget is None:
        return None
    budget.used += math.prod(shape)
    if budget.used > budget.limit:
        raise ConfigurationError(
            f"the architecture declares more than {budget.limit} parameter and buffer values, "
            "more than the model file stores"
        )
    return np.empty(shape, dtype=as_float_dtype(dtype))


def constant(shape: Sequence[int], value: float, *, dtype: DTypeLike | None = None) -> Array:
    """An array of ``shape`` filled with ``value`` (biases, norm scales, running statistics).

    Layers create such arrays through this function (and weights through
    `initialize_weights`) so that loading a model file can bound what it allocates.

    >>> constant((2, 3), 1.0, dtype="float64").sum()
    np.float64(6.0)
    """
    dims = tuple(int(s) for s in shape)
    if any(s < 0 for s in dims):
        raise ConfigurationError(f"constant: shape must be non-negative integers, got {shape}")
    placeholder = _placeholder(dims, dtype)
    if placeholder is not None:
        return placeholder
    return np.full(dims, value, dtype=as_float_dtype(dtype))


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
    ((784, 256), dtype('float32'), 0.051)
    """
    if any(not isinstance(s, (int, np.integer)) or s < 1 for s in shape):
        raise ConfigurationError(
            f"initialize_weights: shape must be positive integers, got {shape}"
        )
    placeholder = _placeholder(tuple(int(s) for s in shape), dtype)
    if placeholder is not None:
        return placeholder
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
