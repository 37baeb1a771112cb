"""Property test: random nested architectures (sequential, residual, concat, activation
layers, norms and dropout, to depth 3) have correct gradients in float64 and survive
save / load / continue exactly."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scratchnet_core as sn
from scratchnet_core.testing import check_layer_gradients

ACTIVATIONS = ["tanh", "sigmoid", "gelu", "silu", "softplus", "elu", "leaky_relu", "relu"]


@st.composite
def blocks(draw: st.DrawFn, width: int, depth: int) -> tuple[object, int]:
    """A layer (or a list of layers, a sequential) taking ``width`` features; returns it with
    its output width."""
    layers = sn.get_layers()
    kinds = ["linear", "linear", "activation", "norm", "dropout"]
    if depth > 0:
        kinds += ["sequential", "list", "residual", "concat"] * 2
    kind = draw(st.sampled_from(kinds))
    if kind == "linear":
        out = draw(st.integers(1, 5))
        act = draw(st.sampled_from([None, *ACTIVATIONS]))
        return layers["linear"](width, out, act), out
    if kind == "activation":
        return layers["activation"](draw(st.sampled_from(ACTIVATIONS))), width
    if kind == "norm":
        return layers[draw(st.sampled_from(["layer_norm", "batch_norm"]))](width), width
    if kind == "dropout":
        return layers["dropout"](draw(st.floats(0.0, 0.6))), width
    if kind in ("sequential", "list"):
        children, w = [], width
        for _ in range(draw(st.integers(1, 3))):
            child, w = draw(blocks(w, depth - 1))
            children.append(child)
        return (layers["sequential"](children) if kind == "sequential" else children), w
    if kind == "residual":
        inner, w = draw(blocks(width, depth - 1))
        block = [inner, layers["linear"](w, width)]  # back to the input's width
        shortcut = draw(st.sampled_from(["identity", "linear", "nested"]))
        if shortcut == "identity":
            short = None
        elif shortcut == "linear":
            short = layers["linear"](width, width)
        else:
            inner_short, w2 = draw(blocks(width, depth - 1))
            short = [inner_short, layers["linear"](w2, width)]
        act = draw(st.sampled_from([None, *ACTIVATIONS]))
        return layers["residual"](block, shortcut=short, activation=act), width
    branches, total = [], 0
    for _ in range(draw(st.integers(1, 3))):
        branch, w = draw(blocks(width, depth - 1))
        branches.append(branch)
        total += w
    return layers["concat"](branches), total


@st.composite
def architectures(draw: st.DrawFn) -> tuple[int, object, int, int, str, str, int]:
    seed = draw(st.integers(0, 2**16))
    sn.seed(seed)  # the layers' initial weights: an example replays exactly
    n_in = draw(st.integers(1, 4))
    body, width = draw(blocks(n_in, 3))
    classes = draw(st.integers(2, 3))
    optimizer = draw(st.sampled_from(["sgd", "adam", "rmsprop", "nadam"]))
    dtype = draw(st.sampled_from(["float32", "float64"]))
    return n_in, body, width, classes, optimizer, dtype, seed


def forget_kit_generators(layer: sn.Layer) -> None:
    """The kit gives dropout layers a generator to replay their masks; training resumes
    from the config's seed and step only without it."""
    if hasattr(layer, "rng"):
        layer.rng = None
    for child in layer.children().values():
        forget_kit_generators(child)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arch=architectures())
