"""Data-parallel training under ``mpiexec``: each test launches ``tests/mpi/worker.py`` (or
``scratchnet train``) on 2 or 3 processes and compares with one process in this one."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from functools import cache
from pathlib import Path

import numpy as np
import pytest

import scratchnet_core as sn
from scratchnet_core.config import run_config
from tests.mpi import worker

WORKER = Path(worker.__file__)
TIMEOUT = 120  # seconds; a hang is a failure, not a stuck test run


@cache
def _mpi_problem() -> str | None:
    """Why MPI cannot run here (checked in a child: importing mpi4py.MPI starts MPI)."""
    done = subprocess.run(
        [sys.executable, "-c", "from mpi4py import MPI"], capture_output=True, text=True
    )
    if done.returncode != 0:
        return f"mpi4py cannot be imported: {done.stderr.strip().splitlines()[-1:]}"
    return None


def mpiexec() -> str:
    problem = _mpi_problem()
    if problem:
        pytest.skip(problem)
    beside = Path(sys.executable).parent / "mpiexec"
    found = str(beside) if beside.exists() else shutil.which("mpiexec")
    if found is None:  # mpi4py imports but nothing launches it: a broken install
        pytest.fail("mpi4py imports but no mpiexec was found beside Python or on PATH")
    return found


def launch(
    n: int, *command: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``mpiexec -n N command...``; kills the whole job if it outlives TIMEOUT."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parents[2]), environment.get("PYTHONPATH", "")]
    )
    environment.update(env or {})
    process = subprocess.Popen(
        [mpiexec(), "-n", str(n), *command],
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"mpiexec -n {n} {' '.join(command)} hung for {TIMEOUT} s:\n{out}\n{err}")
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def run_worker(n: int, scenario: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    done = launch(n, sys.executable, str(WORKER), scenario, str(out), *extra, cwd=out)
    return done


def ok(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"


def assert_close(ours: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> None:
    assert ours.keys() == reference.keys()
    for key, expected in reference.items():
        scale = max(float(np.max(np.abs(expected))), 1e-300)
        error = float(np.max(np.abs(ours[key] - expected))) / scale
        assert error <= 1e-10, f"{key}: relative error {error:.3g}"


def one_process(optimizer: str, **kwargs: object) -> tuple[dict, dict]:
    model = worker.build(optimizer)
    history = worker.fit(model, [], **kwargs)
    return model.get_weights(), {k: np.array(v) for k, v in history.history.items()}


@pytest.mark.parametrize("ranks", [2, 3])
def test_same_weights_and_logs_as_one_process(tmp_path: Path, ranks: int) -> None:
    """Global batch 7 over 2 or 3 ranks (uneven shards; the last batch of 1 row leaves ranks
    empty), SGD with momentum and Adam, float64: the weights of one process to 1e-10."""
    ok(run_worker(ranks, "equivalence", tmp_path))
    for optimizer in worker.OPTIMIZERS:
        weights, history = one_process(optimizer)
        for rank in range(ranks):
            ours, logs = worker.load_result(tmp_path / f"{optimizer}-rank{rank}.npz")
            assert_close(ours, weights)
            assert_close(logs, history)  # epoch logs: exact over the global epoch, every rank
    # synchronised batch norm: the statistics of the global batch, as one process has them
    model = worker.build("sgd", batch_norm=True)
    history = worker.fit(model, [], n=worker.N_BATCH_NORM)
    for rank in range(ranks):
        ours, logs = worker.load_result(tmp_path / f"batch_norm-rank{rank}.npz")
        assert_close(ours, worker.state(model))
        assert any(key.startswith("buffer") for key in ours)
        assert_close(logs, {k: np.array(v) for k, v in history.history.items()})
    # every rank holds bit-identical parameters, also with dropout masks drawn per rank
    for name in [*worker.OPTIMIZERS, "batch_norm", "dropout"]:
        first, _ = worker.load_result(tmp_path / f"{name}-rank0.npz")
        for rank in range(1, ranks):
            ours, _ = worker.load_result(tmp_path / f"{name}-rank{rank}.npz")
            assert all(np.array_equal(ours[k], first[k]) for k in first), (name, rank)
    # one Allreduce per step, of one buffer: every gradient and the row count (float64)
    stats = json.loads((tmp_path / "stats-rank0.json").read_text())
    steps = worker.EPOCHS * (
        2 * -(-worker.N // worker.BATCH) + -(-worker.N_BATCH_NORM // worker.BATCH)
    )
    assert stats == {"calls": steps, "bytes": 8 * (model.num_parameters() + 1)}


def test_only_root_writes_and_a_checkpoint_resumes_on_2_ranks_and_on_1(tmp_path: Path) -> None:
    done = run_worker(2, "writers", tmp_path)
    ok(done)
    written = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("first-"))
    assert written == ["ckpt-rank0-1.npz", "ckpt-rank0-2.npz", "log-rank0.csv"]
    rows = list(csv.reader((tmp_path / "log-rank0.csv").read_text().splitlines()))
    assert rows[0][:3] == ["epoch", "loss", "accuracy"] and len(rows) == 3
    steps = -(-worker.N // worker.BATCH)
    assert done.stderr.count("batch 1: loss") == 2  # verbose=2: one process logs
    assert done.stderr.count(" batch ") == 2 * steps

    ok(run_worker(2, "resume", tmp_path))
    weights, history = one_process("adam", epochs=4)
    resumed = sn.Model.load(tmp_path / "ckpt-rank0-2.npz")
    single = worker.fit(resumed, [], epochs=4, initial_epoch=2)
    assert_close(resumed.get_weights(), weights)
    for rank in range(2):
        ours, logs = worker.load_result(tmp_path / f"resumed-rank{rank}.npz")
        assert_close(ours, weights)
        assert_close(logs, {k: np.array(v) for k, v in single.history.items()})
    tail = {k: v[2:] for k, v in history.items()}
    assert_close(tail, {k: np.array(v) for k, v in single.history.items()})


@pytest.mark.parametrize(
    "flags",
    [[], ["--caught"], ["--caught", "--before"]],
    ids=["uncaught", "caught-then-exit", "before-fit-caught-then-exit"],
)
def test_an_error_on_one_rank_ends_the_job(tmp_path: Path, flags: list[str]) -> None:
    """Plain ``mpiexec -n 2 python script.py``: rank 1 raises in epoch 2 (or before fit)
    while rank 0 waits in a collective. The job ends in seconds, non-zero, with the message."""
    caught = "--caught" in flags
    started = time.perf_counter()
    done = run_worker(2, "crash", tmp_path, *flags)
    elapsed = time.perf_counter() - started
    assert done.returncode != 0
    where = "before fit" if "--before" in flags else "in epoch 2"
    assert f"boom on rank 1 {where}" in done.stderr
    if not caught:
        assert "Traceback" in done.stderr
    assert elapsed < 30, f"took {elapsed:.1f} s"


def test_mismatched_data_and_empty_batch_norm_shards_are_clear_errors_on_every_rank(
    tmp_path: Path,
) -> None:
    ok(run_worker(2, "mismatch", tmp_path))
    for rank in range(2):
        text = (tmp_path / f"mismatch-rank{rank}.txt").read_text()
        assert "data length (samples): rank 1 has 49, root 50" in text
        text = (tmp_path / f"batchnorm-rank{rank}.txt").read_text()
        assert "synchronised batch norm (layer 1 BatchNorm1d(8))" in text
        assert "a step has only 1 rows for 2 processes" in text


def test_batches_that_differ_across_ranks_stop_the_job(tmp_path: Path) -> None:
    """An iterable of batches has no length to compare at the start: the first step whose
    shards do not add up to the global batch stops the job with the reason."""
    done = run_worker(2, "uneven_batches", tmp_path)
    assert done.returncode != 0
    assert "every process must feed the same batches" in done.stderr


CONFIG = """seed = 3
[data]
source = "spirals"
samples = 90
[model]
cost = "categorical_cross_entropy"
dtype = "float64"
[[model.layers]]
type = "linear"
in_features = 2
out_features = 16
activation = "tanh"
[[model.layers]]
type = "linear"
in_features = 16
out_features = 3
activation = "softmax"
[model.optimizer]
type = "sgd"
lr = 0.2
momentum = 0.9
[fit]
epochs = 4
batch_size = 20
verbose = 0
[output]
model = "model.npz"
history = "history.csv"
"""


def test_scratchnet_train_with_a_distributed_table(tmp_path: Path) -> None:
    config = tmp_path / "spirals.toml"
    config.write_text(CONFIG + '[distributed]\nbackend = "mpi"\n')
    scratchnet = str(Path(sys.executable).parent / "scratchnet")
    done = launch(3, scratchnet, "train", str(config), "--output-dir", str(tmp_path), cwd=tmp_path)
    ok(done)
    assert done.stdout.count("trained 4 epochs") == 1 and "wrote model" in done.stdout
    reference = tmp_path / "one"
    reference.mkdir()
    (reference / "spirals.toml").write_text(CONFIG)
    single = run_config(reference / "spirals.toml", output_dir=reference)
    assert_close(sn.Model.load(tmp_path / "model.npz").get_weights(), single.model.get_weights())
    assert (tmp_path / "history.csv").read_text().splitlines()[0] == "epoch,loss,accuracy"
