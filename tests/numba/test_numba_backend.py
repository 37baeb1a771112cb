"""scratchnet-numba: conformance, both kernels against references in float64 and float32,
the parallel paths, JIT caching across processes, and compilation failures."""

from __future__ import annotations

import subprocess
import sys

import numba
import numpy as np
import pytest

import scratchnet_core as sn
from scratchnet_core.conv_geometry import ConvGeometry
from scratchnet_core.testing import assert_gradients_close, check_conv_backend, numerical_gradient
from scratchnet_numba import _kernels, backend
from scratchnet_std.conv_backends import auto as auto_mod
from scratchnet_std.conv_backends.auto import BackendExcludedWarning

from ..std.reference import conv_backward, conv_forward

# (x shape, w shape, stride, padding, dilation): both paths, serial and parallel
CASES = [
    ((2, 5, 7, 6), (3, 5, 3, 3), (1, 1), (1, 1), (1, 1)),  # Winograd, odd output sizes
    ((3, 4, 5, 5), (2, 4, 3, 3), (1, 1), (2, 2), (1, 1)),  # Winograd, padding 2
    ((2, 4, 9, 8), (3, 4, 3, 3), (1, 1), (0, 1), (1, 1)),  # Winograd, unequal padding
    ((2, 2, 7, 6), (3, 2, 3, 2), (2, 1), (1, 0), (1, 2)),  # im2col, stride and dilation
    ((2, 2, 9), (3, 2, 3), (2,), (1,), (2,)),  # 1-d
    ((1, 2, 4, 5, 4), (2, 2, 2, 3, 2), (1, 1, 2), (0, 1, 1), (1, 1, 1)),  # 3-d
    ((16, 16, 16, 16), (16, 16, 3, 3), (1, 1), (1, 1), (1, 1)),  # Winograd, parallel
    ((32, 16, 16, 16), (32, 16, 3, 3), (2, 2), (1, 1), (1, 1)),  # im2col, parallel
    ((16, 3, 6, 10, 10), (16, 3, 3, 3, 3), (1, 1, 1), (1, 1, 1), (1, 1, 1)),  # 3-d, parallel
]


@pytest.fixture(autouse=True)
def clean_auto():
    auto_mod.reset()
    yield
    auto_mod.reset()


def numba_backend() -> sn.ConvBackend:
    backend_cls = sn.get_conv_backends()["numba"]
    assert sn.get_registry("conv_backends").origin("numba")[0] == "scratchnet-numba"
    return backend_cls()


def test_conformance_kit() -> None:
    check_conv_backend(numba_backend())


