"""Page faults and step time of one conv backend alone in a fresh process, on the grid.

    python benchmarks/bench_conv_memory.py [--backends fft direct] [--repeats 3]
                                           [--shapes grid|digits|all]
                                           [--old NAME=OLD_MODULE.py ...]

Each (shape, backend) runs in its own new Python process that does nothing else: 5 warm-up
steps (forward + backward, float32), then 20 timed steps; the process reports the minor page
faults per timed step (``getrusage``) and its fastest and median step. The same child runs
again after ``mallopt(M_MMAP_THRESHOLD, 32 MiB)`` and ``mallopt(M_TRIM_THRESHOLD, 256 MiB)``
(glibc), which keep freed memory in the process: the reference a backend should match
without touching the allocator (no scratchnet code calls ``mallopt``). Children of one shape
alternate between the two settings, ``--repeats`` times; the table shows the fastest step
over the repeats and the mean faults. ``--shapes digits`` runs the two conv shapes of the
digits CNN (``examples/digits_cnn.py``) instead of the grid, ``all`` both.
``--old direct=OLD_direct.py`` times an earlier version of a standard backend's module
(imported from that file as a module of ``scratchnet_std.conv_backends``, so that its
relative imports resolve) as a further backend, ``direct@old``, for before/after figures.
(This script was ``bench_fft_memory.py``, with ``--fft-file``, until ``direct`` got its
workspace.)

BLAS threads are left as installed, as ``bench_conv.py`` leaves them. Linux (glibc) only.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import scratchnet_core as sn
from scratchnet_core.bench import GRID, ConvCase

WARMUP, STEPS = 5, 20
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
DIGITS = (ConvCase(32, 1, 16, 8, 3, 1, 1), ConvCase(32, 16, 32, 4, 3, 1, 1))
CASES = GRID + DIGITS


def _backend(name: str, old: dict[str, str]) -> Any:
    if not name.endswith("@old"):
        return sn.get_conv_backends()[name]()
    base = name.removesuffix("@old")
    spec = importlib.util.spec_from_file_location(
        f"scratchnet_std.conv_backends._{base}_old", old[base]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    current = type(sn.get_conv_backends()[base]())
    return getattr(module, current.__name__)()


def child(index: int, name: str, tune: bool, old: dict[str, str]) -> None:
    """One shape, one backend, in this (fresh) process; prints one JSON line."""
    if tune:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, 32 << 20)
        libc.mallopt(M_TRIM_THRESHOLD, 256 << 20)
    case = CASES[index]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((case.n, case.c_in, case.size, case.size)).astype(np.float32)
    w = rng.standard_normal((case.c_out, case.c_in, case.k, case.k)).astype(np.float32)
    out = (case.size + 2 * case.padding - case.k) // case.stride + 1
    g = rng.standard_normal((case.n, case.c_out, out, out)).astype(np.float32)
    conv = ((case.stride,) * 2, (case.padding,) * 2, (1, 1))
    backend = _backend(name, old)
    for _ in range(WARMUP):
        backend.forward(x, w, *conv)
        backend.backward(g, x, w, *conv)
    times = []
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(STEPS):
        start = time.perf_counter()
        backend.forward(x, w, *conv)
        backend.backward(g, x, w, *conv)
        times.append(time.perf_counter() - start)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    workspace = getattr(backend, "workspace", None)
    print(
        json.dumps(
            {
                "faults": faults / STEPS,
                "min": min(times) * 1e3,
                "median": statistics.median(times) * 1e3,
                "workspace_mb": workspace.nbytes / 2**20 if workspace is not None else None,
            }
        )
    )


def run_child(index: int, name: str, tune: bool, old: dict[str, str]) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", str(index), name]
    cmd += ["--tune"] if tune else []
    cmd += ["--old", *(f"{k}={v}" for k, v in old.items())] if old else []
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["fft", "direct"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shapes", choices=["grid", "digits", "all"], default="grid")
    parser.add_argument("--old", nargs="+", default=[], metavar="NAME=FILE")
    parser.add_argument("--child", nargs=2, metavar=("INDEX", "BACKEND"), help=argparse.SUPPRESS)
    parser.add_argument("--tune", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    old = dict(item.split("=", 1) for item in args.old)
    if args.child:
        child(int(args.child[0]), args.child[1], args.tune, old)
        return
    names = list(args.backends) + [f"{base}@old" for base in old]
    first, last = {"grid": (0, len(GRID)), "digits": (len(GRID), len(CASES))}.get(
        args.shapes, (0, len(CASES))
    )
    print(
        "| N, Cin, Cout, H=W, k, s, p | backend | faults/step | faults/step, mallopt "
        "| ms (median) | ms, mallopt (median) | ms / mallopt ms | workspace MB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for index, case in enumerate(CASES[first:last], start=first):
        for name in names:
            runs: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
            for r in range(args.repeats):
                for tune in (False, True) if r % 2 == 0 else (True, False):
                    runs[tune].append(run_child(index, name, tune, old))
            fresh, tuned = runs[False], runs[True]
            best = min(run["min"] for run in fresh)
            best_tuned = min(run["min"] for run in tuned)
            workspace = fresh[0]["workspace_mb"]
            print(
                f"| {', '.join(map(str, case))} | {name} "
                f"| {statistics.mean(run['faults'] for run in fresh):.1f} "
                f"| {statistics.mean(run['faults'] for run in tuned):.1f} "
                f"| {best:.2f} ({statistics.median(run['median'] for run in fresh):.2f}) "
                f"| {best_tuned:.2f} ({statistics.median(run['median'] for run in tuned):.2f}) "
                f"| {best / best_tuned:.2f} "
                f"| {'-' if workspace is None else f'{workspace:.1f}'} |",
                flush=True,
            )
    print(f"\n{Path(__file__).name}: {WARMUP} warm-up and {STEPS} timed steps per process")


if __name__ == "__main__":
    main()
