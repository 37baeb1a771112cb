"""Direct convolution: im2col, then one GEMM.

Forward copies the receptive fields into one buffer ``cols`` of ``C_in * K`` rows (K kernel
taps) by ``N * P`` columns (P output positions), tap by tap, then computes
``y = w (C_out, C_in * K) @ cols``. The buffer is kept for the backward that follows, where
``dL/dw = g @ cols^T`` is a second GEMM; ``cols`` is then released before the third GEMM,
``dcols = w^T @ g``, is scattered back tap by tap (col2im) into the padded input gradient.
Nothing loops over the batch, and at most one im2col-sized buffer is alive at a time.

Two column orders, chosen per geometry by `batch_last`:

- batch first, ``(C_in, K, N, *out)``: the input is zero-padded by one copy and every tap's
  copy runs along the output's last axis (``out[-1]`` elements at a time); the results need
  only cheap swaps of the two leading axes.
- batch last, ``(C_in, K, *out, N)``: the input is copied once into ``(C_in, *padded, N)``
  (transpose and padding in one pass), so that every tap's copy and col2im's additions run over
  ``out[-1] * N`` contiguous elements (``N`` when strided); the output, the incoming gradient
  and the input gradient (unpadded by the same copy) then take a full transpose each.

NumPy's per-run overhead makes batch last up to 3x faster on small maps (8x8, 4x4) and faster
on large kernels; the four transposes (about 0.6 ns per element, against 0.07 for a swap of
leading axes) make it slower on 28x28 maps with 3x3 kernels and on one-channel inputs.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

import numpy as np

from scratchnet_core import ConvBackend
from scratchnet_core.interfaces import Array

from ._common import ConvGeometry, geometry, pad, unpad
from ._cost import batch_last_gain, direct_seconds

__all__ = ["Direct", "batch_last", "im2col"]


def batch_last(g: ConvGeometry) -> bool:
    """Whether ``direct`` keeps the batch axis last for this geometry (see the module doc):
    when `_cost.batch_last_gain` predicts that order's copies and transposes to be cheaper.

    >>> from scratchnet_std.conv_backends._common import ConvGeometry
    >>> small = ConvGeometry((32, 16, 4, 4), (32, 16, 3, 3), (1, 1), (1, 1), (1, 1), "doc")
    >>> big = ConvGeometry((32, 16, 28, 28), (32, 16, 3, 3), (1, 1), (1, 1), (1, 1), "doc")
    >>> batch_last(small), batch_last(big)
    (True, False)
    """
    return _batch_last(
        g.batch, g.in_channels, g.out_channels, g.kernel, g.stride, g.padding, g.dilation, g.padded
    )


@functools.lru_cache(maxsize=1024)
def _batch_last(*key: Any) -> bool:
    """`batch_last` per geometry, remembered: tiny convolutions run in 50 us."""
    n, c, o, kernel, stride, padding, dilation, padded = key
    spatial = tuple(s - 2 * p for s, p in zip(padded, padding, strict=True))
    g = ConvGeometry((n, c, *spatial), (o, c, *kernel), stride, padding, dilation, "direct")
    return batch_last_gain(g) > 0


def _taps(g: ConvGeometry) -> list[tuple[int, ...]]:
    return list(itertools.product(*(range(k) for k in g.kernel)))


def _channels_first(a: Array) -> Array:
    """``(N, C, ...)`` -> ``(C, N, ...)`` (a view)."""
    return a.swapaxes(0, 1)


def im2col(xp: Array, g: ConvGeometry) -> Array:
    """Receptive fields of the padded input ``xp: (N, C, *padded)`` as ``(C * K, N * P)``.

    Row ``c * K + t`` holds what kernel tap ``t`` of channel ``c`` sees at every output
    position of every sample (the batch-first column order).

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


def _interior(g: ConvGeometry) -> tuple[slice, ...]:
    """The unpadded input inside ``(C, *padded, N)``."""
    return (
        slice(None),
        *(slice(p, s - p) for p, s in zip(g.padding, g.padded, strict=True)),
        slice(None),
    )


def _im2col_batch_last(x: Array, g: ConvGeometry) -> Array:
    """Receptive fields of the unpadded ``x: (N, C, *spatial)`` as ``(C * K, P * N)``."""
    if any(g.padding):
        xt = np.zeros((g.in_channels, *g.padded, g.batch), dtype=x.dtype)
        xt[_interior(g)] = np.moveaxis(x, 0, -1)
    else:
        xt = np.ascontiguousarray(np.moveaxis(x, 0, -1))
    cols = np.empty((g.in_channels, g.kernel_size, *g.out, g.batch), dtype=x.dtype)
    for i, tap in enumerate(_taps(g)):
        cols[:, i] = xt[(slice(None), *g.spatial_slices(tap), slice(None))]
    return cols.reshape(g.in_channels * g.kernel_size, g.positions * g.batch)


def _cols(x: Array, g: ConvGeometry, last: bool) -> Array:
    return _im2col_batch_last(x, g) if last else im2col(pad(x, g.padding), g)


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
        last = batch_last(g)
        cols = _cols(x, g, last)
        y = w.reshape(g.out_channels, -1) @ cols  # (C_out, N * P) or (C_out, P * N)
        self._cache = (x, w.shape, g.stride, g.padding, g.dilation, cols, last)
        if last:
            return np.ascontiguousarray(np.moveaxis(y.reshape(g.out_channels, *g.out, -1), -1, 0))
        return np.ascontiguousarray(_channels_first(y.reshape(g.out_channels, g.batch, *g.out)))

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
            cols, last = cache[5:]
        else:
            last = batch_last(g)
            cols = _cols(x, g, last)
        # (C_out, P * N) or (C_out, N * P), matching the columns
        gy = np.ascontiguousarray(
            np.moveaxis(grad_y, 0, -1) if last else _channels_first(grad_y)
        ).reshape(g.out_channels, -1)
        grad_w = (cols @ gy.T).T.reshape(w.shape)  # this orientation runs ~1.6x faster in BLAS
        del cols, cache  # the im2col buffer goes before dcols arrives
        dcols = w.reshape(g.out_channels, -1).T @ gy
        if last:
            dcols = dcols.reshape(g.in_channels, g.kernel_size, *g.out, g.batch)
            grad_xt = np.zeros((g.in_channels, *g.padded, g.batch), dtype=dcols.dtype)
            for i, tap in enumerate(_taps(g)):
                grad_xt[(slice(None), *g.spatial_slices(tap), slice(None))] += dcols[:, i]
            return np.ascontiguousarray(np.moveaxis(grad_xt[_interior(g)], -1, 0)), grad_w
        dcols = dcols.reshape(g.in_channels, g.kernel_size, g.batch, *g.out)
        grad_xf = np.zeros((g.in_channels, g.batch, *g.padded), dtype=dcols.dtype)
        for i, tap in enumerate(_taps(g)):
            grad_xf[(slice(None), slice(None), *g.spatial_slices(tap))] += dcols[:, i]
        return np.ascontiguousarray(unpad(_channels_first(grad_xf), padding)), grad_w

    def clear_cache(self) -> None:
        self._cache = None
