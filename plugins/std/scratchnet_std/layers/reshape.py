"""Layers that only move data around."""

from __future__ import annotations

import math
from collections.abc import Sequence

from scratchnet_core import Layer, ShapeError
from scratchnet_core.interfaces import Array

__all__ = ["Flatten"]


class Flatten(Layer):
    """``(N, d1, d2, ...)`` -> ``(N, d1 * d2 * ...)``; the batch axis stays.

    >>> import numpy as np
    >>> Flatten().forward(np.zeros((2, 3, 4, 5))).shape
    (2, 60)
    """

    conformance = {"args": [], "input_shape": [2, 3, 4], "bad_input_shape": []}

    def forward(self, x: Array, training: bool = False) -> Array:
        if x.ndim < 2:
            raise ShapeError(repr(self), "(N, d1, ...) with at least 2 axes", x.shape)
        self.save_for_backward(x.shape)
        return x.reshape(x.shape[0], -1)

    def backward(self, grad: Array) -> Array | None:
        (shape,) = self.saved
        return grad.reshape(shape) if self.needs_input_grad else None

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        if len(input_shape) < 1:
            raise ShapeError(repr(self), "(N, d1, ...) with at least 2 axes", "shape (N,)")
        return (math.prod(input_shape),)

    def __repr__(self) -> str:
        return "Flatten()"
