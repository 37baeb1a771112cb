"""MLP 784-256-256-10 training step: scratchnet's fit() against the same loop in plain NumPy.

relu, relu, softmax with categorical cross-entropy, SGD, batch 128, float32. Both loops
shuffle every epoch, gather each batch, compute the loss, back-propagate and update; runs
are interleaved and the median of each is reported, so the ratio comes from one run.

Also measures the import time of ``scratchnet_core`` beyond NumPy's own.

    python benchmarks/bench_mlp.py [--samples 8192] [--epochs 3] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import numpy as np

import scratchnet_core as sn
from scratchnet_core.layers import linear
from scratchnet_core.optimizers import SGD

LR = 0.01
BATCH = 128


def build_model() -> sn.Model:
    return sn.Model(
        [linear(784, 256, "relu"), linear(256, 256, "relu"), linear(256, 10, "softmax")],
        "categorical_cross_entropy",
        SGD(LR),
        batch_size=BATCH,
    )


def time_fit(X: np.ndarray, Y: np.ndarray, epochs: int, seed: int) -> float:
    sn.seed(seed)
    model = build_model()
    start = time.perf_counter()
    model.fit(X, Y, epochs=epochs, batch_size=BATCH, verbose=0, seed=seed)
    return time.perf_counter() - start


def time_numpy(X: np.ndarray, Y: np.ndarray, epochs: int, seed: int) -> float:
    """The same training loop written directly in NumPy."""
    rng = np.random.default_rng(seed)
    sizes = [(784, 256), (256, 256), (256, 10)]
    W = [rng.normal(0, np.sqrt(2 / i), (i, o)).astype(np.float32) for i, o in sizes]
    b = [np.zeros(o, dtype=np.float32) for _, o in sizes]
    n = X.shape[0]
    start = time.perf_counter()
    for _ in range(epochs):
        order = rng.permutation(n)
        for s in range(0, n, BATCH):
            idx = order[s : s + BATCH]
            x, y = X[idx], Y[idx]
            m = x.shape[0]
            z1 = x @ W[0] + b[0]
            a1 = np.maximum(z1, 0)
            z2 = a1 @ W[1] + b[1]
            a2 = np.maximum(z2, 0)
            z3 = a2 @ W[2] + b[2]
            shifted = z3 - z3.max(axis=1, keepdims=True)
            logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            rows = np.arange(m)
            loss = float(-np.mean(logp[rows, y]))
            p = np.exp(logp)
            p[rows, y] -= 1
            dz3 = p / m
            dW3, db3 = a2.T @ dz3, dz3.sum(0)
            dz2 = (dz3 @ W[2].T) * (z2 > 0)
            dW2, db2 = a1.T @ dz2, dz2.sum(0)
            dz1 = (dz2 @ W[1].T) * (z1 > 0)
            dW1, db1 = x.T @ dz1, dz1.sum(0)
            for P, G in zip(W + b, [dW1, dW2, dW3, db1, db2, db3], strict=True):
                P -= LR * G
            assert np.isfinite(loss)
    return time.perf_counter() - start


def import_overhead(repeats: int = 15) -> tuple[float, float]:
    """Best-of wall time (ms) of ``import numpy`` and of ``import numpy, scratchnet_core``."""

    def best(code: str) -> float:
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            times.append(time.perf_counter() - t)
        return min(times) * 1e3

    return best("import numpy"), best("import numpy, scratchnet_core")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=8192)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.samples, 784)).astype(np.float32)
    Y = rng.integers(0, 10, args.samples)
    steps = args.epochs * -(-args.samples // BATCH)

    time_fit(X, Y, 1, 0)  # warm-up: imports, BLAS threads, page faults
    time_numpy(X, Y, 1, 0)
    fit_times, np_times = [], []
    for r in range(args.repeats):
        fit_times.append(time_fit(X, Y, args.epochs, r))
        np_times.append(time_numpy(X, Y, args.epochs, r))
    fit_ms = statistics.median(fit_times) / steps * 1e3
    np_ms = statistics.median(np_times) / steps * 1e3

    numpy_ms, both_ms = import_overhead()
    print(f"MLP 784-256-256-10, batch {BATCH}, float32, {steps} steps x {args.repeats} runs")
    print(f"| {'what':<36} | {'ms per step':>11} |")
    print(f"|{'-' * 38}|{'-' * 13}|")
    print(f"| {'scratchnet Model.fit()':<36} | {fit_ms:>11.3f} |")
    print(f"| {'hand-written NumPy loop':<36} | {np_ms:>11.3f} |")
    print(f"| {'ratio fit / NumPy':<36} | {fit_ms / np_ms:>11.3f} |")
    print()
    print(f"| {'import':<36} | {'ms':>11} |")
    print(f"|{'-' * 38}|{'-' * 13}|")
    print(f"| {'python -c import numpy':<36} | {numpy_ms:>11.1f} |")
    print(f"| {'python -c import numpy, scratchnet_core':<36} | {both_ms:>11.1f} |")
    print(f"| {'scratchnet_core beyond NumPy':<36} | {both_ms - numpy_ms:>11.1f} |")


if __name__ == "__main__":
    main()
