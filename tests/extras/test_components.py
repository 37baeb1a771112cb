"""scratchnet-extras: every component through the conformance kit, behaviour, PyTorch values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import scratchnet_core as sn
from scratchnet_core.layers import linear
from scratchnet_core.testing import check_activation, check_component, check_cost

from ..helpers import assert_optimizer_matches_pytorch

EXTRAS = {
    "activations": ["gelu", "silu", "elu", "softplus"],
    "layers": ["dropout", "batch_norm", "batch_norm2d", "layer_norm"],
    "costs": ["huber", "label_smoothing_cross_entropy"],
    "optimizers": ["nadam"],
}


@pytest.mark.parametrize(("kind", "name"), [(k, n) for k, names in EXTRAS.items() for n in names])
def test_conformance(kind: str, name: str) -> None:
    check_component(kind, name)


def test_variants_pass_the_kit() -> None:
    acts = sn.get_activation_functions()
    check_activation(acts["gelu"](approximate="tanh"))
    check_activation(acts["elu"](alpha=0.5))
    check_activation(acts["softplus"](beta=2.0, threshold=3.0))
    assert acts["swish"] is acts["silu"]
    rng = np.random.default_rng(0)
    check_cost(
        sn.get_cost_functions()["huber"](delta=0.3),
        rng.standard_normal((4, 3)),
        rng.standard_normal((4, 3)),
    )


@pytest.mark.parametrize("name", EXTRAS["activations"])
def test_activations_are_quiet_at_extremes(name: str) -> None:
    act = sn.get_activation_functions()[name]()
    z = np.array([[-1000.0, -30.0, 0.0, 30.0, 1000.0]])
    out = act.forward(z)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(act.backward(np.ones_like(z))))


def test_dropout_trains_stochastically_and_is_off_at_inference() -> None:
    layer = sn.get_layers()["dropout"](0.25, seed=0)
    x = np.ones((200, 50))
    np.testing.assert_array_equal(layer.forward(x), x)
    y = layer.forward(x, training=True)
    assert set(np.unique(y)) == {0.0, 1 / 0.75}
    assert abs((y == 0).mean() - 0.25) < 0.02
    assert abs(y.mean() - 1) < 0.03  # inverted dropout keeps the expectation
    with pytest.raises(sn.ConfigurationError, match=r"p must be in \[0.0, 1.0\)"):
        sn.get_layers()["dropout"](1.0)


def test_batch_norm_running_statistics_and_eval_mode() -> None:
    rng = np.random.default_rng(0)
    bn = sn.get_layers()["batch_norm2d"](3, momentum=0.5, dtype="float64")
    x = rng.normal(2.0, 3.0, (8, 3, 4, 4))
    y = bn.forward(x, training=True)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, rtol=1e-4)
    n = 8 * 16
    np.testing.assert_allclose(bn.buffers()["running_mean"], 0.5 * x.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(
        bn.buffers()["running_var"], 0.5 + 0.5 * x.var(axis=(0, 2, 3)) * n / (n - 1)
    )
    mean, var = bn.buffers()["running_mean"], bn.buffers()["running_var"]
    expected = (x - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5)
    np.testing.assert_allclose(bn.forward(x), expected)
    with pytest.raises(sn.ShapeError, match="C = 3"):
        bn.forward(np.zeros((2, 4, 3, 3)))


@pytest.mark.parametrize("name", ["batch_norm", "batch_norm2d"])
def test_batch_norm_float32_against_a_float64_definition(name) -> None:
    rng = np.random.default_rng(1)
    shape = (16, 5, 6, 7) if name == "batch_norm2d" else (64, 5)
    x = rng.normal(3.0, 2.0, shape).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    bn = sn.get_layers()[name](5, dtype="float32")
    bn.parameters()["weight"][...] = np.linspace(0.5, 2, 5)
    bn.parameters()["bias"][...] = np.arange(5)
    axes = (0, *range(2, x.ndim))
    view = (1, -1, *(1,) * (x.ndim - 2))
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    w = np.linspace(0.5, 2, 5).reshape(view)
    xhat = (x64 - x64.mean(axes, keepdims=True)) / np.sqrt(x64.var(axes, keepdims=True) + 1e-5)
    gx = g64 * w
    expected_dx = gx - gx.mean(axes, keepdims=True) - xhat * (gx * xhat).mean(axes, keepdims=True)
    expected_dx /= np.sqrt(x64.var(axes, keepdims=True) + 1e-5)
    y = bn.forward(x, training=True)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, xhat * w + np.arange(5).reshape(view), rtol=2e-5, atol=2e-5)
    dx = bn.backward(g)
    np.testing.assert_allclose(dx, expected_dx, rtol=1e-4, atol=1e-5)
    grads = bn.gradients()
    np.testing.assert_allclose(grads["weight"], (g64 * xhat).sum(axes), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(grads["bias"], g64.sum(axes), rtol=1e-4, atol=1e-4)


def test_batch_norm_statistics_survive_squares_that_overflow() -> None:
    # float32 squares of 1e20 overflow: the statistics are recomputed on x / max|x|
    x = np.random.default_rng(2).normal(1.0, 1.0, (8, 3, 4, 4)).astype(np.float32)
    bn = sn.get_layers()["batch_norm2d"](3, dtype="float32")
    small = bn.forward(x, training=True)
    large = bn.forward(x * np.float32(1e20), training=True)
    assert np.isfinite(large).all()
    np.testing.assert_allclose(large, small, rtol=1e-4, atol=1e-4)
    assert np.isfinite(bn.backward(np.ones_like(large))).all()


def test_a_model_with_batch_norm_and_dropout_saves_its_buffers(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((64, 6)), rng.integers(0, 3, 64)
    layers = sn.get_layers()
    model = sn.Model(
        [
            linear(6, 8, "relu"),
            layers["batch_norm"](8),
            layers["dropout"](0.2),
            linear(8, 3, "softmax"),
        ],
        "label_smoothing_cross_entropy",
        "nadam",
    )
    model.fit(X, Y, epochs=3, batch_size=16, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = sn.Model.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(
        loaded.buffers()["1.running_mean"], model.buffers()["1.running_mean"]
    )
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_label_smoothing_fuses_with_softmax_and_matches_definition() -> None:
    cost = sn.get_cost_functions()["label_smoothing_cross_entropy"](0.2)
    assert cost.fuses_with(sn.get_activation_functions()["softmax"]())
    z = np.random.default_rng(1).standard_normal((5, 4))
    idx = np.array([0, 3, 1, 1, 2])
    target = 0.8 * np.eye(4)[idx] + 0.2 / 4
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    loss, _ = cost.loss_and_gradient_from_logits(z, idx)
    assert loss == pytest.approx(-np.sum(target * logp) / 5, rel=1e-12)


def torch_or_skip():
    return pytest.importorskip("torch")


@pytest.mark.parametrize(
    ("name", "kwargs", "torch_fn"),
    [
        ("gelu", {}, lambda t, x: t.nn.functional.gelu(x)),
        ("gelu", {"approximate": "tanh"}, lambda t, x: t.nn.functional.gelu(x, approximate="tanh")),
        ("silu", {}, lambda t, x: t.nn.functional.silu(x)),
        ("elu", {"alpha": 0.7}, lambda t, x: t.nn.functional.elu(x, 0.7)),
        ("softplus", {"beta": 2.0}, lambda t, x: t.nn.functional.softplus(x, 2.0)),
    ],
)
def test_activations_against_pytorch(name, kwargs, torch_fn) -> None:
    torch = torch_or_skip()
    z = np.random.default_rng(0).standard_normal((4, 6)) * 4
    act = sn.get_activation_functions()[name](**kwargs)
    zt = torch.tensor(z, requires_grad=True)
    yt = torch_fn(torch, zt)
    g = np.random.default_rng(1).standard_normal(z.shape)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(act.forward(z), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(act.backward(g), zt.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_norms_and_costs_against_pytorch() -> None:
    torch = torch_or_skip()
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3, 5))
    g = rng.standard_normal(x.shape)
    for ours, theirs in (
        (sn.get_layers()["batch_norm"](3, dtype="float64"), torch.nn.BatchNorm1d(3).double()),
        (
            sn.get_layers()["layer_norm"]([3, 5], dtype="float64"),
            torch.nn.LayerNorm([3, 5]).double(),
        ),
    ):
        xt = torch.tensor(x, requires_grad=True)
        yt = theirs(xt)
        yt.backward(torch.tensor(g))
        np.testing.assert_allclose(
            ours.forward(x, training=True), yt.detach().numpy(), rtol=1e-9, atol=1e-12
        )
        np.testing.assert_allclose(ours.backward(g), xt.grad.numpy(), rtol=1e-8, atol=1e-10)
    p, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3)) * 2
    ht = torch.nn.functional.huber_loss(torch.tensor(p), torch.tensor(y), delta=0.5)
    assert sn.get_cost_functions()["huber"](0.5).loss(p, y) == pytest.approx(ht.item(), rel=1e-12)
    z, idx = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    lt = torch.nn.functional.cross_entropy(torch.tensor(z), torch.tensor(idx), label_smoothing=0.1)
    ours = sn.get_cost_functions()["label_smoothing_cross_entropy"](0.1)
    assert ours.loss_and_gradient_from_logits(z, idx)[0] == pytest.approx(lt.item(), rel=1e-12)


def test_nadam_against_pytorch() -> None:
    # PyTorch updates the moment with lerp: the same formula, rounded differently (~3e-10)
    assert_optimizer_matches_pytorch(
        "nadam", "NAdam", {"lr": 0.01, "weight_decay": 0.1}, size=5, seed=3, rtol=1e-9
    )


def test_batch_norm_after_a_conv_names_the_batch_axis_as_n() -> None:
    layers = sn.get_layers()
    model = sn.Model(
        [layers["convolutional_2d"](1, 4, 3, padding=1), layers["batch_norm"](4)], "mse"
    )
    with pytest.raises(sn.ShapeError) as info:
        model.output_shape((1, 8, 8))
    message = str(info.value)
    assert "layer 1 (BatchNorm1d(4))" in message and "got shape (N, 4, 8, 8)" in message
    assert "(0, 4, 8, 8)" not in message
