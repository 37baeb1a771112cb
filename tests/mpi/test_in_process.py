"""``scratchnet_mpi`` in this one process: shards, checks, import cost, a 1-rank run."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet_core as sn
from tests.mpi import worker

pytest.importorskip("mpi4py.MPI", reason="mpi4py cannot be imported (no MPI library?)")

import itertools

from scratchnet_mpi import DataParallel, is_root, rank, shard_bounds, size
from scratchnet_mpi.data_parallel import _describe, _disagreements


@given(st.integers(0, 300), st.integers(1, 9))
def test_shards_tile_the_batch_contiguously_and_evenly(batch: int, ranks: int) -> None:
    bounds = [shard_bounds(batch, ranks, r) for r in range(ranks)]
    assert bounds[0][0] == 0 and bounds[-1][1] == batch
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    sizes = [stop - start for start, stop in bounds]
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


def test_disagreements_name_the_field_and_the_rank() -> None:
    model = worker.build("sgd")
    config = {"batch_size": 7, "samples": 50, "epochs": 3, "metrics": ["loss"]}
    same = _describe(model, config)
    other = _describe(worker.build("adam"), {**config, "samples": 49})
    problems = _disagreements([same, other, same], root=0)
    assert "data length (samples): rank 1 has 49, root 50" in problems
    assert any(p.startswith("optimizer: rank 1 has Adam(lr=0.01") for p in problems)
    assert _disagreements([same, same], root=1) == []


def test_one_process_trains_exactly_as_without_it() -> None:
    plain, parallel = worker.build("adam"), worker.build("adam")
    expected = worker.fit(plain, [])
    dp = DataParallel()
    history = worker.fit(parallel, [dp])
    for name, value in plain.get_weights().items():
        np.testing.assert_array_equal(parallel.get_weights()[name], value)
    assert history.history == expected.history
    assert dp.allreduce_calls == 0 and parallel.is_main_process


def test_helpers_and_bad_arguments() -> None:
    assert (rank(), size(), is_root(), is_root(root=1)) == (0, 1, True, False)
    with pytest.raises(sn.ConfigurationError, match=r"root must be a rank in \[0, 1\), got 1"):
        DataParallel(root=1)
    with pytest.raises(sn.ConfigurationError, match="root must be an integer"):
        DataParallel(root="0")  # type: ignore[arg-type]
    with pytest.raises(sn.ConfigurationError, match="comm must be an mpi4py intracommunicator"):
        DataParallel(comm=object())  # type: ignore[arg-type]


class _Counting(sn.Layer):
    """Keeps a running count of the rows it saw: statistics it cannot synchronise."""

    def __init__(self) -> None:
        super().__init__(dtype="float64")
        self.add_buffer("rows_seen", np.zeros(1))

    def forward(self, x, training=False):
        if training:
            self._buffers["rows_seen"] += x.shape[0]
        return x

    def backward(self, grad):
        return grad


def test_layers_with_batch_statistics_they_cannot_synchronise_are_refused() -> None:
    model = worker.build("sgd")
    model.layers.insert(1, _Counting())
    with pytest.raises(sn.ConfigurationError, match=r"layer 1 _Counting\(.*\(rows_seen\)"):
        worker.fit(model, [DataParallel()])


def test_batch_norm_in_one_process_is_left_alone() -> None:
    plain, parallel = worker.build("sgd", batch_norm=True), worker.build("sgd", batch_norm=True)
    worker.fit(plain, [], n=worker.N_BATCH_NORM)
    worker.fit(parallel, [DataParallel()], n=worker.N_BATCH_NORM)
    for name, value in worker.state(plain).items():
        np.testing.assert_array_equal(worker.state(parallel)[name], value)
    assert parallel.layers[1].sum_across_processes is None


def test_importing_the_plugin_and_listing_plugins_starts_no_mpi() -> None:
    code = (
        "import sys, scratchnet_core as sn, scratchnet_mpi\n"
        "assert sn.get_registry('distributed')['mpi'] is scratchnet_mpi.DataParallel\n"
        "print('mpi4py.MPI' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
