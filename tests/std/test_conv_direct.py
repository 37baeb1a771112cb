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
from .workspace_checks import check_bounded_by_the_largest_shape, check_reuse_and_release, step

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
        expected = step(direct.Direct(), x, w, g, conv)
        got = step(_SHARED, x, w, g, conv)
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
    check_reuse_and_release(backend, x, w, g, conv)


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
    step(backend, x, w, g, conv)
    tracemalloc.start()
    try:
        results = step(backend, x, w, g, conv)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    returned = sum(a.nbytes for a in results)
    assert returned <= peak <= returned + 256 * 1024
    assert backend.workspace.nbytes > 8 * returned  # the columns alone: 25 taps of x


def test_the_workspace_is_bounded_by_the_largest_shape_not_the_number_of_shapes() -> None:
    check_bounded_by_the_largest_shape(direct.Direct)
