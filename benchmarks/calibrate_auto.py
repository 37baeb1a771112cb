"""Fit the ``auto`` backend's cost model: time ``direct`` and ``fft`` on a spread of conv
shapes, then least-squares fit the constants of ``scratchnet_std.conv_backends._cost``.

    python benchmarks/calibrate_auto.py      # prints the fitted tuples to paste into _cost.py
"""

from __future__ import annotations

import itertools
import statistics
import time

import numpy as np

from scratchnet_std.conv_backends._common import ConvGeometry
from scratchnet_std.conv_backends._cost import features
from scratchnet_std.conv_backends.direct import Direct
from scratchnet_std.conv_backends.fft import FFT


def time_ms(backend, x, w, g, stride, padding) -> float:
    y = backend.forward(x, w, stride, padding, (1,) * (x.ndim - 2))
    grad = np.ones_like(y)

    def run() -> None:
        backend.forward(x, w, stride, padding, (1,) * (x.ndim - 2))
        backend.backward(grad, x, w, stride, padding, (1,) * (x.ndim - 2))

    run()
    times = []
    for _ in range(3):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    rng = np.random.default_rng(0)
    shapes = []
    for n, c, o, size, k, s in itertools.product(
        (8, 32), (1, 8, 32), (8, 32), (16, 32, 64), (3, 5, 9, 13), (1, 2)
    ):
        if k <= size // 2:
            shapes.append((n, c, o, size, k, s))
    rows = {"direct": ([], []), "fft": ([], [])}
    for n, c, o, size, k, s in shapes:
        x = rng.standard_normal((n, c, size, size)).astype(np.float32)
        w = rng.standard_normal((o, c, k, k)).astype(np.float32)
        stride, padding = (s, s), (k // 2, k // 2)
        g = ConvGeometry(x.shape, w.shape, stride, padding, (1, 1), "calibrate")
        f = features(g)
        rows["direct"][0].append([f["gemm_flops"], f["im2col"], 1.0])
        rows["direct"][1].append(time_ms(Direct(), x, w, g, stride, padding))
        rows["fft"][0].append([f["fft_work"], f["channel_products"], 1.0])
        rows["fft"][1].append(time_ms(FFT(), x, w, g, stride, padding))
    for name, (a, b) in rows.items():
        a_arr, b_arr = np.array(a), np.array(b)
        # relative least squares: every shape counts alike, small or large
        coef, *_ = np.linalg.lstsq(a_arr / b_arr[:, None], np.ones_like(b_arr), rcond=None)
        coef = np.maximum(coef, 0)
        pred = a_arr @ coef
        err = np.median(np.abs(pred - b_arr) / b_arr)
        print(f"{name}: {tuple(float(f'{v:.4g}') for v in coef)}  median relative error {err:.2f}")


if __name__ == "__main__":
    main()
