"""Fit ``_cost.BATCH_LAST``: when ``direct`` keeps the batch axis last.

Times ``direct``'s forward + backward with each column order forced (batch first, batch last),
interleaved in one process, on the issue's grid, the digits networks' shapes and a random
spread, then least-squares fits the batch-last minus batch-first time (relative to the
batch-first time, so that every shape counts alike) on the four terms of
``scratchnet_std.conv_backends._cost.batch_last_gain``.

    python benchmarks/calibrate_direct_order.py   # prints a table and the tuple for _cost.py
"""

from __future__ import annotations

import math
import time

import numpy as np

from scratchnet_std.conv_backends import direct
from scratchnet_std.conv_backends._common import ConvGeometry
from scratchnet_std.conv_backends._cost import BATCH_LAST

FIXED = [
    (32, 16, 32, 28, 3, 1, 1),
    (32, 16, 32, 28, 7, 1, 0),
    (16, 8, 16, 64, 11, 1, 0),
    (64, 1, 8, 28, 5, 1, 0),
    (32, 32, 64, 16, 3, 2, 1),
    (32, 1, 16, 8, 3, 1, 1),  # digits CNN
    (32, 16, 32, 4, 3, 1, 1),
    (32, 16, 16, 8, 3, 1, 1),  # digits ResNet
    (32, 16, 32, 8, 3, 2, 1),
    (32, 32, 32, 4, 3, 1, 1),
    (32, 16, 32, 8, 1, 2, 0),
]


def shapes(rng: np.random.Generator, count: int = 30) -> list[tuple[int, ...]]:
    out = list(FIXED)
    for _ in range(count):
        n, c, o = (
            int(rng.choice(v)) for v in ((8, 16, 32, 64), (1, 3, 8, 16, 32, 64), (8, 16, 32, 64))
        )
        h, k, s = (
            int(rng.choice((4, 8, 14, 16, 28, 32, 56))),
            int(rng.choice((1, 3, 3, 5, 7))),
            int(rng.choice((1, 1, 2))),
        )
        if k <= h and n * c * h * h * k * k * o <= 4e8:
            out.append((n, c, o, h, k, s, k // 2))
    return out


def time_orders(case: tuple[int, ...], rng: np.random.Generator) -> tuple[float, float]:
    """Fastest forward + backward in ns with the batch-first and the batch-last order."""
    n, c, o, h, k, s, p = case
    x = rng.standard_normal((n, c, h, h)).astype(np.float32)
    w = rng.standard_normal((o, c, k, k)).astype(np.float32)
    args = ((s, s), (p, p), (1, 1))
    backend = direct.Direct()
    gy = rng.standard_normal(backend.forward(x, w, *args).shape).astype(np.float32)
    chosen = direct.batch_last

    def run(last: bool) -> float:
        direct.batch_last = lambda _g: last  # type: ignore[assignment]
        start = time.perf_counter()
        backend.forward(x, w, *args)
        backend.backward(gy, x, w, *args)
        return time.perf_counter() - start

    try:
        rounds = max(8, min(40, int(1.0 / max(run(False), 1e-4) / 3)))
        best = {False: math.inf, True: math.inf}
        for r in range(rounds):
            for last in (False, True) if r % 2 == 0 else (True, False):
                for _ in range(3):
                    best[last] = min(best[last], run(last))
    finally:
        direct.batch_last = chosen
    return best[False] * 1e9, best[True] * 1e9


def terms(case: tuple[int, ...]) -> list[float]:
    """The four terms of ``batch_last_gain`` (with the sign of the time difference)."""
    n, c, o, h, k, s, p = case
    g = ConvGeometry((n, c, h, h), (o, c, k, k), (s, s), (p, p), (1, 1), "calibrate")
    copies = c * k * k * n * g.positions
    runs_last = n * (g.out[-1] if s == 1 else 1)
    transposed = n * (2 * o * g.positions + c * (math.prod(g.padded) + h * h))
    return [copies, copies / runs_last, -copies / g.out[-1], transposed]


def main() -> None:
    rng = np.random.default_rng(1)
    rows, a, b = [], [], []
    for case in shapes(rng):
        first, last = time_orders(case, rng)
        rows.append((case, first, last))
        a.append(np.array(terms(case)) / first)
        b.append((last - first) / first)
    coef, *_ = np.linalg.lstsq(np.array(a), np.array(b), rcond=None)
    print("| N, Cin, Cout, H=W, k, s, p | first ms | last ms | last/first | predicted |")
    print("|---|---|---|---|---|")
    right = 0
    for (case, first, last), row in zip(rows, a, strict=True):
        predicted = 1 + float(row @ coef)
        right += (predicted < 1) == (last < first)
        print(f"| {', '.join(map(str, case))} | {first / 1e6:.3f} | {last / 1e6:.3f} | "
              f"{last / first:.3f} | {predicted:.3f} |")  # fmt: skip
    print(f"\nBATCH_LAST = {tuple(float(f'{v:.3g}') for v in coef)}  (in _cost.py: {BATCH_LAST})")
    print(f"order predicted right on {right} of {len(rows)} shapes")


if __name__ == "__main__":
    main()
