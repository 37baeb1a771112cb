"""The compiled kernels (numba, ``cache=True``): per-image im2col + GEMM, and Winograd.

Every kernel splits the batch into ``parts`` contiguous ranges of images, one per thread
(``prange``), and works on one image (im2col) or a small block of images (Winograd) at a
time, so its buffers stay in the core's cache; each thread calls single-threaded GEMM in
place on them (the caller limits BLAS to one thread around the call).

- General path, any 1-, 2- or 3-d geometry (1-d and 2-d arrive with unit leading spatial
  axes, as 3-d): ``cols (C_in K, P)`` is one image's receptive fields, ``y[n] = w @ cols``;
  backward recomputes ``cols``, accumulates ``dw += gy[n] @ cols^T`` per thread, and
  scatters ``dcols = w^T @ gy[n]`` back (col2im). Padding is never materialised: taps
  outside the input read zero.
- Winograd F(2x2, 3x3), 2-d, 3x3, stride 1, dilation 1: each 4x4 input tile ``d`` becomes
  ``V = B^T d B``, the kernel ``U = G g G^T``, and the 2x2 output tile is
  ``A^T (U . V) A`` where the product over channels is 16 GEMMs ``M[e] = U[e] @ V[e]``.
  Backward is the exact transpose of that linear map: with ``Mg = A dY A^T``,
  ``dU[e] += Mg[e] @ V[e]^T`` and ``dV[e] = U[e]^T @ Mg[e]``, ``dd = B dV B^T`` scattered
  back into the overlapping tiles. 2.25x fewer multiplications than im2col.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from ._blas import gemm

__all__ = [
    "conv_backward",
    "conv_backward_range",
    "conv_forward",
    "conv_forward_range",
    "winograd_backward",
    "winograd_backward_range",
    "winograd_forward",
    "winograd_forward_range",
]

# The kernels are typed through numba, not mypy: every array argument is ``Any`` here.
# geometry vector ``g`` (int64): kd, kh, kw, sd, sh, sw, pd, ph, pw, dd, dh, dw, od, oh, ow


@njit(cache=True, nogil=True)
def _span(k: int, s: int, p: int, d: int, size: int, out: int) -> tuple[int, int]:
    """Output positions ``[lo, hi)`` whose tap ``k`` reads inside ``[0, size)``."""
    off = k * d - p
    lo = -((off) // s) if off < 0 else 0  # ceil(-off / s)
    hi = (size - 1 - off) // s + 1 if size - 1 - off >= 0 else 0
    hi = min(hi, out)
    lo = min(lo, hi)
    return lo, hi


@njit(cache=True, nogil=True)
def _im2col(xn: Any, cols: Any, g: Any) -> None:
    """``cols[(c, a, b, e), (i, r, j)] = xn[c, i sd + a dd - pd, r sh + b dh - ph, ...]``."""
    kd, kh, kw, sd, sh, sw = g[0], g[1], g[2], g[3], g[4], g[5]
    pd, ph, pw, dd, dh, dw = g[6], g[7], g[8], g[9], g[10], g[11]
    od, oh, ow = g[12], g[13], g[14]
    n_c, size_d, size_h, size_w = xn.shape
    row = 0
    for c in range(n_c):
        for a in range(kd):
            i0, i1 = _span(a, sd, pd, dd, size_d, od)
            for b in range(kh):
                r0, r1 = _span(b, sh, ph, dh, size_h, oh)
                for e in range(kw):
                    j0, j1 = _span(e, sw, pw, dw, size_w, ow)
                    off = e * dw - pw
                    dst = cols[row]
                    for i in range(od):
                        for r in range(oh):
                            base = (i * oh + r) * ow
                            if i < i0 or i >= i1 or r < r0 or r >= r1:
                                dst[base : base + ow] = 0.0
                                continue
                            src = xn[c, i * sd + a * dd - pd, r * sh + b * dh - ph]
                            dst[base : base + j0] = 0.0
                            dst[base + j1 : base + ow] = 0.0
                            if sw == 1:
                                dst[base + j0 : base + j1] = src[j0 + off : j1 + off]
                            else:
                                for j in range(j0, j1):
                                    dst[base + j] = src[j * sw + off]
                    row += 1


@njit(cache=True, nogil=True)
def _col2im(dcols: Any, gxn: Any, g: Any) -> None:
    """The transpose of `_im2col`: ``gxn = 0``, then every column entry added back."""
    kd, kh, kw, sd, sh, sw = g[0], g[1], g[2], g[3], g[4], g[5]
    pd, ph, pw, dd, dh, dw = g[6], g[7], g[8], g[9], g[10], g[11]
    od, oh, ow = g[12], g[13], g[14]
    n_c, size_d, size_h, size_w = gxn.shape
    gxn[...] = 0.0
    row = 0
    for c in range(n_c):
        for a in range(kd):
            i0, i1 = _span(a, sd, pd, dd, size_d, od)
            for b in range(kh):
                r0, r1 = _span(b, sh, ph, dh, size_h, oh)
                for e in range(kw):
                    j0, j1 = _span(e, sw, pw, dw, size_w, ow)
                    off = e * dw - pw
                    src = dcols[row]
                    for i in range(i0, i1):
                        for r in range(r0, r1):
                            base = (i * oh + r) * ow
                            dst = gxn[c, i * sd + a * dd - pd, r * sh + b * dh - ph]
                            if sw == 1:
                                dst[j0 + off : j1 + off] += src[base + j0 : base + j1]
                            else:
                                for j in range(j0, j1):
                                    dst[j * sw + off] += src[base + j]
                    row += 1


@njit(cache=True, nogil=True)
def conv_forward_range(x: Any, w2: Any, y: Any, g: Any, start: int, stop: int) -> None:
    """``y[n] (C_out, P) = w2 (C_out, C_in K) @ im2col(x[n])`` for images ``start:stop``."""
    cols = np.empty((w2.shape[1], y.shape[2]), x.dtype)
    for n in range(start, stop):
        _im2col(x[n], cols, g)
        gemm(False, False, w2, cols, y[n], 0.0)


@njit(cache=True, nogil=True)
def conv_backward_range(
    x: Any, w2: Any, gy: Any, gx: Any, gw: Any, g: Any, start: int, stop: int
) -> None:
    """``gx[start:stop]`` (every entry written) and ``gw (C_out, C_in K)`` for those images."""
    cols = np.empty((w2.shape[1], gy.shape[2]), x.dtype)
    dcols = np.empty_like(cols)
    gw[...] = 0.0
    for n in range(start, stop):
        _im2col(x[n], cols, g)
        gemm(False, True, gy[n], cols, gw, 1.0)
        gemm(True, False, w2, gy[n], dcols, 0.0)
        _col2im(dcols, gx[n], g)


@njit(parallel=True, cache=True)
def conv_forward(x: Any, w2: Any, y: Any, g: Any, parts: int) -> None:
    """`conv_forward_range` on ``parts`` ranges of images in parallel."""
    n_img = x.shape[0]
    for t in prange(parts):
        conv_forward_range(x, w2, y, g, t * n_img // parts, (t + 1) * n_img // parts)


@njit(parallel=True, cache=True)
def conv_backward(x: Any, w2: Any, gy: Any, gx: Any, gw_parts: Any, g: Any, parts: int) -> None:
    """`conv_backward_range` in parallel, ``gw_parts[t]`` for range ``t``."""
    n_img = x.shape[0]
    for t in prange(parts):
        start, stop = t * n_img // parts, (t + 1) * n_img // parts
        conv_backward_range(x, w2, gy, gx, gw_parts[t], g, start, stop)


# ------------------------------------------------------------------------------ Winograd


@njit(cache=True, nogil=True)
def _wino_input(x: Any, v: Any, lo: int, hi: int, ph: int, pw: int, tw: int) -> None:
    """``v[e, c, (n - lo) T + t] = (B^T d B)[e]`` for each 4x4 input tile ``d``.

    Per tile row: the four input rows are copied into a zero-bordered buffer, combined
    along the rows over the whole width (``B^T``), then along the columns tile by tile
    (``B``); the inner loops run over the tiles of a row, so they vectorise."""
    n_c, size_h, size_w = x.shape[1], x.shape[2], x.shape[3]
    n_t = v.shape[2] // (hi - lo)
    th = n_t // tw
    width = 2 * tw + 2
    rows = np.zeros((4, width), x.dtype)
    t = np.empty((4, width), x.dtype)
    x_lo, x_hi = max(0, -pw), min(size_w, width - pw)
    for n in range(lo, hi):
        for c in range(n_c):
            xc = x[n, c]
            for ty in range(th):
                for r in range(4):
                    yy = 2 * ty - ph + r
                    if 0 <= yy < size_h:
                        rows[r, x_lo + pw : x_hi + pw] = xc[yy, x_lo:x_hi]
                    else:
                        rows[r, :] = 0.0
                for j in range(width):
                    a0, a1, a2, a3 = rows[0, j], rows[1, j], rows[2, j], rows[3, j]
                    t[0, j] = a0 - a2
                    t[1, j] = a1 + a2
                    t[2, j] = a2 - a1
                    t[3, j] = a1 - a3
                base = (n - lo) * n_t + ty * tw
                for i in range(4):
                    ti = t[i]
                    v0, v1, v2, v3 = v[4 * i, c], v[4 * i + 1, c], v[4 * i + 2, c], v[4 * i + 3, c]
                    for tx in range(tw):
                        a0, a1, a2, a3 = ti[2 * tx], ti[2 * tx + 1], ti[2 * tx + 2], ti[2 * tx + 3]
                        v0[base + tx] = a0 - a2
                        v1[base + tx] = a1 + a2
                        v2[base + tx] = a2 - a1
                        v3[base + tx] = a1 - a3


@njit(cache=True, nogil=True)
def _wino_output(m: Any, y: Any, lo: int, hi: int, tw: int) -> None:
    """``y[n, o, tile] = A^T m A`` (the 2x2 outputs that exist) from ``m: (16, O, cols)``."""
    n_o, out_h, out_w = y.shape[1], y.shape[2], y.shape[3]
    n_t = m.shape[2] // (hi - lo)
    th = n_t // tw
    q = np.empty(8, m.dtype)
    for n in range(lo, hi):
        col0 = (n - lo) * n_t
        for o in range(n_o):
            yo = y[n, o]
            for ty in range(th):
                for tx in range(tw):
                    col = col0 + ty * tw + tx
                    for s in range(4):  # A^T along rows
                        a0, a1, a2, a3 = (
                            m[s, o, col],
                            m[4 + s, o, col],
                            m[8 + s, o, col],
                            m[12 + s, o, col],
                        )
                        q[s] = a0 + a1 + a2
                        q[4 + s] = a1 - a2 - a3
                    for r in range(2):  # A along columns
                        yy = 2 * ty + r
                        if yy < out_h:
                            a0, a1, a2, a3 = q[4 * r], q[4 * r + 1], q[4 * r + 2], q[4 * r + 3]
                            yo[yy, 2 * tx] = a0 + a1 + a2
                            if 2 * tx + 1 < out_w:
                                yo[yy, 2 * tx + 1] = a1 - a2 - a3


@njit(cache=True, nogil=True)
def _wino_grad_output(gy: Any, mg: Any, lo: int, hi: int, tw: int) -> None:
    """``mg[e, o, col] = (A dY A^T)[e]`` for each 2x2 output-gradient tile (zero outside)."""
    n_o, out_h, out_w = gy.shape[1], gy.shape[2], gy.shape[3]
    n_t = mg.shape[2] // (hi - lo)
    th = n_t // tw
    q = np.empty(8, mg.dtype)
    for n in range(lo, hi):
        col0 = (n - lo) * n_t
        for o in range(n_o):
            go = gy[n, o]
            for ty in range(th):
                y0 = 2 * ty
                for tx in range(tw):
                    x0 = 2 * tx
                    col = col0 + ty * tw + tx
                    q[0] = go[y0, x0]
                    q[1] = go[y0, x0 + 1] if x0 + 1 < out_w else 0.0
                    q[2] = go[y0 + 1, x0] if y0 + 1 < out_h else 0.0
                    q[3] = go[y0 + 1, x0 + 1] if y0 + 1 < out_h and x0 + 1 < out_w else 0.0
                    # A along rows, (g0, g0 + g1, g0 - g1, -g1), for each of the two columns
                    for s in range(2):
                        a0, a1 = q[s], q[2 + s]
                        q[4 + s], q[6 + s] = a0 + a1, a0 - a1
                    rows = ((q[0], q[1]), (q[4], q[5]), (q[6], q[7]), (-q[2], -q[3]))
                    for r in range(4):  # and along columns
                        a, b = rows[r]
                        mg[4 * r, o, col] = a
                        mg[4 * r + 1, o, col] = a + b
                        mg[4 * r + 2, o, col] = a - b
                        mg[4 * r + 3, o, col] = -b


@njit(cache=True, nogil=True)
def _wino_grad_input(dv: Any, gx: Any, lo: int, hi: int, ph: int, pw: int, tw: int) -> None:
    """``gx[n] = 0``, then ``B dV B^T`` of every tile added where the tile lies in ``x``."""
    n_c, size_h, size_w = gx.shape[1], gx.shape[2], gx.shape[3]
    n_t = dv.shape[2] // (hi - lo)
    th = n_t // tw
    d = np.empty(16, gx.dtype)
    for n in range(lo, hi):
        gx[n] = 0.0
        col0 = (n - lo) * n_t
        for c in range(n_c):
            gc = gx[n, c]
            for ty in range(th):
                y0 = 2 * ty - ph
                for tx in range(tw):
                    x0 = 2 * tx - pw
                    col = col0 + ty * tw + tx
                    for r in range(4):  # B along rows of dV: (v0, v1 - v2 + v3, v1 + v2 - v0, -v3)
                        a0, a1, a2, a3 = (
                            dv[4 * r, c, col],
                            dv[4 * r + 1, c, col],
                            dv[4 * r + 2, c, col],
                            dv[4 * r + 3, c, col],
                        )
                        d[4 * r] = a0
                        d[4 * r + 1] = a1 - a2 + a3
                        d[4 * r + 2] = a1 + a2 - a0
                        d[4 * r + 3] = -a3
                    for s in range(4):  # and along columns
                        a0, a1, a2, a3 = d[s], d[4 + s], d[8 + s], d[12 + s]
                        d[s], d[4 + s], d[8 + s], d[12 + s] = a0, a1 - a2 + a3, a1 + a2 - a0, -a3
                    if y0 >= 0 and x0 >= 0 and y0 + 4 <= size_h and x0 + 4 <= size_w:
                        for r in range(4):
                            for s in range(4):
                                gc[y0 + r, x0 + s] += d[4 * r + s]
                    else:
                        for r in range(4):
                            for s in range(4):
                                yy, xx = y0 + r, x0 + s
                                if 0 <= yy < size_h and 0 <= xx < size_w:
                                    gc[yy, xx] += d[4 * r + s]


@njit(cache=True, nogil=True)
def winograd_forward_range(
    x: Any, u: Any, y: Any, ph: int, pw: int, block: int, start: int, stop: int
) -> None:
    """``y[start:stop]: (n, O, OH, OW)`` from ``x: (N, C, H, W)`` and ``u: (16, O, C)``
    (``U = G g G^T``), ``block`` images per GEMM batch."""
    n_c, n_o = x.shape[1], u.shape[1]
    tw = (y.shape[3] + 1) // 2
    n_t = ((y.shape[2] + 1) // 2) * tw
    v_buf = np.empty(16 * n_c * block * n_t, x.dtype)
    m_buf = np.empty(16 * n_o * block * n_t, x.dtype)
    for lo in range(start, stop, block):
        hi = min(stop, lo + block)
        cols = (hi - lo) * n_t
        v = v_buf[: 16 * n_c * cols].reshape((16, n_c, cols))
        m = m_buf[: 16 * n_o * cols].reshape((16, n_o, cols))
        _wino_input(x, v, lo, hi, ph, pw, tw)
        for e in range(16):
            gemm(False, False, u[e], v[e], m[e], 0.0)
        _wino_output(m, y, lo, hi, tw)


@njit(cache=True, nogil=True)
def winograd_backward_range(
    x: Any, u: Any, gy: Any, gx: Any, du: Any, ph: int, pw: int, block: int, start: int, stop: int
) -> None:
    """``gx[start:stop]`` (every entry written) and ``du (16, O, C)`` for those images."""
    n_c, n_o = x.shape[1], u.shape[1]
    tw = (gy.shape[3] + 1) // 2
    n_t = ((gy.shape[2] + 1) // 2) * tw
    v_buf = np.empty(16 * n_c * block * n_t, x.dtype)
    mg_buf = np.empty(16 * n_o * block * n_t, x.dtype)
    dv_buf = np.empty(16 * n_c * block * n_t, x.dtype)
    du[...] = 0.0
    for lo in range(start, stop, block):
        hi = min(stop, lo + block)
        cols = (hi - lo) * n_t
        v = v_buf[: 16 * n_c * cols].reshape((16, n_c, cols))
        mg = mg_buf[: 16 * n_o * cols].reshape((16, n_o, cols))
        dv = dv_buf[: 16 * n_c * cols].reshape((16, n_c, cols))
        _wino_input(x, v, lo, hi, ph, pw, tw)
        _wino_grad_output(gy, mg, lo, hi, tw)
        for e in range(16):
            gemm(False, True, mg[e], v[e], du[e], 1.0)
            gemm(True, False, u[e], mg[e], dv[e], 0.0)
        _wino_grad_input(dv, gx, lo, hi, ph, pw, tw)


@njit(parallel=True, cache=True)
def winograd_forward(x: Any, u: Any, y: Any, ph: int, pw: int, block: int, parts: int) -> None:
    """`winograd_forward_range` on ``parts`` ranges of images in parallel."""
    n_img = x.shape[0]
    for t in prange(parts):
        start, stop = t * n_img // parts, (t + 1) * n_img // parts
        winograd_forward_range(x, u, y, ph, pw, block, start, stop)


@njit(parallel=True, cache=True)
def winograd_backward(
    x: Any, u: Any, gy: Any, gx: Any, du_parts: Any, ph: int, pw: int, block: int, parts: int
) -> None:
    """`winograd_backward_range` in parallel, ``du_parts[t]`` for range ``t``."""
    n_img = x.shape[0]
    for t in prange(parts):
        start, stop = t * n_img // parts, (t + 1) * n_img // parts
        winograd_backward_range(x, u, gy, gx, du_parts[t], ph, pw, block, start, stop)
