"""Conv2d forward + backward per backend over the issue's grid, against PyTorch (when
importable) and a straightforward NumPy im2col layer; the direct backend's peak memory; and
the fft/direct crossover in kernel size (a PNG, with matplotlib).

    python benchmarks/bench_conv.py [--repeats 7] [--plot benchmarks/conv_crossover.png]
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import numpy as np

from scratchnet_core.bench import GRID, bench_conv, format_table
from scratchnet_std.conv_backends.direct import Direct
from scratchnet_std.conv_backends.fft import FFT


def naive_im2col_step(x: np.ndarray, w: np.ndarray, grad: np.ndarray, padding: int) -> None:
    """The textbook NumPy layer: fancy-index im2col, one GEMM, col2im with np.add.at."""
    n, c, h, wd = x.shape
    o, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh, ow = h + 2 * padding - k + 1, wd + 2 * padding - k + 1
    i0 = np.tile(np.repeat(np.arange(k), k), c)
    j0 = np.tile(np.arange(k), k * c)
    i = i0[:, None] + np.repeat(np.arange(oh), ow)[None, :]
    j = j0[:, None] + np.tile(np.arange(ow), oh)[None, :]
    ch = np.repeat(np.arange(c), k * k)[:, None]
    cols = xp[:, ch, i, j].transpose(1, 2, 0).reshape(c * k * k, -1)  # (C K K, OH OW N)
    y = (w.reshape(o, -1) @ cols).reshape(o, oh, ow, n).transpose(3, 0, 1, 2)
    g = grad.transpose(1, 2, 3, 0).reshape(o, -1)
    _ = g @ cols.T  # dL/dw
    dcols = (w.reshape(o, -1).T @ g).reshape(c * k * k, oh * ow, n).transpose(2, 0, 1)
    dxp = np.zeros_like(xp)
    np.add.at(dxp, (slice(None), ch, i, j), dcols)
    _ = y


def time_naive(repeats: int) -> float:
    case = GRID[0]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((case.n, case.c_in, case.size, case.size)).astype(np.float32)
    w = rng.standard_normal((case.c_out, case.c_in, case.k, case.k)).astype(np.float32)
    g = rng.standard_normal((case.n, case.c_out, case.size, case.size)).astype(np.float32)
    naive_im2col_step(x, w, g, case.padding)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        naive_im2col_step(x, w, g, case.padding)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def direct_peak_memory() -> tuple[float, float]:
    """(peak extra MiB during one forward + backward of ``direct``, one im2col buffer in MiB)."""
    case = GRID[0]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((case.n, case.c_in, case.size, case.size)).astype(np.float32)
    w = rng.standard_normal((case.c_out, case.c_in, case.k, case.k)).astype(np.float32)
    g = rng.standard_normal((case.n, case.c_out, case.size, case.size)).astype(np.float32)
    backend = Direct()
    args = ((1, 1), (case.padding,) * 2, (1, 1))
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    y = backend.forward(x, w, *args)
    grads = backend.backward(g, x, w, *args)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    results = y.nbytes + sum(a.nbytes for a in grads)  # what the step returns
    buffer = case.c_in * case.k**2 * case.n * case.size**2 * 4
    return (peak - results) / 2**20, buffer / 2**20


def crossover(path: str | None, repeats: int) -> list[tuple[int, float, float]]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 8, 64, 64)).astype(np.float32)
    rows = []
    for k in (1, 3, 5, 7, 9, 11, 13, 15):
        w = rng.standard_normal((16, 8, k, k)).astype(np.float32)
        out = 64 - k + 1
        g = rng.standard_normal((16, 16, out, out)).astype(np.float32)
        ms = []
        for backend in (Direct(), FFT()):
            args = ((1, 1), (0, 0), (1, 1))
            backend.forward(x, w, *args)
            backend.backward(g, x, w, *args)
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                backend.forward(x, w, *args)
                backend.backward(g, x, w, *args)
                times.append(time.perf_counter() - start)
            ms.append(statistics.median(times) * 1e3)
        rows.append((k, ms[0], ms[1]))
    if path:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("(no plot: matplotlib is not installed)")
            return rows
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot([r[0] for r in rows], [r[1] for r in rows], "o-", label="direct (im2col + GEMM)")
        ax.plot([r[0] for r in rows], [r[2] for r in rows], "s-", label="fft")
        ax.set(
            xlabel="kernel size k (k x k)",
            ylabel="ms per forward + backward",
            yscale="log",
            title="conv2d, N=16, C 8 -> 16, 64x64, float32",
        )
        ax.legend()
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        print(f"wrote {path}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--plot", default=None, help="PNG for the kernel-size crossover")
    args = parser.parse_args()

    rows = bench_conv(repeats=args.repeats)
    print("conv2d forward + backward, float32, ms (median of the better of two blocks)")
    print(format_table(rows))
    naive = time_naive(max(3, args.repeats // 2))
    best = min(v for k, v in rows[0]["ms"].items() if k != "auto")
    print(
        f"\nstraightforward NumPy im2col layer on the first shape: {naive:.1f} ms "
        f"(best backend {best:.2f} ms: {naive / best:.0f}x faster)"
    )
    peak, buffer = direct_peak_memory()
    print(
        f"direct backend, first shape: peak extra memory {peak:.1f} MiB beyond the step's "
        f"outputs; one im2col buffer is {buffer:.1f} MiB"
    )
    print("\nkernel-size sweep (N=16, C 8 -> 16, 64x64): k, direct ms, fft ms")
    for k, d, f in crossover(args.plot, max(3, args.repeats // 2)):
        print(f"  k={k:2d}  direct {d:8.2f}  fft {f:8.2f}")


if __name__ == "__main__":
    main()
