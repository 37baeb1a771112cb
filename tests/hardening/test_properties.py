"""Property tests: random architectures survive save/load; optimizer state round-trips;
training is deterministic for a seed."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scratchnet_core as sn

ACTIVATIONS = [
    "relu",
    "leaky_relu",
    "sigmoid",
    "tanh",
    "identity",
    "gelu",
    "silu",
    "elu",
    "softplus",
]


@st.composite
def dense_architectures(draw):
    widths = draw(st.lists(st.integers(1, 6), min_size=1, max_size=4))
    n_in = draw(st.integers(1, 5))
    layers_spec = []
    previous = n_in
    for width in widths:
        kind = draw(st.sampled_from(["linear", "linear", "batch_norm", "layer_norm", "dropout"]))
        if kind == "linear":
            layers_spec.append(
                ("linear", (previous, width), {"activation": draw(st.sampled_from(ACTIVATIONS))})
            )
            previous = width
        elif kind == "batch_norm":
            layers_spec.append(("batch_norm", (previous,), {}))
        elif kind == "layer_norm":
            layers_spec.append(("layer_norm", (previous,), {}))
        else:
            layers_spec.append(("dropout", (draw(st.floats(0.0, 0.9)),), {}))
    classes = draw(st.integers(2, 4))
    layers_spec.append(("linear", (previous, classes), {"activation": "softmax"}))
    optimizer = draw(st.sampled_from(["sgd", "adam", "adamw", "rmsprop", "adagrad", "nadam"]))
    dtype = draw(st.sampled_from(["float32", "float64"]))
    return n_in, classes, layers_spec, optimizer, dtype, draw(st.integers(0, 2**16))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arch=dense_architectures())
def test_random_architectures_round_trip(arch) -> None:
    n_in, classes, spec, optimizer, dtype, seed = arch
    registry = sn.get_layers()
    layers = [registry[name](*args, **kwargs) for name, args, kwargs in spec]
    model = sn.Model(layers, "categorical_cross_entropy", optimizer, dtype=dtype, batch_size=8)
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((16, n_in)), rng.integers(0, classes, 16)
    model.fit(X, Y, epochs=2, verbose=0, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.npz"
        model.save(path)
        loaded = sn.Model.load(path)
    assert [layer.get_config() for layer in loaded.layers] == [
        layer.get_config() for layer in model.layers
    ]
    for ours, theirs in (
        (model.parameters(), loaded.parameters()),
        (model.buffers(), loaded.buffers()),
    ):
        assert ours.keys() == theirs.keys()
        for key in ours:
            assert ours[key].dtype == theirs[key].dtype
            np.testing.assert_array_equal(ours[key], theirs[key])
    np.testing.assert_array_equal(model.predict(X), loaded.predict(X))
    # and both continue identically
    model.fit(X, Y, epochs=3, initial_epoch=2, verbose=0, seed=seed)
    loaded.fit(X, Y, epochs=3, initial_epoch=2, verbose=0, seed=seed)
    for key, value in model.parameters().items():
        np.testing.assert_array_equal(loaded.parameters()[key], value)


OPTIMIZERS = {
    "sgd": st.fixed_dictionaries(
        {"lr": st.floats(1e-4, 0.5), "momentum": st.floats(0, 0.99), "nesterov": st.just(False)}
    ),
    "adam": st.fixed_dictionaries({"lr": st.floats(1e-4, 0.5), "weight_decay": st.floats(0, 0.1)}),
    "adamw": st.fixed_dictionaries({"lr": st.floats(1e-4, 0.5), "weight_decay": st.floats(0, 0.1)}),
    "rmsprop": st.fixed_dictionaries(
        {"lr": st.floats(1e-4, 0.5), "momentum": st.floats(0, 0.9), "centered": st.booleans()}
    ),
    "adagrad": st.fixed_dictionaries({"lr": st.floats(1e-4, 0.5), "lr_decay": st.floats(0, 0.1)}),
    "nadam": st.fixed_dictionaries(
        {"lr": st.floats(1e-4, 0.5), "momentum_decay": st.floats(0, 0.01)}
    ),
}


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(sorted(OPTIMIZERS)),
    data=st.data(),
    steps=st.integers(1, 6),
    split=st.integers(0, 6),
)
def test_optimizer_state_round_trip(name, data, steps, split) -> None:
    kwargs = data.draw(OPTIMIZERS[name])
    cls = sn.get_optimizers()[name]
    rng = np.random.default_rng(steps * 7 + split)
    grads = [{"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)} for _ in range(steps)]
    start = {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    straight, p1 = cls(**kwargs), copy.deepcopy(start)
    for g in grads:
        straight.step(p1, g)
    first, p2 = cls(**kwargs), copy.deepcopy(start)
    cut = min(split, steps)
    for g in grads[:cut]:
        first.step(p2, g)
    resumed = type(first).from_config(first.get_config())
    resumed.load_state_dict(copy.deepcopy(first.state_dict()))
    for g in grads[cut:]:
        resumed.step(p2, g)
    for key in p1:
        np.testing.assert_array_equal(p1[key], p2[key])


@pytest.mark.parametrize("backend", sorted(sn.get_conv_backends()))
def test_same_seed_gives_bit_identical_training(backend: str) -> None:
    """Determinism: the same seeds give the same bits in one environment."""
    layers = sn.get_layers()
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((48, 1, 8, 8)), rng.integers(0, 3, 48)

    def run() -> dict[str, np.ndarray]:
        sn.seed(11)
        with sn.conv_backend(backend):
            model = sn.Model(
                [
                    layers["convolutional_2d"](1, 4, 3, 1, "relu"),
                    layers["batch_norm2d"](4),
                    layers["max_pool2d"](2),
                    layers["flatten"](),
                    layers["dropout"](0.3),
                    layers["linear"](64, 3, "softmax"),
                ],
                "categorical_cross_entropy",
                "adam",
            )
            model.fit(X, Y, epochs=3, batch_size=16, verbose=0)
        return {**model.parameters(), **model.buffers()}

    a, b = run(), run()
    for key in a:
        assert a[key].tobytes() == b[key].tobytes(), key
