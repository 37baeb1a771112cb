"""Direct convolution: im2col, then one GEMM.

Forward copies the receptive fields into one buffer ``cols: (C_in * K, N * P)`` (K kernel
taps, P output positions), tap by tap: each copy runs along the output's rows, which is several
times faster than gathering k-long runs from a strided view. Then
``y = w (C_out, C_in * K) @ cols``. The buffer is kept for the backward that follows, where
``dL/dw = g @ cols^T`` is a second GEMM; ``cols`` is then released before the third GEMM,
``dcols = w^T @ g``, is scattered back tap by tap (col2im) into the padded input gradient.
Nothing loops over the batch, and at most one im2col-sized buffer is alive at a time.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from scratchnet_core import ConvBackend
from scratchnet_core.interfaces import Array

from ._common import ConvGeometry, geometry, pad, unpad
from ._cost import direct_seconds

__all__ = ["Direct", "im2col"]


def _taps(g: ConvGeometry) -> list[tuple[int, ...]]:
    return list(itertools.product(*(range(k) for k in g.kernel)))


def _channels_first(a: Array) -> Array:
    """``(N, C, ...)`` -> ``(C, N, ...)`` (a view)."""
    return a.swapaxes(0, 1)


def im2col(xp: Array, g: ConvGeometry) -> Array:
    """Receptive fields of the padded input ``xp: (N, C, *padded)`` as ``(C * K, N * P)``.

    Row ``c * K + t`` holds what kernel tap ``t`` of channel ``c`` sees at every output
    position of every sample.

    >>> from scratchnet_std.conv_backends._common import ConvGeometry
    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> g = ConvGeometry(x.shape, (1, 1, 2, 2), (1, 1), (0, 0), (1, 1), "doc")
    >>> im2col(x, g)  # rows: the 4 taps; columns: the 4 output positions
    array([[0., 1., 3., 4.],
           [1., 2., 4., 5.],
           [3., 4., 6., 7.],
           [4., 5., 7., 8.]])
    """
    cols = np.empty((g.in_channels, g.kernel_size, g.batch, *g.out), dtype=xp.dtype)
    xt = _channels_first(xp)
    for i, tap in enumerate(_taps(g)):
        cols[:, i] = xt[(slice(None), slice(None), *g.spatial_slices(tap))]
    return cols.reshape(g.in_channels * g.kernel_size, g.batch * g.positions)


class Direct(ConvBackend):
    """im2col + GEMM. Fast for small kernels; memory ``C_in * K * N * P`` floats.

    Examples
    --------
    >>> x, w = np.arange(16.0).reshape(1, 1, 4, 4), np.ones((1, 1, 2, 2))
    >>> Direct().forward(x, w, (2, 2), (0, 0), (1, 1))  # sums of 2x2 blocks
    array([[[[10., 18.],
             [42., 50.]]]])
    """

    def __init__(self) -> None:
        self._cache: tuple[Any, ...] | None = None

    def estimate(
        self,
        x_shape: tuple[int, ...],
        w_shape: tuple[int, ...],
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
        dtype: Any = None,
    ) -> float:
        """Predicted seconds of one forward + backward (see `_cost`)."""
        g = ConvGeometry(tuple(x_shape), tuple(w_shape), stride, padding, dilation, "direct")
        return direct_seconds(g, dtype)

    def forward(
        self,
        x: Array,
        w: Array,
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
    ) -> Array:
        g = geometry(x, w, stride, padding, dilation, "direct")
        cols = im2col(pad(x, padding), g)
        y = w.reshape(g.out_channels, -1) @ cols  # (C_out, N * P)
        self._cache = (x, w.shape, g.stride, g.padding, g.dilation, cols)
        y = y.reshape(g.out_channels, g.batch, *g.out)
        return np.ascontiguousarray(_channels_first(y))

    def backward(
        self,
        grad_y: Array,
        x: Array,
        w: Array,
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
    ) -> tuple[Array, Array]:
        g = geometry(x, w, stride, padding, dilation, "direct")
        cache, self._cache = self._cache, None
        if (
            cache is not None
            and cache[0] is x
            and cache[1:5] == (w.shape, g.stride, g.padding, g.dilation)
        ):
            cols = cache[5]
        else:
            cols = im2col(pad(x, padding), g)
        gy = np.ascontiguousarray(_channels_first(grad_y)).reshape(
            g.out_channels, -1
        )  # (C_out, N * P)
        grad_w = (cols @ gy.T).T.reshape(w.shape)  # this orientation runs ~1.6x faster in BLAS
        del cols, cache  # the im2col buffer goes before dcols arrives
        dcols = (w.reshape(g.out_channels, -1).T @ gy).reshape(
            g.in_channels, g.kernel_size, g.batch, *g.out
        )
        grad_xt = np.zeros(
            (g.in_channels, g.batch, *g.padded), dtype=dcols.dtype
        )  # (C, N, *padded)
        for i, tap in enumerate(_taps(g)):
            grad_xt[(slice(None), slice(None), *g.spatial_slices(tap))] += dcols[:, i]
        grad_x = unpad(_channels_first(grad_xt), padding)
        return np.ascontiguousarray(grad_x), grad_w

    def clear_cache(self) -> None:
        self._cache = None
