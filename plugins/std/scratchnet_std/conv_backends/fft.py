"""Convolution in the frequency domain with real FFTs.

The transforms are ``scipy.fft``'s (multi-threaded, several times faster than
``numpy.fft.rfftn`` on batches of small images). Cross-correlation becomes a product of
transforms: ``Y[n, o] = sum_c X[n, c] * conj(W[o, c])``.
The sum over input channels is one batched matrix product per frequency,
``(F, N, C_in) @ (F, C_in, C_out)``, never an FFT per (sample, in, out) triple.
Transforms have the padded input's size (rounded up to a length ``scipy.fft`` transforms
fast, see `fast_length`): circular wrap-around cannot reach the valid outputs, so no extra
zero padding is needed.

Where the time goes, and what this module does about it:

- Layout. Arrays are transformed with their spatial axes first, ``(*spatial, N, C)``, so
  that a spectrum is already a stack of ``(N, C)`` matrices, one per frequency, and the FFT
  vectorises over contiguous channels. The callers' ``(N, C, *spatial)`` arrays move in by
  blocks of ``(N, C)`` pairs whose strided reads stay in cache (`_to_spatial_first`), and
  results move out through ``(N, *spatial, C)``: two copies, together a third of the time
  of one transposing copy, whose reads 4 KiB apart thrash the cache (`_to_channels_first`).
- Conjugates are never computed: the weight's spectrum is made conjugated directly and the
  output gradient's with ``ihfftn`` (a conjugated ``rfftn``), so every channel sum is a plain
  matrix product of (possibly transposed) views.
- Kernels are small: their spectra, and the weight gradient, which is only needed at the
  kernel taps, are dense DFTs by matrix products (`_kernel_spectrum`, `_kernel_gradient`),
  one axis at a time, instead of FFTs of mostly zero arrays. Large kernels use FFTs.
- Inverse transforms stop early: after each complex axis only the rows that reach the
  result (the output positions, the unpadded input) go on to the next axis (`_inverse`).

Forward keeps the input's and the weight's spectra for the backward that follows, which
then needs one forward transform and two inverse ones:

- ``dL/dw = IDFT(sum_n conj(G[n]) X[n])`` at the (dilated) kernel taps,
- ``dL/dx = IFFT(sum_o G[o] W[o])`` cropped to the input,

where ``G`` is the transform of the output gradient spread back onto the stride-1 grid.

The seed's helpers `convolution` and `valid_convolution_cnn2d` live here.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import fft as sp_fft

from scratchnet_core import ConfigurationError, ConvBackend, ShapeError
from scratchnet_core.interfaces import Array

from ._common import ConvGeometry, geometry
from ._cost import fft_seconds

__all__ = ["FFT", "convolution", "fast_length", "valid_convolution_cnn2d"]


_WORKERS = os.cpu_count() or 1
# An even 7-smooth length is taken over the next 5-smooth one when it has 5% fewer points:
# there pocketfft's radix-7 passes cost 0-15% more per point (14, 28, 42, 56, 84, 112), but
# 25-60% more on odd lengths (21, 63, 105; measured 2-D real transforms, there and back).
_SEVEN_SMOOTH_GAIN = 1.05
# Complex matrix products up to this many multiply-adds run on one thread in OpenBLAS
# (measured: 28 x 7 x 512 used two threads, 15 x 7 x 512 one).
_SERIAL_PRODUCT = 1 << 16


def _smooth(n: int, primes: tuple[int, ...]) -> bool:
    for p in primes:
        while n % p == 0:
            n //= p
    return n == 1


def fast_length(n: int) -> int:
    """Smallest length ``>= n`` that the real FFT transforms fast: 5-smooth, or even and
    7-smooth where that saves more than 5% of the points.

    >>> fast_length(28), fast_length(21), fast_length(97)
    (28, 24, 100)
    """
    five = int(sp_fft.next_fast_len(n, real=True))
    seven = next((m for m in range(n, five) if m % 2 == 0 and _smooth(m, (2, 3, 5, 7))), five)
    return seven if seven * _SEVEN_SMOOTH_GAIN < five else five


def _use_dft(kernel: int, length: int) -> bool:
    """Whether a kernel axis is transformed by a dense DFT (a matrix product) or an FFT.

    A DFT costs ``kernel`` multiply-adds per frequency, an FFT of the zero-padded kernel
    about ``log2(length)`` per point but at a fraction of a matrix product's speed.
    """
    return kernel <= 2 * math.log2(length) + 2


@lru_cache(maxsize=128)
def _phases(length: int, taps: int, step: int, inverse: bool, half: bool, dtype: str) -> Array:
    """DFT matrix between ``taps`` kernel taps ``step`` apart and the frequencies of ``length``.

    Forward (conjugated spectrum): ``(F, taps)``, ``exp(+2 pi i f t / length)``. Inverse:
    ``(taps, F)``, ``exp(+2 pi i f t / length) / length``; with ``half`` (the last, real axis)
    the columns of the frequencies that stand for two count twice.
    """
    f = np.arange(length // 2 + 1 if half else length)
    t = np.arange(taps) * step
    m = np.exp(2j * np.pi * (np.outer(f, t) % length) / length)
    if inverse:
        m = m.T / length
        if half:
            m[:, 1 : (length + 1) // 2] *= 2
    out = np.ascontiguousarray(m.astype(dtype))
    out.flags.writeable = False
    return out


def _to_spatial_first(a: Array, lengths: tuple[int, ...], where: tuple[slice, ...]) -> Array:
    """``a: (A, B, *spatial)`` placed at ``where`` in zeros of shape ``(*lengths, A, B)``."""
    d = a.ndim - 2
    n, c = a.shape[:2]
    buf = np.empty((*lengths, n, c), a.dtype)
    if any(s.step not in (None, 1) for s in where):
        buf.fill(0)
    else:  # zero only what ``a`` does not cover
        for i, s in enumerate(where):
            lead = (slice(None),) * i
            buf[(*lead, slice(0, s.start))] = 0
            buf[(*lead, slice(s.stop, None))] = 0
    # blocks of (A, B) pairs of about 128 KiB: the strided reads of a block stay in cache
    pairs = n * c
    step = max(1, (1 << 17) // max(1, a[0, 0].nbytes), -(-pairs // 64))
    src = a.reshape(pairs, *a.shape[2:])
    dst = buf.reshape(*lengths, pairs)[where]
    order = (*range(1, 1 + d), 0)
    for start in range(0, pairs, step):
        dst[..., start : start + step] = src[start : start + step].transpose(order)
    return buf


def _to_channels_first(a: Array, dtype: Any) -> Array:
    """``(*spatial, A, B)`` (any strides) -> contiguous ``(A, B, *spatial)`` of ``dtype``."""
    d = a.ndim - 2
    n, c = a.shape[d:]
    tmp = np.empty((n, *a.shape[:d], c), a.dtype)
    tmp[...] = a.transpose(d, *range(d), d + 1)
    out = np.empty((n, c, *a.shape[:d]), dtype)
    out.reshape(n, c, -1)[...] = tmp.reshape(n, -1, c).transpose(0, 2, 1)
    return out


def _kernel_taps(g: ConvGeometry) -> tuple[slice, ...]:
    """Where the kernel's taps sit in its dilated extent."""
    return tuple(slice(0, k, d) for k, d in zip(g.dilated, g.dilation, strict=True))


