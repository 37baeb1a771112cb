"""Argument checks with scratchnet's error conventions, for any component's constructor.

Each raises :class:`~scratchnet_core.errors.ConfigurationError` naming the owner and the
argument, with what was expected and what was given.

>>> from scratchnet_core.checks import positive_int
>>> positive_int("my_layer", "units", 0)
Traceback (most recent call last):
...
scratchnet_core.errors.ConfigurationError: my_layer: units must be >= 1, got 0
"""

from __future__ import annotations

import numbers
from typing import Any

__all__ = ["int_tuple", "integer", "positive_int", "real_in_range", "real_pair"]

from .errors import ConfigurationError


def integer(owner: str, argument: str, value: Any) -> int:
    """``value`` as an int (any sign; not a bool), or a :class:`ConfigurationError`.

    >>> integer("fit", "seed", 7)
    7
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigurationError(
            f"{owner}: {argument} must be an integer, got {value!r} ({type(value).__name__})"
        )
    return int(value)


def positive_int(owner: str, argument: str, value: Any) -> int:
    """``value`` as an int >= 1, or a :class:`ConfigurationError` naming ``owner.argument``.

    >>> positive_int("linear", "in_features", 3)
    3
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigurationError(
            f"{owner}: {argument} must be a positive integer, got {value!r} "
            f"({type(value).__name__})"
        )
    if value < 1:
        raise ConfigurationError(f"{owner}: {argument} must be >= 1, got {value}")
    return int(value)


def real_in_range(
    owner: str, argument: str, value: Any, low: float, high: float, *, high_open: bool = False
) -> float:
    """``value`` as a float in ``[low, high]`` (or ``[low, high)``), else a clear error.

    >>> real_in_range("sgd", "momentum", 0.9, 0.0, 1.0, high_open=True)
    0.9
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigurationError(
            f"{owner}: {argument} must be a number, got {value!r} ({type(value).__name__})"
        )
    x = float(value)
    ok = low <= x < high if high_open else low <= x <= high
    if not ok:
        bracket = ")" if high_open else "]"
        raise ConfigurationError(f"{owner}: {argument} must be in [{low}, {high}{bracket}, got {x}")
    return x


def int_tuple(owner: str, argument: str, value: Any, dims: int, low: int) -> tuple[int, ...]:
    """An int or a sequence of ``dims`` ints, each ``>= low``, as a tuple.

    >>> int_tuple("convolutional_2d", "kernel_size", 3, 2, 1)
    (3, 3)
    """
    items = (value,) * dims if isinstance(value, numbers.Integral) else value
    ok = (
        isinstance(items, (tuple, list))
        and len(items) == dims
        and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in items)
    )
    if not ok or isinstance(value, bool):
        raise ConfigurationError(
            f"{owner}: {argument} must be an int or a tuple of {dims} ints, got {value!r}"
        )
    result = tuple(int(v) for v in items)
    if any(v < low for v in result):
        raise ConfigurationError(f"{owner}: {argument} must be >= {low}, got {value!r}")
    return result


def real_pair(
    owner: str, argument: str, value: Any, low: float, high: float, *, high_open: bool = False
) -> tuple[float, float]:
    """Two numbers, each in ``[low, high]`` (or ``[low, high)``), as a tuple (Adam's
    ``betas``).

    >>> real_pair("adam", "betas", [0.9, 0.999], 0.0, 1.0, high_open=True)
    (0.9, 0.999)
    """
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ConfigurationError(f"{owner}: {argument} must be a pair of numbers, got {value!r}")
    return (
        real_in_range(owner, f"{argument}[0]", value[0], low, high, high_open=high_open),
        real_in_range(owner, f"{argument}[1]", value[1], low, high, high_open=high_open),
    )
