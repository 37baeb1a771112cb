"""What the MPI tests run under ``mpiexec``: ``python worker.py SCENARIO OUT_DIR [options]``.

Also imported by the tests for the one-process references (``build``, ``data``): both sides
build the same models from the same code. Running a scenario needs ``mpi4py``; importing
this module does not.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

import scratchnet_core as sn

OPTIMIZERS: dict[str, dict[str, Any]] = {
    "sgd": {"name": "sgd", "config": {"lr": 0.1, "momentum": 0.9}},
    "adam": {"name": "adam", "config": {"lr": 0.01}},
}
N, BATCH, EPOCHS = 50, 7, 3  # 7 divides by neither 2 nor 3; 50 = 7 * 7 + 1 (a 1-row last batch)
N_BATCH_NORM = 52


def build(
    optimizer: str, seed: int = 0, batch_norm: bool = False, dropout: bool = False
) -> sn.Model:
    """A small float64 classifier (5 -> 8 tanh -> 3 softmax)."""
    sn.seed(seed)
    layers = sn.get_layers()
    stack = [layers["linear"](5, 8, "tanh"), layers["linear"](8, 3, "softmax")]
    if batch_norm:
        stack.insert(1, layers["batch_norm1d"](8))
    if dropout:
        stack.insert(1, layers["dropout"](0.3))
    return sn.Model(stack, "categorical_cross_entropy", OPTIMIZERS[optimizer], dtype="float64")


def data(n: int = N, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    return X, X[:, :3].argmax(axis=1)


def validation() -> tuple[np.ndarray, np.ndarray]:
    return data(13, seed=2)


def fit(model: sn.Model, callbacks: list[object], n: int = N, **kwargs: Any) -> sn.History:
    X, Y = data(n)
    options: dict[str, Any] = {
        "epochs": EPOCHS,
        "batch_size": BATCH,
        "seed": 5,
        "verbose": 0,
        "validation_data": validation(),
    }
    options.update(kwargs)
    return model.fit(X, Y, callbacks=callbacks, **options)


def state(model: sn.Model) -> dict[str, np.ndarray]:
    """Parameters and buffers (batch norm's running statistics)."""
    buffers = {f"buffer {k}": v.copy() for k, v in model.buffers().items()}
    return {**model.get_weights(), **buffers}


def save_result(path: Path, model: sn.Model, history: sn.History) -> None:
    arrays = {f"w:{k}": v for k, v in state(model).items()}
    arrays.update({f"h:{k}": np.array(v) for k, v in history.history.items()})
    np.savez(path, **arrays)


def load_result(path: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    with np.load(path) as f:
        weights = {k[2:]: f[k] for k in f.files if k.startswith("w:")}
        history = {k[2:]: f[k] for k in f.files if k.startswith("h:")}
    return weights, history


# --------------------------------------------------------------------------- scenarios


def equivalence(out: Path, rank: int, dp: Any) -> None:
    """Both optimizers; non-root ranks start from other weights (the broadcast fixes that).
    Adam's run reads batches ahead in a thread (``prefetch``): the same result."""
    for name in OPTIMIZERS:
        model = build(name, seed=0 if rank == 0 else 100 + rank)
        history = fit(model, [dp], prefetch=name == "adam")
        save_result(out / f"{name}-rank{rank}.npz", model, history)
    # synchronised batch norm; 52 = 7 * 7 + 3 rows: every rank gets rows in every step
    model = build("sgd", seed=rank, batch_norm=True)
    history = fit(model, [dp], n=N_BATCH_NORM)
    save_result(out / f"batch_norm-rank{rank}.npz", model, history)
    stats = {"calls": dp.allreduce_calls, "bytes": dp.allreduce_bytes}
    # dropout: each rank draws its own masks (its own seed here); parameters stay identical
    model = build("adam", seed=rank, dropout=True)
    history = fit(model, [dp])
    save_result(out / f"dropout-rank{rank}.npz", model, history)
    (out / f"stats-rank{rank}.json").write_text(json.dumps(stats))


def writers(out: Path, rank: int, dp: Any) -> None:
    """Checkpoints and CSV logs named by rank: only rank 0's may appear. Then resume."""
    from scratchnet_std.callbacks import CSVLogger, ModelCheckpoint

    model = build("adam", seed=rank)
    checkpoint = ModelCheckpoint(out / f"ckpt-rank{rank}-{{epoch}}.npz", monitor="loss")
    history = fit(
        model, [dp, checkpoint, CSVLogger(out / f"log-rank{rank}.csv")], epochs=2, verbose=2
    )
    save_result(out / f"first-rank{rank}.npz", model, history)


def resume(out: Path, rank: int, dp: Any) -> None:
    """Root loads the checkpoint; the other ranks build the architecture afresh (root's
    weights and optimizer state are broadcast)."""
    model = sn.Model.load(out / "ckpt-rank0-2.npz") if rank == 0 else build("adam", seed=9)
    history = fit(model, [dp], epochs=4, initial_epoch=2)
    save_result(out / f"resumed-rank{rank}.npz", model, history)


class _Boom:
    @sn.hookimpl
    def scratchnet_epoch_start(self, epoch: int) -> None:
        if epoch == 1:
            raise RuntimeError("boom on rank 1 in epoch 2")


def crash(out: Path, rank: int, dp: Any, caught: bool = False, before: bool = False) -> None:
    """Rank 1 raises at the start of epoch 2 while rank 0 waits in the step's Allreduce
    (or, ``before``, already while reading its data, while rank 0 waits at fit's start)."""
    callbacks = [dp, _Boom()] if rank == 1 else [dp]
    try:
        if before and rank == 1:
            raise RuntimeError("boom on rank 1 before fit")
        fit(build("sgd"), callbacks, epochs=50)
    except RuntimeError as exc:
        if not caught:
            raise
        sys.stderr.write(f"caught: {exc}\n")
        sys.exit(3)  # leaving fit by an error: the job must still end


def mismatch(out: Path, rank: int, dp: Any) -> None:
    """Rank 1 reads one row fewer; then batch norm with a 1-row last batch. Each rank must
    raise."""
    X, Y = data(N - rank)
    try:
        build("sgd").fit(X, Y, epochs=1, batch_size=BATCH, seed=5, verbose=0, callbacks=[dp])
    except sn.ConfigurationError as exc:
        (out / f"mismatch-rank{rank}.txt").write_text(str(exc))
    try:
        fit(build("sgd", batch_norm=True), [dp])
    except sn.ConfigurationError as exc:
        (out / f"batchnorm-rank{rank}.txt").write_text(str(exc))


def uneven_batches(out: Path, rank: int, dp: Any) -> None:
    """Batches as an iterable, and rank 1's are one row shorter: the job must stop."""
    X, Y = data()
    rows = BATCH - rank
    batches = [(X[i : i + rows], Y[i : i + rows]) for i in range(0, 5 * BATCH, BATCH)]
    build("sgd").fit(batches, epochs=1, verbose=0, callbacks=[dp])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario")
    parser.add_argument("out", type=Path)
    parser.add_argument("--caught", action="store_true")
    parser.add_argument("--before", action="store_true")
    args = parser.parse_args()
    from scratchnet_mpi import DataParallel, rank

    dp = DataParallel()
    if args.scenario == "crash":
        crash(args.out, rank(), dp, caught=args.caught, before=args.before)
    else:
        scenarios = {
            "equivalence": equivalence,
            "writers": writers,
            "resume": resume,
            "mismatch": mismatch,
            "uneven_batches": uneven_batches,
        }
        scenarios[args.scenario](args.out, rank(), dp)


if __name__ == "__main__":
    main()
