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

Memory: every intermediate array (the spatial-first copies, the spectra, the channel sums,
the partial inverse transforms) lives in a per-instance `Workspace` of a few flat buffers,
reused from call to call; only ``y``, ``dL/dx`` and ``dL/dw`` are new arrays. Without it a
step allocated and freed 25-35 MB, which glibc gives back to the system at the end of every
call once its dynamic thresholds settle, so that the next call faulted all of it in again
(5,400 page faults and twice the time per step on the issue's 7x7 shape in a process that
ran nothing else). The real transforms write into the workspace through the ``out``
argument of SciPy's pocketfft binding (`_r2c`, `_c2r`; public ``scipy.fft`` plus a copy
where that binding is missing or changed), the complex passes in place through
``overwrite_x``. `FFT.clear_cache` releases the workspace.

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
from ._workspace import Workspace

__all__ = ["FFT", "Workspace", "convolution", "fast_length", "valid_convolution_cnn2d"]


_WORKERS = os.cpu_count() or 1
# An even 7-smooth length is taken over the next 5-smooth one when it has 5% fewer points:
# there pocketfft's radix-7 passes cost 0-15% more per point (14, 28, 42, 56, 84, 112), but
# 25-60% more on odd lengths (21, 63, 105; measured 2-D real transforms, there and back).
_SEVEN_SMOOTH_GAIN = 1.05
# Complex matrix products up to this many multiply-adds run on one thread in OpenBLAS
# (measured: 28 x 7 x 512 used two threads, 15 x 7 x 512 one).
_SERIAL_PRODUCT = 1 << 16


def _probe_pocketfft() -> Any:
    """SciPy's pocketfft binding if its real transforms take ``out`` as measured on SciPy
    1.17 (``r2c(a, axes, forward, inorm, out, nthreads)``, ``c2r(a, axes, lastsize,
    forward, inorm, out, nthreads)``), else ``None``: the public functions and a copy."""
    try:
        from scipy.fft._pocketfft import pypocketfft as binding
    except ImportError:
        return None
    try:
        spectrum = np.empty(3, np.complex128)
        back = np.empty(4)
        binding.r2c(np.arange(4.0), (0,), True, 0, spectrum, 1)
        binding.c2r(spectrum, (0,), 4, False, 2, back, 1)
    except Exception:  # any other signature: fall back to the public functions
        return None
    return binding if np.allclose(back, np.arange(4.0)) else None


_pocketfft: Any = _probe_pocketfft()


def _r2c(a: Array, axes: tuple[int, ...], conj: bool, out: Array) -> Array:
    """``rfftn(a)`` over ``axes`` into ``out`` (``conj``: its conjugate, unnormalised)."""
    if _pocketfft is not None:
        result: Array = _pocketfft.r2c(a, axes, not conj, 0, out, _WORKERS)
        return result
    if conj:  # ihfftn(v, norm="forward") == conj(rfftn(v))
        out[...] = sp_fft.ihfftn(a, axes=axes, norm="forward", workers=_WORKERS)
    else:
        out[...] = sp_fft.rfftn(a, axes=axes, workers=_WORKERS)
    return out


def _c2r(a: Array, axes: tuple[int, ...], length: int, conj: bool, out: Array) -> Array:
    """``irfftn(a)`` over ``axes`` into ``out``, the last axis ``length`` long (``conj``:
    ``irfftn(conj(a))``)."""
    if _pocketfft is not None:
        result: Array = _pocketfft.c2r(a, axes, length, conj, 2, out, _WORKERS)
        return result
    if conj:  # hfft(v, norm="forward") == irfft(conj(v)), one axis only
        out[...] = sp_fft.hfft(a, n=length, axis=axes[0], norm="forward", workers=_WORKERS)
    else:
        s = (*(a.shape[i] for i in axes[:-1]), length)
        out[...] = sp_fft.irfftn(a, s=s, axes=axes, workers=_WORKERS)
    return out


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


