"""Argument checks with scratchnet's error conventions, for any component's constructor.

Each raises `ConfigurationError` naming the owner and the
argument, with what was expected and what was given.

>>> from scratchnet_core.checks import positive_int
>>> positive_int("my_layer", "units", 0)
Traceback (most recent call last):
...
scratchnet_core.errors.ConfigurationError: my_layer: units must be >= 1, got 0
"""

from __future__ import annotations

import math
import numbers
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "finite_real",
    "int_tuple",
    "integer",
    "one_of",
    "output_path",
    "positive_int",
    "positive_real",
    "real_in_range",
    "real_pair",
    "same_shape",
    "shape_tuple",
]

from .errors import ConfigurationError, ShapeError


def positive_int(owner: str, argument: str, value: Any) -> int:
    """``value`` as an int >= 1, or a `ConfigurationError` naming ``owner.argument``.

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


def finite_real(owner: str, argument: str, value: Any) -> float:
    """``value`` as a finite float (any sign), else a clear error.

    >>> finite_real("leaky_relu", "negative_slope", 0.2)
    0.2
    >>> finite_real("elu", "alpha", float("inf"))
    Traceback (most recent call last):
    ...
    scratchnet_core.errors.ConfigurationError: elu: alpha must be a finite number, got inf
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigurationError(
            f"{owner}: {argument} must be a number, got {value!r} ({type(value).__name__})"
        )
    x = float(value)
    if not math.isfinite(x):
        raise ConfigurationError(f"{owner}: {argument} must be a finite number, got {x}")
    return x


def positive_real(owner: str, argument: str, value: Any) -> float:
    """``value`` as a finite float ``> 0``, else a clear error.

    >>> positive_real("huber", "delta", 2)
    2.0
    >>> positive_real("huber", "delta", 0)
    Traceback (most recent call last):
    ...
    scratchnet_core.errors.ConfigurationError: huber: delta must be > 0, got 0.0
    """
    x = finite_real(owner, argument, value)
    if x <= 0:
        raise ConfigurationError(f"{owner}: {argument} must be > 0, got {x}")
    return x


def integer(owner: str, argument: str, value: Any, low: int | None = None) -> int:
    """``value`` as an int (``bool`` refused), ``>= low`` when given.

    >>> integer("softmax", "axis", -1)
    -1
    >>> integer("dropout", "seed", -3, low=0)
    Traceback (most recent call last):
    ...
    scratchnet_core.errors.ConfigurationError: dropout: seed must be >= 0, got -3
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigurationError(
            f"{owner}: {argument} must be an integer, got {value!r} ({type(value).__name__})"
        )
    if low is not None and value < low:
        raise ConfigurationError(f"{owner}: {argument} must be >= {low}, got {value}")
    return int(value)


def one_of(owner: str, argument: str, value: Any, choices: Sequence[str]) -> str:
    """``value`` if it is one of the strings ``choices``, else an error listing them.

    >>> one_of("gelu", "approximate", "tanh", ("none", "tanh"))
    'tanh'
    >>> one_of("gelu", "approximate", "erf", ("none", "tanh"))
    Traceback (most recent call last):
    ...
    scratchnet_core.errors.ConfigurationError: gelu: approximate must be 'none' or 'tanh', got 'erf'
    """
    if not isinstance(value, str) or value not in choices:
        shown = ", ".join(repr(c) for c in choices[:-1]) + f" or {choices[-1]!r}"
        raise ConfigurationError(f"{owner}: {argument} must be {shown}, got {value!r}")
    return value


def shape_tuple(owner: str, argument: str, value: Any) -> tuple[int, ...]:
    """A positive int, or a non-empty sequence of them, as a tuple (a shape such as layer
    norm's ``normalized_shape``).

    >>> shape_tuple("layer_norm", "normalized_shape", [3, 4])
    (3, 4)
    """
    items: Any = (value,) if isinstance(value, numbers.Integral) else value
    ok = not isinstance(value, bool) and isinstance(items, (tuple, list)) and len(items) > 0
    result: list[int] = []
    for v in items if ok else ():
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or int(v) < 1:
            ok = False
            break
        result.append(int(v))
    if not ok:
        raise ConfigurationError(
            f"{owner}: {argument} must be a positive int or a tuple of them, got {value!r}"
        )
    return tuple(result)


def same_shape(owner: str, y_pred: Any, y_true: Any) -> None:
    """A cost's targets must be shaped like its predictions, else a
    `ShapeError` naming the cost and both shapes.

    >>> import numpy as np
    >>> same_shape("mse", np.zeros((4, 1)), np.zeros(4))
    Traceback (most recent call last):
    ...
    scratchnet_core.errors.ShapeError: mse: expected input targets shaped like the predictions ...
    """
    if y_pred.shape != y_true.shape:
        raise ShapeError(owner, f"targets shaped like the predictions {y_pred.shape}", y_true.shape)


def output_path(what: str, path: str | os.PathLike[str]) -> Path:
    """Make sure a file can be written at ``path`` later (before training, not after it):
    create its folder (and parents), refuse a path that is a directory or a folder that
    cannot be written; ``what`` names the output in the error (``"--plot"``,
    ``"output.model"``, ``"CSVLogger: path"``).

    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "new", "dir", "model.npz")
    >>> output_path("output.model", target).parent.is_dir()
    True
    """
    target = Path(path)
    if target.is_dir():
        raise ConfigurationError(f"{what}: {str(target)!r} is a directory, expected a file path")
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):  # writable? (checked by writing, not by mode)
            pass
    except OSError as exc:
        raise ConfigurationError(
            f"{what}: cannot write to {str(folder)!r}: {exc.strerror or exc}"
        ) from exc
    return target
