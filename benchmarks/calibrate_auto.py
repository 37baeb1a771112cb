"""Fit the cost models behind the backends' ``estimate`` (which ``auto`` compares): time
``direct``, ``fft`` and, when installed, ``numba`` (per kernel path) on a spread of conv
shapes, then least-squares fit the constants.

    python benchmarks/calibrate_auto.py [--backends direct fft numba] [--quick]
    python benchmarks/calibrate_auto.py --relative   # numba against direct's model

``--relative`` is for a shared, noisy machine: it times ``numba`` and ``direct`` interleaved
(the minimum of several alternating runs), and fits ``numba``'s constants to
``ratio * direct's estimate``, so that load that slows both alike cancels out.

Prints the fitted tuples to paste into ``scratchnet_std/conv_backends/_cost.py`` (milliseconds
per unit) and ``scratchnet_numba/backend.py`` (``COST``, seconds per unit).
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

import scratchnet_core as sn
from scratchnet_core.conv_geometry import ConvGeometry
from scratchnet_std.conv_backends._cost import features


def time_s(backend, x, w, stride, padding) -> float:
    dilation = (1,) * (x.ndim - 2)
    y = backend.forward(x, w, stride, padding, dilation)
    grad = np.ones_like(y)

    def run() -> None:
        backend.forward(x, w, stride, padding, dilation)
        backend.backward(grad, x, w, stride, padding, dilation)

    run()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def fit(name: str, a: list[list[float]], b: list[float], unit: float) -> None:
    a_arr, b_arr = np.array(a), np.array(b) * unit
    # relative least squares: every shape counts alike, small or large
    coef, *_ = np.linalg.lstsq(a_arr / b_arr[:, None], np.ones_like(b_arr), rcond=None)
    coef = np.maximum(coef, 0)
    err = np.median(np.abs(a_arr @ coef - b_arr) / b_arr)
    print(f"{name}: {tuple(float(f'{v:.4g}') for v in coef)}  median relative error {err:.2f}")


def relative(shapes: list[tuple[int, ...]], repeats: int = 5) -> None:
    from scratchnet_numba.backend import cost_features
    from scratchnet_std.conv_backends._cost import direct_seconds

    installed = sn.get_conv_backends()
    numba_b, direct_b = installed["numba"](), installed["direct"]()
    rng = np.random.default_rng(0)
    rows: dict[str, tuple[list[list[float]], list[float]]] = {}
    for n, c, o, size, k, s in shapes:
        x = rng.standard_normal((n, c, size, size)).astype(np.float32)
        w = rng.standard_normal((o, c, k, k)).astype(np.float32)
        stride, padding = (s, s), (k // 2, k // 2)
        g = ConvGeometry(x.shape, w.shape, stride, padding, (1, 1), "calibrate")
        best = {"numba": float("inf"), "direct": float("inf")}
        for _ in range(repeats):
            for name, b in (("numba", numba_b), ("direct", direct_b)):
                best[name] = min(best[name], time_s(b, x, w, stride, padding))
        target = best["numba"] / best["direct"] * direct_seconds(g)
        path, macs, moved = cost_features(g)
        rows.setdefault(f"numba {path}", ([], []))
        rows[f"numba {path}"][0].append([macs, moved, 1.0])
        rows[f"numba {path}"][1].append(target)
    for key, (a, b) in rows.items():
        fit(key, a, b, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="*", default=None)
    parser.add_argument("--quick", action="store_true", help="a third of the shapes")
    parser.add_argument("--relative", action="store_true", help="numba against direct's model")
    args = parser.parse_args()
    installed = sn.get_conv_backends()
    names = args.backends or [n for n in ("direct", "fft", "numba") if n in installed]
    rng = np.random.default_rng(0)
    shapes = [
        (n, c, o, size, k, s)
        for n, c, o, size, k, s in itertools.product(
            (8, 32), (1, 8, 32), (8, 32), (16, 32, 64), (3, 5, 9, 13), (1, 2)
        )
        if k <= size // 2
    ]
    if args.quick:
        shapes = shapes[::3]
    if args.relative:
        relative(shapes)
        return
    rows: dict[str, tuple[list[list[float]], list[float]]] = {}
    for n, c, o, size, k, s in shapes:
        x = rng.standard_normal((n, c, size, size)).astype(np.float32)
        w = rng.standard_normal((o, c, k, k)).astype(np.float32)
        stride, padding = (s, s), (k // 2, k // 2)
        g = ConvGeometry(x.shape, w.shape, stride, padding, (1, 1), "calibrate")
        f = features(g)
        for name in names:
            seconds = time_s(installed[name](), x, w, stride, padding)
            if name == "direct":
                key, feats = name, [f["gemm_flops"], f["im2col"], 1.0]
            elif name == "fft":
                key, feats = name, [f["fft_work"], f["channel_products"], 1.0]
            else:
                from scratchnet_numba.backend import cost_features

                path, macs, moved = cost_features(g)
                key, feats = f"numba {path}", [macs, moved, 1.0]
            rows.setdefault(key, ([], []))
            rows[key][0].append(feats)
            rows[key][1].append(seconds)
    for key, (a, b) in rows.items():
        fit(key, a, b, 1.0 if key.startswith("numba") else 1e3)


if __name__ == "__main__":
    main()
