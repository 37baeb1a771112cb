"""One epoch on a memory-mapped .npy file against the same data in memory.

MLP 784-64-10 (relu, softmax + categorical cross-entropy, SGD), batch 256, float32, one
shuffled epoch over a ~2 GB float32 ``.npy`` file. Each case runs in a fresh process, which
reports the epoch's time and the growth of its anonymous memory (``RssAnon`` in
``/proc/self/status``, sampled every 25 steps and at the end) above what it had before
``fit``:

- ``memmap, no prefetch``: ``np.load(path, mmap_mode="r")``, read batch by batch in the
  training thread (``fit(prefetch=False)``; file pages are page cache, not anonymous memory);
- ``memmap (default)``: the same with ``fit``'s default for memory-mapped arrays, which reads
  the next batch in a background thread;
- ``in memory``: ``np.load(path)`` first (not timed), then the same ``fit``.

The file is written to a temporary directory (``--dir``) and deleted afterwards. The cases
run in the order above, so the file is in the page cache for all three (it was just
written); ``--repeats`` runs the sequence again.

``--steps N`` times the first ``N`` steps of the shuffled epoch instead of all of them
(``fit(steps_per_epoch=N)``), so that more repeats fit in the time on a busy machine; the
rows still come from the whole file.

    python benchmarks/bench_mmap.py [--gb 2.0] [--repeats 1] [--steps N] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

FEATURES, CLASSES, BATCH = 784, 10, 256


def rss_anon_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no RssAnon in /proc/self/status")


def write_data(folder: str, gigabytes: float) -> tuple[str, str, int]:
    """A float32 X of ``gigabytes`` and int64 labels, written chunk by chunk."""
    rows = int(gigabytes * 2**30) // (FEATURES * 4)
    x_path, y_path = os.path.join(folder, "x.npy"), os.path.join(folder, "y.npy")
    X = np.lib.format.open_memmap(x_path, mode="w+", dtype=np.float32, shape=(rows, FEATURES))
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((CLASSES, FEATURES)).astype(np.float32)
    Y = rng.integers(0, CLASSES, rows)
    for start in range(0, rows, 65536):
        stop = min(rows, start + 65536)
        noise = rng.standard_normal((stop - start, FEATURES), dtype=np.float32)
        X[start:stop] = centers[Y[start:stop]] + noise
    X.flush()
    del X
    np.save(y_path, Y)
    return x_path, y_path, rows


def run_case(case: str, x_path: str, y_path: str, steps: int | None) -> dict[str, float]:
    """In this (fresh) process: one epoch, its time and the RssAnon growth."""
    import scratchnet_core as sn
    from scratchnet_core.layers import linear
    from scratchnet_core.optimizers import SGD

    Y = np.load(y_path)
    X = np.load(x_path, mmap_mode=None if case == "in memory" else "r")
    sn.seed(0)
    model = sn.Model(
        [linear(FEATURES, 64, "relu"), linear(64, CLASSES, "softmax")],
        "categorical_cross_entropy",
        SGD(0.01),
        batch_size=BATCH,
    )
    model.fit(X[:BATCH], Y[:BATCH], epochs=1, verbose=0)  # warm up code paths
    start_mb = rss_anon_mb()
    peak = [start_mb]

    class Sampler:
        @sn.hookimpl
        def scratchnet_batch_end(self, batch: int) -> None:
            if batch % 25 == 0:
                peak.append(rss_anon_mb())

    t0 = time.perf_counter()
    prefetch = False if case == "memmap, no prefetch" else None  # None: fit's default
    history = model.fit(
        X,
        Y,
        epochs=1,
        verbose=0,
        seed=1,
        callbacks=[Sampler()],
        prefetch=prefetch,
        steps_per_epoch=steps,
    )
    seconds = time.perf_counter() - t0
    peak.append(rss_anon_mb())
    return {
        "seconds": seconds,
        "start_mb": start_mb,
        "growth_mb": max(peak) - start_mb,
        "loss": history["loss"][0],
        "accuracy": history["accuracy"][0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--steps", type=int, default=None, help="steps timed per run")
    parser.add_argument("--dir", default=None, help="where to write the file (default: /tmp)")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--paths", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:  # a child process
        print(json.dumps(run_case(args.case, *args.paths, args.steps)))
        return

    folder = tempfile.mkdtemp(prefix="scratchnet-bench-mmap-", dir=args.dir)
    try:
        t0 = time.perf_counter()
        x_path, y_path, rows = write_data(folder, args.gb)
        size_gb = os.path.getsize(x_path) / 2**30
        print(
            f"wrote {size_gb:.2f} GiB ({rows} x {FEATURES} float32) in "
            f"{time.perf_counter() - t0:.1f} s to {folder}",
            flush=True,
        )
        results: dict[str, list[dict[str, float]]] = {}
        for _ in range(args.repeats):
            for case in ("memmap, no prefetch", "in memory", "memmap (default)"):
                steps = ["--steps", str(args.steps)] if args.steps else []
                out = subprocess.run(
                    [sys.executable, __file__, "--case", case, "--paths", x_path, y_path, *steps],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                results.setdefault(case, []).append(json.loads(out.strip().splitlines()[-1]))
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    memory = min(r["seconds"] for r in results["in memory"])
    what = f"the first {args.steps} steps of one" if args.steps else "one"
    print(
        f"\nMLP {FEATURES}-64-{CLASSES}, batch {BATCH}, {what} shuffled epoch over {rows} rows "
        f"({size_gb:.2f} GiB float32); best of {args.repeats}"
    )
    print("| case                | time s  | vs in memory | RssAnon growth MB | loss    |")
    print("|---------------------|---------|--------------|-------------------|---------|")
    for case, runs in results.items():
        best = min(runs, key=lambda r: r["seconds"])
        growth = max(r["growth_mb"] for r in runs)
        print(
            f"| {case:<19} | {best['seconds']:7.2f} | {best['seconds'] / memory:12.3f} | "
            f"{growth:17.1f} | {best['loss']:.5f} |"
        )


if __name__ == "__main__":
    main()
