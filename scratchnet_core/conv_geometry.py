"""The checked geometry of one convolution, shared by every convolution backend.

A backend plugin (the standard ones, ``scratchnet-numba``, a third party's) calls
`geometry` first: bad shapes and hyper-parameters then raise the same
`ShapeError` / `ConfigurationError`
whichever backend runs, and the output size is computed in one place.

>>> import numpy as np
>>> g = geometry(np.zeros((2, 3, 8, 8)), np.zeros((4, 3, 3, 3)), (2, 2), (1, 1), (1, 1), "doc")
>>> g.out, g.positions, g.kernel_size
((4, 4), 16, 9)
"""

from __future__ import annotations

import math

from .errors import ConfigurationError, ShapeError
from .interfaces import Array

__all__ = ["MAX_SPATIAL_DIMS", "ConvGeometry", "geometry"]

MAX_SPATIAL_DIMS = 3


class ConvGeometry:
    """Everything derived from the shapes and hyper-parameters of one convolution.

    ``x_shape: (N, C_in, *spatial)``, ``w_shape: (C_out, C_in, *kernel)``; ``backend`` names
    the owner in error messages.

    >>> g = ConvGeometry((1, 2, 5), (3, 2, 3), (1,), (1,), (2,), "doc")
    >>> g.dims, g.out_channels, g.padded, g.dilated, g.out
    (1, 3, (7,), (5,), (3,))
    """

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
    """Checked geometry of ``x (*) w``.

    >>> import numpy as np
    >>> geometry(np.zeros((1, 2, 5)), np.zeros((1, 3, 3)), (1,), (0,), (1,), "mine")
    Traceback (most recent call last):
    ...
    scratchnet_core.errors.ShapeError: ...
    """
    return ConvGeometry(x.shape, w.shape, stride, padding, dilation, backend)