def _along(m: Array, t: Array, axis: int) -> Array:
    """Apply the matrix ``m: (p, q)`` along ``axis`` (of length ``q``, not the last) of ``t``.

    Products ``(p, q) @ (q, columns)``, one per position of the other leading axes, with
    at most `_SERIAL_PRODUCT` multiply-adds each: OpenBLAS runs those on the calling
    thread. Larger ones wake its threads, which saves microseconds on a quiet machine and
    cost up to 100 ms a call when another process kept a core busy (measured on 2 cores).
    """
    out = np.empty((*t.shape[:axis], m.shape[0], *t.shape[axis + 1 :]), np.result_type(m, t))
    src, dst = np.moveaxis(t, axis, -2), np.moveaxis(out, axis, -2)
    columns = t.shape[-1]
    step = max(1, min(columns, _SERIAL_PRODUCT // m.size))
    for start in range(0, columns, step):
        np.matmul(m, src[..., start : start + step], out=dst[..., start : start + step])
    return out


def _kernel_spectrum(w: Array, g: ConvGeometry, lengths: tuple[int, ...]) -> Array:
    """``conj(rfftn(w))`` of the dilated kernel at ``lengths``: ``(*F, C_in, C_out)``."""
    d = g.dims
    ctype = np.result_type(w, np.complex64)
    if not all(_use_dft(k, n) for k, n in zip(g.kernel, lengths, strict=True)):
        spread = _to_spatial_first(w.transpose(1, 0, *range(2, 2 + d)), lengths, _kernel_taps(g))
        spectrum: Array = sp_fft.ihfftn(  # ihfftn(v, norm="forward") == conj(rfftn(v))
            spread, axes=tuple(range(d)), norm="forward", overwrite_x=True, workers=_WORKERS
        )
        return spectrum
    # (*kernel, C_in * C_out); then one axis at a time, the last (half spectrum) first
    t: Array = np.ascontiguousarray(w.transpose(*range(2, 2 + d), 1, 0), dtype=ctype)
    t = t.reshape(*g.kernel, g.in_channels * g.out_channels)
    for i in range(d - 1, -1, -1):
        half = i == d - 1
        t = _along(_phases(lengths[i], g.kernel[i], g.dilation[i], False, half, ctype.str), t, i)
    return t.reshape(*t.shape[:-1], g.in_channels, g.out_channels)


def _kernel_gradient(s: Array, g: ConvGeometry, lengths: tuple[int, ...], dtype: Any) -> Array:
    """The weight gradient from its spectrum ``s: (*F, C_out, C_in)``, at the kernel taps."""
    d = g.dims
    if not all(_use_dft(k, n) for k, n in zip(g.kernel, lengths, strict=True)):
        full = sp_fft.irfftn(s, s=lengths, axes=tuple(range(d)), workers=_WORKERS)
        return _to_channels_first(full[_kernel_taps(g)], dtype)
    t = s.reshape(*s.shape[:d], g.in_channels * g.out_channels)
    for i in range(d):
        half = i == d - 1
        t = _along(_phases(lengths[i], g.kernel[i], g.dilation[i], True, half, s.dtype.str), t, i)
    taps = t.real.reshape(*g.kernel, g.out_channels, g.in_channels)
    return _to_channels_first(taps, dtype)


def _product(a: Array, b: Array) -> Array:
    """``a @ b`` over stacks of per-frequency matrices; for one input channel an outer
    product (broadcast), which skips a BLAS call per frequency."""
    if a.shape[-1] == 1:
        outer: Array = a * b
        return outer
    product: Array = np.matmul(a, b)
    return product


def _inverse(
    spec: Array, lengths: tuple[int, ...], keep: tuple[slice, ...], conj: bool, dtype: Any
) -> Array:
    """``irfftn`` (``conj``: of the conjugate) of ``spec: (*F, A, B)`` over its leading axes,
    at ``keep`` only, as a contiguous ``(A, B, *kept)`` array of ``dtype``.

    One axis at a time; after each complex axis only the kept rows go on to the next. The
    last (real) pass reads its input with ``A`` moved first, so that its output is already
    ``(A, *kept, B)`` and one copy in cache-sized runs makes the callers' layout.
    """
    d = len(lengths)
    for i in range(d - 1):
        if conj:  # fft(v, norm="forward") == conj(ifft(conj(v)))
            spec = sp_fft.fft(spec, axis=i, norm="forward", overwrite_x=i > 0, workers=_WORKERS)
        else:
            spec = sp_fft.ifft(spec, axis=i, overwrite_x=i > 0, workers=_WORKERS)
        spec = spec[(*(slice(None),) * i, keep[i])]
    spec = np.moveaxis(spec, d, 0)  # (A, *kept, F, B)
    if conj:  # hfft(v, norm="forward") == irfft(conj(v))
        r = sp_fft.hfft(spec, n=lengths[-1], axis=d, norm="forward", workers=_WORKERS)
    else:
        r = sp_fft.irfft(spec, n=lengths[-1], axis=d, workers=_WORKERS)
    kept = r[(*(slice(None),) * d, keep[-1])]  # (A, *kept, B)
    out = np.empty((kept.shape[0], kept.shape[-1], *kept.shape[1:-1]), dtype)
    out[...] = kept.transpose(0, d + 1, *range(1, d + 1))
    return out


class FFT(ConvBackend):
    """Real-FFT convolution; its cost hardly grows with the kernel size.

    Arrays are transformed with their spatial axes first, ``(*spatial, N, C)``, so that the
    spectrum is already a stack of ``(N, C)`` matrices, one per frequency, for the channel
    sums; no complex array is ever transposed or conjugated.

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
    def _plan(
        g: ConvGeometry,
    ) -> tuple[tuple[int, ...], tuple[int, ...], tuple[slice, ...], tuple[slice, ...]]:
        """FFT lengths, spatial axes, where the input sits in the padded grid, and the
        stride-1 grid positions of the outputs."""
        inner = tuple(slice(p, s - p) for p, s in zip(g.padding, g.padded, strict=True))
        keep = tuple(slice(0, st * (n - 1) + 1, st) for st, n in zip(g.stride, g.out, strict=True))
        return tuple(fast_length(s) for s in g.padded), tuple(range(g.dims)), inner, keep

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

    def _spectra(self, x: Array, w: Array, g: ConvGeometry) -> tuple[Array, Array]:
        """The input's spectrum ``(*F, N, C_in)`` and the weight's, conjugated,
        ``(*F, C_in, C_out)``."""
        lengths, axes, inner, _ = self._plan(g)
        xf = sp_fft.rfftn(
            _to_spatial_first(x, lengths, inner), axes=axes, overwrite_x=True, workers=_WORKERS
        )
        return xf, _kernel_spectrum(w, g, lengths)

    def forward(
        self,
        x: Array,
        w: Array,
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
    ) -> Array:
        g = geometry(x, w, stride, padding, dilation, "fft")
        lengths, _, _, keep = self._plan(g)
        xf, wc = self._spectra(x, w, g)
        y = _inverse(_product(xf, wc), lengths, keep, False, np.result_type(x, w))
        self._cache = (x, w, g.stride, g.padding, g.dilation, xf, wc)
        return y

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
        lengths, axes, inner, keep = self._plan(g)
        cache, self._cache = self._cache, None
        if (
            cache is not None
            and cache[0] is x
            and cache[1] is w
            and cache[2:5] == (g.stride, g.padding, g.dilation)
        ):
            xf, wc = cache[5], cache[6]
        else:
            xf, wc = self._spectra(x, w, g)
        dtype = np.result_type(x, w)
        # conj(G): the output gradient on the stride-1 grid of valid positions, transformed
        gc = sp_fft.ihfftn(
            _to_spatial_first(grad_y, lengths, keep),
            axes=axes,
            norm="forward",
            overwrite_x=True,
            workers=_WORKERS,
        )  # (*F, N, C_out)
        grad_w = _kernel_gradient(_product(gc.swapaxes(-1, -2), xf), g, lengths, dtype)
        grad_x = _inverse(_product(gc, wc.swapaxes(-1, -2)), lengths, inner, True, dtype)
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