def _to_spatial_first(a: Array, out: Array, where: tuple[slice, ...]) -> Array:
    """``a: (A, B, *spatial)`` placed at ``where`` in ``out: (*lengths, A, B)``, zero
    elsewhere."""
    d = a.ndim - 2
    n, c = a.shape[:2]
    if any(s.step not in (None, 1) for s in where):
        out.fill(0)
    else:  # zero only what ``a`` does not cover
        for i, s in enumerate(where):
            lead = (slice(None),) * i
            out[(*lead, slice(0, s.start))] = 0
            out[(*lead, slice(s.stop, None))] = 0
    # blocks of (A, B) pairs of about 128 KiB: the strided reads of a block stay in cache
    pairs = n * c
    step = max(1, (1 << 17) // max(1, a[0, 0].nbytes), -(-pairs // 64))
    src = a.reshape(pairs, *a.shape[2:])
    dst = out.reshape(*out.shape[:d], pairs)[where]
    order = (*range(1, 1 + d), 0)
    for start in range(0, pairs, step):
        dst[..., start : start + step] = src[start : start + step].transpose(order)
    return out


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


def _along(m: Array, t: Array, axis: int, ws: Workspace, slot: str) -> Array:
    """Apply the matrix ``m: (p, q)`` along ``axis`` (of length ``q``, not the last) of ``t``,
    into the workspace's ``slot``.

    Products ``(p, q) @ (q, columns)``, one per position of the other leading axes, with
    at most `_SERIAL_PRODUCT` multiply-adds each: OpenBLAS runs those on the calling
    thread. Larger ones wake its threads, which saves microseconds on a quiet machine and
    cost up to 100 ms a call when another process kept a core busy (measured on 2 cores).
    """
    shape = (*t.shape[:axis], m.shape[0], *t.shape[axis + 1 :])
    out = ws.get(slot, shape, np.result_type(m, t))
    src, dst = np.moveaxis(t, axis, -2), np.moveaxis(out, axis, -2)
    columns = t.shape[-1]
    step = max(1, min(columns, _SERIAL_PRODUCT // m.size))
    for start in range(0, columns, step):
        np.matmul(m, src[..., start : start + step], out=dst[..., start : start + step])
    return out


def _scratch(i: int) -> str:
    """The workspace slot of the ``i``-th step of a kernel transform: two slots in turn, so
    that a step never writes where it reads."""
    return ("kernel_a", "kernel_b")[i % 2]


def _kernel_spectrum(w: Array, g: ConvGeometry, lengths: tuple[int, ...], ws: Workspace) -> Array:
    """``conj(rfftn(w))`` of the dilated kernel at ``lengths``: ``(*F, C_in, C_out)``, in
    the workspace's ``"wc"`` slot."""
    d = g.dims
    ctype = np.result_type(w, np.complex64)
    cin, cout = g.in_channels, g.out_channels
    freqs = (*lengths[:-1], lengths[-1] // 2 + 1)
    if not all(_use_dft(k, n) for k, n in zip(g.kernel, lengths, strict=True)):
        spread = _to_spatial_first(
            w.transpose(1, 0, *range(2, 2 + d)),
            ws.get("kernel_a", (*lengths, cin, cout), w.dtype),
            _kernel_taps(g),
        )
        return _r2c(spread, tuple(range(d)), True, ws.get("wc", (*freqs, cin, cout), ctype))
    # (*kernel, C_in * C_out); then one axis at a time, the last (half spectrum) first
    t = ws.get(_scratch(0), (*g.kernel, cin * cout), ctype)
    t.reshape(*g.kernel, cin, cout)[...] = w.transpose(*range(2, 2 + d), 1, 0)
    for n, i in enumerate(range(d - 1, -1, -1), start=1):
        m = _phases(lengths[i], g.kernel[i], g.dilation[i], False, i == d - 1, ctype.str)
        t = _along(m, t, i, ws, "wc" if n == d else _scratch(n))
    return t.reshape(*t.shape[:-1], cin, cout)


def _kernel_gradient(
    s: Array, g: ConvGeometry, lengths: tuple[int, ...], dtype: Any, ws: Workspace
) -> Array:
    """The weight gradient from its spectrum ``s: (*F, C_out, C_in)``, at the kernel taps."""
    d = g.dims
    if not all(_use_dft(k, n) for k, n in zip(g.kernel, lengths, strict=True)):
        full = ws.get("kernel_a", (*lengths, *s.shape[d:]), s.real.dtype)
        _c2r(s, tuple(range(d)), lengths[-1], False, full)
        return _to_channels_first(full[_kernel_taps(g)], dtype)
    t = s.reshape(*s.shape[:d], g.in_channels * g.out_channels)
    for i in range(d):
        m = _phases(lengths[i], g.kernel[i], g.dilation[i], True, i == d - 1, s.dtype.str)
        t = _along(m, t, i, ws, _scratch(i))
    taps = t.real.reshape(*g.kernel, g.out_channels, g.in_channels)
    return _to_channels_first(taps, dtype)


def _product(a: Array, b: Array, out: Array) -> Array:
    """``a @ b`` over stacks of per-frequency matrices into ``out``; for one input channel
    an outer product (broadcast), which skips a BLAS call per frequency."""
    if a.shape[-1] == 1:
        np.multiply(a, b, out=out)
    else:
        np.matmul(a, b, out=out)
    return out


def _inverse(
    spec: Array,
    lengths: tuple[int, ...],
    keep: tuple[slice, ...],
    conj: bool,
    dtype: Any,
    ws: Workspace,
) -> Array:
    """``irfftn`` (``conj``: of the conjugate) of ``spec: (*F, A, B)`` over its leading axes,
    at ``keep`` only, as a new contiguous ``(A, B, *kept)`` array of ``dtype``; ``spec`` is
    overwritten.

    One axis at a time, in place; after each complex axis only the kept rows go on to the
    next. The last (real) pass reads its input with ``A`` moved first, so that its output
    (the workspace's ``"real"`` slot) is already ``(A, *kept, B)`` and one copy in
    cache-sized runs makes the callers' layout.
    """
    d = len(lengths)
    for i in range(d - 1):
        if conj:  # fft(v, norm="forward") == conj(ifft(conj(v)))
            spec = sp_fft.fft(spec, axis=i, norm="forward", overwrite_x=True, workers=_WORKERS)
        else:
            spec = sp_fft.ifft(spec, axis=i, overwrite_x=True, workers=_WORKERS)
        spec = spec[(*(slice(None),) * i, keep[i])]
    spec = np.moveaxis(spec, d, 0)  # (A, *kept, F, B)
    shape = (*spec.shape[:d], lengths[-1], spec.shape[-1])
    # hfft(v, norm="forward") == irfft(conj(v))
    r = _c2r(spec, (d,), lengths[-1], conj, ws.get("real", shape, spec.real.dtype))
    kept = r[(*(slice(None),) * d, keep[-1])]  # (A, *kept, B)
    out = np.empty((kept.shape[0], kept.shape[-1], *kept.shape[1:-1]), dtype)
    out[...] = kept.transpose(0, d + 1, *range(1, d + 1))
    return out


class FFT(ConvBackend):
    """Real-FFT convolution; its cost hardly grows with the kernel size.

    Arrays are transformed with their spatial axes first, ``(*spatial, N, C)``, so that the
    spectrum is already a stack of ``(N, C)`` matrices, one per frequency, for the channel
    sums; no complex array is ever transposed or conjugated.

    Intermediate arrays live in ``workspace`` (a `Workspace`), reused by every call: about
    17-24 MB in float32 on the benchmark grid's shapes, a buffer per slot as large as the
    largest geometry since the last `clear_cache` asked for. `clear_cache` releases it.

    Examples
    --------
    >>> x, w = np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3))
    >>> backend = FFT()
    >>> backend.forward(x, w, (1, 1), (0, 0), (1, 1)).round(6)[0, 0]
    array([[9., 9., 9.],
           [9., 9., 9.],
           [9., 9., 9.]])
    >>> backend.workspace.nbytes > 0
    True
    >>> backend.clear_cache(); backend.workspace.nbytes
    0
    """

    def __init__(self) -> None:
        self._cache: tuple[Any, ...] | None = None
        self.workspace = Workspace()

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
        ``(*F, C_in, C_out)``, in the workspace's ``"xf"`` and ``"wc"`` slots."""
        ws = self.workspace
        lengths, axes, inner, _ = self._plan(g)
        freqs = (*lengths[:-1], lengths[-1] // 2 + 1)
        ctype = np.result_type(x, np.complex64)
        spread = _to_spatial_first(x, ws.get("real", (*lengths, *x.shape[:2]), x.dtype), inner)
        xf = _r2c(spread, axes, False, ws.get("xf", (*freqs, *x.shape[:2]), ctype))
        return xf, _kernel_spectrum(w, g, lengths, ws)

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
        self._cache = None  # the workspace's spectra are about to change
        xf, wc = self._spectra(x, w, g)
        spec = self.workspace.get("spec", (*xf.shape[:-1], wc.shape[-1]), xf.dtype)
        y = _inverse(
            _product(xf, wc, spec), lengths, keep, False, np.result_type(x, w), self.workspace
        )
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
        ws = self.workspace
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
        n, cin, cout = g.batch, g.in_channels, g.out_channels
        # conj(G): the output gradient on the stride-1 grid of valid positions, transformed
        spread = _to_spatial_first(grad_y, ws.get("real", (*lengths, n, cout), x.dtype), keep)
        gc = _r2c(spread, axes, True, ws.get("spec", (*xf.shape[:-2], n, cout), xf.dtype))
        gw = _product(
            gc.swapaxes(-1, -2), xf, ws.get("spec2", (*xf.shape[:-2], cout, cin), xf.dtype)
        )
        grad_w = _kernel_gradient(gw, g, lengths, dtype, ws)
        gx = _product(gc, wc.swapaxes(-1, -2), ws.get("spec2", xf.shape, xf.dtype))
        grad_x = _inverse(gx, lengths, inner, True, dtype, ws)
        return grad_x, grad_w

    def clear_cache(self) -> None:
        """Drop the spectra kept for the backward and release the workspace.

        >>> backend, x, w = FFT(), np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3))
        >>> _ = backend.forward(x, w, (1, 1), (0, 0), (1, 1))
        >>> backend.clear_cache(); backend.workspace.nbytes
        0
        """
        self._cache = None
        self.workspace.clear()


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
