"""The compiled kernels (numba, ``cache=True``): per-image im2col + GEMM, and Winograd.

Every kernel splits the batch into ``parts`` contiguous ranges of images, one per thread
(``prange``), and works on one image (im2col) or a small block of images (Winograd) at a
time, so its buffers stay in the core's cache; each thread calls single-threaded GEMM in
place on them (the caller limits BLAS to one thread around the call).

- General path, any 1-, 2- or 3-d geometry (1-d and 2-d arrive with unit leading spatial
  axes, as 3-d): ``cols (C_in K, P)`` is one image's receptive fields, ``y[n] = w @ cols``;
  backward recomputes ``cols``, accumulates ``dw += gy[n] @ cols^T`` per thread, and
  scatters ``dcols = w^T @ gy[n]`` back (col2im). Padding is never materialised: taps
  outside the input read zero. Where it is small enough, a table of source indices
  (`col_index`, built once per call) turns im2col into one gather loop and col2im into one
  scatter-add loop; above that size the kernels loop over taps and output rows.
- Winograd F(2x2, 3x3), 2-d, 3x3, stride 1, dilation 1: each 4x4 input tile ``d`` becomes
  ``V = B^T d B``, the kernel ``U = G g G^T``, and the 2x2 output tile is
  ``A^T (U . V) A`` where the product over channels is 16 GEMMs ``M[e] = U[e] @ V[e]``.
  Backward is the exact transpose of that linear map: with ``Mg = A dY A^T``,
  ``dU[e] += Mg[e] @ V[e]^T`` and ``dV[e] = U[e]^T @ Mg[e]``, ``dd = B dV B^T`` scattered
  back into the overlapping tiles. 2.25x fewer multiplications than im2col.
- Winograd F(4x4, 3x3), the same with 6x6 input tiles, 4x4 output tiles and 36 GEMMs
  (4x fewer multiplications than im2col; the matrices, and why these, are below). Its
  transforms store into buffers of their own and run their loops over every tile of a
  batch of images, so that LLVM vectorises them (see the note above `_row_len`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from ._blas import gemm

__all__ = [
    "col_index",
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
    """``cols[(c, a, b, e), (i, r, j)] = xn[c, i sd + a dd - pd, r sh + b dh - ph, ...]``.

    Plain index loops, no slices: a slice is an array view whose reference count numba
    updates atomically, which cost more than the copy itself on short rows."""
    kd, kh, kw, sd, sh, sw = g[0], g[1], g[2], g[3], g[4], g[5]
    pd, ph, pw, dd, dh, dw = g[6], g[7], g[8], g[9], g[10], g[11]
    od, oh, ow = g[12], g[13], g[14]
    n_c = xn.shape[0]
    size_d, size_h, size_w = xn.shape[1], xn.shape[2], xn.shape[3]
    row = 0
    for c in range(n_c):
        for a in range(kd):
            i0, i1 = _span(a, sd, pd, dd, size_d, od)
            for b in range(kh):
                r0, r1 = _span(b, sh, ph, dh, size_h, oh)
                for e in range(kw):
                    j0, j1 = _span(e, sw, pw, dw, size_w, ow)
                    off = e * dw - pw
                    for i in range(od):
                        zi = i * sd + a * dd - pd
                        for r in range(oh):
                            base = (i * oh + r) * ow
                            if i < i0 or i >= i1 or r < r0 or r >= r1:
                                for j in range(ow):
                                    cols[row, base + j] = 0.0
                                continue
                            zr = r * sh + b * dh - ph
                            for j in range(j0):
                                cols[row, base + j] = 0.0
                            for j in range(j1, ow):
                                cols[row, base + j] = 0.0
                            if sw == 1:  # long rows here (small tables take the index path)
                                cols[row, base + j0 : base + j1] = xn[
                                    c, zi, zr, j0 + off : j1 + off
                                ]
                            elif sw == 2:
                                for j in range(j0, j1):
                                    cols[row, base + j] = xn[c, zi, zr, 2 * j + off]
                            else:
                                for j in range(j0, j1):
                                    cols[row, base + j] = xn[c, zi, zr, j * sw + off]
                    row += 1


@njit(cache=True, nogil=True)
def _col2im(dcols: Any, gxn: Any, g: Any) -> None:
    """The transpose of `_im2col`: ``gxn = 0``, then every column entry added back."""
    kd, kh, kw, sd, sh, sw = g[0], g[1], g[2], g[3], g[4], g[5]
    pd, ph, pw, dd, dh, dw = g[6], g[7], g[8], g[9], g[10], g[11]
    od, oh, ow = g[12], g[13], g[14]
    n_c = gxn.shape[0]
    size_d, size_h, size_w = gxn.shape[1], gxn.shape[2], gxn.shape[3]
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
                    for i in range(i0, i1):
                        zi = i * sd + a * dd - pd
                        for r in range(r0, r1):
                            base = (i * oh + r) * ow
                            zr = r * sh + b * dh - ph
                            if sw == 1:
                                gxn[c, zi, zr, j0 + off : j1 + off] += dcols[
                                    row, base + j0 : base + j1
                                ]
                            elif sw == 2:
                                for j in range(j0, j1):
                                    gxn[c, zi, zr, 2 * j + off] += dcols[row, base + j]
                            else:
                                for j in range(j0, j1):
                                    gxn[c, zi, zr, j * sw + off] += dcols[row, base + j]
                    row += 1


@njit(cache=True, nogil=True)
def col_index(shape: Any, g: Any) -> Any:
    """``idx[(c, a, b, e), (i, r, j)]``: the flat index into one image ``(C, D, H, W)`` that
    `_im2col` reads there, ``-1`` for padding (int32, one image's ``C D H W < 2^31``).

    Built once per call and shared by every image and thread: with it, im2col is one long
    gather loop and col2im one long scatter-add loop (4-5x and 3x faster than the loops over
    kernel taps and output rows, whose short inner rows cost more to set up than to copy)."""
    kd, kh, kw, sd, sh, sw = g[0], g[1], g[2], g[3], g[4], g[5]
    pd, ph, pw, dd, dh, dw = g[6], g[7], g[8], g[9], g[10], g[11]
    od, oh, ow = g[12], g[13], g[14]
    n_c, size_d, size_h, size_w = shape[0], shape[1], shape[2], shape[3]
    idx = np.full((n_c * kd * kh * kw, od * oh * ow), -1, np.int32)
    row = 0
    for c in range(n_c):
        for a in range(kd):
            i0, i1 = _span(a, sd, pd, dd, size_d, od)
            for b in range(kh):
                r0, r1 = _span(b, sh, ph, dh, size_h, oh)
                for e in range(kw):
                    j0, j1 = _span(e, sw, pw, dw, size_w, ow)
                    off = e * dw - pw
                    for i in range(i0, i1):
                        zi = i * sd + a * dd - pd
                        for r in range(r0, r1):
                            zr = r * sh + b * dh - ph
                            base = (i * oh + r) * ow
                            src = ((c * size_d + zi) * size_h + zr) * size_w + off
                            for j in range(j0, j1):
                                idx[row, base + j] = src + j * sw
                    row += 1
    return idx


@njit(cache=True, nogil=True)
def _im2col_indexed(xf: Any, cols: Any, idx: Any) -> None:
    """`_im2col` through a `col_index` table, ``xf`` the image flattened."""
    n_r, n_p = cols.shape
    for row in range(n_r):
        for p in range(n_p):
            i = idx[row, p]
            cols[row, p] = xf[i] if i >= 0 else 0.0


@njit(cache=True, nogil=True)
def _col2im_indexed(dcols: Any, gf: Any, idx: Any) -> None:
    """`_col2im` through a `col_index` table, ``gf`` the image gradient flattened."""
    gf[:] = 0.0
    n_r, n_p = dcols.shape
    for row in range(n_r):
        for p in range(n_p):
            i = idx[row, p]
            if i >= 0:
                gf[i] += dcols[row, p]


@njit(cache=True, nogil=True)
def conv_forward_range(x: Any, w2: Any, y: Any, g: Any, idx: Any, start: int, stop: int) -> None:
    """``y[n] (C_out, P) = w2 (C_out, C_in K) @ im2col(x[n])`` for images ``start:stop``;
    ``idx`` a `col_index` table, or empty (then the tap loops run)."""
    cols = np.empty((w2.shape[1], y.shape[2]), x.dtype)
    for n in range(start, stop):
        if idx.shape[0]:
            _im2col_indexed(x[n].reshape(-1), cols, idx)
        else:
            _im2col(x[n], cols, g)
        gemm(False, False, w2, cols, y[n], 0.0)


@njit(cache=True, nogil=True)
def conv_backward_range(
    x: Any, w2: Any, gy: Any, gx: Any, gw: Any, g: Any, idx: Any, start: int, stop: int
) -> None:
    """``gx[start:stop]`` (every entry written) and ``gw (C_out, C_in K)`` for those images."""
    cols = np.empty((w2.shape[1], gy.shape[2]), x.dtype)
    dcols = np.empty_like(cols)
    gw[...] = 0.0
    for n in range(start, stop):
        if idx.shape[0]:
            _im2col_indexed(x[n].reshape(-1), cols, idx)
        else:
            _im2col(x[n], cols, g)
        gemm(False, True, gy[n], cols, gw, 1.0)
        gemm(True, False, w2, gy[n], dcols, 0.0)
        if idx.shape[0]:
            _col2im_indexed(dcols, gx[n].reshape(-1), idx)
        else:
            _col2im(dcols, gx[n], g)


@njit(parallel=True, cache=True)
def conv_forward(x: Any, w2: Any, y: Any, g: Any, idx: Any, parts: int) -> None:
    """`conv_forward_range` on ``parts`` ranges of images in parallel."""
    n_img = x.shape[0]
    for t in prange(parts):
        conv_forward_range(x, w2, y, g, idx, t * n_img // parts, (t + 1) * n_img // parts)


@njit(parallel=True, cache=True)
def conv_backward(
    x: Any, w2: Any, gy: Any, gx: Any, gw_parts: Any, g: Any, idx: Any, parts: int
) -> None:
    """`conv_backward_range` in parallel, ``gw_parts[t]`` for range ``t``."""
    n_img = x.shape[0]
    for t in prange(parts):
        start, stop = t * n_img // parts, (t + 1) * n_img // parts
        conv_backward_range(x, w2, gy, gx, gw_parts[t], g, idx, start, stop)


# ------------------------------------------------------------------------------ Winograd


@njit(cache=True, nogil=True, inline="always")
def _at4(a0: Any, a1: Any, a2: Any, a3: Any) -> Any:
    """``A^T a`` for a 4-vector: the two outputs of one row or column."""
    return a0 + a1 + a2, a1 - a2 - a3


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


@njit(cache=True, nogil=True, inline="always")
def _out_tile(m: Any, o: int, col: int) -> Any:
    """``A^T M A`` of tile ``col`` of output channel ``o``: the four outputs, row-major."""
    p0, q0 = _at4(m[0, o, col], m[4, o, col], m[8, o, col], m[12, o, col])
    p1, q1 = _at4(m[1, o, col], m[5, o, col], m[9, o, col], m[13, o, col])
    p2, q2 = _at4(m[2, o, col], m[6, o, col], m[10, o, col], m[14, o, col])
    p3, q3 = _at4(m[3, o, col], m[7, o, col], m[11, o, col], m[15, o, col])
    y00, y01 = _at4(p0, p1, p2, p3)
    y10, y11 = _at4(q0, q1, q2, q3)
    return y00, y01, y10, y11


@njit(cache=True, nogil=True)
def _wino_output(m: Any, y: Any, lo: int, hi: int, tw: int) -> None:
    """``y[n, o, tile] = A^T m A`` (the 2x2 outputs that exist) from ``m: (16, O, cols)``.

    Scalar locals only (no scratch array), and the partial tiles of an odd-sized output
    handled apart from the loop over full tiles, which has no bounds tests."""
    n_o, out_h, out_w = y.shape[1], y.shape[2], y.shape[3]
    n_t = m.shape[2] // (hi - lo)
    th = n_t // tw
    full_w = out_w // 2
    for n in range(lo, hi):
        col0 = (n - lo) * n_t
        for o in range(n_o):
            for ty in range(th):
                yy = 2 * ty
                base = col0 + ty * tw
                if yy + 1 < out_h:
                    for tx in range(full_w):
                        y00, y01, y10, y11 = _out_tile(m, o, base + tx)
                        y[n, o, yy, 2 * tx] = y00
                        y[n, o, yy, 2 * tx + 1] = y01
                        y[n, o, yy + 1, 2 * tx] = y10
                        y[n, o, yy + 1, 2 * tx + 1] = y11
                    if full_w < tw:
                        y00, y01, y10, y11 = _out_tile(m, o, base + full_w)
                        y[n, o, yy, 2 * full_w] = y00
                        y[n, o, yy + 1, 2 * full_w] = y10
                else:
                    for tx in range(full_w):
                        y00, y01, y10, y11 = _out_tile(m, o, base + tx)
                        y[n, o, yy, 2 * tx] = y00
                        y[n, o, yy, 2 * tx + 1] = y01
                    if full_w < tw:
                        y00, y01, y10, y11 = _out_tile(m, o, base + full_w)
                        y[n, o, yy, 2 * full_w] = y00


@njit(cache=True, nogil=True)
def _wino_grad_output(gy: Any, mg: Any, lo: int, hi: int, tw: int) -> None:
    """``mg[e, o, col] = (A dY A^T)[e]`` for each 2x2 output-gradient tile (zero outside).

    The tile row's two rows of ``dY`` are copied into a zero-padded buffer; each of the four
    rows of ``A dY`` is then one loop over the tiles writing four rows of ``mg`` (few enough
    store streams for LLVM to vectorise it)."""
    n_o, out_h, out_w = gy.shape[1], gy.shape[2], gy.shape[3]
    n_t = mg.shape[2] // (hi - lo)
    th = n_t // tw
    g = np.zeros((2, 2 * tw), gy.dtype)  # the tile row's two output rows, zero-padded
    for n in range(lo, hi):
        col0 = (n - lo) * n_t
        for o in range(n_o):
            for ty in range(th):
                y0 = 2 * ty
                for r in range(2):
                    if y0 + r < out_h:
                        for j in range(out_w):
                            g[r, j] = gy[n, o, y0 + r, j]
                    else:
                        for j in range(out_w):
                            g[r, j] = 0.0
                base = col0 + ty * tw
                # rows of A dY: (g0, g0 + g1, g0 - g1, -g1); then columns likewise
                for tx in range(tw):
                    a, b = g[0, 2 * tx], g[0, 2 * tx + 1]
                    mg[0, o, base + tx] = a
                    mg[1, o, base + tx] = a + b
                    mg[2, o, base + tx] = a - b
                    mg[3, o, base + tx] = -b
                for tx in range(tw):
                    a = g[0, 2 * tx] + g[1, 2 * tx]
                    b = g[0, 2 * tx + 1] + g[1, 2 * tx + 1]
                    mg[4, o, base + tx] = a
                    mg[5, o, base + tx] = a + b
                    mg[6, o, base + tx] = a - b
                    mg[7, o, base + tx] = -b
                for tx in range(tw):
                    a = g[0, 2 * tx] - g[1, 2 * tx]
                    b = g[0, 2 * tx + 1] - g[1, 2 * tx + 1]
                    mg[8, o, base + tx] = a
                    mg[9, o, base + tx] = a + b
                    mg[10, o, base + tx] = a - b
                    mg[11, o, base + tx] = -b
                for tx in range(tw):
                    a, b = -g[1, 2 * tx], -g[1, 2 * tx + 1]
                    mg[12, o, base + tx] = a
                    mg[13, o, base + tx] = a + b
                    mg[14, o, base + tx] = a - b
                    mg[15, o, base + tx] = -b


@njit(cache=True, nogil=True, inline="always")
def _b4(a0: Any, a1: Any, a2: Any, a3: Any) -> Any:
    """``B a`` for a 4-vector (the transpose of the input transform ``B^T``)."""
    return a0, a1 - a2 + a3, a1 + a2 - a0, -a3


@njit(cache=True, nogil=True)
def _wino_grad_input(dv: Any, gx: Any, lo: int, hi: int, ph: int, pw: int, tw: int) -> None:
    """``gx[n] = `` the sum of ``B dV B^T`` over the overlapping tiles, cropped to ``x``.

    One channel at a time, the tiles are added into a zero-padded buffer that covers every
    tile (no bounds test per tile), with scalar locals only; the buffer is then copied into
    ``gx`` (zero where no tile reaches)."""
    n_c, size_h, size_w = gx.shape[1], gx.shape[2], gx.shape[3]
    n_t = dv.shape[2] // (hi - lo)
    th = n_t // tw
    width = 2 * tw + 2
    acc = np.zeros((2 * th + 2, width), gx.dtype)  # one channel's gradient, padded
    for n in range(lo, hi):
        col0 = (n - lo) * n_t
        for c in range(n_c):
            acc[:, :] = 0.0
            for ty in range(th):
                y0 = 2 * ty
                for tx in range(tw):
                    x0 = 2 * tx
                    col = col0 + ty * tw + tx
                    # B along the rows of dV, then along its columns
                    p0, p1, p2, p3 = _b4(dv[0, c, col], dv[1, c, col], dv[2, c, col], dv[3, c, col])
                    q0, q1, q2, q3 = _b4(dv[4, c, col], dv[5, c, col], dv[6, c, col], dv[7, c, col])
                    r0, r1, r2, r3 = _b4(
                        dv[8, c, col], dv[9, c, col], dv[10, c, col], dv[11, c, col]
                    )
                    s0, s1, s2, s3 = _b4(
                        dv[12, c, col], dv[13, c, col], dv[14, c, col], dv[15, c, col]
                    )
                    a0, a1, a2, a3 = _b4(p0, q0, r0, s0)
                    b0, b1, b2, b3 = _b4(p1, q1, r1, s1)
                    e0, e1, e2, e3 = _b4(p2, q2, r2, s2)
                    f0, f1, f2, f3 = _b4(p3, q3, r3, s3)
                    acc[y0, x0] += a0
                    acc[y0, x0 + 1] += b0
                    acc[y0, x0 + 2] += e0
                    acc[y0, x0 + 3] += f0
                    acc[y0 + 1, x0] += a1
                    acc[y0 + 1, x0 + 1] += b1
                    acc[y0 + 1, x0 + 2] += e1
                    acc[y0 + 1, x0 + 3] += f1
                    acc[y0 + 2, x0] += a2
                    acc[y0 + 2, x0 + 1] += b2
                    acc[y0 + 2, x0 + 2] += e2
                    acc[y0 + 2, x0 + 3] += f2
                    acc[y0 + 3, x0] += a3
                    acc[y0 + 3, x0 + 1] += b3
                    acc[y0 + 3, x0 + 2] += e3
                    acc[y0 + 3, x0 + 3] += f3
            for yy in range(size_h):
                ay = yy + ph
                for xx in range(size_w):
                    ax = xx + pw
                    if ay < 2 * th + 2 and ax < width:
                        gx[n, c, yy, xx] = acc[ay, ax]
                    else:
                        gx[n, c, yy, xx] = 0.0


# F(4x4, 3x3): 6x6 input tiles, interpolation points 0, 1, -1, 2, -1/2 and infinity. Against
# the usual 0, +-1, +-2 (Lavin and Gray's matrices), -1/2 instead of -2 measured 2.4x less
# float32 error (1.7e-6 instead of 4.1e-6 of the largest output, the best pair among 120
# tried). Rows of B^T and columns of A^T are scaled by powers of two (which changes no
# rounding) so that both have integer entries; ``G`` (in backend.py) takes the inverse scales:
#
#   B^T = [[2,  3, -4, -3,  2, 0],   A^T = [[1,  1, 1, 1,  8, 0],   G = [[ 1/2,     0,     0],
#          [0, -2, -5, -1,  2, 0],          [0,  1, -1, 2, -4, 0],         [-1/6,  -1/6,  -1/6],
#          [0,  2,  1, -5,  2, 0],          [0,  1,  1, 4,  2, 0],         [ 1/6,  -1/6,   1/6],
#          [0, -1, -2,  1,  2, 0],          [0,  1, -1, 8, -1, 1]]         [1/30,  1/15,  2/15],
#          [0,  2, -1, -2,  1, 0],                                         [-2/15, 1/15, -1/30],
#          [0,  2,  3, -4, -3, 2]]                                         [   0,     0,   1/2]]
#
# The constant factors are written as additions (``4 a = (a + a) + (a + a)``, exact, as a
# multiplication by 4 is): a Python float literal would promote float32 to float64.


@njit(cache=True, nogil=True, inline="always")
def _x2(a: Any) -> Any:
    return a + a


@njit(cache=True, nogil=True, inline="always")
def _x4(a: Any) -> Any:
    b = a + a
    return b + b


@njit(cache=True, nogil=True, inline="always")
def _bt6(d0: Any, d1: Any, d2: Any, d3: Any, d4: Any, d5: Any) -> Any:
    """``B^T d`` for a 6-vector (F(4x4, 3x3)'s input transform along one axis)."""
    return (
        _x2(d0 + d4) - _x4(d2) + (d1 - d3) + _x2(d1 - d3),
        _x2(d4 - d1) - (_x4(d2) + d2) - d3,
        _x2(d1 + d4) + d2 - (_x4(d3) + d3),
        _x2(d4 - d2) + (d3 - d1),
        _x2(d1 - d3) + (d4 - d2),
        _x2(d1 + d5) - _x4(d3) + (d2 - d4) + _x2(d2 - d4),
    )


@njit(cache=True, nogil=True, inline="always")
def _at6(a0: Any, a1: Any, a2: Any, a3: Any, a4: Any, a5: Any) -> Any:
    """``A^T a`` for a 6-vector: the four outputs of one row or column."""
    s12, d12 = a1 + a2, a1 - a2
    return (
        a0 + s12 + a3 + _x2(_x4(a4)),
        d12 + _x2(a3 - _x2(a4)),
        s12 + _x2(_x2(a3) + a4),
        d12 + _x2(_x4(a3)) - a4 + a5,
    )


@njit(cache=True, nogil=True, inline="always")
def _a6(g0: Any, g1: Any, g2: Any, g3: Any) -> Any:
    """``A g`` for a 4-vector of output gradients (the transpose of `_at6`)."""
    s02, s13 = g0 + g2, g1 + g3
    return (
        g0,
        s02 + s13,
        s02 - s13,
        g0 + _x2(g1 + _x2(g2 + _x2(g3))),
        _x2(_x2(_x2(g0) - g1) + g2) - g3,
        g3,
    )


@njit(cache=True, nogil=True, inline="always")
def _b6(a0: Any, a1: Any, a2: Any, a3: Any, a4: Any, a5: Any) -> Any:
    """``B a`` for a 6-vector (the transpose of `_bt6`)."""
    return (
        _x2(a0),
        (a0 + _x2(a0 - a1 + a2 + a4 + a5)) - a3,
        _x2(a5 - a3 - _x2(a0)) + (a5 - a4) + a2 - (_x4(a1) + a1),
        a3 - (_x2(a0 + a4 + _x2(a5)) + a0 + a1 + _x4(a2) + a2),
        _x2(a0 + a1 + a2 + a3) + a4 - (_x2(a5) + a5),
        _x2(a5),
    )


# The F(4x4) transforms below are written so that LLVM vectorises their inner loops (each
# form measured 2-4x faster than the plainer one it replaced, results bit-identical):
# - they store into buffers of their own and copy out in plain loops: a loop writing six
#   planes of an argument array needs more run-time alias checks than LLVM makes;
# - a row pass writes through a slice view of its tile row (``flat[:, b : b + width]``,
#   indexed by the loop variable) rather than at ``flat[i, b + j]``, and no hot loop reads
#   an array made by ``reshape`` (its strides come out of a run-time call);
# - no view of an array that the threads share (x, y, dY, dX, the kept transform) is made
#   in a loop: a view counts a reference to its array atomically, and two cores doing that
#   to the same array took 2-3x the whole call;
# - the loops along the tiles' columns run over every tile of a batch of images (a tile
#   row of 7 tiles is shorter than one vector); the loops along a tile row run over
#   `_row_len` columns, a multiple of 8, so that they have no scalar remainder.
# ``flat (6, 4 tiles + ...)`` holds one row pass per tile row, end to end (``4 tw`` wide),
# so that tile ``q``'s columns are ``flat[:, 4 q : 4 q + 4]`` and the next two follow.


@njit(cache=True, nogil=True)
def _row_len(tw: int) -> int:
    """Columns a row pass covers: the ``4 tw + 2`` of a tile row, rounded up to 8."""
    return (4 * tw + 2 + 7) // 8 * 8


@njit(cache=True, nogil=True)
def _wino4_input(x: Any, v: Any, lo: int, hi: int, ph: int, pw: int, tw: int) -> None:
    """``v[e, c, (n - lo) T + t] = (B^T d B)[e]`` for each 6x6 input tile ``d`` (F(4x4)).

    Per channel: each image, zero-bordered, gets ``B^T`` along its rows, one tile row at a
    time, into ``t`` (the two columns a row's last tile reads beyond ``4 tw`` kept in
    ``ext``, as the next row overwrites them); then ``B`` along the columns in one loop over
    every tile of the batch, and the last tile of each row again, from ``ext``."""
    n_c, size_h, size_w = x.shape[1], x.shape[2], x.shape[3]
    cols = v.shape[2]
    th = cols // (hi - lo) // tw
    seg = 4 * tw
    width = _row_len(tw)
    n_rows = (hi - lo) * th
    pad = np.zeros((4 * th + 2, width), x.dtype)  # one image's channel, zero-bordered
    inner = pad[ph : ph + size_h, pw : pw + size_w]
    flat = np.zeros((6, 4 * cols + width + 8), x.dtype)
    ext = np.zeros((6, n_rows, 2), x.dtype)
    out = np.empty((6, cols), x.dtype)
    for c in range(n_c):
        for n in range(lo, hi):
            for yy in range(size_h):
                for xx in range(size_w):
                    inner[yy, xx] = x[n, c, yy, xx]
            for ty in range(th):
                row = (n - lo) * th + ty
                pr = pad[4 * ty : 4 * ty + 6]
                tr = flat[:, row * seg : row * seg + width]
                for j in range(width):
                    t0, t1, t2, t3, t4, t5 = _bt6(
                        pr[0, j], pr[1, j], pr[2, j], pr[3, j], pr[4, j], pr[5, j]
                    )
                    tr[0, j] = t0
                    tr[1, j] = t1
                    tr[2, j] = t2
                    tr[3, j] = t3
                    tr[4, j] = t4
                    tr[5, j] = t5
                for i in range(6):
                    ext[i, row, 0] = tr[i, seg]
                    ext[i, row, 1] = tr[i, seg + 1]
        for i in range(6):
            ti = flat[i]
            for q in range(cols):
                k = 4 * q
                a0, a1, a2, a3, a4, a5 = _bt6(
                    ti[k], ti[k + 1], ti[k + 2], ti[k + 3], ti[k + 4], ti[k + 5]
                )
                out[0, q] = a0
                out[1, q] = a1
                out[2, q] = a2
                out[3, q] = a3
                out[4, q] = a4
                out[5, q] = a5
            for row in range(n_rows):  # the last tile of each row: its two columns in ext
                q = row * tw + tw - 1
                k = 4 * q
                a0, a1, a2, a3, a4, a5 = _bt6(
                    ti[k], ti[k + 1], ti[k + 2], ti[k + 3], ext[i, row, 0], ext[i, row, 1]
                )
                out[0, q] = a0
                out[1, q] = a1
                out[2, q] = a2
                out[3, q] = a3
                out[4, q] = a4
                out[5, q] = a5
            for j in range(6):
                oj = out[j]
                for q in range(cols):
                    v[6 * i + j, c, q] = oj[q]


@njit(cache=True, nogil=True)
def _wino4_output(m: Any, y: Any, lo: int, hi: int, tw: int) -> None:
    """``y[n, o, tile] = A^T m A`` (the outputs of each 4x4 tile that exist), ``m: (36, O,
    cols)``: per output channel, ``A^T`` along the tiles' columns in one loop over every
    tile of the batch (into ``t``), then along the rows, one tile row at a time, copied
    into ``y``."""
    n_o, out_h, out_w = y.shape[1], y.shape[2], y.shape[3]
    cols = m.shape[2]
    th = cols // (hi - lo) // tw
    seg = 4 * tw
    width = _row_len(tw)
    flat = np.zeros((6, 4 * cols + width + 8), m.dtype)
    rt = np.empty((4, width), m.dtype)
    for o in range(n_o):
        for i in range(6):
            m0, m1, m2, m3 = m[6 * i, o], m[6 * i + 1, o], m[6 * i + 2, o], m[6 * i + 3, o]
            m4, m5, ti = m[6 * i + 4, o], m[6 * i + 5, o], flat[i]
            for q in range(cols):
                a0, a1, a2, a3 = _at6(m0[q], m1[q], m2[q], m3[q], m4[q], m5[q])
                k = 4 * q
                ti[k] = a0
                ti[k + 1] = a1
                ti[k + 2] = a2
                ti[k + 3] = a3
        for n in range(lo, hi):
            for ty in range(th):
                row = (n - lo) * th + ty
                tr = flat[:, row * seg : row * seg + width]
                for j in range(width):
                    r0, r1, r2, r3 = _at6(
                        tr[0, j], tr[1, j], tr[2, j], tr[3, j], tr[4, j], tr[5, j]
                    )
                    rt[0, j] = r0
                    rt[1, j] = r1
                    rt[2, j] = r2
                    rt[3, j] = r3
                for r in range(min(4, out_h - 4 * ty)):
                    rr = rt[r]
                    for j in range(out_w):
                        y[n, o, 4 * ty + r, j] = rr[j]


@njit(cache=True, nogil=True)
def _wino4_grad_output(gy: Any, mg: Any, lo: int, hi: int, tw: int) -> None:
    """``mg[e, o, col] = (A dY A^T)[e]`` for each 4x4 output-gradient tile (zero outside).

    Per output channel: ``A`` along the rows of ``dY``, one tile row at a time (into ``t``,
    zero beyond the output's width), then along the tiles' columns in one loop over every
    tile of the batch."""
    n_o, out_h, out_w = gy.shape[1], gy.shape[2], gy.shape[3]
    cols = mg.shape[2]
    th = cols // (hi - lo) // tw
    seg = 4 * tw
    width = _row_len(tw)
    flat = np.zeros((6, 4 * cols + width + 8), gy.dtype)
    g = np.zeros((4, width), gy.dtype)  # a tile row of dY, zero-padded
    out = np.empty((6, cols), gy.dtype)
    for o in range(n_o):
        for n in range(lo, hi):
            for ty in range(th):
                row = (n - lo) * th + ty
                for r in range(4):
                    gr = g[r]
                    if 4 * ty + r < out_h:
                        for j in range(out_w):
                            gr[j] = gy[n, o, 4 * ty + r, j]
                    else:
                        for j in range(out_w):
                            gr[j] = 0.0
                tr = flat[:, row * seg : row * seg + width]
                for j in range(width):  # beyond 4 tw: the next row overwrites it
                    a0, a1, a2, a3, a4, a5 = _a6(g[0, j], g[1, j], g[2, j], g[3, j])
                    tr[0, j] = a0
                    tr[1, j] = a1
                    tr[2, j] = a2
                    tr[3, j] = a3
                    tr[4, j] = a4
                    tr[5, j] = a5
        for i in range(6):
            ti = flat[i]
            for q in range(cols):
                k = 4 * q
                a0, a1, a2, a3, a4, a5 = _a6(ti[k], ti[k + 1], ti[k + 2], ti[k + 3])
                out[0, q] = a0
                out[1, q] = a1
                out[2, q] = a2
                out[3, q] = a3
                out[4, q] = a4
                out[5, q] = a5
            for j in range(6):
                mj, oj = mg[6 * i + j, o], out[j]
                for q in range(cols):
                    mj[q] = oj[q]


@njit(cache=True, nogil=True)
def _wino4_grad_input(dv: Any, gx: Any, lo: int, hi: int, ph: int, pw: int, tw: int) -> None:
    """``gx[n] = `` the sum of ``B dV B^T`` over the overlapping 6x6 tiles, cropped to ``x``.

    Per channel: ``B`` along the tiles' columns in one loop over every tile of the batch,
    into ``t``, each tile adding the two columns of its left neighbour that overlap it
    (those of a row's last tile go to ``ext``); then ``B`` along the rows, one tile row at
    a time (``ext`` put in place of the next row's first two columns meanwhile), added
    into a zero-padded image, copied into ``gx``."""
    n_c, size_h, size_w = gx.shape[1], gx.shape[2], gx.shape[3]
    cols = dv.shape[2]
    th = cols // (hi - lo) // tw
    seg = 4 * tw
    width = _row_len(tw)
    n_rows = (hi - lo) * th
    di = np.zeros((6, cols + 1), gx.dtype)  # one plane row of dV, after a zero tile
    cur, prev = di[:, 1:], di[:, :-1]
    left = np.ones(cols, gx.dtype)  # 0 for the first tile of a row: no left neighbour
    for row in range(n_rows):
        left[row * tw] = 0.0
    flat = np.zeros((6, 4 * cols + width + 8), gx.dtype)
    ext = np.zeros((6, n_rows, 2), gx.dtype)
    keep = np.zeros((6, 2), gx.dtype)
    acc = np.zeros((4 * th + 2, width), gx.dtype)  # one image's channel, padded
    inner = acc[ph : ph + size_h, pw : pw + size_w]
    for c in range(n_c):
        for i in range(6):
            for j in range(6):
                dj, cj = dv[6 * i + j, c], cur[j]
                for q in range(cols):
                    cj[q] = dj[q]
            ti = flat[i]
            for q in range(cols):
                b0, b1, b2, b3, _, _ = _b6(
                    cur[0, q], cur[1, q], cur[2, q], cur[3, q], cur[4, q], cur[5, q]
                )
                _, _, _, _, p4, p5 = _b6(
                    prev[0, q], prev[1, q], prev[2, q], prev[3, q], prev[4, q], prev[5, q]
                )
                k = 4 * q
                ti[k] = b0 + p4 * left[q]
                ti[k + 1] = b1 + p5 * left[q]
                ti[k + 2] = b2
                ti[k + 3] = b3
            for row in range(n_rows):
                q = row * tw + tw - 1  # the row's last tile
                _, _, _, _, p4, p5 = _b6(
                    cur[0, q], cur[1, q], cur[2, q], cur[3, q], cur[4, q], cur[5, q]
                )
                ext[i, row, 0] = p4
                ext[i, row, 1] = p5
        for n in range(lo, hi):
            acc[:, :] = 0.0
            for ty in range(th):
                row = (n - lo) * th + ty
                tr = flat[:, row * seg : row * seg + width]
                ar = acc[4 * ty : 4 * ty + 6]
                for i in range(6):  # the row's last two columns, in place for the pass
                    keep[i, 0] = tr[i, seg]
                    keep[i, 1] = tr[i, seg + 1]
                    tr[i, seg] = ext[i, row, 0]
                    tr[i, seg + 1] = ext[i, row, 1]
                for j in range(width):  # columns beyond 4 tw + 2: never copied into gx
                    r0, r1, r2, r3, r4, r5 = _b6(
                        tr[0, j], tr[1, j], tr[2, j], tr[3, j], tr[4, j], tr[5, j]
                    )
                    ar[0, j] += r0
                    ar[1, j] += r1
                    ar[2, j] += r2
                    ar[3, j] += r3
                    ar[4, j] += r4
                    ar[5, j] += r5
                for i in range(6):
                    tr[i, seg] = keep[i, 0]
                    tr[i, seg + 1] = keep[i, 1]
            for yy in range(size_h):
                for xx in range(size_w):
                    gx[n, c, yy, xx] = inner[yy, xx]


@njit(cache=True, nogil=True)
def winograd_forward_range(
    x: Any,
    u: Any,
    y: Any,
    m: int,
    ph: int,
    pw: int,
    block: int,
    start: int,
    stop: int,
    keep: Any,
) -> None:
    """``y[start:stop]: (n, O, OH, OW)`` from ``x: (N, C, H, W)`` and ``u: (a^2, O, C)``
    (``U = G g G^T``), Winograd F(m x m, 3x3) with ``m`` 2 or 4 (tiles of ``a = m + 2``),
    ``block`` images per GEMM batch.

    ``keep``: empty, or a flat buffer for the whole batch's transformed input, which is then
    left there for `winograd_backward_range` (the block of images ``lo:hi`` at offset
    ``a^2 C T lo``, laid out ``(a^2, C, (hi - lo) T)``)."""
    n_c, n_o = x.shape[1], u.shape[1]
    planes = (m + 2) * (m + 2)
    tw = (y.shape[3] + m - 1) // m
    n_t = ((y.shape[2] + m - 1) // m) * tw
    v_buf = np.empty(0 if keep.size else planes * n_c * block * n_t, x.dtype)
    m_buf = np.empty(planes * n_o * block * n_t, x.dtype)
    for lo in range(start, stop, block):
        hi = min(stop, lo + block)
        cols = (hi - lo) * n_t
        if keep.size:
            v = keep[planes * n_c * n_t * lo : planes * n_c * n_t * hi].reshape((planes, n_c, cols))
        else:
            v = v_buf[: planes * n_c * cols].reshape((planes, n_c, cols))
        mm = m_buf[: planes * n_o * cols].reshape((planes, n_o, cols))
        if m == 4:
            _wino4_input(x, v, lo, hi, ph, pw, tw)
        else:
            _wino_input(x, v, lo, hi, ph, pw, tw)
        for e in range(planes):
            gemm(False, False, u[e], v[e], mm[e], 0.0)
        if m == 4:
            _wino4_output(mm, y, lo, hi, tw)
        else:
            _wino_output(mm, y, lo, hi, tw)


@njit(cache=True, nogil=True)
def winograd_backward_range(
    x: Any,
    u: Any,
    gy: Any,
    gx: Any,
    du: Any,
    m: int,
    ph: int,
    pw: int,
    block: int,
    start: int,
    stop: int,
    kept: Any,
) -> None:
    """``gx[start:stop]`` (every entry written) and ``du (a^2, O, C)`` for those images.

    ``kept``: empty (the input transform is computed here), or the buffer that
    `winograd_forward_range` filled from this ``x`` with the same ``m``, ``block`` and
    ranges."""
    n_c, n_o = x.shape[1], u.shape[1]
    planes = (m + 2) * (m + 2)
    tw = (gy.shape[3] + m - 1) // m
    n_t = ((gy.shape[2] + m - 1) // m) * tw
    v_buf = np.empty(0 if kept.size else planes * n_c * block * n_t, x.dtype)
    mg_buf = np.empty(planes * n_o * block * n_t, x.dtype)
    dv_buf = np.empty(planes * n_c * block * n_t, x.dtype)
    du[...] = 0.0
    for lo in range(start, stop, block):
        hi = min(stop, lo + block)
        cols = (hi - lo) * n_t
        mg = mg_buf[: planes * n_o * cols].reshape((planes, n_o, cols))
        dv = dv_buf[: planes * n_c * cols].reshape((planes, n_c, cols))
        if kept.size:
            v = kept[planes * n_c * n_t * lo : planes * n_c * n_t * hi].reshape((planes, n_c, cols))
        else:
            v = v_buf[: planes * n_c * cols].reshape((planes, n_c, cols))
            if m == 4:
                _wino4_input(x, v, lo, hi, ph, pw, tw)
            else:
                _wino_input(x, v, lo, hi, ph, pw, tw)
        if m == 4:
            _wino4_grad_output(gy, mg, lo, hi, tw)
        else:
            _wino_grad_output(gy, mg, lo, hi, tw)
        for e in range(planes):
            gemm(False, True, mg[e], v[e], du[e], 1.0)
            gemm(True, False, u[e], mg[e], dv[e], 0.0)
        if m == 4:
            _wino4_grad_input(dv, gx, lo, hi, ph, pw, tw)
        else:
            _wino_grad_input(dv, gx, lo, hi, ph, pw, tw)


@njit(parallel=True, cache=True)
def winograd_forward(
    x: Any, u: Any, y: Any, m: int, ph: int, pw: int, block: int, parts: int, keep: Any
) -> None:
    """`winograd_forward_range` on ``parts`` ranges of images in parallel."""
    n_img = x.shape[0]
    for t in prange(parts):
        start, stop = t * n_img // parts, (t + 1) * n_img // parts
        winograd_forward_range(x, u, y, m, ph, pw, block, start, stop, keep)


@njit(parallel=True, cache=True)
def winograd_backward(
    x: Any,
    u: Any,
    gy: Any,
    gx: Any,
    du_parts: Any,
    m: int,
    ph: int,
    pw: int,
    block: int,
    parts: int,
    kept: Any,
) -> None:
    """`winograd_backward_range` in parallel, ``du_parts[t]`` for range ``t``."""
    n_img = x.shape[0]
    for t in prange(parts):
        start, stop = t * n_img // parts, (t + 1) * n_img // parts
        winograd_backward_range(x, u, gy, gx, du_parts[t], m, ph, pw, block, start, stop, kept)
