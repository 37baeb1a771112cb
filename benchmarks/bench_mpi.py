"""Data-parallel training over MPI: what one step sends and how 2 ranks scale against 1.

MLP 784-512-512-10 (relu, relu, softmax + categorical cross-entropy, SGD with momentum,
float32, 670k parameters) on random data. For each global batch (256 and 1024) it runs
``fit`` under ``mpiexec -n 1`` and ``mpiexec -n 2``, every rank pinned to one BLAS thread
(``OPENBLAS_NUM_THREADS=1`` and friends), alternating the two a few times, and reports per
step: the bytes all-reduced (one fused buffer: every parameter's gradient plus the row
count), the time spent in that ``Allreduce`` (waiting for the slower rank included), the
time of a whole step, and the scaling efficiency ``t(1 rank) / (2 * t(2 ranks))`` (1.0 is
perfect), from the medians and from the fastest run of each (the least disturbed on a shared
machine). Also the ``Allreduce`` of the same buffer alone, back to back (its floor).

    python benchmarks/bench_mpi.py [--steps 24] [--repeats 3] [--batches 256 1024]

The timed epoch is the second of two (the first warms up caches and the BLAS).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

THREAD_VARIABLES = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def worker(batch: int, steps: int) -> None:
    """Run under mpiexec: train 2 epochs of ``steps`` global batches; root prints JSON."""
    import scratchnet_core as sn
    from scratchnet_core.layers import linear
    from scratchnet_mpi import DataParallel

    sn.seed(0)
    model = sn.Model(
        [linear(784, 512, "relu"), linear(512, 512, "relu"), linear(512, 10, "softmax")],
        "categorical_cross_entropy",
        {"name": "sgd", "config": {"lr": 0.01, "momentum": 0.9}},
    )
    rng = np.random.default_rng(0)
    n = batch * steps
    X = rng.normal(size=(n, 784)).astype(np.float32)
    Y = rng.integers(0, 10, size=n)
    dp = DataParallel()

    class EpochClock:
        def __init__(self) -> None:
            self.started = 0.0
            self.seconds: list[float] = []
            self.allreduce: list[float] = []

        @sn.hookimpl
        def scratchnet_epoch_start(self) -> None:
            dp.comm.Barrier()
            self.started = time.perf_counter()
            self._reduced = dp.allreduce_seconds

        @sn.hookimpl
        def scratchnet_epoch_end(self) -> None:
            self.seconds.append(time.perf_counter() - self.started)
            self.allreduce.append(dp.allreduce_seconds - self._reduced)

    clock = EpochClock()
    model.fit(X, Y, epochs=2, batch_size=batch, seed=0, verbose=0, callbacks=[dp, clock])

    # the same buffer alone, back to back: the Allreduce's own cost on this machine
    from mpi4py import MPI

    buffer = np.zeros(model.num_parameters() + 1, dtype=np.float32)
    dp.comm.Barrier()
    started = time.perf_counter()
    for _ in range(20):
        dp.comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
    alone = (time.perf_counter() - started) / 20
    if dp.rank == 0:
        result = {
            "ranks": dp.size,
            "batch": batch,
            "step_ms": 1e3 * clock.seconds[-1] / steps,
            "allreduce_ms": 1e3 * clock.allreduce[-1] / steps,
            "alone_ms": 1e3 * alone,
            "bytes": dp.allreduce_bytes,
            "calls_per_step": dp.allreduce_calls / (2 * steps),
            "parameters": model.num_parameters(),
        }
        sys.stdout.write(json.dumps(result) + "\n")


def launch(ranks: int, batch: int, steps: int) -> dict[str, Any]:
    env = {**os.environ, **dict.fromkeys(THREAD_VARIABLES, "1")}
    root = Path(__file__).resolve().parent
    mpiexec = Path(sys.executable).parent / "mpiexec"
    command = [
        str(mpiexec) if mpiexec.exists() else "mpiexec",
        "-n",
        str(ranks),
        sys.executable,
        str(root / "bench_mpi.py"),
        "--worker",
        "--batches",
        str(batch),
        "--steps",
        str(steps),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=24, help="timed steps per run")
    parser.add_argument("--repeats", type=int, default=3, help="alternated runs per setting")
    parser.add_argument("--batches", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.batches[0], args.steps)
        return

    rows = []
    for batch in args.batches:
        runs: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
        for _ in range(args.repeats):
            for ranks in (1, 2):
                runs[ranks].append(launch(ranks, batch, args.steps))

        def median(ranks: int, key: str, runs: dict[int, list[dict[str, Any]]] = runs) -> float:
            return statistics.median(r[key] for r in runs[ranks])

        one, two = median(1, "step_ms"), median(2, "step_ms")
        best_one = min(r["step_ms"] for r in runs[1])
        best_two = min(r["step_ms"] for r in runs[2])
        rows.append(
            (
                batch,
                runs[2][0]["bytes"],
                runs[2][0]["calls_per_step"],
                median(2, "allreduce_ms"),
                median(2, "alone_ms"),
                one,
                two,
                one / (2 * two),
                best_one / (2 * best_two),
            )
        )
    parameters = runs[2][0]["parameters"]
    print(
        f"MLP 784-512-512-10 ({parameters:,} parameters), float32, SGD momentum, "
        f"1 BLAS thread per rank, {args.steps} timed steps, median of {args.repeats} runs"
    )
    header = (
        "| global batch | bytes / step | Allreduce / step | Allreduce ms / step (2 ranks) "
        "| Allreduce alone ms | 1 rank ms / step | 2 ranks ms / step | efficiency "
        "| efficiency (best runs) |"
    )
    print(header)
    print("|" + "---|" * 9)
    for batch, nbytes, calls, reduce_ms, alone_ms, one, two, efficiency, best in rows:
        print(
            f"| {batch} | {nbytes:,} | {calls:g} | {reduce_ms:.2f} | {alone_ms:.2f} "
            f"| {one:.1f} | {two:.1f} | {efficiency:.2f} | {best:.2f} |"
        )


if __name__ == "__main__":
    main()
