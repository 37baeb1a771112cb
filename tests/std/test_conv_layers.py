"""Convolution layers: conformance on every backend, padding modes, swapping, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnet_core as sn
from scratchnet_core.layers import convolutional_1d, convolutional_2d, convolutional_3d
from scratchnet_core.testing import check_layer

from .reference import conv_forward


@pytest.mark.parametrize("backend", sorted(sn.get_conv_backends()))
@pytest.mark.parametrize(
    ("factory", "input_shape", "bad"),
    [
        (lambda **kw: convolutional_1d(2, 3, 3, 1, "tanh", stride=2, **kw), (2, 7), (3, 7)),
        (
            lambda **kw: convolutional_2d(2, 3, (3, 2), 0, "relu", dilation=(1, 2), **kw),
            (2, 6, 7),
            (3, 6, 7),
        ),
        (lambda **kw: convolutional_2d(2, 2, 3, "same", "softmax", **kw), (2, 5, 4), (2, 5)),
        (
            lambda **kw: convolutional_3d(1, 2, 2, 1, None, stride=(1, 2, 1), **kw),
            (1, 4, 4, 3),
            (2, 4, 4, 3),
        ),
    ],
)
def test_conformance(backend, factory, input_shape, bad) -> None:
    check_layer(
        lambda dtype: factory(backend=backend, dtype=dtype), input_shape, bad_input_shape=bad
    )


def test_weight_layout_parameters_and_reference() -> None:
    layer = convolutional_2d(3, 4, 3, 1, dtype="float64", backend="direct")
    w, b = layer.parameters()["weight"], layer.parameters()["bias"]
    assert w.shape == (4, 3, 3, 3) and b.shape == (4,)
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 5))
    expected = conv_forward(x, w, (1, 1), (1, 1), (1, 1)) + b[None, :, None, None]
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-10)


@pytest.mark.parametrize("kernel", [2, 3, 4])
def test_same_padding_keeps_size_like_pytorch(kernel) -> None:
    rng = np.random.default_rng(kernel)
    layer = convolutional_2d(1, 1, kernel, "same", bias=False, dtype="float64")
    x = rng.standard_normal((1, 1, 6, 5))
    y = layer.forward(x)
    assert y.shape == (1, 1, 6, 5)
    total = kernel - 1  # PyTorch puts the odd zero after
    xp = np.pad(
        x, ((0, 0), (0, 0), (total // 2, total - total // 2), (total // 2, total - total // 2))
    )
    expected = conv_forward(xp, layer.parameters()["weight"], (1, 1), (0, 0), (1, 1))
    np.testing.assert_allclose(y, expected, rtol=1e-10)


def test_valid_padding_and_registry_aliases() -> None:
    assert sn.get_layers()["conv2d"] is sn.get_layers()["convolutional_2d"]
    layer = convolutional_2d(1, 2, 3, "valid")
    assert layer.forward(np.zeros((1, 1, 5, 5), dtype=np.float32)).shape == (1, 2, 3, 3)


def test_swapping_backends() -> None:
    x = np.random.default_rng(0).standard_normal((2, 2, 9, 9))
    layer = convolutional_2d(2, 3, 3, 1, dtype="float64")
    used = []
    original = layer._backend

    def spy():
        backend = original()
        used.append(type(backend).__name__)
        return backend

    layer._backend = spy
    sn.set_conv_backend("direct")
    try:
        y_direct = layer.forward(x)
        with sn.conv_backend("fft"):
            y_fft = layer.forward(x)
            assert sn.current_conv_backend() == "fft"
        assert sn.current_conv_backend() == "direct"
    finally:
        sn.set_conv_backend(None)
    assert used == ["Direct", "FFT"]
    np.testing.assert_allclose(y_direct, y_fft, rtol=1e-10, atol=1e-12)
    fixed = convolutional_2d(2, 3, 3, backend="fft")
    with sn.conv_backend("direct"):
        assert type(fixed._backend()).__name__ == "FFT"  # per-layer choice wins


def test_unknown_backend_name_on_a_layer() -> None:
    with pytest.raises(sn.PluginNotFoundError, match="did you mean 'fft'"):
        convolutional_2d(1, 1, 3, backend="fftt")


def test_shape_errors_name_the_layer_and_layout() -> None:
    layer = convolutional_2d(3, 4, 3)
    with pytest.raises(
        sn.ShapeError, match=r"Conv2d\(3, 4.*expected input \(N, C, H, W\), got shape \(5, 5\)"
    ):
        layer.forward(np.zeros((5, 5), dtype=np.float32))
    with pytest.raises(sn.ShapeError, match="C = 3 channels, got 2 channels"):
        layer.forward(np.zeros((1, 2, 5, 5), dtype=np.float32))
    with pytest.raises(sn.ShapeError, match="dilated kernel 3 after padding"):
        layer.forward(np.zeros((1, 3, 2, 5), dtype=np.float32))
    model = sn.Model([convolutional_2d(1, 2, 3), convolutional_2d(3, 2, 3)], "mse")
    with pytest.raises(sn.ShapeError, match=r"layer 1 .*C = 3 channels, got 2 channels"):
        model.predict(np.zeros((1, 1, 8, 8)))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kernel_size": 2.5}, "kernel_size must be an int or a tuple of 2 ints"),
        ({"kernel_size": (3,)}, "kernel_size must be an int or a tuple of 2 ints"),
        ({"kernel_size": 0}, "kernel_size must be >= 1"),
        ({"stride": 0}, "stride must be >= 1"),
        ({"dilation": 0}, "dilation must be >= 1"),
        ({"padding": -1}, "padding must be >= 0"),
        ({"padding": "full"}, "padding must be an int, a tuple, 'valid' or 'same'"),
        ({"padding": "same", "stride": 2}, "padding='same' needs stride 1"),
        ({"in_channels": 0}, "in_channels must be >= 1"),
    ],
)
def test_bad_arguments(kwargs, match) -> None:
    args = {"in_channels": 1, "out_channels": 1, "kernel_size": 3, **kwargs}
    with pytest.raises(sn.ConfigurationError, match=match):
        convolutional_2d(**args)


def test_config_round_trip_keeps_everything() -> None:
    layer = convolutional_2d(
        2, 3, (3, 1), "same", "leaky_relu", dilation=(2, 1), backend="fft", bias=False
    )
    rebuilt = type(layer).from_config(layer.get_config())
    assert rebuilt.get_config() == layer.get_config()
    assert rebuilt.backend == "fft" and rebuilt.padding_mode == "same" and not rebuilt.use_bias


def test_against_pytorch_when_available() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 9, 8))
    for backend in ("direct", "fft"):
        layer = convolutional_2d(
            3, 4, (3, 2), 2, stride=(2, 1), dilation=(1, 2), backend=backend, dtype="float64"
        )
        w, b = layer.parameters()["weight"], layer.parameters()["bias"]
        b[:] = rng.standard_normal(4)
        xt = torch.tensor(x, requires_grad=True)
        wt = torch.tensor(w, requires_grad=True)
        bt = torch.tensor(b, requires_grad=True)
        yt = torch.nn.functional.conv2d(xt, wt, bt, stride=(2, 1), padding=2, dilation=(1, 2))
        g = rng.standard_normal(tuple(yt.shape))
        yt.backward(torch.tensor(g))
        y = layer.forward(x, training=True)
        grad_x = layer.backward(g)
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(grad_x, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(
            layer.gradients()["weight"], wt.grad.numpy(), rtol=1e-10, atol=1e-12
        )
        np.testing.assert_allclose(
            layer.gradients()["bias"], bt.grad.numpy(), rtol=1e-10, atol=1e-12
        )
