"""Conv2d forward + backward on the issue's grid for every installed backend and ``auto``,
against PyTorch (when importable) and the published figures of other NumPy frameworks;
the digits CNN epoch against PyTorch with and without ``scratchnet-numba``; ``numba``'s
first-call latency, cold and from its cache.

    python benchmarks/bench_conv.py [--rounds 10] [--skip-latency] [--skip-digits] [--avx512-blas]

``--avx512-blas`` reruns the script with ``OPENBLAS_CORETYPE=SkylakeX``: OpenBLAS 0.3.30/31
picks its AVX2 (Haswell) kernels on this machine's AVX-512 EPYC, while PyTorch's oneDNN uses
AVX-512; the flag shows what the same code does when BLAS uses the CPU's wide registers.

Timing: every contender runs, in turn, a block of 3 calls (after a 20 ms pause so that the
previous library's worker threads go idle); the rounds alternate their order; a contender's
figure is its fastest call over all rounds. Ratios come from one run, so load on a shared
machine slows all contenders alike. About two minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

import scratchnet_core as sn
from scratchnet_core.bench import GRID, ConvCase
from scratchnet_std.conv_backends.auto import Auto, explain
from scratchnet_std.conv_backends.direct import Direct
from scratchnet_std.conv_backends.fft import FFT

# The table (2 cores, NumPy 2.4.6 + OpenBLAS 0.3.31, PyTorch 2.13 CPU, float32):
# PyTorch ms, then each framework's time as a multiple of PyTorch's.
PUBLISHED = {
    GRID[0]: (3.1, "6.6x", "13.9x", "51x"),
    GRID[1]: (7.8, "13.0x", "12.1x", "-"),
    GRID[2]: (19.6, "20.8x", "16.5x", "-"),
    GRID[3]: (2.3, "1.84x", "3.9x", "-"),
    GRID[4]: (1.5, "10.3x", "5.9x", "-"),
}

Step = Callable[[], object]


def arrays(case: ConvCase) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((case.n, case.c_in, case.size, case.size)).astype(np.float32)
    w = rng.standard_normal((case.c_out, case.c_in, case.k, case.k)).astype(np.float32)
    out = (case.size + 2 * case.padding - case.k) // case.stride + 1
    g = rng.standard_normal((case.n, case.c_out, out, out)).astype(np.float32)
    return x, w, g


def backend_step(name: str, case: ConvCase, x, w, g) -> Step:
    backend = sn.get_conv_backends()[name]()
    conv = ((case.stride,) * 2, (case.padding,) * 2, (1, 1))

    def run() -> None:
        backend.forward(x, w, *conv)
        backend.backward(g, x, w, *conv)

    return run


def torch_step(case: ConvCase, x, w, g) -> Step | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(2)
    xt = torch.from_numpy(x).requires_grad_(True)
    wt = torch.from_numpy(w).requires_grad_(True)
    gt = torch.from_numpy(g)

    def run() -> None:
        xt.grad = None
        wt.grad = None
        y = torch.nn.functional.conv2d(xt, wt, stride=case.stride, padding=case.padding)
        y.backward(gt)

    return run


def fastest(steps: dict[str, Step], rounds: int, block: int = 3) -> dict[str, float]:
    """Seconds of the fastest call of each step, over interleaved blocks."""
    for run in steps.values():
        run()  # warm-up: compilation, plans, threads, auto's decision
    best = dict.fromkeys(steps, math.inf)
    order = list(steps)
    for r in range(rounds):
        for name in order if r % 2 == 0 else order[::-1]:
            time.sleep(0.02)
            for _ in range(block):
                start = time.perf_counter()
                steps[name]()
                best[name] = min(best[name], time.perf_counter() - start)
    return best


def grid(rounds: int) -> None:
    names = list(sn.get_conv_backends())
    has_torch = torch_step(GRID[0], *arrays(GRID[0])) is not None
    header = ["N, Cin, Cout, H=W, k, s, p", *(f"{n} ms" for n in names)]
    if has_torch:
        header += ["torch ms", *(f"{n}/torch" for n in names)]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    ratios: dict[str, list[float]] = {n: [] for n in names}
    why = []
    for case in GRID:
        x, w, g = arrays(case)
        steps: dict[str, Step] = {n: backend_step(n, case, x, w, g) for n in names}
        t = torch_step(case, x, w, g)
        if t is not None:
            steps["torch"] = t
        best = fastest(steps, rounds)
        label = f"{case.n}, {case.c_in}, {case.c_out}, {case.size}, {case.k}, {case.stride}, "
        cells = [label + str(case.padding), *(f"{best[n] * 1e3:.2f}" for n in names)]
        if t is not None:
            cells.append(f"{best['torch'] * 1e3:.2f}")
            for n in names:
                ratios[n].append(best[n] / best["torch"])
                cells.append(f"{best[n] / best['torch']:.2f}")
        print("| " + " | ".join(cells) + " |", flush=True)
        conv = ((case.stride,) * 2, (case.padding,) * 2, (1, 1))
        decision = explain(x.shape, w.shape, *conv, x.dtype)
        why.append(f"- {label}{case.padding}: auto chose {decision.describe()}")
    if has_torch:
        geo = " | ".join(f"{n} {math.exp(np.mean(np.log(r))):.2f}" for n, r in ratios.items())
        print(f"\ngeometric mean of the ratios to PyTorch: {geo}")
    print("\nWhy auto chose (estimates and timings: one forward + backward):")
    print("\n".join(why))
    print("\nPublished figures (the issue's table; multiples of PyTorch's time):")
    print("| N, Cin, Cout, H=W, k, s, p | PyTorch ms | Chainer 7.8 | mygrad | numpy-ml |")
    print("|---|---|---|---|---|")
    for case, (ms, chainer, mygrad, numpy_ml) in PUBLISHED.items():
        label = ", ".join(str(v) for v in case)
        print(f"| {label} | {ms} | {chainer} | {mygrad} | {numpy_ml} |")


# ------------------------------------------------------------------------- digits CNN


class AutoWithoutNumba(Auto):
    """``auto`` over the installed backends other than ``numba``: the set-up without it."""

    def __init__(self) -> None:
        names = [n for n in sn.get_conv_backends() if n not in ("auto", "numba", "auto_std")]
        super().__init__(candidates=names)


def digits(epochs: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
    from digits_cnn import build, split

    sn.register("conv_backends", "auto_std", override=True)(AutoWithoutNumba)
    X, Y, _, _ = split(0)
    configs = {"scratchnet + numba (auto)": "auto", "scratchnet without numba (auto)": "auto_std"}
    if "numba" not in sn.get_conv_backends():
        configs = {"scratchnet (auto)": "auto"}
    models = {}
    for label, backend in configs.items():
        sn.seed(0)
        models[label] = build(backend)
    epoch_steps: dict[str, Step] = {
        label: (lambda m=m: m.fit(X, Y, epochs=1, verbose=0, seed=0)) for label, m in models.items()
    }
    t = torch_epoch(models[next(iter(models))], X, Y)
    if t is not None:
        epoch_steps["PyTorch"] = t
    best = fastest(epoch_steps, epochs, block=1)
    print("\nDigits CNN (examples/digits_cnn.py), one epoch of 1347 images, batch 32:")
    print("| what | ms per epoch | / PyTorch |")
    print("|---|---|---|")
    for label, seconds in best.items():
        ratio = f"{seconds / best['PyTorch']:.2f}" if "PyTorch" in best else "-"
        print(f"| {label} | {seconds * 1e3:.1f} | {ratio} |")


def torch_epoch(model: sn.Model, X, Y) -> Step | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(2)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(128, 10),
    )  # fmt: skip
    params = model.parameters()
    with torch.no_grad():
        net[0].weight.copy_(torch.from_numpy(params["0.weight"]))
        net[3].weight.copy_(torch.from_numpy(params["2.weight"]))
        net[7].weight.copy_(torch.from_numpy(params["5.weight"].T.copy()))
    opt = torch.optim.Adam(net.parameters(), lr=0.003)
    xt = torch.from_numpy(X.astype(np.float32))
    yt = torch.from_numpy(Y.astype(np.int64))
    epoch = [0]

    def run() -> None:
        order = np.random.default_rng([0, epoch[0]]).permutation(len(X))
        epoch[0] += 1
        for s in range(0, len(X), 32):
            idx = torch.from_numpy(order[s : s + 32])
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()

    return run


# ----------------------------------------------- extras: textbook layer, memory, crossover


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


# ----------------------------------------------------------------------- first call


LATENCY_SCRIPT = """
import time
start = time.perf_counter()
import numpy as np, scratchnet_core as sn
b = sn.get_conv_backends()["numba"]()
loaded = time.perf_counter()
for shape, stride in (((4, 8, 12, 12), 1), ((4, 8, 12, 12), 2)):
    for dtype in (np.float32, np.float64):
        x = np.ones(shape, dtype); w = np.ones((8, 8, 3, 3), dtype)
        y = b.forward(x, w, (stride,) * 2, (1, 1), (1, 1))
        b.backward(np.ones_like(y), x, w, (stride,) * 2, (1, 1), (1, 1))