@pytest.mark.parametrize("case", CASES)
def test_float64_matches_loop_reference(case) -> None:
    x_shape, w_shape, stride, padding, dilation = case
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = numba_backend()
    y = b.forward(x, w, stride, padding, dilation)
    np.testing.assert_allclose(y, conv_forward(x, w, stride, padding, dilation), 1e-10, 1e-10)
    g = rng.standard_normal(y.shape)
    grad_x, grad_w = b.backward(g, x, w, stride, padding, dilation)
    ref_x, ref_w = conv_backward(g, x, w, stride, padding, dilation)
    np.testing.assert_allclose(grad_x, ref_x, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(grad_w, ref_w, rtol=1e-10, atol=1e-10)


WINOGRAD_CASES = [CASES[0], CASES[2], CASES[6]]  # serial (odd, unequal padding), parallel


@pytest.mark.parametrize("case", WINOGRAD_CASES)
def test_backward_with_another_x_than_forwards_recomputes_the_transform(case) -> None:
    """The kept transform of the forward's x is used only for that same x: a different
    array (even an equal copy, or one of another shape) gives its own exact gradients."""
    x_shape, w_shape, stride, padding, dilation = case
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = numba_backend()
    for other in (rng.standard_normal(x_shape), x.copy(), rng.standard_normal(x_shape)[:1]):
        y = b.forward(x, w, stride, padding, dilation)
        if other.shape != x.shape:
            y = y[:1]
        g = rng.standard_normal(y.shape)
        grad_x, grad_w = b.backward(g, other, w, stride, padding, dilation)
        ref_x, ref_w = conv_backward(g, other, w, stride, padding, dilation)
        np.testing.assert_allclose(grad_x, ref_x, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(grad_w, ref_w, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", WINOGRAD_CASES)
def test_backward_after_forward_reuses_the_kept_transform_and_releases_it(case) -> None:
    x_shape, w_shape, stride, padding, dilation = case
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = backend.Numba()
    y = b.forward(x, w, stride, padding, dilation)
    g = rng.standard_normal(y.shape)
    kept = b._cache[-1]
    m = backend.winograd_tile(ConvGeometry(*case, "test"))  # F(m x m): (m + 2)^2 planes
    tiles = -(-y.shape[2] // m) * -(-y.shape[3] // m)
    assert kept.size == (m + 2) ** 2 * x.shape[0] * x.shape[1] * tiles
    grad_x, grad_w = b.backward(g, x, w, stride, padding, dilation)
    assert b._cache is None  # released by backward
    ref_x, ref_w = conv_backward(g, x, w, stride, padding, dilation)
    np.testing.assert_allclose(grad_x, ref_x, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(grad_w, ref_w, rtol=1e-10, atol=1e-10)
    # backward read the kept buffer, not x: with it zeroed, grad_w is zero, grad_x unchanged
    b.forward(x, w, stride, padding, dilation)
    b._cache[-1][:] = 0.0
    grad_x0, grad_w0 = b.backward(g, x, w, stride, padding, dilation)
    np.testing.assert_array_equal(grad_w0, 0.0)
    np.testing.assert_allclose(grad_x0, ref_x, rtol=1e-10, atol=1e-10)
    # inference: clear_cache drops it; a backward then recomputes
    b.forward(x, w, stride, padding, dilation)
    b.clear_cache()
    assert b._cache is None
    np.testing.assert_allclose(
        b.backward(g, x, w, stride, padding, dilation)[1], ref_w, rtol=1e-10, atol=1e-10
    )


def _check_float32_error(case, seed: int) -> None:
    """float32 results (y, dL/dx, dL/dw) within 5e-6 of the largest float64 value."""
    x_shape, w_shape, stride, padding, dilation = case
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    y64 = conv_forward(x, w, stride, padding, dilation)
    g = rng.standard_normal(y64.shape)
    refs = (y64, *conv_backward(g, x, w, stride, padding, dilation))
    b = numba_backend()
    x32, w32, g32 = (a.astype(np.float32) for a in (x, w, g))
    y = b.forward(x32, w32, stride, padding, dilation)
    outs = (y, *b.backward(g32, x32, w32, stride, padding, dilation))
    for out, ref in zip(outs, refs, strict=True):
        assert out.dtype == np.float32
        assert np.abs(out - ref).max() <= 5e-6 * np.abs(ref).max()


@pytest.mark.parametrize("case", CASES)
def test_float32_error_is_bounded_against_float64(case) -> None:
    """Winograd F(2x2, 3x3) in float32 measured at 2e-7 to 5e-7 of the largest value (as
    im2col's); bounded here at 5e-6."""
    _check_float32_error(case, seed=1)


# Winograd tile edges, each run with F(2x2) and F(4x4): outputs not multiples of 4 (nor of
# 2), padding 0 and 1, outputs smaller than a tile, serial and parallel (the last case)
TILE_CASES = [
    ((2, 4, 7, 6), (3, 4, 3, 3), (1, 1), (1, 1), (1, 1)),  # out 7 x 6
    ((2, 4, 9, 11), (3, 4, 3, 3), (1, 1), (0, 0), (1, 1)),  # padding 0: out 7 x 9
    ((2, 5, 3, 5), (2, 5, 3, 3), (1, 1), (0, 1), (1, 1)),  # out 1 x 5: a row of tiles
    ((3, 4, 2, 10), (2, 4, 3, 3), (1, 1), (1, 0), (1, 1)),  # out 2 x 8, input 2 high
    ((1, 4, 3, 3), (2, 4, 3, 3), (1, 1), (0, 0), (1, 1)),  # out 1 x 1
    ((2, 4, 4, 4), (3, 4, 3, 3), (1, 1), (2, 1), (1, 1)),  # padding 2 and 1: out 6 x 4
    ((16, 16, 13, 12), (16, 16, 3, 3), (1, 1), (1, 1), (1, 1)),  # parallel: out 13 x 12
]


@pytest.fixture(params=[2, 4], ids=["F2", "F4"])
def tile(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Winograd with the tile size forced, whatever `winograd_tile` would choose."""
    m: int = request.param
    monkeypatch.setattr(backend, "winograd_tile", lambda g: m)
    return m


@pytest.mark.parametrize("case", TILE_CASES)
def test_winograd_tiles_match_loop_reference(case, tile: int) -> None:
    """float64, both tile sizes: forward, backward with the kept transform, and backward
    recomputing it, each against the loop reference."""
    x_shape, w_shape, stride, padding, dilation = case
    assert backend.path_for(ConvGeometry(*case, "test")) == "winograd"
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = numba_backend()
    y = b.forward(x, w, stride, padding, dilation)
    np.testing.assert_allclose(y, conv_forward(x, w, stride, padding, dilation), 1e-10, 1e-10)
    assert b._cache is not None and b._cache[-1].size % (tile + 2) ** 2 == 0
    g = rng.standard_normal(y.shape)
    ref_x, ref_w = conv_backward(g, x, w, stride, padding, dilation)
    for _ in ("kept", "recomputed"):
        grad_x, grad_w = b.backward(g, x, w, stride, padding, dilation)
        np.testing.assert_allclose(grad_x, ref_x, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(grad_w, ref_w, rtol=1e-10, atol=1e-10)
        assert b._cache is None  # the second backward recomputes the transform


@pytest.mark.parametrize(
    "case", [*TILE_CASES, ((4, 16, 28, 28), (32, 16, 3, 3), (1, 1), (1, 1), (1, 1))]
)
def test_winograd_tiles_float32_error_is_bounded(case, tile: int) -> None:
    """float32 against float64, both tile sizes: F(4x4) measured 1-2.4e-6 of the largest
    value (F(2x2) 2-5e-7); bounded at the same 5e-6 as every path."""
    _check_float32_error(case, seed=5)


@pytest.mark.parametrize("case", [TILE_CASES[0], TILE_CASES[3]])
def test_winograd_gradients_by_finite_differences(case, tile: int) -> None:
    """float64, the conformance kit's numerical gradient, both tile sizes."""
    x_shape, w_shape, stride, padding, dilation = case
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = numba_backend()
    y = b.forward(x, w, stride, padding, dilation)
    g = rng.standard_normal(y.shape)
    grad_x, grad_w = b.backward(g, x, w, stride, padding, dilation)

    def loss() -> float:
        return float(np.sum(b.forward(x, w, stride, padding, dilation) * g))

    assert_gradients_close(grad_x, numerical_gradient(loss, x), f"F({tile}x{tile}) dL/dx")
    assert_gradients_close(grad_w, numerical_gradient(loss, w), f"F({tile}x{tile}) dL/dw")


def test_winograd_tile_is_4_where_it_needs_fewer_multiplications() -> None:
    def tile_for(height: int, width: int, padding: int = 1) -> int:
        g = ConvGeometry(
            (32, 16, height, width), (32, 16, 3, 3), (1, 1), (padding,) * 2, (1, 1), "test"
        )
        return backend.winograd_tile(g)

    # the grid's 3x3 shape and the digits networks' 8x8 and 4x4 maps
    assert tile_for(28, 28) == tile_for(8, 8) == tile_for(4, 4) == 4
    # 36 multiplications per 4x4 tile against 16 per 2x2 tile; ties (5, 6) go to F(2x2)
    assert [s for s in range(1, 17) if tile_for(s, s) == 2] == [1, 2, 5, 6]
    assert tile_for(28, 2) == tile_for(2, 28) == 2  # 7 tiles of 36 against 14 of 16
    assert tile_for(30, 30, padding=0) == 4  # out 28


@pytest.mark.parametrize("case", [c for c in CASES if c[1][2:] != (3, 3) or c[2][0] != 1])
def test_im2col_without_index_table_matches_loop_reference(
    case, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above `INDEX_MAX_ENTRIES` the kernels loop over the taps instead of the index table."""
    monkeypatch.setattr(backend, "INDEX_MAX_ENTRIES", 0)
    x_shape, w_shape, stride, padding, dilation = case
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = numba_backend()
    y = b.forward(x, w, stride, padding, dilation)
    np.testing.assert_allclose(y, conv_forward(x, w, stride, padding, dilation), 1e-10, 1e-10)
    g = rng.standard_normal(y.shape)
    grad_x, grad_w = b.backward(g, x, w, stride, padding, dilation)
    ref_x, ref_w = conv_backward(g, x, w, stride, padding, dilation)
    np.testing.assert_allclose(grad_x, ref_x, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(grad_w, ref_w, rtol=1e-10, atol=1e-10)


def test_paths_and_threads_are_what_the_docs_say() -> None:
    def g(x_shape, w_shape, stride=(1, 1)):
        return ConvGeometry(x_shape, w_shape, stride, (1, 1), (1, 1), "test")

    assert backend.path_for(g((8, 16, 28, 28), (32, 16, 3, 3))) == "winograd"
    assert backend.path_for(g((8, 1, 28, 28), (32, 1, 3, 3))) == "im2col"  # one channel
    assert backend.path_for(g((8, 16, 28, 28), (32, 16, 3, 3), (2, 2))) == "im2col"
    assert backend.Numba._parts(g((1, 1, 8, 8), (1, 1, 3, 3))) == 1
    threads = numba.get_num_threads()
    assert backend.Numba._parts(g((16, 16, 16, 16), (16, 16, 3, 3))) == min(threads, 16)
    for case in CASES[-3:]:  # the cases above that run in parallel
        expected = min(threads, case[0][0])
        assert backend.Numba._parts(ConvGeometry(*case, "test")) == expected


def test_no_estimate_so_auto_times_it() -> None:
    b = numba_backend()
    args = ((32, 16, 28, 28), (32, 16, 3, 3), (1, 1), (1, 1), (1, 1))
    assert b.estimate(*args, np.float32) is None
    assert b.supports(*args, np.float32) and not b.supports(*args, np.float16)
    d = auto_mod.explain((8, 16, 16, 16), (16, 16, 3, 3), (1, 1), (1, 1), (1, 1), "float32")
    assert d.reason == "timed" and "numba" in d.timings and len(d.timings) == 2


def test_second_process_loads_the_kernels_from_the_cache() -> None:
    numba_backend().forward(np.ones((1, 4, 6, 6)), np.ones((2, 4, 3, 3)), (1, 1), (1, 1), (1, 1))
    script = (
        "import numpy as np, scratchnet_core as sn\n"
        "from scratchnet_numba import _kernels\n"
        "b = sn.get_conv_backends()['numba']()\n"
        "b.forward(np.ones((1, 4, 6, 6)), np.ones((2, 4, 3, 3)), (1, 1), (1, 1), (1, 1))\n"
        "s = _kernels.winograd_forward_range.stats\n"
        "print(sum(s.cache_hits.values()), sum(s.cache_misses.values()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    hits, misses = map(int, out.stdout.split())
    assert (hits, misses) == (1, 0)


def failing_kernel(*args):
    from numba.core.errors import TypingError

    raise TypingError("no implementation for this LLVM")


def test_compilation_failure_is_a_plugin_load_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_kernels, "conv_forward_range", failing_kernel)
    with pytest.raises(sn.PluginLoadError, match=r"scratchnet-numba.*could not compile.*LLVM"):
        numba_backend().forward(np.ones((1, 1, 5)), np.ones((1, 1, 3)), (1,), (0,), (1,))


def test_auto_leaves_out_numba_when_it_cannot_compile(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("conv_forward_range", "conv_forward", "winograd_forward_range"):
        monkeypatch.setattr(_kernels, name, failing_kernel)
    monkeypatch.setattr(backend.Numba, "estimate", lambda self, *a, **k: 0.0)
    auto = sn.get_conv_backends()["auto"]()
    x, w = np.ones((2, 4, 6, 6)), np.ones((3, 4, 3, 3))
    assert auto.choice_for(x.shape, w.shape, (1, 1), (1, 1), (1, 1), x.dtype) == "numba"
    with pytest.warns(BackendExcludedWarning, match="'numba' \\(distribution scratchnet-numba"):
        y = auto.forward(x, w, (1, 1), (1, 1), (1, 1))
    np.testing.assert_allclose(y, conv_forward(x, w, (1, 1), (1, 1), (1, 1)), rtol=1e-10)
    assert auto.choice_for(x.shape, w.shape, (1, 1), (1, 1), (1, 1), x.dtype) != "numba"


def test_scratchnet_check_numba_passes() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "scratchnet_core", "check", "numba"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
