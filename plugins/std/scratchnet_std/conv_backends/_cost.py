"""Cost models of ``direct`` and ``fft`` (their `estimate`).

Seconds of one forward + backward in float32:

- ``direct``: ``a * gemm_flops + b * im2col_elements + c``, less `batch_last_gain` where
  that is positive (``direct`` then takes its batch-last column order)
- ``fft``: ``d * fft_work + e * channel_products + f``

with ``gemm_flops = 6 N P C_in K C_out`` (three GEMMs), ``im2col_elements = N P C_in K``,
``fft_work`` the transforms' ``maps * L log2 L`` (of the input, the output, the output
gradient and the input gradient; the kernel's and the weight gradient's only where ``fft``
takes FFTs for them, not dense DFTs) and ``channel_products = 3 F N C_in C_out``.
The constants were fitted by ``benchmarks/calibrate_auto.py`` on this project's reference
machine (2 cores, OpenBLAS); rerun it to refit on other hardware. float64 counts double.
The ``a, b, c`` of ``direct`` were fitted before its batch-last order existed, on its
batch-first order, which it still takes where `batch_last_gain` is not positive.
The ``d, e, f`` of ``fft`` were fitted before its kernel DFTs and 7-smooth lengths; with the
features counted as above they predict the faster ``fft`` (timed against the earlier one on
calibrate_auto's 240 shapes, interleaved) with a median relative error of 0.14, where a
refit reached 0.16, so they were kept.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._common import ConvGeometry

__all__ = [
    "BATCH_LAST",
    "DIRECT",
    "FFT_COEF",
    "batch_last_gain",
    "direct_seconds",
    "features",
    "fft_seconds",
]

# fitted by benchmarks/calibrate_auto.py (milliseconds per unit)
DIRECT = (4.748e-09, 2.042e-06, 0.1409)  # median relative error 0.19 over 96 shapes
FFT_COEF = (3.631e-07, 1.576e-07, 0.3129)  # median relative error 0.14
# ``direct``'s batch-last minus batch-first time, in ns: per im2col / col2im element, per run
# of the batch-last and of the batch-first copies (NumPy calls its inner loop once per run), per
# element of the batch-last order's four full transposes. Least squares (relative) over 37
# shapes timed interleaved in one process; classifies 33 right, the other 4 within 5%.
BATCH_LAST = (0.5, 6.4, 16.0, 0.6)


def features(g: ConvGeometry) -> dict[str, float]:
    """The shape quantities the cost models use.

    >>> g = ConvGeometry((2, 3, 8, 8), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1), "doc")
    >>> features(g)["im2col"]
    3456.0
    """
    from .fft import _use_dft, fast_length

    n, c, o = g.batch, g.in_channels, g.out_channels
    lengths = [fast_length(s) for s in g.padded]
    points = math.prod(lengths)
    freqs = points // lengths[-1] * (lengths[-1] // 2 + 1)
    maps = 2 * n * c + 2 * n * o  # the kernels' two take dense DFTs unless they are large
    if not all(_use_dft(k, m) for k, m in zip(g.kernel, lengths, strict=True)):
        maps += 2 * o * c
    return {
        "gemm_flops": 6.0 * n * g.positions * c * g.kernel_size * o,
        "im2col": float(n * g.positions * c * g.kernel_size),
        "fft_work": maps * points * math.log2(max(points, 2)),
        "channel_products": 3.0 * freqs * n * c * o,
    }


def _scale(dtype: Any) -> float:
    return 2.0 if dtype is not None and np.dtype(dtype).itemsize > 4 else 1.0


def batch_last_gain(g: ConvGeometry) -> float:
    """Predicted seconds ``direct``'s batch-last column order saves over its batch-first one
    (negative: it costs more). Only the copies and transposes differ; the GEMMs are the same.

    >>> small = ConvGeometry((32, 16, 4, 4), (32, 16, 3, 3), (1, 1), (1, 1), (1, 1), "doc")
    >>> big = ConvGeometry((32, 16, 28, 28), (32, 16, 3, 3), (1, 1), (1, 1), (1, 1), "doc")
    >>> batch_last_gain(small) > 0 > batch_last_gain(big)
    True
    """
    element, run_last, run_first, transpose = BATCH_LAST
    copies = g.in_channels * g.kernel_size * g.batch * g.positions  # im2col, then col2im
    runs_last = g.batch * (g.out[-1] if g.stride[-1] == 1 else 1)
    spatial = math.prod(p - 2 * q for p, q in zip(g.padded, g.padding, strict=True))
    transposed = g.batch * (
        2 * g.out_channels * g.positions + g.in_channels * (math.prod(g.padded) + spatial)
    )
    extra = copies * (element + run_last / runs_last - run_first / g.out[-1])
    return -(extra + transpose * transposed) * 1e-9


def direct_seconds(g: ConvGeometry, dtype: Any = None) -> float:
    """Predicted seconds of ``direct``'s forward + backward.

    >>> g = ConvGeometry((32, 16, 28, 28), (32, 16, 3, 3), (1, 1), (1, 1), (1, 1), "doc")
    >>> 0.001 < direct_seconds(g) < 0.1
    True
    """
    f = features(g)
    ms = DIRECT[0] * f["gemm_flops"] + DIRECT[1] * f["im2col"] + DIRECT[2]
    return _scale(dtype) * (ms / 1e3 - max(batch_last_gain(g), 0.0))


def fft_seconds(g: ConvGeometry, dtype: Any = None) -> float:
    """Predicted seconds of ``fft``'s forward + backward.

    >>> g = ConvGeometry((16, 8, 64, 64), (16, 8, 11, 11), (1, 1), (0, 0), (1, 1), "doc")
    >>> fft_seconds(g) < direct_seconds(g)
    True
    """
    f = features(g)
    ms = FFT_COEF[0] * f["fft_work"] + FFT_COEF[1] * f["channel_products"] + FFT_COEF[2]
    return _scale(dtype) * ms / 1e3
