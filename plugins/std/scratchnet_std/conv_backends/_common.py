"""Shapes, checks and padding shared by the convolution backends."""

from __future__ import annotations

import math

import numpy as np

from scratchnet_core import ConfigurationError, ShapeError
from scratchnet_core.interfaces import Array

__all__ = ["ConvGeometry", "geometry", "pad", "unpad"]

MAX_SPATIAL_DIMS = 3


class ConvGeometry:
    """Everything derived from the shapes and hyper-parameters of one convolution."""

    __slots__ = (
        "batch",
        "dilated",
        "dilation",
        "dims",
        "in_channels",
        "kernel",
        "out",
        "out_channels",
        "padded",
        "padding",
        "stride",
    )

    def __init__(
        self,
        x_shape: tuple[int, ...],
        w_shape: tuple[int, ...],
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
        backend: str,
    ) -> None:
        dims = len(x_shape) - 2
        if not 1 <= dims <= MAX_SPATIAL_DIMS:
            raise ShapeError(
                f"{backend} backend",
                "x of shape (N, C, *spatial) with 1 to 3 spatial dimensions",
                x_shape,
            )
        if len(w_shape) != dims + 2:
            raise ShapeError(
                f"{backend} backend",
                f"w of shape (C_out, C_in, *kernel) with {dims} kernel dims",
                w_shape,
            )
        for name, value, low in (
            ("stride", stride, 1),
            ("padding", padding, 0),
            ("dilation", dilation, 1),
        ):
            if len(value) != dims or any(int(v) != v or v < low for v in value):
                raise ConfigurationError(
                    f"{backend} backend: {name} must be {dims} integers >= {low}, got {value}"
                )
        if w_shape[1] != x_shape[1]:
            raise ShapeError(
                f"{backend} backend",
                f"x with {w_shape[1]} channels (the weight's in_channels)",
                f"{x_shape[1]} channels (shape {x_shape})",
            )
        self.dims = dims
        self.batch, self.in_channels = x_shape[0], x_shape[1]
        self.out_channels = w_shape[0]
        self.kernel = tuple(w_shape[2:])
        self.stride, self.padding, self.dilation = tuple(stride), tuple(padding), tuple(dilation)
        self.padded = tuple(s + 2 * p for s, p in zip(x_shape[2:], padding, strict=True))
        self.dilated = tuple(d * (k - 1) + 1 for k, d in zip(self.kernel, dilation, strict=True))
        if any(k > s for k, s in zip(self.dilated, self.padded, strict=True)):
            raise ShapeError(
                f"{backend} backend",
                f"padded input at least as large as the dilated kernel {self.dilated}",
                f"padded spatial size {self.padded}",
            )
        self.out = tuple(
            (s - k) // st + 1
            for s, k, st in zip(self.padded, self.dilated, self.stride, strict=True)
        )

    @property
    def positions(self) -> int:
        """Output positions per sample and channel."""
        return math.prod(self.out)

    @property
    def kernel_size(self) -> int:
        """Kernel taps per (in, out) channel pair."""
        return math.prod(self.kernel)

    def spatial_slices(self, offset: tuple[int, ...]) -> tuple[slice, ...]:
        """Where kernel tap ``offset`` reads the padded input, over all output positions."""
        return tuple(
            slice(o * d, o * d + st * (n - 1) + 1, st)
            for o, d, st, n in zip(offset, self.dilation, self.stride, self.out, strict=True)
        )


def geometry(
    x: Array,
    w: Array,
    stride: tuple[int, ...],
    padding: tuple[int, ...],
    dilation: tuple[int, ...],
    backend: str,
) -> ConvGeometry:
    """Checked geometry of ``x (*) w``."""
    return ConvGeometry(x.shape, w.shape, stride, padding, dilation, backend)


def pad(x: Array, padding: tuple[int, ...]) -> Array:
    """Zero-pad the spatial axes of ``x: (N, C, *spatial)`` on both sides."""
    if not any(padding):
        return x
    return np.pad(x, ((0, 0), (0, 0), *((p, p) for p in padding)))


def unpad(xp: Array, padding: tuple[int, ...]) -> Array:
    """Inverse of `pad` (a view)."""
    if not any(padding):
        return xp
    return xp[
        (
            slice(None),
            slice(None),
            *(slice(p, s - p) for p, s in zip(padding, xp.shape[2:], strict=True)),
        )
    ]