def test_random_nested_architectures(arch) -> None:
    n_in, body, width, classes, optimizer, dtype, seed = arch
    layers = sn.get_layers()
    net = layers["sequential"]([body, layers["linear"](width, classes, "softmax")])
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((5, n_in))
    for name, value in net.parameters().items():  # zero biases put relu's kink at exact zeros
        if name.endswith("bias"):
            value[...] = rng.uniform(0.05, 0.5, value.shape) * rng.choice([-1, 1], value.shape)
    check_layer_gradients(net, x, seed=seed)  # float64, every nested parameter
    forget_kit_generators(net)

    model = sn.Model([net], "categorical_cross_entropy", optimizer, dtype=dtype, batch_size=8)
    X, Y = rng.standard_normal((16, n_in)), rng.integers(0, classes, 16)
    model.fit(X, Y, epochs=2, verbose=0, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.npz"
        model.save(path)
        loaded = sn.Model.load(path)
    assert loaded.layers[0].get_config() == model.layers[0].get_config()
    for ours, theirs in (
        (model.parameters(), loaded.parameters()),
        (model.buffers(), loaded.buffers()),
    ):
        assert ours.keys() == theirs.keys()
        for key in ours:
            assert theirs[key].dtype == ours[key].dtype == np.dtype(dtype)
            np.testing.assert_array_equal(theirs[key], ours[key])
    np.testing.assert_array_equal(model.predict(X), loaded.predict(X))
    model.fit(X, Y, epochs=3, initial_epoch=2, verbose=0, seed=seed)
    loaded.fit(X, Y, epochs=3, initial_epoch=2, verbose=0, seed=seed)
    for key, value in model.parameters().items():
        np.testing.assert_array_equal(loaded.parameters()[key], value)


@st.composite
def conv_blocks(draw: st.DrawFn, channels: int, depth: int) -> tuple[object, int]:
    """A shape-preserving (spatially) convolutional block taking ``channels``; returns it with
    its output channels."""
    layers = sn.get_layers()
    kinds = ["conv", "conv", "norm", "pool", "activation"]
    if depth > 0:
        kinds += ["list", "residual", "concat"] * 2
    kind = draw(st.sampled_from(kinds))
    if kind == "conv":
        out, k = draw(st.integers(1, 4)), draw(st.sampled_from([1, 3]))
        act = draw(st.sampled_from([None, "tanh", "relu", "silu"]))
        return layers["convolutional_2d"](channels, out, k, "same", act), out
    if kind == "norm":
        return layers["batch_norm2d"](channels), channels
    if kind == "pool":
        return layers["avg_pool2d"](3, 1, 1), channels
    if kind == "activation":
        return layers["activation"](draw(st.sampled_from(ACTIVATIONS))), channels
    if kind == "list":
        children, c = [], channels
        for _ in range(draw(st.integers(1, 3))):
            child, c = draw(conv_blocks(c, depth - 1))
            children.append(child)
        return children, c
    if kind == "residual":
        inner, c = draw(conv_blocks(channels, depth - 1))
        out = draw(st.integers(1, 4))
        block = [inner, layers["convolutional_2d"](c, out, 3, 1)]
        shortcut = None if out == channels else layers["convolutional_2d"](channels, out, 1)
        act = draw(st.sampled_from([None, "relu", "tanh"]))
        return layers["residual"](block, shortcut=shortcut, activation=act), out
    branches, total = [], 0
    for _ in range(draw(st.integers(1, 3))):
        branch, c = draw(conv_blocks(channels, depth - 1))
        branches.append(branch)
        total += c
    return layers["concat"](branches), total


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_random_nested_convolutional_architectures(data: st.DataObject, seed: int) -> None:
    sn.seed(seed)
    layers = sn.get_layers()
    c_in = data.draw(st.integers(1, 3))
    body, channels = data.draw(conv_blocks(c_in, 2))
    net = layers["sequential"](
        [body, layers["global_avg_pool"](), layers["linear"](channels, 3, "softmax")]
    )
    rng = np.random.default_rng(seed)
    for name, value in net.parameters().items():
        if name.endswith("bias"):
            value[...] = rng.uniform(0.05, 0.5, value.shape) * rng.choice([-1, 1], value.shape)
    check_layer_gradients(net, rng.standard_normal((3, c_in, 4, 4)), seed=seed)
    forget_kit_generators(net)

    model = sn.Model([net], "categorical_cross_entropy", "adam", batch_size=4)
    X, Y = rng.standard_normal((8, c_in, 4, 4)), rng.integers(0, 3, 8)
    model.fit(X, Y, epochs=1, verbose=0, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.npz"
        model.save(path)
        loaded = sn.Model.load(path)
    np.testing.assert_array_equal(model.predict(X), loaded.predict(X))
    model.fit(X, Y, epochs=2, initial_epoch=1, verbose=0, seed=seed)
    loaded.fit(X, Y, epochs=2, initial_epoch=1, verbose=0, seed=seed)
    for key, value in {**model.parameters(), **model.buffers()}.items():
        np.testing.assert_array_equal({**loaded.parameters(), **loaded.buffers()}[key], value)
