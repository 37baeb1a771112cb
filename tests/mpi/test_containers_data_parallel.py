"""Containers under data parallelism: batch norm inside residual blocks is synchronised
across ranks (DataParallel walks into containers), so 2 ranks train as one process."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import scratchnet_core as sn
from tests.mpi.test_data_parallel import assert_close, launch, ok

SCRIPT = """
import sys
import numpy as np
import scratchnet_core as sn
from scratchnet_mpi import DataParallel, rank
sys.path.insert(0, sys.argv[2])
from test_containers_data_parallel import build, data

model = build()
X, Y = data()
model.fit(X, Y, epochs=2, batch_size=8, verbose=0, seed=0, callbacks=[DataParallel()])
np.savez(sys.argv[1] + f"/rank{rank()}.npz", **model.parameters(), **model.buffers())
"""


def build() -> sn.Model:
    layers = sn.get_layers()
    sn.seed(0)

    def block() -> sn.Layer:
        return layers["residual"](
            [
                layers["linear"](6, 6, bias=False),
                layers["batch_norm"](6),
                layers["activation"]("relu"),
            ],
            activation="tanh",
        )

    return sn.Model(
        [layers["linear"](4, 6), block(), block(), layers["linear"](6, 3, "softmax")],
        "categorical_cross_entropy",
        "sgd",
        dtype="float64",
    )


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    return rng.standard_normal((48, 4)), rng.integers(0, 3, 48)


def test_batch_norm_inside_containers_is_synchronised_on_2_ranks(tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    here = str(Path(__file__).resolve().parent)
    ok(launch(2, sys.executable, str(script), str(tmp_path), here, cwd=tmp_path))
    model = build()
    X, Y = data()
    model.fit(X, Y, epochs=2, batch_size=8, verbose=0, seed=0)
    reference = {**model.parameters(), **model.buffers()}
    assert "1.block.1.running_mean" in reference
    for rank in range(2):
        with np.load(tmp_path / f"rank{rank}.npz") as saved:
            assert_close({k: saved[k] for k in saved.files}, reference)
