"""Every convolution backend against the loop reference, against each other, and by
finite differences; hypothesis draws the shapes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scratchnet_core as sn
from scratchnet_core.testing import assert_gradients_close, numerical_gradient

from .reference import conv_backward, conv_forward

BACKENDS = sorted(sn.get_conv_backends())  # every installed backend, third-party ones too


@st.composite
def conv_cases(draw, dims=None):
    d = draw(st.integers(1, 3)) if dims is None else dims
    n = draw(st.integers(1, 2))
    c_in = draw(st.integers(1, 3))
    c_out = draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(d))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(d))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(d))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(d))
    max_size = 7 if d < 3 else 5
    spatial = []
    for k, dl, p in zip(kernel, dilation, padding, strict=True):
        low = max(1, dl * (k - 1) + 1 - 2 * p)
        spatial.append(draw(st.integers(low, max(low, max_size))))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c_in, *spatial))
    w = rng.standard_normal((c_out, c_in, *kernel))
    return x, w, stride, padding, dilation, rng


@pytest.mark.parametrize("name", BACKENDS)
@settings(max_examples=40, deadline=None)
@given(case=conv_cases())
def test_backend_matches_loop_reference(name, case) -> None:
    x, w, stride, padding, dilation, rng = case
    backend = sn.get_conv_backends()[name]()
    y = backend.forward(x, w, stride, padding, dilation)
    expected = conv_forward(x, w, stride, padding, dilation)
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-10)
    g = rng.standard_normal(y.shape)
    grad_x, grad_w = backend.backward(g, x, w, stride, padding, dilation)
    ref_x, ref_w = conv_backward(g, x, w, stride, padding, dilation)
    np.testing.assert_allclose(grad_x, ref_x, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(grad_w, ref_w, rtol=1e-10, atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(case=conv_cases())
def test_backends_agree_in_float32(case) -> None:
    x, w, stride, padding, dilation, _rng = case
    x32, w32 = x.astype(np.float32), w.astype(np.float32)
    outs = {}
    for name in BACKENDS:
        backend = sn.get_conv_backends()[name]()
        y = backend.forward(x32, w32, stride, padding, dilation)
        assert y.dtype == np.float32
        g = np.ones_like(y)
        outs[name] = (y, *backend.backward(g, x32, w32, stride, padding, dilation))
    for name in BACKENDS:
        for a, b in zip(outs["direct"], outs[name], strict=True):
            assert a.dtype == b.dtype == np.float32
            scale = max(float(np.abs(a).max()), 1.0)
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * scale, err_msg=name)


@pytest.mark.parametrize("last", [False, True])
@settings(max_examples=30, deadline=None)
@given(case=conv_cases())
def test_direct_both_column_orders_match_loop_reference(last, case) -> None:
    """``direct`` picks batch-first or batch-last columns by shape: force each, float64 and
    float32, with and without the forward's cached columns."""
    from scratchnet_std.conv_backends import direct

    x, w, stride, padding, dilation, rng = case
    g = rng.standard_normal(conv_forward(x, w, stride, padding, dilation).shape)
    expected = (
        conv_forward(x, w, stride, padding, dilation),
        *conv_backward(g, x, w, stride, padding, dilation),
    )
    with pytest.MonkeyPatch.context() as m:
        m.setattr(direct, "batch_last", lambda _g: last)
        for dtype, tol in ((np.float64, 1e-10), (np.float32, 1e-4)):
            xd, wd, gd = x.astype(dtype), w.astype(dtype), g.astype(dtype)
            backend = direct.Direct()
            y = backend.forward(xd, wd, stride, padding, dilation)
            got = [(y, *backend.backward(gd, xd, wd, stride, padding, dilation))]
            backend.clear_cache()  # backward recomputes the columns
            got.append((y, *backend.backward(gd, xd, wd, stride, padding, dilation)))
            for outs in got:
                assert outs[0].flags.c_contiguous and outs[1].flags.c_contiguous  # y, dL/dx
                for a, b in zip(outs, expected, strict=True):
                    assert a.dtype == dtype
                    scale = max(float(np.abs(b).max()), 1.0)
                    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * scale)


@pytest.mark.parametrize("name", BACKENDS)
def test_gradients_by_finite_differences(name) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 2, 6, 5))
    w = rng.standard_normal((3, 2, 3, 2))
    args = ((2, 1), (1, 0), (1, 2))
    backend = sn.get_conv_backends()[name]()
    y = backend.forward(x, w, *args)
    g = rng.standard_normal(y.shape)
    grad_x, grad_w = backend.backward(g, x, w, *args)

    def f() -> float:
        return float(np.sum(backend.forward(x, w, *args) * g))

    assert_gradients_close(grad_x, numerical_gradient(f, x), f"{name} dL/dx")
    assert_gradients_close(grad_w, numerical_gradient(f, w), f"{name} dL/dw")


@pytest.mark.parametrize("name", BACKENDS)
def test_bad_input_is_one_clear_error(name) -> None:
    backend = sn.get_conv_backends()[name]()
    x = np.zeros((1, 2, 5, 5))
    with pytest.raises(sn.ShapeError, match="2 channels"):
        backend.forward(x, np.zeros((1, 3, 3, 3)), (1, 1), (0, 0), (1, 1))
    with pytest.raises(sn.ShapeError, match="dilated kernel"):
        backend.forward(x, np.zeros((1, 2, 7, 7)), (1, 1), (0, 0), (1, 1))
    with pytest.raises(sn.ShapeError, match="1 to 3 spatial dimensions"):
        backend.forward(
            np.zeros((1, 2, 3, 3, 3, 3)), np.zeros((1, 2, 1, 1, 1, 1)), (1,) * 4, (0,) * 4, (1,) * 4
        )
    with pytest.raises(sn.ConfigurationError, match="stride must be 2 integers >= 1"):
        backend.forward(x, np.zeros((1, 2, 3, 3)), (0, 1), (0, 0), (1, 1))


def test_auto_chooses_per_shape_and_deterministically() -> None:
    auto = sn.get_conv_backends()["auto"](candidates=["direct", "fft"])
    small = auto.choice_for((32, 16, 28, 28), (32, 16, 3, 3), (1, 1), (1, 1), (1, 1))
    large = auto.choice_for((16, 8, 64, 64), (16, 8, 11, 11), (1, 1), (0, 0), (1, 1))
    assert (small, large) == ("direct", "fft")
    assert auto.choice_for((16, 8, 64, 64), (16, 8, 11, 11), (1, 1), (0, 0), (1, 1)) == large


def test_seed_helpers_work() -> None:
    from scratchnet_std.conv_backends.fft import convolution, valid_convolution_cnn2d

    rng = np.random.default_rng(0)
    image, kernel = rng.standard_normal((6, 7)), rng.standard_normal((3, 2))
    expected = conv_forward(image[None, None], kernel[None, None], (1, 1), (1, 1), (1, 1))[0, 0]
    np.testing.assert_allclose(convolution(image, kernel, padding=1), expected, rtol=1e-10)
    x, w, b = (
        rng.standard_normal((2, 3, 6, 6)),
        rng.standard_normal((4, 3, 3, 3)),
        rng.standard_normal(4),
    )
    expected = conv_forward(x, w, (1, 1), (0, 0), (1, 1)) + b[None, :, None, None]
    np.testing.assert_allclose(valid_convolution_cnn2d(x, w, b), expected, rtol=1e-10)
    with pytest.raises(sn.ShapeError):
        valid_convolution_cnn2d(np.zeros((3, 6, 6)), w)
