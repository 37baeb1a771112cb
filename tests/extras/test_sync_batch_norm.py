"""Synchronised batch norm without MPI: shards in threads, summed through a barrier, must give
the outputs, gradients and running statistics of one layer on the whole batch."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest
from scratchnet_extras.layers import BatchNorm1d, BatchNorm2d


class ThreadSum:
    """``sum_across_processes`` for ``parties`` threads standing in for processes."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties)
        self.parts: dict[int, np.ndarray] = {}

    def for_rank(self, rank: int) -> Callable[[np.ndarray], np.ndarray]:
        def total(values: np.ndarray) -> np.ndarray:
            self.parts[rank] = np.array(values, dtype=np.float64)
            self.barrier.wait()
            summed = sum(self.parts[r] for r in sorted(self.parts))
            self.barrier.wait()  # everyone has read before the next call overwrites
            return np.asarray(summed)

        return total


@pytest.mark.parametrize(
    ("layer_type", "shape", "cuts"),
    [(BatchNorm1d, (11, 3), [0, 6, 9, 11]), (BatchNorm2d, (5, 2, 3, 3), [0, 1, 3, 5])],
)
def test_shards_in_sync_equal_the_whole_batch(layer_type, shape, cuts) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, shape)
    upstream = rng.normal(size=shape)  # dL/dy of the global mean loss is upstream / B
    batch = shape[0]

    whole = layer_type(shape[1], momentum=0.3, dtype="float64")
    whole.parameters()["weight"][...] = rng.normal(size=shape[1])
    y_whole = whole.forward(x, training=True)
    dx_whole = whole.backward(upstream / batch)

    ranks = len(cuts) - 1
    summer = ThreadSum(ranks)
    results: dict[int, tuple] = {}

    def run(rank: int) -> None:
        layer = layer_type(shape[1], momentum=0.3, dtype="float64")
        layer.parameters()["weight"][...] = whole.parameters()["weight"]
        layer.sum_across_processes = summer.for_rank(rank)
        rows = slice(cuts[rank], cuts[rank + 1])
        n = cuts[rank + 1] - cuts[rank]
        y = layer.forward(x[rows], training=True)
        dx = layer.backward(upstream[rows] / n)  # the gradient of this rank's own mean loss
        results[rank] = (y, dx, n, {k: v.copy() for k, v in layer.gradients().items()}, layer)

    threads = [threading.Thread(target=run, args=(r,)) for r in range(ranks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == ranks

    for rank, (y, dx, n, _, layer) in results.items():
        rows = slice(cuts[rank], cuts[rank + 1])
        np.testing.assert_allclose(y, y_whole[rows], rtol=1e-12, atol=1e-12)
        # data-parallel averaging weighs each rank's gradients by n / B
        np.testing.assert_allclose(dx * n / batch, dx_whole[rows], rtol=1e-10, atol=1e-14)
        for name, value in whole.buffers().items():
            np.testing.assert_allclose(layer.buffers()[name], value, rtol=1e-12)
    for name, value in whole.gradients().items():
        combined = sum(grads[name] * n / batch for _, _, n, grads, _ in results.values())
        np.testing.assert_allclose(combined, value, rtol=1e-10, atol=1e-14)


def test_one_process_sum_is_the_plain_layer() -> None:
    x = np.random.default_rng(1).normal(size=(6, 4))
    plain, synced = BatchNorm1d(4, dtype="float64"), BatchNorm1d(4, dtype="float64")
    synced.sum_across_processes = lambda values: values
    np.testing.assert_allclose(
        synced.forward(x, training=True), plain.forward(x, training=True), rtol=1e-12
    )
    grad = np.random.default_rng(2).normal(size=(6, 4))
    np.testing.assert_allclose(synced.backward(grad), plain.backward(grad), rtol=1e-10)
