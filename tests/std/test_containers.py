"""Containers: sequential, residual, concat and the activation layer."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

import scratchnet_core as sn
from scratchnet_core import registry
from scratchnet_core.layers import (
    activation,
    batch_norm2d,
    concat,
    convolutional_2d,
    dropout,
    flatten,
    global_avg_pool,
    linear,
    max_pool2d,
    residual,
    sequential,
)
from scratchnet_core.testing import check_component, check_layer, check_layer_gradients, run_checks
from scratchnet_std.layers.containers import MAX_DEPTH

CONTAINERS = ["sequential", "residual", "concat", "activation"]


@pytest.mark.parametrize("name", CONTAINERS)
def test_conformance_kit(name: str) -> None:
    check_component("layers", name)


def test_scratchnet_check_includes_containers() -> None:
    results = {r.name: r.status for r in run_checks(CONTAINERS)}
    assert results == dict.fromkeys(CONTAINERS, "ok")


def nested(dtype: str | None = "float64") -> sn.Layer:
    """Three levels: a sequential holding a residual holding a concat, with norms, dropout."""
    return sequential(
        [
            convolutional_2d(2, 4, 3, 1, bias=False),  # a bias before batch norm cancels
            batch_norm2d(4),
            activation("relu"),
            residual(
                [
                    concat(
                        [
                            convolutional_2d(4, 2, 1, activation="tanh"),
                            [convolutional_2d(4, 2, 3, 1), dropout(0.2), activation("sigmoid")],
                        ]
                    ),
                    batch_norm2d(4),
                ],
                shortcut=[convolutional_2d(4, 4, 1)],
                activation="tanh",
            ),
            global_avg_pool(),
            linear(4, 3),
        ],
        dtype=dtype,
    )


def test_gradients_through_three_levels_in_float64() -> None:
    x = np.random.default_rng(0).normal(size=(3, 2, 5, 5))
    errors = check_layer_gradients(nested(), x)
    assert "3.block.0.branches.1.0.weight" in errors
    assert max(errors.values()) < 1e-6
    check_layer(nested, (2, 5, 5), bad_input_shape=(3, 5, 5))


def test_identity_residual_gradients() -> None:
    block = residual([linear(4, 4, "tanh"), linear(4, 4)], activation="relu", dtype="float64")
    errors = check_layer_gradients(block, np.random.default_rng(2).normal(size=(5, 4)))
    assert sorted(errors) == [
        "block.0.bias",
        "block.0.weight",
        "block.1.bias",
        "block.1.weight",
        "x",
    ]


def test_parameters_gradients_and_buffers_are_named_by_path() -> None:
    model = sn.Model(
        [linear(4, 4), residual([linear(4, 4, "relu"), linear(4, 4)]), concat([linear(4, 2)])],
        "mse",
    )
    assert sorted(model.parameters()) == [
        "0.bias",
        "0.weight",
        "1.block.0.bias",
        "1.block.0.weight",
        "1.block.1.bias",
        "1.block.1.weight",
        "2.branches.0.bias",
        "2.branches.0.weight",
    ]
    inner = model.layers[1].block.layers[1]  # type: ignore[attr-defined]
    assert model.parameters()["1.block.1.weight"] is inner.parameters()["weight"]
    assert model.gradients().keys() == model.parameters().keys()
    bn = sn.Model([sequential([linear(2, 3), sn.get_layers()["batch_norm"](3)])], "mse")
    assert sorted(bn.buffers()) == ["0.1.running_mean", "0.1.running_var"]
    assert model.num_parameters() == sum(p.size for p in model.parameters().values())


def test_a_list_is_a_sequential_in_a_model_and_in_containers() -> None:
    model = sn.Model([[linear(2, 3, "relu"), linear(3, 3)], linear(3, 1)], "mse")
    assert type(model.layers[0]).__name__ == "Sequential"
    assert sorted(model.parameters())[:2] == ["0.0.bias", "0.0.weight"]
    deep = sequential([[[linear(2, 2)], flatten()], "flatten"])
    assert sorted(deep.parameters()) == ["0.0.0.bias", "0.0.0.weight"]
    assert deep.get_config()["layers"][0][0][0]["name"] == "linear"


def test_training_files_and_continuation_follow_the_paths(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(32, 2, 6, 6)), rng.integers(0, 3, 32)
    model = sn.Model([nested(None), activation("softmax")], "categorical_cross_entropy", "adam")
    model.fit(X, Y, epochs=2, batch_size=8, verbose=0, seed=0)
    assert "0.3.shortcut.0.weight" in model.optimizer.state_dict()["exp_avg"]
    path = tmp_path / "m.npz"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        assert "param/0.3.block.0.branches.1.0.weight.npy" in archive.namelist()
        assert "buffer/0.3.block.1.running_mean.npy" in archive.namelist()
        header = json.loads(np.load(archive.open("header.npy")).tobytes())
    used = {(p["kind"], p["name"]) for p in header["plugins"]}
    assert {("layers", "batch_norm2d"), ("layers", "dropout"), ("activations", "sigmoid")} <= used
    loaded = sn.Model.load(path)
    assert [layer.get_config() for layer in loaded.layers] == [
        layer.get_config() for layer in model.layers
    ]
    for ours, theirs in (
        (model.parameters(), loaded.parameters()),
        (model.buffers(), loaded.buffers()),
    ):
        assert ours.keys() == theirs.keys()
        for name, value in ours.items():
            np.testing.assert_array_equal(theirs[name], value)
    model.fit(X, Y, epochs=3, initial_epoch=2, batch_size=8, verbose=0, seed=0)
    loaded.fit(X, Y, epochs=3, initial_epoch=2, batch_size=8, verbose=0, seed=0)
    for name, value in model.parameters().items():
        np.testing.assert_array_equal(loaded.parameters()[name], value)
    fresh = sn.Model([nested(None), activation("softmax")], "categorical_cross_entropy")
    fresh.set_weights(model.get_weights())
    assert fresh.get_weights().keys() == model.get_weights().keys()


def test_a_missing_nested_plugin_is_named_with_its_distribution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.npz"
    sn.Model([residual([linear(3, 3), sn.get_layers()["layer_norm"](3)])], "mse").save(path)
    monkeypatch.setenv("SCRATCHNET_DISABLE_PLUGINS", "scratchnet-extras")
    registry.refresh()
    try:
        with pytest.raises(sn.MissingPluginError, match="pip install scratchnet-extras") as info:
            sn.Model.load(path)
        assert "residual.block[1]" in str(info.value)
    finally:
        monkeypatch.delenv("SCRATCHNET_DISABLE_PLUGINS")
        registry.refresh()


def test_needs_input_grad_and_training_pass_to_the_children() -> None:
    block = residual([dropout(0.5), linear(3, 3)], shortcut=[linear(3, 3)])
    model = sn.Model([block, linear(3, 1)], "mse")
    seen = []

    class Spy:
        @sn.hookimpl
        def scratchnet_batch_end(self) -> None:
            seen.append(
                (block.needs_input_grad, block.block.layers[0].needs_input_grad,
                 block.shortcut.layers[0].needs_input_grad, block.block.layers[1].needs_input_grad)
            )  # fmt: skip

    x = np.ones((4, 3), dtype=np.float32)
    model.fit(x, np.zeros(4), epochs=1, verbose=0, callbacks=[Spy()])
    assert seen == [(False, False, False, True)]
    assert block.needs_input_grad and block.block.layers[0].needs_input_grad
    assert (block.block.forward(x) == block.block.layers[1].forward(x)).all()  # inference
    assert (block.block.layers[0].forward(x, training=True) != x).any()  # training drops
    block.needs_input_grad = False
    block.forward(x, training=True)
    assert block.backward(np.ones((4, 3), dtype=np.float32)) is None
    assert np.abs(block.gradients()["block.1.weight"]).sum() > 0


def test_dtype_passes_to_every_child() -> None:
    layer = sequential([linear(2, 2, dtype="float64"), residual([linear(2, 2, dtype="float64")])])
    assert layer.dtype == np.float64
    assert {v.dtype for v in layer.parameters().values()} == {np.dtype(np.float64)}
    model = sn.Model([layer], "mse", dtype="float32")
    assert {v.dtype for v in model.parameters().values()} == {np.dtype(np.float32)}
    assert model.layers[0].layers[1].block.layers[0].dtype == np.float32  # type: ignore[attr-defined]
    layer.to("float64")
    assert {v.dtype for v in layer.gradients().values()} == {np.dtype(np.float64)}
    assert concat([linear(2, 2)], dtype="float64").branches[0].dtype == np.float64
    with pytest.raises(sn.ConfigurationError, match="different dtypes"):
        sequential([linear(2, 2, dtype="float64"), linear(2, 2)])


@pytest.mark.parametrize(
    "make",
    [
        lambda: sequential([flatten()]),
        lambda: residual([linear(2, 2)]),
        lambda: concat([activation("tanh"), flatten()]),
        lambda: activation("identity"),
        lambda: sequential([linear(2, 2, "softmax")]),
    ],
)
def test_a_second_backward_raises(make) -> None:
    layer = make()
    y = layer.forward(np.ones((3, 2), dtype=np.float32), training=True)
    layer.backward(np.ones_like(y))
    with pytest.raises(sn.BackwardError):
        layer.backward(np.ones_like(y))
    if type(layer).__name__ == "Sequential" and layer.activation is not None:
        layer.forward(np.ones((3, 2), dtype=np.float32), training=True)
        layer.backward_preactivation(np.ones_like(y))
        with pytest.raises(sn.BackwardError):
            layer.backward_preactivation(np.ones_like(y))


@pytest.mark.parametrize(
    "last",
    [
        lambda lin: sequential([lin]),
        lambda lin: sequential([[lin]]),
    ],
)
def test_fused_cross_entropy_sees_through_a_sequential(last) -> None:
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(16, 3)), rng.integers(0, 4, 16)
    sn.seed(5)
    plain = sn.Model([linear(3, 5, "relu"), linear(5, 4, "softmax")], "cross_entropy", "sgd")
    wrapped = sn.Model(
        [linear(3, 5, "relu"), last(linear(5, 4, "softmax"))], "cross_entropy", "sgd"
    )
    pairs = list(zip(sorted(wrapped.parameters()), sorted(plain.parameters()), strict=True))
    wrapped.set_weights({ours: plain.get_weights()[theirs] for ours, theirs in pairs})
    assert wrapped._fused and plain._fused
    steps = []

    class Fused:
        @sn.hookimpl
        def scratchnet_batch_end(self, model: sn.Model) -> None:
            steps.append(model._fused_now)

    ha = plain.fit(X, Y, epochs=2, batch_size=8, verbose=0, seed=0, callbacks=[Fused()])
    hb = wrapped.fit(X, Y, epochs=2, batch_size=8, verbose=0, seed=0, callbacks=[Fused()])
    assert steps == [True] * 8  # both took the fused path at every step
    assert ha["loss"] == hb["loss"]
    for ours, theirs in pairs:
        np.testing.assert_array_equal(wrapped.parameters()[ours], plain.parameters()[theirs])
    assert wrapped.evaluate(X, Y) == plain.evaluate(X, Y)  # evaluation reads the logits too


def test_a_standalone_softmax_fuses_and_matches_the_unfused_gradient() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(6, 3)), rng.integers(0, 3, 6)
    fused = sn.Model([linear(3, 3), activation("softmax")], "cross_entropy", dtype="float64")
    assert fused._fused
    out = fused.forward(x, training=True)
    _, grad = fused.cost_function.loss_and_gradient_from_logits(
        fused.layers[-1].preactivation, y, out
    )
    fused.backward(grad, preactivation=True)
    g_fused = {k: v.copy() for k, v in fused.gradients().items()}
    out = fused.forward(x, training=True)
    fused.backward(fused.cost_function.gradient(out, y))
    for key, value in fused.gradients().items():
        np.testing.assert_allclose(value, g_fused[key], rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- bad input


def test_not_a_layer_and_empty_lists_are_refused() -> None:
    with pytest.raises(sn.ConfigurationError, match=r"sequential\[1\]: expected a layer.*int 3"):
        sequential([linear(2, 2), 3])
    with pytest.raises(sn.ConfigurationError, match="at least one layer, got an empty list"):
        sequential([])
    with pytest.raises(sn.ConfigurationError, match=r"residual.block: .*at least one layer"):
        residual([])
    with pytest.raises(sn.ConfigurationError, match="concat: branches must hold at least one"):
        concat([])
    with pytest.raises(sn.ConfigurationError, match="must be a list of layers"):
        sequential(linear(2, 2))  # type: ignore[arg-type]
    with pytest.raises(sn.ConfigurationError, match="axis 0 is the batch axis"):
        concat([linear(2, 2)], axis=0)
    with pytest.raises(sn.ConfigurationError, match="needs an activation"):
        activation(None)  # type: ignore[arg-type]
    shared = linear(2, 2)
    with pytest.raises(sn.ConfigurationError, match="appears twice"):
        sequential([shared, residual([shared])])


def test_unknown_nested_names_are_named_with_suggestions_and_path() -> None:
    spec = {"name": "residual", "config": {"block": [{"name": "linear", "config": {
        "in_features": 2, "out_features": 2}}, {"name": "convolutional_2dd"}]}}  # fmt: skip
    with pytest.raises(sn.PluginNotFoundError, match=r"sequential\[0\]\.block\[1\]: no layer .*"
                       r"did you mean 'convolutional_2d'"):  # fmt: skip
        sequential([spec])
    with pytest.raises(sn.ConfigurationError, match=r"concat.branches\[0\]\[0\]: .*kernel_size"):
        concat([[{"name": "convolutional_2d", "config": {"in_channels": 1, "out_channels": 1,
                                                          "kernel_size": 0}}]])  # fmt: skip


def test_nesting_depth_is_bounded() -> None:
    spec: object = {"name": "flatten"}
    for _ in range(MAX_DEPTH + 1):
        spec = [spec]
    with pytest.raises(sn.ConfigurationError, match=f"deeper than {MAX_DEPTH}"):
        sequential([spec])


def test_residual_mismatch_names_both_shapes_and_suggests_a_1x1_convolution() -> None:
    block = residual([convolutional_2d(8, 16, 3, 1, stride=2), batch_norm2d(16)])
    with pytest.raises(sn.ShapeError) as info:
        block.output_shape((8, 10, 10))
    message = str(info.value)
    assert "block output (N, 16, 5, 5)" in message
    assert "identity shortcut output (N, 8, 10, 10)" in message
    assert "convolutional_2d(8, 16, kernel_size=1, stride=2)" in message
    flat = residual([linear(4, 6)])
    with pytest.raises(sn.ShapeError, match=r"shortcut=linear\(4, 6\)"):
        flat.output_shape((4,))
    with pytest.raises(sn.ShapeError, match=r"block output \(N, 16, 5, 5\)"):
        block.forward(np.zeros((2, 8, 10, 10), dtype=np.float32))


def test_concat_mismatch_names_the_branch_and_shapes_before_any_update() -> None:
    block = concat([convolutional_2d(3, 4, 3, 1), convolutional_2d(3, 4, 3)])
    model = sn.Model([block, flatten(), linear(4 * 8 * 8, 2, "softmax")], "cross_entropy")
    before = model.get_weights()
    with pytest.raises(sn.ShapeError) as info:
        model.fit(np.zeros((4, 3, 8, 8)), np.zeros(4, dtype=int), verbose=0)
    message = str(info.value)
    assert message.startswith("layer 0 (Concat(2 branches, axis=1))")
    assert "branch 1 output (N, 4, 6, 6) where branch 0 gives (N, 4, 8, 8)" in message
    for key, value in model.get_weights().items():
        np.testing.assert_array_equal(value, before[key])


def test_a_nested_shape_error_names_the_path_and_the_model_index() -> None:
    model = sn.Model([linear(3, 4), residual([linear(4, 4), sequential([linear(5, 4)])])], "mse")
    with pytest.raises(sn.ShapeError) as info:
        model.predict(np.zeros((2, 3)))
    assert str(info.value).startswith("layer 1 (residual.block[1][0]: Linear(5, 4)): expected")
    assert info.value.index == 1


# ----------------------------------------------------------------------------- summary


def test_summary_shows_the_tree() -> None:
    model = sn.Model(
        [
            convolutional_2d(1, 4, 3, 1),
            residual(
                [convolutional_2d(4, 8, 3, 1, stride=2), activation("relu")],
                shortcut=convolutional_2d(4, 8, 1, stride=2),
            ),
            concat([max_pool2d(2), [max_pool2d(2), convolutional_2d(8, 2, 1)]]),
            global_avg_pool(),
            linear(10, 2),
        ],
        "mse",
    )
    lines = model.summary((1, 8, 8), print_fn=lambda text: None).splitlines()
    rows = {line.split()[0]: line for line in lines[2:-2]}
    assert list(rows) == [
        "0", "1", "1.block", "1.block.0", "1.block.1", "1.shortcut", "2", "2.branches.0",
        "2.branches.1", "2.branches.1.0", "2.branches.1.1", "3", "4",
    ]  # fmt: skip
    assert "(N, 8, 4, 4)" in rows["1.block.0"] and rows["1.block.0"].endswith("296")
    assert rows["1"].endswith(f"{296 + 40:,}")
    assert "    Conv2d(4, 8" in rows["1.block.0"]  # indented under its container
    assert "(N, 10, 2, 2)" in rows["2"] and "(N, 2, 2, 2)" in rows["2.branches.1.1"]
    assert "?" in model.summary(print_fn=lambda text: None)


# ----------------------------------------------------------------------------- model files


def with_header(tmp_path: Path, change) -> Path:
    """A saved container model whose header ``change`` rewrote (arrays kept)."""
    source = tmp_path / "m.npz"
    sn.Model([residual([linear(3, 3, "relu"), linear(3, 3)])], "mse").save(source)
    with zipfile.ZipFile(source) as src:
        header = json.loads(np.load(src.open("header.npy")).tobytes())
        change(header)
        path = tmp_path / "changed.npz"
        with zipfile.ZipFile(path, "w") as dst:
            for info in src.infolist():
                if info.filename == "header.npy":
                    buf = io.BytesIO()
                    np.save(buf, np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))
                    dst.writestr(info.filename, buf.getvalue())
                else:
                    dst.writestr(info, src.read(info.filename))
    return path


def block_of(header: dict) -> list:
    return header["layers"][0]["config"]["block"]


def test_damaged_container_headers_are_refused_safely(tmp_path: Path) -> None:
    def deep(h: dict) -> None:
        spec: object = {"name": "flatten"}
        for _ in range(200):
            spec = [spec]
        block_of(h).append(spec)

    def huge(h: dict) -> None:
        block_of(h)[1]["config"]["out_features"] = 10**9  # more than the file stores

    def unknown(h: dict) -> None:
        block_of(h)[1]["name"] = "lineer"

    def not_a_layer(h: dict) -> None:
        h["layers"][0]["config"]["block"] = 5

    def nested_json(h: dict) -> None:
        h["layers"][0]["config"]["shortcut"] = json.loads("[" * 900 + "]" * 900)

    cases = [
        (deep, sn.ModelFileError, "deeper than 64"),
        (huge, sn.ModelFileError, "more than the model file stores"),
        (unknown, sn.MissingPluginError, r"no layer named 'lineer'.*used at residual.block\[1\]"),
        (not_a_layer, sn.ModelFileError, "residual.block: expected a layer"),
        (nested_json, sn.ModelFileError, "cannot be built|not valid JSON"),
    ]
    for change, error, message in cases:
        with pytest.raises(error, match=message):
            sn.Model.load(with_header(tmp_path, change))


def test_concat_along_a_spatial_axis() -> None:
    def make(dtype: str) -> sn.Layer:
        return concat(
            [convolutional_2d(2, 3, 3, 1), convolutional_2d(2, 3, (1, 3), activation="tanh")],
            axis=-1,
            dtype=dtype,
        )

    check_layer(make, (2, 4, 4), bad_input_shape=(3, 4, 4))
    assert make("float32").output_shape((2, 4, 4)) == (3, 4, 6)
    with pytest.raises(sn.ShapeError, match="non-batch axis 3"):
        concat([linear(2, 2)], axis=3).output_shape((2,))
    with pytest.raises(sn.ShapeError, match="non-batch axis -2"):
        concat([linear(2, 2)], axis=-2).forward(np.zeros((1, 2), dtype=np.float32))
