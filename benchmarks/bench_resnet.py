"""The digits ResNet (examples/digits_resnet.py) per training epoch: scratchnet against the
same network in PyTorch (CPU), from the same initial weights, on the same batches.

Threads are pinned for both (BLAS through the environment before NumPy loads, PyTorch
through ``torch.set_num_threads``), epochs alternate between the two so that a busy machine
slows both alike, and the medians and their ratio are printed.

    python benchmarks/bench_resnet.py [--rounds 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys

THREADS_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _threads_from_argv() -> str:
    for i, arg in enumerate(sys.argv):
        if arg == "--threads" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return "1"


for _name in THREADS_ENV:  # before NumPy (and its BLAS) is imported
    os.environ[_name] = _threads_from_argv()

import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import scratchnet_core as sn  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from digits_resnet import BATCH, LR, build, split, torch_twin  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="epochs of each, alternating")
    parser.add_argument("--threads", type=int, default=1, help="BLAS and PyTorch threads")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    X, Y, _, _ = split(0)
    sn.seed(0)
    model = build()
    net = torch_twin(model)
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    xt, yt = torch.from_numpy(X.astype(np.float32)), torch.from_numpy(Y.astype(np.int64))

    def torch_epoch(epoch: int) -> float:
        start = time.perf_counter()
        net.train()
        order = np.random.default_rng([0, epoch]).permutation(len(X))
        for s in range(0, len(X), BATCH):
            idx = torch.from_numpy(order[s : s + BATCH])
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(xt[idx]), yt[idx]).backward()
            opt.step()
        return time.perf_counter() - start

    def ours_epoch(epoch: int) -> float:
        start = time.perf_counter()
        model.fit(X, Y, epochs=epoch + 1, initial_epoch=epoch, verbose=0, seed=0)
        return time.perf_counter() - start

    ours_epoch(0)  # warm-up: imports, backend choices, thread pools
    torch_epoch(0)
    ours, theirs = [], []
    for epoch in range(1, args.rounds + 1):
        ours.append(ours_epoch(epoch))
        theirs.append(torch_epoch(epoch))
    a, b = statistics.median(ours), statistics.median(theirs)
    steps = -(-len(X) // BATCH)
    print(
        f"digits ResNet (38,266 parameters), {len(X)} images, batch {BATCH}, {steps} steps; "
        f"{args.threads} thread(s); median of {args.rounds} alternating epochs"
    )
    print("| what | s per epoch | ms per step |")
    print("|---|---|---|")
    print(f"| scratchnet Model.fit() | {a:.3f} | {a / steps * 1e3:.1f} |")
    print(f"| PyTorch {torch.__version__} | {b:.3f} | {b / steps * 1e3:.1f} |")
    print(f"| ratio scratchnet / PyTorch | {a / b:.2f} | |")
    print(f"all epochs, s: scratchnet {[round(t, 3) for t in ours]}, "
          f"PyTorch {[round(t, 3) for t in theirs]}")  # fmt: skip


if __name__ == "__main__":
    main()
