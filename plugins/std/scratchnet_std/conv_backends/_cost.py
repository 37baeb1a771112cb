"""Cost models of ``direct`` and ``fft`` (their `estimate`).

Seconds of one forward + backward in float32:

- ``direct``: ``a * gemm_flops + b * im2col_elements + c``
- ``fft``: ``d * fft_work + e * channel_products + f``

with ``gemm_flops = 6 N P C_in K C_out`` (three GEMMs), ``im2col_elements = N P C_in K``,
``fft_work`` the six transforms' ``maps * L log2 L`` and ``channel_products = 3 F N C_in C_out``.
The constants were fitted by ``benchmarks/calibrate_auto.py`` on this project's reference
machine (2 cores, OpenBLAS); rerun it to refit on other hardware. float64 counts double.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._common import ConvGeometry

__all__ = ["DIRECT", "FFT_COEF", "direct_seconds", "features", "fft_seconds"]

# fitted by benchmarks/calibrate_auto.py (milliseconds per unit)
DIRECT = (4.748e-09, 2.042e-06, 0.1409)  # median relative error 0.19 over 96 shapes
FFT_COEF = (3.631e-07, 1.576e-07, 0.3129)  # median relative error 0.14


def _fast_length(n: int) -> int:
    from .fft import fast_length

    return fast_length(n)


def features(g: ConvGeometry) -> dict[str, float]:
    """The shape quantities the cost models use.

    >>> g = ConvGeometry((2, 3, 8, 8), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1), "doc")
    >>> features(g)["im2col"]
    3456.0
    """
    n, c, o = g.batch, g.in_channels, g.out_channels
    lengths = [_fast_length(s) for s in g.padded]
    points = math.prod(lengths)
    freqs = points // lengths[-1] * (lengths[-1] // 2 + 1)
    maps = 2 * n * c + 2 * o * c + 2 * n * o
    return {
        "gemm_flops": 6.0 * n * g.positions * c * g.kernel_size * o,
        "im2col": float(n * g.positions * c * g.kernel_size),
        "fft_work": maps * points * math.log2(max(points, 2)),
        "channel_products": 3.0 * freqs * n * c * o,
    }


def _scale(dtype: Any) -> float:
    return 2.0 if dtype is not None and np.dtype(dtype).itemsize > 4 else 1.0


def direct_seconds(g: ConvGeometry, dtype: Any = None) -> float:
    """Predicted seconds of ``direct``'s forward + backward.

    >>> g = ConvGeometry((32, 16, 28, 28), (32, 16, 3, 3), (1, 1), (1, 1), (1, 1), "doc")
    >>> 0.001 < direct_seconds(g) < 0.1
    True
    """
    f = features(g)
    ms = DIRECT[0] * f["gemm_flops"] + DIRECT[1] * f["im2col"] + DIRECT[2]
    return _scale(dtype) * ms / 1e3


def fft_seconds(g: ConvGeometry, dtype: Any = None) -> float:
    """Predicted seconds of ``fft``'s forward + backward.

    >>> g = ConvGeometry((16, 8, 64, 64), (16, 8, 11, 11), (1, 1), (0, 0), (1, 1), "doc")
    >>> fft_seconds(g) < direct_seconds(g)
    True
    """
    f = features(g)
    ms = FFT_COEF[0] * f["fft_work"] + FFT_COEF[1] * f["channel_products"] + FFT_COEF[2]
    return _scale(dtype) * ms / 1e3