print(f"{loaded - start:.2f} {time.perf_counter() - loaded:.2f}")
"""


def latency() -> None:
    if "numba" not in sn.get_conv_backends():
        return
    print("\nnumba first-call latency (import + first forward/backward of both kernels, both")
    print("dtypes, in a fresh process):")
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for label in ("cold (empty cache)", "cached (second process)"):
            out = subprocess.run(
                [sys.executable, "-c", LATENCY_SCRIPT], env=env, capture_output=True, text=True
            )
            if out.returncode != 0:
                print(f"  {label}: failed: {out.stderr.strip().splitlines()[-1:]}")
                return
            imported, first = (float(v) for v in out.stdout.split())
            print(f"  {label}: import {imported:.2f} s, first calls {first:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-digits", action="store_true")
    parser.add_argument(
        "--extras", action="store_true", help="textbook NumPy layer, direct's memory, crossover"
    )
    parser.add_argument("--plot", default=None, help="PNG for the kernel-size crossover")
    parser.add_argument(
        "--avx512-blas", action="store_true", help="rerun with OPENBLAS_CORETYPE=SkylakeX"
    )
    args = parser.parse_args()
    if args.avx512_blas and os.environ.get("OPENBLAS_CORETYPE") != "SkylakeX":
        env = {**os.environ, "OPENBLAS_CORETYPE": "SkylakeX"}
        os.execve(sys.executable, [sys.executable, *sys.argv], env)  # BLAS reads it at load
    try:
        from threadpoolctl import threadpool_info

        kernels = sorted({str(i.get("architecture")) for i in threadpool_info()})
        print(f"BLAS kernels: {', '.join(kernels)}")
    except ImportError:
        pass
    start = time.perf_counter()
    print("conv2d forward + backward, float32, ms (fastest call of interleaved blocks)")
    grid(args.rounds)
    if not args.skip_digits:
        digits(max(4, args.rounds))
    if not args.skip_latency:
        latency()
    if args.extras:
        naive = time_naive(5)
        print(f"\nstraightforward NumPy im2col layer on the first shape: {naive:.1f} ms")
        peak, buffer = direct_peak_memory()
        print(f"direct, first shape: peak extra memory {peak:.1f} MiB; im2col {buffer:.1f} MiB")
        print("kernel-size sweep (N=16, C 8 -> 16, 64x64): k, direct ms, fft ms")
        for k, d, f in crossover(args.plot, 3):
            print(f"  k={k:2d}  direct {d:8.2f}  fft {f:8.2f}")
    print(f"\n(took {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
