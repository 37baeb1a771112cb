"""Pooling layers against the loop reference, with PyTorch's padding semantics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scratchnet_core as sn
from scratchnet_core.testing import check_layer

from .reference import pool_backward, pool_forward

NAMES = {
    ("max", 1): "max_pool",
    ("avg", 1): "avg_pool",
    ("max", 2): "max_pool2d",
    ("avg", 2): "avg_pool2d",
    ("max", 3): "max_pool3d",
    ("avg", 3): "avg_pool3d",
}


@st.composite
def pool_cases(draw):
    mode = draw(st.sampled_from(["max", "avg"]))
    d = draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(d))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(d))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    spatial = tuple(
        draw(st.integers(max(1, k - 2 * p), 6)) for k, p in zip(kernel, padding, strict=True)
    )
    x = np.random.default_rng(draw(st.integers(0, 2**16))).standard_normal((2, 2, *spatial))
    return mode, kernel, stride, padding, x


@settings(max_examples=60, deadline=None)
@given(case=pool_cases())
def test_matches_loop_reference(case) -> None:
    mode, kernel, stride, padding, x = case
    layer = sn.get_layers()[NAMES[mode, len(kernel)]](kernel, stride, padding, dtype="float64")
    y = layer.forward(x, training=True)
    # atol: an average of standard-normal values can cancel to ~1e-5, where float64's
    # summation order alone moves the last digits (3e-17 absolute seen)
    np.testing.assert_allclose(
        y, pool_forward(x, kernel, stride, padding, mode), rtol=1e-12, atol=1e-14
    )
    g = np.random.default_rng(1).standard_normal(y.shape)
    np.testing.assert_allclose(
        layer.backward(g),
        pool_backward(g, x, kernel, stride, padding, mode),
        rtol=1e-12,
        atol=1e-12,
    )
    assert layer.output_shape(x.shape[1:]) == y.shape[1:]


@pytest.mark.parametrize(
    ("kernel", "stride", "padding"),
    [((2, 2), (2, 2), (0, 0)), ((3, 2), (1, 2), (1, 0)), ((2, 3), (3, 3), (1, 1))],
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_max_pool_ties_go_to_the_first_maximum(kernel, stride, padding, dtype) -> None:
    # ties are the common case after relu (windows of zeros): one input takes each gradient
    x = np.random.default_rng(4).integers(0, 3, (2, 3, 7, 8)).astype(dtype)
    layer = sn.get_layers()["max_pool2d"](kernel, stride, padding, dtype=dtype)
    y = layer.forward(x, training=True)
    np.testing.assert_array_equal(y, pool_forward(x, kernel, stride, padding, "max"))
    g = np.random.default_rng(5).standard_normal(y.shape).astype(dtype)
    np.testing.assert_allclose(
        layer.backward(g), pool_backward(g, x, kernel, stride, padding, "max"), rtol=1e-6
    )


def test_max_pool_propagates_nan_like_pytorch() -> None:
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1] = np.nan
    y = sn.get_layers()["max_pool2d"](2).forward(x)
    assert np.isnan(y[0, 0, 0, 0]) and not np.isnan(y[0, 0, 1]).any() and y[0, 0, 0, 1] == 0


@pytest.mark.parametrize("name", sorted(set(NAMES.values())))
def test_conformance(name) -> None:
    cls = sn.get_layers()[name]
    dims = 3 if name.endswith("3d") else 2 if name.endswith("2d") else 1
    shape = (2, *(5,) * dims)
    check_layer(lambda dtype: cls(2, 2, 1, dtype=dtype), shape, bad_input_shape=(2,) * (dims + 2))


def test_defaults_follow_pytorch() -> None:
    pool = sn.get_layers()["max_pool2d"](3)
    assert pool.stride == (3, 3)
    x = -np.ones((1, 1, 3, 3))
    # max pooling pads with -inf: a padded window of negatives keeps its maximum
    assert sn.get_layers()["max_pool2d"](3, 1, 1).forward(x)[0, 0, 0, 0] == -1
    # average pooling counts padded zeros: the corner window holds 4 values out of 9
    assert sn.get_layers()["avg_pool2d"](3, 1, 1).forward(x)[0, 0, 0, 0] == pytest.approx(-4 / 9)


def test_global_average_pooling() -> None:
    layer = sn.get_layers()["global_avg_pool"]()
    check_layer(lambda dtype: type(layer)(dtype=dtype), (3, 4, 5), bad_input_shape=())
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    np.testing.assert_allclose(layer.forward(x), x.mean(axis=(2, 3)))


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0,), "kernel_size must be >= 1"),
        ((2, 0), "stride must be >= 1"),
        ((2, 2, 2), "padding must be at most half the kernel size"),
        ((2.0,), "kernel_size must be an int"),
    ],
)
def test_bad_arguments(args, match) -> None:
    with pytest.raises(sn.ConfigurationError, match=match):
        sn.get_layers()["max_pool2d"](*args)


def test_wrong_rank_is_a_shape_error() -> None:
    with pytest.raises(sn.ShapeError, match=r"expected input \(N, C, H, W\)"):
        sn.get_layers()["avg_pool2d"](2).forward(np.zeros((1, 4, 4)))


def test_against_pytorch_when_available() -> None:
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).standard_normal((2, 3, 7, 6))
    for name, fn in (
        ("max_pool2d", torch.nn.functional.max_pool2d),
        ("avg_pool2d", torch.nn.functional.avg_pool2d),
    ):
        layer = sn.get_layers()[name](3, 2, 1, dtype="float64")
        xt = torch.tensor(x, requires_grad=True)
        yt = fn(xt, 3, 2, 1)
        g = np.random.default_rng(3).standard_normal(tuple(yt.shape))
        yt.backward(torch.tensor(g))
        np.testing.assert_allclose(layer.forward(x, training=True), yt.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(layer.backward(g), xt.grad.numpy(), rtol=1e-12, atol=1e-12)
