"""Direct convolution: im2col, then one GEMM.

Forward copies the receptive fields into one buffer ``cols`` of ``C_in * K`` rows (K kernel
taps) by ``N * P`` columns (P output positions), tap by tap, then computes
``y = w (C_out, C_in * K) @ cols``. The buffer is kept for the backward that follows, where
``dL/dw = g @ cols^T`` is a second GEMM; ``cols`` is then released before the third GEMM,
``dcols = w^T @ g``, is scattered back tap by tap (col2im) into the padded input gradient.
Nothing loops over the batch, and at most one im2col-sized buffer is alive at a time.

Memory: every temporary (the padded or transposed input, the columns, the GEMM outputs
through ``np.matmul(..., out=)``, the layout copy of the output gradient, the padded input
gradient) lives in a per-instance `Workspace` of three flat buffers reused from call to call;
only ``y``, ``dL/dx`` and ``dL/dw`` are new arrays. Allocated afresh on every call, these
buffers (4-180 MB a step in float32 on the benchmark grid) were given back to the system by
glibc at the end of each call and faulted in again on the next: 1,250-1,420 page faults per
step on three of the grid's five shapes and 2.9x the time on the stride-2 one, in a process
that ran nothing else. The workspace holds what one step of the largest geometry seen needs
(one im2col buffer, as before at the peak); `Direct.clear_cache` releases it.

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

from ._common import ConvGeometry, geometry, unpad
from ._cost import batch_last_gain, direct_seconds
from ._workspace import Workspace, fill_zero

__all__ = ["Direct", "batch_last", "im2col"]


# Padded inputs up to this size are zeroed whole rather than border by border.
_FILL_BYTES = 1 << 18


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


def _taps(g: ConvGeometry) -> tuple[tuple[slice, ...], ...]:
    """Where each kernel tap reads the padded input (`ConvGeometry.spatial_slices`), in
    tap order."""
    return _tap_slices(g.kernel, g.dilation, g.stride, g.out)


@functools.lru_cache(maxsize=1024)
def _tap_slices(
    kernel: tuple[int, ...],
    dilation: tuple[int, ...],
    stride: tuple[int, ...],
    out: tuple[int, ...],
) -> tuple[tuple[slice, ...], ...]:
    """`_taps` per geometry, remembered: making the slices took 1.5 us a tap, 10% of a
    digits-sized step."""
    return tuple(
        tuple(
            slice(o * d, o * d + st * (n - 1) + 1, st)
            for o, d, st, n in zip(offset, dilation, stride, out, strict=True)
        )
        for offset in itertools.product(*(range(k) for k in kernel))
    )


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
    return _im2col_into(xp, g, cols)


def _im2col_into(xp: Array, g: ConvGeometry, cols: Array) -> Array:
    """`im2col` written into ``cols: (C, K, N, *out)``; returns it as ``(C * K, N * P)``."""
    xt = _channels_first(xp)
    for i, where in enumerate(_taps(g)):
        cols[:, i] = xt[(slice(None), slice(None), *where)]
    return cols.reshape(g.in_channels * g.kernel_size, g.batch * g.positions)


def _interior(g: ConvGeometry) -> tuple[slice, ...]:
    """The unpadded input inside ``(C, *padded, N)``."""
    return (
        slice(None),
        *(slice(p, s - p) for p, s in zip(g.padding, g.padded, strict=True)),
        slice(None),
    )


def _zero_border(a: Array, first: int, padding: tuple[int, ...]) -> None:
    """Zero the padding of the spatial axes ``first, first + 1, ...`` of ``a``, in place
    (all of a small ``a``: one call costs less than the border's four)."""
    if not any(padding):
        return
    if a.nbytes <= _FILL_BYTES:
        fill_zero(a)
        return
    for axis, p in enumerate(padding, start=first):
        if p:
            index: list[slice] = [slice(None)] * a.ndim
            index[axis] = slice(0, p)
            a[tuple(index)] = 0
            index[axis] = slice(a.shape[axis] - p, None)
            a[tuple(index)] = 0


def _cols(x: Array, g: ConvGeometry, last: bool, ws: Workspace) -> Array:
    """The columns of ``x: (N, C, *spatial)``, ``(C * K, N * P)`` (batch first) or
    ``(C * K, P * N)`` (batch last), in ``ws``'s ``"cols"`` slot; the padded input goes
    through its ``"padded"`` slot."""
    if last:  # (C, *padded, N): transpose and padding in one copy
        xt = ws.get("padded", (g.in_channels, *g.padded, g.batch), x.dtype)
        _zero_border(xt, 1, g.padding)
        xt[_interior(g)] = np.moveaxis(x, 0, -1)
        cols = ws.get("cols", (g.in_channels, g.kernel_size, *g.out, g.batch), x.dtype)
        for i, where in enumerate(_taps(g)):
            cols[:, i] = xt[(slice(None), *where, slice(None))]
        return cols.reshape(g.in_channels * g.kernel_size, g.positions * g.batch)
    xp = x
    if any(g.padding):
        xp = ws.get("padded", (g.batch, g.in_channels, *g.padded), x.dtype)
        _zero_border(xp, 2, g.padding)
        xp[(slice(None), slice(None), *_interior(g)[1:-1])] = x
    cols = ws.get("cols", (g.in_channels, g.kernel_size, g.batch, *g.out), x.dtype)
    return _im2col_into(xp, g, cols)


def _product(a: Array, b: Array, ws: Workspace, slot: str) -> Array:
    """``a @ b`` into ``ws``'s ``slot``."""
    out = ws.get(slot, (a.shape[0], b.shape[1]), np.result_type(a, b))
    result: Array = np.matmul(a, b, out=out)
    return result


class Direct(ConvBackend):
    """im2col + GEMM. Fast for small kernels; memory ``C_in * K * N * P`` floats.

    Temporaries live in ``workspace`` (a `Workspace`), reused by every call and held between
    calls: the columns plus two activation-sized buffers, as large as the largest geometry
    since the last `clear_cache` asked for (18.6 MB in float32 on the grid's first shape).

    Examples
    --------
    >>> x, w = np.arange(16.0).reshape(1, 1, 4, 4), np.ones((1, 1, 2, 2))
    >>> Direct().forward(x, w, (2, 2), (0, 0), (1, 1))  # sums of 2x2 blocks
    array([[[[10., 18.],
             [42., 50.]]]])
    """

    def __init__(self) -> None:
        self._cache: tuple[Any, ...] | None = None
        #: Reused temporaries (slots ``padded``, ``cols``, ``out``); see the module doc.
        self.workspace = Workspace()

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
        self._cache = None  # the workspace's columns are about to change
        cols = _cols(x, g, last, self.workspace)
        # (C_out, N * P) or (C_out, P * N)
        y = _product(w.reshape(g.out_channels, -1), cols, self.workspace, "out")
        self._cache = (x, w.shape, g.stride, g.padding, g.dilation, cols, last)
        # copies (order="C" copies even where the view is contiguous): y is the caller's
        if last:
            return np.array(np.moveaxis(y.reshape(g.out_channels, *g.out, -1), -1, 0), order="C")
        return np.array(_channels_first(y.reshape(g.out_channels, g.batch, *g.out)), order="C")

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
        ws = self.workspace
        cache, self._cache = self._cache, None
        if (
            cache is not None
            and cache[0] is x
            and cache[1:5] == (w.shape, g.stride, g.padding, g.dilation)
        ):
            cols, last = cache[5:]
        else:
            last = batch_last(g)
            cols = _cols(x, g, last, ws)
        # (C_out, P * N) or (C_out, N * P), matching the columns
        src = np.moveaxis(grad_y, 0, -1) if last else _channels_first(grad_y)
        gy = ws.get("out", src.shape, grad_y.dtype)
        gy[...] = src
        gy = gy.reshape(g.out_channels, -1)
        grad_w = (cols @ gy.T).T.reshape(w.shape)  # this orientation runs ~1.6x faster in BLAS
        del cols, cache  # the columns' slot takes dcols
        dcols = _product(w.reshape(g.out_channels, -1).T, gy, ws, "cols")
        if last:
            dcols = dcols.reshape(g.in_channels, g.kernel_size, *g.out, g.batch)
            grad_xt = ws.zeros("padded", (g.in_channels, *g.padded, g.batch), dcols.dtype)
            for i, where in enumerate(_taps(g)):
                grad_xt[(slice(None), *where, slice(None))] += dcols[:, i]
            return np.array(np.moveaxis(grad_xt[_interior(g)], -1, 0), order="C"), grad_w
        dcols = dcols.reshape(g.in_channels, g.kernel_size, g.batch, *g.out)
        grad_xf = ws.zeros("padded", (g.in_channels, g.batch, *g.padded), dcols.dtype)
        for i, where in enumerate(_taps(g)):
            grad_xf[(slice(None), slice(None), *where)] += dcols[:, i]
        return np.array(unpad(_channels_first(grad_xf), padding), order="C"), grad_w

    def clear_cache(self) -> None:
        """Drop the columns kept for the backward and release the workspace.

        >>> backend, x, w = Direct(), np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3))
        >>> _ = backend.forward(x, w, (1, 1), (0, 0), (1, 1))
        >>> backend.workspace.nbytes > 0
        True
        >>> backend.clear_cache(); backend.workspace.nbytes
        0
        """
        self._cache = None
        self.workspace.clear()
