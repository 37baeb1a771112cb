"""Single- and double-precision GEMM callable from numba-compiled code, through SciPy.

SciPy exports its BLAS to compiled code as ``scipy.linalg.cython_blas``; numba's
``get_cython_function_address`` returns the address of ``sgemm``/``dgemm`` there (the public
route: nothing reaches into NumPy's private bundled BLAS). The addresses are registered with
LLVM under names of our own and declared as external functions, so the compiled kernels refer
to a *symbol*, not to a constant address: that is what lets numba cache them on disk
(``cache=True``) and a later process link them again, after this module has re-registered
the symbols.

`gemm` computes ``c = op(a) @ op(b) + beta * c`` on row-major (C-contiguous) 2-d arrays
of one float dtype; BLAS is column-major, so it asks for ``c^T = op(b)^T op(a)^T``.
"""

from __future__ import annotations

from typing import Any

import llvmlite.binding as llvm
import numpy as np
from numba import njit, types
from numba.extending import get_cython_function_address

__all__ = ["gemm"]


def _declare(name: str) -> Any:
    symbol = f"scratchnet_numba_{name}"
    llvm.add_symbol(symbol, get_cython_function_address("scipy.linalg.cython_blas", name))
    # transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc: all passed by pointer
    return types.ExternalFunction(symbol, types.void(*([types.voidptr] * 13)))


_sgemm = _declare("sgemm")
_dgemm = _declare("dgemm")

_N, _T = 78, 84  # ord("N"), ord("T")


@njit(cache=True, nogil=True)
def gemm(trans_a: bool, trans_b: bool, a: Any, b: Any, c: Any, beta: float) -> None:
    """``c (M, N) = op(a) @ op(b) + beta * c``, row-major, ``op`` a transpose when asked."""
    m, n = c.shape[0], c.shape[1]
    k = a.shape[0] if trans_a else a.shape[1]
    ints = np.empty(6, np.int32)
    ints[0] = n
    ints[1] = m
    ints[2] = k
    ints[3] = b.shape[1]
    ints[4] = a.shape[1]
    ints[5] = n
    chars = np.empty(2, np.uint8)
    chars[0] = _T if trans_b else _N
    chars[1] = _T if trans_a else _N
    scalars = np.empty(2, c.dtype)
    scalars[0] = 1.0
    scalars[1] = beta
    if c.itemsize == 4:
        _sgemm(
            chars[0:].ctypes,
            chars[1:].ctypes,
            ints[0:].ctypes,
            ints[1:].ctypes,
            ints[2:].ctypes,
            scalars[0:].ctypes,
            b.ctypes,
            ints[3:].ctypes,
            a.ctypes,
            ints[4:].ctypes,
            scalars[1:].ctypes,
            c.ctypes,
            ints[5:].ctypes,
        )
    else:
        _dgemm(
            chars[0:].ctypes,
            chars[1:].ctypes,
            ints[0:].ctypes,
            ints[1:].ctypes,
            ints[2:].ctypes,
            scalars[0:].ctypes,
            b.ctypes,
            ints[3:].ctypes,
            a.ctypes,
            ints[4:].ctypes,
            scalars[1:].ctypes,
            c.ctypes,
            ints[5:].ctypes,
        )
