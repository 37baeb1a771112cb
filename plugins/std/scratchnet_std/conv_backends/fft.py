"""Convolution in the frequency domain with real FFTs.

The transforms are ``scipy.fft``'s (multi-threaded, several times faster than
``numpy.fft.rfftn`` on batches of small images). Cross-correlation becomes a product of
transforms: ``Y[n, o] = sum_c X[n, c] * conj(W[o, c])``.
The sum over input channels is one batched matrix product per frequency,
``(F, N, C_in) @ (F, C_in, C_out)``, never an FFT per (sample, in, out) triple.
Transforms have the padded input's size (rounded up to a length ``scipy.fft`` transforms
fast): circular wrap-around cannot reach the valid outputs, so no extra zero padding is
needed. Forward keeps the input's and
the weight's transforms for the backward that follows, which then needs one forward and two
inverse FFTs:

- ``dL/dw = IFFT(sum_n conj(G[n]) X[n])`` cropped to the (dilated) kernel,
- ``dL/dx = IFFT(sum_o G[o] W[o])`` cropped to the input,

where ``G`` is the transform of the output gradient spread back onto the stride-1 grid.

The seed's helpers `convolution` and `valid_convolution_cnn2d` live here.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from scipy import fft as sp_fft

from scratchnet_core import ConfigurationError, ConvBackend, ShapeError
from scratchnet_core.interfaces import Array

from ._common import ConvGeometry, geometry, pad
from ._cost import fft_seconds

__all__ = ["FFT", "convolution", "fast_length", "valid_convolution_cnn2d"]


_WORKERS = os.cpu_count() or 1


def fast_length(n: int) -> int:
    """Smallest length ``>= n`` that the real FFT transforms fast (2-3-5-smooth).

    >>> fast_length(28), fast_length(97)
    (30, 100)
    """
    return int(sp_fft.next_fast_len(n, real=True))


def _dilate(w: Array, dilation: tuple[int, ...]) -> Array:
    """Insert ``dilation - 1`` zeros between kernel taps."""
    if all(d == 1 for d in dilation):
        return w
    shape = (*w.shape[:2], *(d * (k - 1) + 1 for k, d in zip(w.shape[2:], dilation, strict=True)))
    out = np.zeros(shape, dtype=w.dtype)
    out[(slice(None), slice(None), *(slice(None, None, d) for d in dilation))] = w
    return out


def _spatial_first(a: Array) -> Array:
    """``(A, B, *spatial)`` -> contiguous ``(*spatial, A, B)``."""
    d = a.ndim - 2
    return np.ascontiguousarray(a.transpose(*range(2, 2 + d), 0, 1))


def _spatial_last(a: Array) -> Array:
    """``(*spatial, A, B)`` -> contiguous ``(A, B, *spatial)``."""
    d = a.ndim - 2
    return np.ascontiguousarray(a.transpose(d, d + 1, *range(d)))


def _swap(m: Array, conj: bool = False) -> Array:
    """``(*F, A, B)`` -> contiguous ``(*F, B, A)``, conjugated on request."""
    out = np.empty((*m.shape[:-2], m.shape[-1], m.shape[-2]), dtype=m.dtype)
    if conj:
        np.conjugate(m.swapaxes(-1, -2), out=out)
    else:
        np.copyto(out, m.swapaxes(-1, -2))
    return out


class FFT(ConvBackend):
    """Real-FFT convolution; its cost hardly grows with the kernel size.

    Arrays are transformed with their spatial axes first, ``(*spatial, N, C)``, so that the
    spectrum is already a stack of ``(N, C)`` matrices, one per frequency, for the channel
    sums; no complex array is ever transposed.

    Examples
    --------
    >>> x, w = np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3))
    >>> FFT().forward(x, w, (1, 1), (0, 0), (1, 1)).round(6)[0, 0]
    array([[9., 9., 9.],
           [9., 9., 9.],
           [9., 9., 9.]])
    """

    def __init__(self) -> None:
        self._cache: tuple[Any, ...] | None = None

    @staticmethod
    def _plan(g: ConvGeometry) -> tuple[tuple[int, ...], tuple[int, ...]]:
        return tuple(fast_length(s) for s in g.padded), tuple(range(g.dims))

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
        g = ConvGeometry(tuple(x_shape), tuple(w_shape), stride, padding, dilation, "fft")
        return fft_seconds(g, dtype)

    def forward(
        self,
        x: Array,
        w: Array,
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
    ) -> Array:
        g = geometry(x, w, stride, padding, dilation, "fft")
        lengths, axes = self._plan(g)
        xf = sp_fft.rfftn(_spatial_first(pad(x, padding)), s=lengths, axes=axes, workers=_WORKERS)
        wf = sp_fft.rfftn(
            _spatial_first(_dilate(w, dilation)), s=lengths, axes=axes, workers=_WORKERS
        )
        wf_h = _swap(wf, conj=True)  # (*F, C_in, C_out), conjugated
        y = sp_fft.irfftn(xf @ wf_h, s=lengths, axes=axes, workers=_WORKERS)  # (*L, N, C_out)
        self._cache = (x, w, g.stride, g.padding, g.dilation, xf, wf)
        crop = tuple(slice(0, st * (n - 1) + 1, st) for st, n in zip(g.stride, g.out, strict=True))
        return _spatial_last(y[crop]).astype(np.result_type(x, w), copy=False)

    def backward(
        self,
        grad_y: Array,
        x: Array,
        w: Array,
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
    ) -> tuple[Array, Array]:
        g = geometry(x, w, stride, padding, dilation, "fft")
        lengths, axes = self._plan(g)
        cache, self._cache = self._cache, None
        if (
            cache is not None
            and cache[0] is x
            and cache[1] is w
            and cache[2:5] == (g.stride, g.padding, g.dilation)
        ):
            xf, wf = cache[5], cache[6]
        else:
            xf = sp_fft.rfftn(
                _spatial_first(pad(x, padding)), s=lengths, axes=axes, workers=_WORKERS
            )
            wf = sp_fft.rfftn(
                _spatial_first(_dilate(w, dilation)), s=lengths, axes=axes, workers=_WORKERS
            )
        # the output gradient, spatial axes first, on the stride-1 grid of valid positions
        gy = _spatial_first(grad_y)
        if any(st > 1 for st in g.stride):
            full = tuple(s - k + 1 for s, k in zip(g.padded, g.dilated, strict=True))
            spread = np.zeros((*full, g.batch, g.out_channels), dtype=grad_y.dtype)
            spread[tuple(slice(None, None, st) for st in g.stride)] = gy
            gy = spread
        gf = sp_fft.rfftn(gy, s=lengths, axes=axes, workers=_WORKERS)  # (*F, N, C_out)
        dtype = np.result_type(x, w)

        gw = sp_fft.irfftn(_swap(gf, conj=True) @ xf, s=lengths, axes=axes, workers=_WORKERS)
        taps = tuple(slice(0, k, d) for k, d in zip(g.dilated, g.dilation, strict=True))
        grad_w = _spatial_last(gw[taps]).astype(dtype, copy=False)  # (C_out, C_in, *kernel)

        gx = sp_fft.irfftn(gf @ wf, s=lengths, axes=axes, workers=_WORKERS)  # (*L, N, C_in)
        inner = tuple(slice(p, p + s - 2 * p) for p, s in zip(g.padding, g.padded, strict=True))
        grad_x = _spatial_last(gx[inner]).astype(dtype, copy=False)
        return grad_x, grad_w

    def clear_cache(self) -> None:
        self._cache = None


def _as_tuple(value: int | tuple[int, ...], dims: int, name: str) -> tuple[int, ...]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),) * dims
    if isinstance(value, tuple) and len(value) == dims and all(isinstance(v, int) for v in value):
        return value
    raise ConfigurationError(f"{name} must be an int or a tuple of {dims} ints, got {value!r}")


def convolution(x: Array, kernel: Array, padding: int | tuple[int, ...] = 0) -> Array:
    """Cross-correlate one array with a kernel of the same rank through the FFT.

    ``x: (*spatial)``, ``kernel: (*k)``, zero ``padding`` on every side of every axis;
    returns ``(*(spatial + 2 * padding - k + 1))``, as ``scipy.signal.correlate(...,
    "valid")`` on the padded input.

    >>> convolution(np.arange(5.0), np.array([1.0, 1.0])).round(6)
    array([1., 3., 5., 7.])
    """
    x = np.asarray(x)
    kernel = np.asarray(kernel)
    if x.ndim != kernel.ndim or not 1 <= x.ndim <= 3:
        raise ShapeError(
            "convolution",
            f"x and kernel of one rank from 1 to 3 (kernel rank {kernel.ndim})",
            x.shape,
        )
    pads = _as_tuple(padding, x.ndim, "convolution: padding")
    dtype = np.result_type(x, kernel, np.float32)
    y = FFT().forward(
        x[None, None].astype(dtype, copy=False),
        kernel[None, None].astype(dtype, copy=False),
        (1,) * x.ndim,
        pads,
        (1,) * x.ndim,
    )
    result: Array = y[0, 0]
    return result


def valid_convolution_cnn2d(x: Array, w: Array, b: Array | None = None) -> Array:
    """A CNN layer's 2-D convolution with ``"valid"`` padding, through the FFT.

    ``x: (N, C_in, H, W)``, ``w: (C_out, C_in, kh, kw)``, optional ``b: (C_out,)``; returns
    ``(N, C_out, H - kh + 1, W - kw + 1)``.

    >>> y = valid_convolution_cnn2d(np.ones((2, 3, 5, 5)), np.ones((4, 3, 2, 2)))
    >>> y.shape, float(y[0, 0, 0, 0])
    ((2, 4, 4, 4), 12.0)
    """
    x = np.asarray(x)
    w = np.asarray(w)
    if x.ndim != 4 or w.ndim != 4:
        raise ShapeError(
            "valid_convolution_cnn2d", "x (N, C, H, W) and w (C_out, C_in, kh, kw)", x.shape
        )
    dtype = np.result_type(x, w, np.float32)
    y = FFT().forward(
        x.astype(dtype, copy=False), w.astype(dtype, copy=False), (1, 1), (0, 0), (1, 1)
    )
    if b is not None:
        y += np.asarray(b, dtype=dtype).reshape(1, -1, 1, 1)
    return y
