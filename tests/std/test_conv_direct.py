"""The ``direct`` backend's workspace: reused from step to step, bounded by the largest
geometry, released by ``clear_cache``, never handed out."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchnet_std.conv_backends import direct

from .reference import conv_forward
from .test_conv_backends import conv_cases


def _step(backend, x, w, g, conv):
    return (backend.forward(x, w, *conv), *backend.backward(g, x, w, *conv))


_SHARED = direct.Direct()  # one instance across the examples below: its workspace sees every shape


@pytest.mark.parametrize("last", [None, False, True])
@settings(max_examples=40, deadline=None)
@given(case=conv_cases(), single=st.booleans())
def test_a_workspace_used_by_other_shapes_gives_a_fresh_instances_results(
    last, case, single
) -> None:
    """Buffers left by earlier geometries (larger, smaller, other dtypes, ranks and column
    orders) hold stale numbers: results must still equal, bit for bit, those of a new
    instance, with and without the forward's columns, and lie outside the workspace."""
    x, w, stride, padding, dilation, rng = case
    dtype = np.float32 if single else np.float64
    conv = (stride, padding, dilation)
    x, w = x.astype(dtype), w.astype(dtype)
    g = rng.standard_normal(conv_forward(x, w, *conv).shape).astype(dtype)
    with pytest.MonkeyPatch.context() as m:
        if last is not None:
            m.setattr(direct, "batch_last", lambda _g: last)
        expected = _step(direct.Direct(), x, w, g, conv)
        got = _step(_SHARED, x, w, g, conv)
        _SHARED.forward(x[:, :, ::-1].copy(), w, *conv)  # columns of another input
        recomputed = (got[0], *_SHARED.backward(g, x, w, *conv))
    for outs in (got, recomputed):
        for a, b in zip(outs, expected, strict=True):
            np.testing.assert_array_equal(a, b)
            assert a.dtype == dtype
            assert not _SHARED.workspace.shares_memory(a)
        assert outs[0].flags.c_contiguous and outs[1].flags.c_contiguous  # y, dL/dx


@pytest.mark.parametrize("last", [False, True])
def test_the_workspace_is_reused_across_steps_and_released_by_clear_cache(monkeypatch, last):
    monkeypatch.setattr(direct, "batch_last", lambda _g: last)
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((4, 3, 12, 12)), rng.standard_normal((5, 3, 3, 3))
    g = rng.standard_normal((4, 5, 12, 12))
    conv = ((1, 1), (1, 1), (1, 1))
    backend = direct.Direct()
    first = _step(backend, x, w, g, conv)
    held, allocations = backend.workspace.nbytes, backend.workspace.allocations
    assert held > 0
    # the arrays handed out are the caller's: later steps (other inputs) leave them alone
    kept = [a.copy() for a in first]
    for _ in range(3):
        _step(backend, 2 * x, w, g, conv)
    assert (backend.workspace.nbytes, backend.workspace.allocations) == (held, allocations)
    for a, b in zip(first, kept, strict=True):
        np.testing.assert_array_equal(a, b)
    # a smaller batch fits in the buffers already there
    _step(backend, x[:2], w, g[:2], conv)
    assert backend.workspace.allocations == allocations
    backend.clear_cache()
    assert backend.workspace.nbytes == 0
    for a, b in zip(_step(backend, x, w, g, conv), first, strict=True):
        np.testing.assert_array_equal(a, b)
    assert backend.workspace.nbytes == held


@pytest.mark.parametrize("last", [False, True])
def test_a_later_step_allocates_little_more_than_its_results(monkeypatch, last) -> None:
    """Traced by ``tracemalloc`` (NumPy reports its buffers to it): once the workspace is
    there, a step's peak is its three results plus NumPy's fixed-size copy buffers (8192
    elements), far below the 5.8 MB of columns that a step allocated before."""
    monkeypatch.setattr(direct, "batch_last", lambda _g: last)
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((8, 4, 32, 32)), rng.standard_normal((6, 4, 5, 5))
    g = rng.standard_normal((8, 6, 30, 30))
    conv = ((1, 1), (1, 1), (1, 1))
    backend = direct.Direct()
    _step(backend, x, w, g, conv)
    tracemalloc.start()
    try:
        results = _step(backend, x, w, g, conv)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    returned = sum(a.nbytes for a in results)
    assert returned <= peak <= returned + 256 * 1024
    assert backend.workspace.nbytes > 8 * returned  # the columns alone: 25 taps of x


def test_the_workspace_is_bounded_by_the_largest_shape_not_the_number_of_shapes() -> None:
    rng = np.random.default_rng(2)
    w = rng.standard_normal((4, 2, 3, 3))
    conv = ((1, 1), (1, 1), (1, 1))
    largest = direct.Direct()
    x = rng.standard_normal((3, 2, 20, 20))
    _step(largest, x, w, rng.standard_normal((3, 4, 20, 20)), conv)
    backend = direct.Direct()
    _step(backend, x, w, rng.standard_normal((3, 4, 20, 20)), conv)
    for size in range(4, 20):
        xs = rng.standard_normal((3, 2, size, size))
        _step(backend, xs, w, rng.standard_normal((3, 4, size, size)), conv)
    assert backend.workspace.nbytes == largest.workspace.nbytes
