"""``auto``: ``fft`` or ``direct``, whichever a cost model predicts is faster for the shape.

The model is deterministic, so a seeded training run is bit-identical run after run (a
timing race, as cuDNN's benchmark mode runs, could pick differently from one run to the
next). It estimates the milliseconds of one forward + backward:

- ``direct``: ``a * gemm_flops + b * im2col_elements + c``
- ``fft``: ``d * fft_work + e * channel_products + f``

with ``gemm_flops = 6 N P C_in K C_out`` (three GEMMs), ``im2col_elements = N P C_in K``,
``fft_work`` the six transforms' ``maps * L log2 L`` and ``channel_products = 3 F N C_in C_out``.
The constants were fitted by ``benchmarks/calibrate_auto.py`` on this project's reference
machine (2 cores, OpenBLAS, float32); rerun it to refit on other hardware.
"""

from __future__ import annotations

import math
from typing import Any

from scratchnet_core import ConvBackend
from scratchnet_core.interfaces import Array

from ._common import ConvGeometry, geometry
from .direct import Direct
from .fft import FFT, fast_length

__all__ = ["Auto", "estimate_ms"]

# fitted by benchmarks/calibrate_auto.py (milliseconds per unit)
DIRECT = (4.748e-09, 2.042e-06, 0.1409)  # median relative error 0.19 over 96 shapes
FFT_COEF = (3.631e-07, 1.576e-07, 0.3129)  # median relative error 0.14


def features(g: ConvGeometry) -> dict[str, float]:
    """The shape quantities the cost model uses."""
    n, c, o = g.batch, g.in_channels, g.out_channels
    lengths = [fast_length(s) for s in g.padded]
    points = math.prod(lengths)
    freqs = points // lengths[-1] * (lengths[-1] // 2 + 1)
    maps = 2 * n * c + 2 * o * c + 2 * n * o
    return {
        "gemm_flops": 6.0 * n * g.positions * c * g.kernel_size * o,
        "im2col": float(n * g.positions * c * g.kernel_size),
        "fft_work": maps * points * math.log2(max(points, 2)),
        "channel_products": 3.0 * freqs * n * c * o,
    }


def estimate_ms(g: ConvGeometry) -> dict[str, float]:
    """Predicted milliseconds of forward + backward for ``direct`` and ``fft``.

    >>> from scratchnet_std.conv_backends._common import ConvGeometry
    >>> g = ConvGeometry((16, 8, 64, 64), (16, 8, 11, 11), (1, 1), (0, 0), (1, 1), "doc")
    >>> estimates = estimate_ms(g)
    >>> estimates["fft"] < estimates["direct"]
    True
    """
    f = features(g)
    return {
        "direct": DIRECT[0] * f["gemm_flops"] + DIRECT[1] * f["im2col"] + DIRECT[2],
        "fft": FFT_COEF[0] * f["fft_work"] + FFT_COEF[1] * f["channel_products"] + FFT_COEF[2],
    }


class Auto(ConvBackend):
    """Delegates each call to ``fft`` or ``direct`` by the cost model (cached per shape).

    Examples
    --------
    >>> auto = Auto()
    >>> auto.choice_for((32, 16, 28, 28), (32, 16, 3, 3), (1, 1), (1, 1), (1, 1))
    'direct'
    >>> auto.choice_for((16, 8, 64, 64), (16, 8, 11, 11), (1, 1), (0, 0), (1, 1))
    'fft'
    """

    def __init__(self) -> None:
        self._backends: dict[str, ConvBackend] = {"direct": Direct(), "fft": FFT()}
        self._choices: dict[tuple[Any, ...], str] = {}

    def choice_for(
        self,
        x_shape: tuple[int, ...],
        w_shape: tuple[int, ...],
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
        dtype: Any = None,
    ) -> str:
        """The backend name chosen for these shapes."""
        key = (tuple(x_shape), tuple(w_shape), tuple(stride), tuple(padding), tuple(dilation))
        choice = self._choices.get(key)
        if choice is None:
            g = ConvGeometry(tuple(x_shape), tuple(w_shape), stride, padding, dilation, "auto")
            estimates = estimate_ms(g)
            choice = self._choices[key] = min(estimates, key=estimates.__getitem__)
        return choice

    def _pick(self, x: Array, w: Array, stride: Any, padding: Any, dilation: Any) -> ConvBackend:
        geometry(x, w, stride, padding, dilation, "auto")
        return self._backends[self.choice_for(x.shape, w.shape, stride, padding, dilation)]

    def forward(
        self,
        x: Array,
        w: Array,
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
    ) -> Array:
        return self._pick(x, w, stride, padding, dilation).forward(x, w, stride, padding, dilation)

    def backward(
        self,
        grad_y: Array,
        x: Array,
        w: Array,
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
    ) -> tuple[Array, Array]:
        backend = self._pick(x, w, stride, padding, dilation)
        return backend.backward(grad_y, x, w, stride, padding, dilation)

    def clear_cache(self) -> None:
        for backend in self._backends.values():
            backend.clear_cache()
