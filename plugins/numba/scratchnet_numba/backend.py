"""The ``numba`` convolution backend: compiled per-image kernels, one image block per thread.

Paths, chosen per call from the geometry:

- ``winograd``: 2-d, 3x3, stride 1, dilation 1, at least 4 input channels (Winograd
  F(4x4, 3x3) or F(2x2, 3x3) by `winograd_tile`, forward and both gradients), float32 and
  float64;
- ``im2col``: everything else, 1-, 2- and 3-d, any stride, padding and dilation (per-image
  im2col + GEMM in place, padding never materialised; im2col and col2im through a table of
  source indices built once per call, up to `INDEX_MAX_ENTRIES` entries).

The Winograd forward keeps the batch's transformed input ``V = B^T d B`` (36/16 x the size
of ``x`` with F(4x4), 16/4 x with F(2x2)) for the backward that follows, which uses it for
``grad_w`` only when it gets the same ``x`` (the same array object, shape and working dtype,
the same thread split) and recomputes it otherwise; backward releases it,
`Numba.clear_cache` too (inference).

Threads: numba's (``numba.set_num_threads`` / ``NUMBA_NUM_THREADS``), one contiguous range of
images each. Inside that parallel region BLAS is pinned to one thread with ``threadpoolctl``
(a dependency of this distribution only), since OpenBLAS's own threads would otherwise spin
against numba's; the limit is lifted again when the call returns.

Compiled code is cached on disk next to the package (numba's ``cache=True``; set
``NUMBA_CACHE_DIR`` where the package directory is read-only), so only the first process
ever compiles.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final, TypeVar

import numba
import numpy as np
from numba.core.errors import NumbaError
from threadpoolctl import ThreadpoolController

from scratchnet_core import ConvBackend, PluginLoadError
from scratchnet_core.conv_geometry import ConvGeometry, geometry
from scratchnet_core.interfaces import Array

from . import _kernels

__all__ = ["Numba", "path_for", "winograd_tile"]

DISTRIBUTION: Final = "scratchnet-numba"
ENTRY_POINT: Final = "scratchnet_numba.backend:Numba"
# Winograd: tiles per GEMM batch, by tile size (F(2x2): 2 images of 28x28; F(4x4), whose
# transforms loop over every tile of a batch, measured fastest at 8-16 such images)
TARGET_COLUMNS: Final = {2: 512, 4: 640}
# ... and at most this many bytes of transformed input and output per batch ((m + 2)^2
# planes of C_in + C_out rows): 8 images of 14x14 with 64 + 64 channels, not 16
TARGET_BYTES: Final = 3_000_000
PARALLEL_MIN_MACS: Final = 5_000_000  # below: one thread, no parallel region to wake
INDEX_MAX_ENTRIES: Final = 4_000_000  # im2col through an index table up to 16 MB of it

_blas_lock = threading.Lock()
_parallel_lock = threading.Lock()
_blas_controller: ThreadpoolController | None = None
T = TypeVar("T")


def path_for(g: ConvGeometry) -> str:
    """``"winograd"`` or ``"im2col"``: the kernel this backend runs for a geometry.

    >>> from scratchnet_core.conv_geometry import ConvGeometry
    >>> path_for(ConvGeometry((8, 16, 28, 28), (32, 16, 3, 3), (1, 1), (1, 1), (1, 1), "doc"))
    'winograd'
    >>> path_for(ConvGeometry((8, 16, 28, 28), (32, 16, 3, 3), (2, 2), (1, 1), (1, 1), "doc"))
    'im2col'
    """
    if (
        g.dims == 2
        and g.kernel == (3, 3)
        and g.stride == (1, 1)
        and g.dilation == (1, 1)
        and g.in_channels >= 4
    ):
        return "winograd"
    return "im2col"


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """BLAS limited to one thread for the duration (inside numba's parallel region)."""
    global _blas_controller
    with _blas_lock:
        if _blas_controller is None:  # after SciPy's BLAS is loaded, so that it is seen
            _blas_controller = ThreadpoolController()
    with _blas_controller.limit(limits=1, user_api="blas"):
        yield


def _compiled(run: Callable[[], T]) -> T:
    """Run a kernel call; a compilation failure becomes a `PluginLoadError`."""
    try:
        return run()
    except NumbaError as exc:
        raise PluginLoadError(
            "conv_backends",
            "numba",
            ENTRY_POINT,
            DISTRIBUTION,
            f"numba could not compile the kernels: {type(exc).__name__}: {exc}",
        ) from exc


def _parallel(run: Callable[[], None]) -> None:
    """A parallel kernel call, with BLAS pinned to one thread inside it; one at a time (two
    Python threads must not launch parallel regions at once on numba's default layer).

    NumPy work that calls BLAS around a parallel kernel belongs inside ``run`` too: a
    product large enough for OpenBLAS to run on two threads leaves them spinning into
    numba's parallel region (Winograd's weight transforms of 64 x 64 kernels made the
    forward 4 ms instead of 1)."""

    def pinned() -> None:
        with _parallel_lock, _one_blas_thread():
            run()

    _compiled(pinned)


def winograd_tile(g: ConvGeometry) -> int:
    """The output tile size ``m`` of the Winograd F(m x m, 3x3) that `path_for`'s
    ``"winograd"`` runs: 4 where F(4x4) needs fewer multiplications than F(2x2) (36 per
    4x4 tile against 16 per 2x2 tile, partial tiles counted whole), else 2.

    F(4x4) was measured faster wherever it needs fewer: 0.56-0.88x F(2x2)'s time on 3x3
    stride-1 layers with 4x4 to 56x56 outputs and 16-64 channels (benchmarks/README.md);
    on 1x1, 2x2 and 6x6 outputs, where it needs as many or more, 1.2-1.3x. Its float32
    error is larger: 1-2.4e-6 of the largest output against 2-5e-7.

    >>> from scratchnet_core.conv_geometry import ConvGeometry
    >>> def tile(size: int) -> int:
    ...     w = (32, 16, 3, 3)
    ...     return winograd_tile(ConvGeometry((8, 16, size, size), w, (1, 1), (1, 1), (1, 1), ""))
    >>> tile(28), tile(8), tile(4), tile(14), tile(6), tile(2)
    (4, 4, 4, 4, 2, 2)
    """
    return 4 if 36 * _tiles(g, 4) < 16 * _tiles(g, 2) else 2


def _tiles(g: ConvGeometry, m: int) -> int:
    """Winograd tiles per image: ``ceil(OH / m) ceil(OW / m)``."""
    return math.prod((s + m - 1) // m for s in g.out)


def _block(g: ConvGeometry, m: int, parts: int, itemsize: int = 4) -> int:
    """Images per Winograd GEMM batch: about `TARGET_COLUMNS` tiles and at most about
    `TARGET_BYTES`, the batches of a thread's range of images made equal (16 images: 8 + 8,
    not 13 + 3)."""
    tiles = _tiles(g, m)
    image_bytes = (m + 2) ** 2 * (g.in_channels + g.out_channels) * tiles * itemsize
    most = max(1, min(TARGET_COLUMNS[m] // tiles, TARGET_BYTES // image_bytes))
    per_part = -(-g.batch // parts)
    return -(-per_part // -(-per_part // most))


def _as_3d(a: Array, dims: int) -> Array:
    """``(N, C, *spatial)`` with 1 or 2 spatial axes -> unit leading axes up to 3."""
    return a.reshape(a.shape[:2] + (1,) * (3 - dims) + a.shape[2:])


def _col_index(g: ConvGeometry, x3: Array, gv: Array) -> Array:
    """The im2col index table for this geometry, or an empty one where it would be larger
    than `INDEX_MAX_ENTRIES` (or overflow int32): then the kernels loop over the taps."""
    entries = g.in_channels * g.kernel_size * g.positions
    if entries > INDEX_MAX_ENTRIES or math.prod(x3.shape[1:]) >= 2**31:
        return np.empty((0, 0), np.int32)
    table: Array = _kernels.col_index(np.array(x3.shape[1:], np.int64), gv)
    return table


def _geometry_vector(g: ConvGeometry) -> Array:
    pad3 = (0,) * (3 - g.dims)
    one3 = (1,) * (3 - g.dims)
    return np.array(
        [
            *(one3 + g.kernel),
            *(one3 + g.stride),
            *(pad3 + g.padding),
            *(one3 + g.dilation),
            *(one3 + g.out),
        ],
        dtype=np.int64,
    )


# The kernel transforms ``G`` of F(2x2, 3x3) and F(4x4, 3x3) (see `_kernels` for B and A).
_G = {
    2: np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]]),
    4: np.array(  # points 0, 1, -1, 2, -1/2, infinity; rows scaled as `_kernels` says
        [
            [1 / 2, 0.0, 0.0],
            [-1 / 6, -1 / 6, -1 / 6],
            [1 / 6, -1 / 6, 1 / 6],
            [1 / 30, 1 / 15, 2 / 15],
            [-2 / 15, 1 / 15, -1 / 30],
            [0.0, 0.0, 1 / 2],
        ]
    ),
}


# ``U = G g G^T`` is one product with ``kron(G, G)`` ((m + 2)^2, 9) on the flattened kernels
_GG = {m: np.kron(g, g) for m, g in _G.items()}


def _winograd_weights(w: Array, m: int) -> Array:
    """``U = G g G^T`` for every (out, in) channel pair, as ``(a^2, C_out, C_in)``,
    ``a = m + 2``: one GEMM with ``kron(G, G)``, in float64, rounded once to ``w``'s dtype
    (two ``tensordot``s took 1.5-4x as long on 32 x 16 kernels)."""
    u = _GG[m] @ w.reshape(-1, 9).T
    return np.ascontiguousarray(u, dtype=w.dtype).reshape(-1, w.shape[0], w.shape[1])


def _winograd_weight_grad(du: Array, shape: tuple[int, ...], m: int) -> Array:
    """``dL/dg = G^T dU G`` from ``du: (a^2, C_out, C_in)``, as ``(C_out, C_in, 3, 3)``."""
    dg = _GG[m].T @ du.reshape(du.shape[0], -1)  # (9, C_out C_in)
    return np.ascontiguousarray(dg.T, dtype=du.dtype).reshape(shape)


class Numba(ConvBackend):
    """Compiled N-d convolution (numba): Winograd for 3x3 stride 1, per-image im2col else.

    Examples
    --------
    >>> import numpy as np
    >>> x, w = np.arange(16.0).reshape(1, 1, 4, 4), np.ones((1, 1, 2, 2))
    >>> Numba().forward(x, w, (2, 2), (0, 0), (1, 1))  # sums of 2x2 blocks
    array([[[[10., 18.],
             [42., 50.]]]])
    """

    def __init__(self) -> None:
        # Winograd: the last forward's transformed input, for the backward that follows:
        # (x, work dtype, padding, parts, block, buffer); None after backward.
        self._cache: tuple[Any, ...] | None = None
        self._keep = True  # False: backward recomputes the transform (for benchmarks)

    def clear_cache(self) -> None:
        """Drop the transformed input kept from the last `forward`.

        >>> b = Numba()
        >>> _ = b.forward(np.ones((1, 4, 4, 4)), np.ones((2, 4, 3, 3)), (1, 1), (1, 1), (1, 1))
        >>> b.clear_cache()
        """
        self._cache = None

    # ---------------------------------------------------------------- planning, for auto
    # No ``estimate``: how fast this backend is depends on the machine's BLAS kernels and
    # cores far more than ``direct``'s and ``fft``'s cost models capture, so ``auto`` times
    # it once per geometry (a few calls) instead of trusting constants from another machine.
    def supports(
        self,
        x_shape: tuple[int, ...],
        w_shape: tuple[int, ...],
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
        dtype: Any = None,
    ) -> bool:
        """Every geometry the interface allows, in float32 and float64.

        >>> Numba().supports((8, 3, 32, 32), (16, 3, 3, 3), (1, 1), (1, 1), (1, 1), "float16")
        False
        """
        return dtype is None or np.dtype(dtype) in (np.float32, np.float64)

    # ------------------------------------------------------------------------- compute
    @staticmethod
    def _parts(g: ConvGeometry) -> int:
        """Threads for this geometry: one below `PARALLEL_MIN_MACS` (no parallel region)."""
        macs = g.batch * g.positions * g.in_channels * g.kernel_size * g.out_channels
        if macs < PARALLEL_MIN_MACS:
            return 1
        return max(1, min(g.batch, numba.get_num_threads()))

    def forward(
        self,
        x: Array,
        w: Array,
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
    ) -> Array:
        g = geometry(x, w, stride, padding, dilation, "numba")
        dtype = np.result_type(x.dtype, w.dtype)
        work = dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)
        xc = np.ascontiguousarray(x, dtype=work)
        wc = np.ascontiguousarray(w, dtype=work)
        parts = self._parts(g)
        y = np.empty((g.batch, g.out_channels, *g.out), dtype=work)
        self._cache = None  # the previous buffer goes before the new one is allocated
        if path_for(g) == "winograd":
            m = winograd_tile(g)
            ph, pw = g.padding
            block = _block(g, m, parts, work.itemsize)
            # the whole batch's transformed input ((m + 2)^2 / m^2 x the input), for backward
            planes = (m + 2) ** 2
            size = planes * g.in_channels * g.batch * _tiles(g, m)
            keep = np.empty(size if self._keep else 0, work)
            if parts == 1:
                u = _winograd_weights(wc, m)
                _compiled(
                    lambda: _kernels.winograd_forward_range(
                        xc, u, y, m, ph, pw, block, 0, g.batch, keep
                    )
                )
            else:  # the weight transform inside, where BLAS has one thread (`_parallel`)
                _parallel(
                    lambda: _kernels.winograd_forward(
                        xc, _winograd_weights(wc, m), y, m, ph, pw, block, parts, keep
                    )
                )
            if keep.size:
                self._cache = (x, x.shape, work, g.padding, parts, block, m, keep)
        else:
            gv = _geometry_vector(g)
            x3 = _as_3d(xc, g.dims)
            w2 = wc.reshape(g.out_channels, -1)
            y3 = y.reshape(g.batch, g.out_channels, -1)
            idx = _compiled(lambda: _col_index(g, x3, gv))
            if parts == 1:
                _compiled(lambda: _kernels.conv_forward_range(x3, w2, y3, gv, idx, 0, g.batch))
            else:
                _parallel(lambda: _kernels.conv_forward(x3, w2, y3, gv, idx, parts))
        return y if work == dtype else y.astype(dtype)

    def backward(
        self,
        grad_y: Array,
        x: Array,
        w: Array,
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
    ) -> tuple[Array, Array]:
        g = geometry(x, w, stride, padding, dilation, "numba")
        dtype = np.result_type(x.dtype, w.dtype)
        work = dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)
        xc = np.ascontiguousarray(x, dtype=work)
        wc = np.ascontiguousarray(w, dtype=work)
        gy = np.ascontiguousarray(grad_y, dtype=work)
        parts = self._parts(g)
        grad_x = np.empty(xc.shape, dtype=work)
        cache, self._cache = self._cache, None
        if path_for(g) == "winograd":
            m = winograd_tile(g)
            ph, pw = g.padding
            block = _block(g, m, parts, work.itemsize)
            kept = np.empty(0, work)  # the forward's transform of this same x, else recomputed
            if (
                cache is not None
                and cache[0] is x
                and cache[1:7] == (x.shape, work, g.padding, parts, block, m)
            ):
                kept = cache[7]
            del cache
            du = np.empty((parts, (m + 2) ** 2, g.out_channels, g.in_channels), dtype=work)
            if parts == 1:
                u = _winograd_weights(wc, m)
                _compiled(
                    lambda: _kernels.winograd_backward_range(
                        xc, u, gy, grad_x, du[0], m, ph, pw, block, 0, g.batch, kept
                    )
                )
                grad_w = _winograd_weight_grad(du[0], w.shape, m)
            else:  # both weight transforms inside, where BLAS has one thread
                grads: list[Array] = []

                def run() -> None:
                    u = _winograd_weights(wc, m)
                    _kernels.winograd_backward(xc, u, gy, grad_x, du, m, ph, pw, block, parts, kept)
                    grads.append(_winograd_weight_grad(du.sum(axis=0), w.shape, m))

                _parallel(run)
                grad_w = grads[0]
            del kept
        else:
            gv = _geometry_vector(g)
            x3, gx3 = _as_3d(xc, g.dims), _as_3d(grad_x, g.dims)
            w2 = wc.reshape(g.out_channels, -1)
            gy3 = gy.reshape(g.batch, g.out_channels, -1)
            gw = np.empty((parts, *w2.shape), dtype=work)
            idx = _compiled(lambda: _col_index(g, x3, gv))
            if parts == 1:
                _compiled(
                    lambda: _kernels.conv_backward_range(
                        x3, w2, gy3, gx3, gw[0], gv, idx, 0, g.batch
                    )
                )
            else:
                _parallel(lambda: _kernels.conv_backward(x3, w2, gy3, gx3, gw, gv, idx, parts))
            grad_w = gw.sum(axis=0).reshape(w.shape)
        if work != dtype:
            return grad_x.astype(dtype), grad_w.astype(dtype)
        return grad_x, np.ascontiguousarray(grad_w)
