"""Model files: round trips, exact resume, refusal of damaged or hostile files, atomic saves."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

import scratchnet_core as sn
from scratchnet_core import serialization
from scratchnet_core.layers import (
    avg_pool2d,
    convolutional_1d,
    convolutional_2d,
    convolutional_3d,
    flatten,
    global_avg_pool,
    linear,
    max_pool,
    max_pool3d,
)


def trained(model: sn.Model, X, Y, epochs: int = 2) -> sn.Model:
    model.fit(X, Y, epochs=epochs, batch_size=8, verbose=0, seed=0)
    return model


def dense_model(optimizer="sgd", activation="tanh", cost="categorical_cross_entropy", dtype=None):
    return sn.Model(
        [linear(4, 6, activation), linear(6, 3, "softmax" if "cat" in cost else None)],
        cost,
        optimizer,
        dtype=dtype,
    )


def data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 4)), rng.integers(0, 3, n)


def assert_same(a: sn.Model, b: sn.Model, X) -> None:
    for (ka, va), (kb, vb) in zip(a.parameters().items(), b.parameters().items(), strict=True):
        assert ka == kb and va.dtype == vb.dtype
        np.testing.assert_array_equal(va, vb)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


@pytest.mark.parametrize(
    "activation", ["relu", "leaky_relu", "sigmoid", "tanh", "identity", "softmax"]
)
def test_round_trip_every_activation(tmp_path: Path, activation: str) -> None:
    X, Y = data()
    m = trained(dense_model(activation=activation), X, Y)
    m.save(tmp_path / "m.npz")
    assert_same(m, sn.Model.load(tmp_path / "m.npz"), X)


@pytest.mark.parametrize("cost", ["mse", "binary_cross_entropy", "categorical_cross_entropy"])
def test_round_trip_every_cost(tmp_path: Path, cost: str) -> None:
    X, Y = data()
    targets = Y if cost == "categorical_cross_entropy" else np.eye(3)[Y]
    m = sn.Model(
        [linear(4, 3, "sigmoid" if cost != "categorical_cross_entropy" else "softmax")], cost
    )
    trained(m, X, targets)
    m.save(tmp_path / "m.npz")
    loaded = sn.Model.load(tmp_path / "m.npz")
    assert type(loaded.cost_function) is type(m.cost_function)
    assert_same(m, loaded, X)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop", "adagrad"])
def test_round_trip_every_optimizer_with_state(tmp_path: Path, optimizer: str) -> None:
    X, Y = data()
    m = trained(dense_model(optimizer), X, Y)
    m.save(tmp_path / "m.npz")
    loaded = sn.Model.load(tmp_path / "m.npz")
    assert loaded.optimizer.get_config() == m.optimizer.get_config()
    a, b = m.optimizer.state_dict(), loaded.optimizer.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], dict):
            for name in a[key]:
                np.testing.assert_array_equal(a[key][name], b[key][name])
        else:
            assert a[key] == b[key]


def test_round_trip_every_layer_kind(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    cases = [
        (
            [convolutional_1d(2, 3, 3, 1, "relu"), max_pool(2), flatten(), linear(9, 2, "softmax")],
            (2, 6),
        ),
        (
            [
                convolutional_2d(1, 2, 3, "same", "tanh", backend="fft"),
                avg_pool2d(2),
                flatten(),
                linear(8, 2, "softmax"),
            ],
            (1, 4, 4),
        ),
        (
            [
                convolutional_3d(1, 2, 2, 0, "relu", stride=2),
                max_pool3d(1),
                global_avg_pool(),
                linear(2, 2, "softmax"),
            ],
            (1, 4, 4, 4),
        ),
    ]
    for layers, shape in cases:
        X = rng.standard_normal((6, *shape))
        Y = rng.integers(0, 2, 6)
        m = trained(sn.Model(layers, "categorical_cross_entropy", "adam"), X, Y)
        m.save(tmp_path / "m.npz")
        loaded = sn.Model.load(tmp_path / "m.npz")
        assert [type(a) for a in loaded.layers] == [type(b) for b in m.layers]
        assert [a.get_config() for a in loaded.layers] == [b.get_config() for b in m.layers]
        assert_same(m, loaded, X)


def test_resume_equals_uninterrupted_training(tmp_path: Path) -> None:
    X, Y = data(40)
    sn.seed(7)
    straight = dense_model("adam", dtype="float64")
    sn.seed(7)
    resumed = dense_model("adam", dtype="float64")
    straight.fit(X, Y, epochs=6, batch_size=8, seed=3, verbose=0)
    resumed.fit(X, Y, epochs=3, batch_size=8, seed=3, verbose=0)
    resumed.save(tmp_path / "half.npz")
    loaded = sn.Model.load(tmp_path / "half.npz")
    assert loaded.epochs_trained == 3
    loaded.fit(X, Y, epochs=6, initial_epoch=3, batch_size=8, seed=3, verbose=0)
    for name, value in straight.parameters().items():
        np.testing.assert_allclose(loaded.parameters()[name], value, rtol=1e-10, atol=1e-12)


def test_header_records_format_architecture_and_plugins(tmp_path: Path) -> None:
    X, Y = data()
    trained(dense_model("adam"), X, Y).save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        header = json.loads(f["header"].tobytes())
    assert header["format"] == "scratchnet-model" and header["format_version"] == 3
    assert header["dtype"] == "float32"
    assert [spec["name"] for spec in header["layers"]] == ["linear", "linear"]
    assert header["optimizer"]["name"] == "adam" and header["optimizer"]["state"]["iterations"] == 6
    plugins = {(p["kind"], p["name"]): p["distribution"] for p in header["plugins"]}
    assert plugins[("optimizers", "adam")] == "scratchnet-std"
    assert plugins[("activations", "softmax")] == "scratchnet-std"


# ------------------------------------------------------------------------- refusing bad files


def saved_bytes(tmp_path: Path) -> bytes:
    X, Y = data()
    trained(dense_model("adam"), X, Y).save(tmp_path / "good.npz")
    return (tmp_path / "good.npz").read_bytes()


def test_truncated_files_are_refused(tmp_path: Path) -> None:
    raw = saved_bytes(tmp_path)
    for cut in (0, 10, len(raw) // 3, len(raw) // 2, len(raw) - 30, len(raw) - 1):
        (tmp_path / "bad.npz").write_bytes(raw[:cut])
        with pytest.raises(sn.ModelFileError):
            sn.Model.load(tmp_path / "bad.npz")


def test_bit_flips_are_refused_or_harmless(tmp_path: Path) -> None:
    raw = saved_bytes(tmp_path)
    rng = np.random.default_rng(0)
    refused = 0
    for _ in range(200):
        flipped = bytearray(raw)
        i = int(rng.integers(len(raw)))
        flipped[i] ^= 1 << int(rng.integers(8))
        (tmp_path / "bad.npz").write_bytes(bytes(flipped))
        try:
            sn.Model.load(tmp_path / "bad.npz")
        except sn.ModelFileError:
            refused += 1
        # any other exception fails the test
    assert refused >= 150  # CRCs catch flips in data; a few land in unused zip fields


def test_pickle_carrying_member_is_refused_and_never_run(tmp_path: Path) -> None:
    raw = saved_bytes(tmp_path)
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    evil = np.array([Payload()], dtype=object)
    src = zipfile.ZipFile(io.BytesIO(raw))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename == "param/0.weight.npy":
                buf = io.BytesIO()
                np.save(buf, evil, allow_pickle=True)
                dst.writestr(info.filename, buf.getvalue())
            else:
                dst.writestr(info, src.read(info.filename))
    (tmp_path / "evil.npz").write_bytes(out.getvalue())
    with pytest.raises(sn.ModelFileError, match="Python objects"):
        sn.Model.load(tmp_path / "evil.npz")
    assert not marker.exists()


def rewrite_header(tmp_path: Path, change) -> Path:
    raw = saved_bytes(tmp_path)
    src = zipfile.ZipFile(io.BytesIO(raw))
    header = json.loads(np.load(io.BytesIO(src.read("header.npy"))).tobytes())
    change(header)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename == "header.npy":
                buf = io.BytesIO()
                np.save(buf, np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))
                dst.writestr(info.filename, buf.getvalue())
            else:
                dst.writestr(info, src.read(info.filename))
    path = tmp_path / "changed.npz"
    path.write_bytes(out.getvalue())
    return path


def test_newer_format_version_says_what_this_release_reads(tmp_path: Path) -> None:
    path = rewrite_header(tmp_path, lambda h: h.update(format_version=99))
    with pytest.raises(
        sn.ModelFileError, match="format version 99; this release of scratchnet reads versions 1, 2"
    ):
        sn.Model.load(path)


def test_missing_plugin_names_the_distribution_to_install(tmp_path: Path) -> None:
    def rename(h):
        h["optimizer"]["name"] = "lion"
        h["plugins"].append(
            {
                "kind": "optimizers",
                "name": "lion",
                "distribution": "scratchnet-extras",
                "version": "0.1.0",
            }
        )

    path = rewrite_header(tmp_path, rename)
    with pytest.raises(sn.PluginNotFoundError, match="pip install scratchnet-extras") as info:
        sn.Model.load(path)
    assert "install the distribution named 'scratchnet-extras'" in str(info.value)
    assert "from its source directory" in str(info.value)  # local ones are not on the index


def test_missing_runtime_component_says_to_register_it_before_loading(tmp_path: Path) -> None:
    def rename(h):
        h["cost"]["name"] = "my_cost"
        h["plugins"].append(
            {
                "kind": "costs",
                "name": "my_cost",
                "distribution": "<runtime>",
                "version": "<runtime>",
            }
        )

    path = rewrite_header(tmp_path, rename)
    with pytest.raises(sn.MissingPluginError, match="registered at runtime") as info:
        sn.Model.load(path)
    message = str(info.value)
    assert '@scratchnet_core.register("costs", "my_cost"), before loading' in message
    assert "pip install" not in message


V1_FILE = Path(__file__).parent / "data" / "model_v1.npz"
V1_PREDICTIONS = [0.41660836338996887, 0.5896780490875244, 0.539268434047699, 0.6454517841339111]


def test_a_version_1_file_still_loads() -> None:
    with np.load(V1_FILE, allow_pickle=False) as f:
        assert json.loads(f["header"].tobytes())["format_version"] == 1
    model = sn.Model.load(V1_FILE)  # written by scratchnet 0.1 (format version 1)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    np.testing.assert_allclose(model.predict(X).ravel(), V1_PREDICTIONS, rtol=1e-6)
    assert model.epochs_trained == 2 and model.optimizer.iterations == 2
    assert model.input_shape is None  # version 1 did not store it
    assert set(serialization.READERS) >= {1, 2}


def test_input_shape_is_stored_and_summary_of_a_loaded_model_shows_shapes(tmp_path: Path) -> None:
    X, Y = data()
    trained(dense_model(), X, Y).save(tmp_path / "m.npz")
    loaded = sn.Model.load(tmp_path / "m.npz")
    assert loaded.input_shape == (4,)
    table = loaded.summary(print_fn=lambda *_: None)
    assert "(N, 6)" in table and "(N, 3)" in table and "?" not in table
    fresh = dense_model()
    fresh.save(tmp_path / "fresh.npz")
    assert sn.Model.load(tmp_path / "fresh.npz").input_shape is None


def test_bad_input_shape_field_is_refused(tmp_path: Path) -> None:
    path = rewrite_header(tmp_path, lambda h: h.update(input_shape=[4, -1]))
    with pytest.raises(sn.ModelFileError, match="'input_shape' must be null or a list"):
        sn.Model.load(path)


def test_a_member_the_header_does_not_list_is_refused(tmp_path: Path) -> None:
    raw = saved_bytes(tmp_path)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info.filename))
        buf = io.BytesIO()
        np.save(buf, np.zeros(3, dtype=np.float32))
        dst.writestr("param/9.extra.npy", buf.getvalue())
    (tmp_path / "extra.npz").write_bytes(out.getvalue())
    with pytest.raises(sn.ModelFileError, match=r"members its header does not list \('param/9"):
        sn.Model.load(tmp_path / "extra.npz")


def test_foreign_and_inconsistent_files(tmp_path: Path) -> None:
    np.savez(tmp_path / "foreign.npz", a=np.zeros(3))
    with pytest.raises(sn.ModelFileError, match="no header"):
        sn.Model.load(tmp_path / "foreign.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(sn.ModelFileError, match=r"not an \.npz archive"):
        sn.Model.load(tmp_path / "text.npz")
    path = rewrite_header(tmp_path, lambda h: h["layers"][0]["config"].update(out_features=7))
    with pytest.raises(sn.ModelFileError, match=r"has shape \(4, 6\), expected \(4, 7\)"):
        sn.Model.load(path)
    path = rewrite_header(tmp_path, lambda h: h["layers"][0]["config"].update(in_features=10**12))
    with pytest.raises(sn.ModelFileError):
        sn.Model.load(path)
    path = rewrite_header(tmp_path, lambda h: h["layers"][0]["config"].update(bogus=1))
    with pytest.raises(sn.ModelFileError, match="cannot be built"):
        sn.Model.load(path)


def test_paths_that_cannot_be_used(tmp_path: Path) -> None:
    with pytest.raises(sn.ModelFileError, match="no model file") as info:
        sn.Model.load(tmp_path / "missing.npz")
    assert isinstance(info.value, OSError) and isinstance(info.value, ValueError)
    with pytest.raises(sn.ModelFileError, match="is a directory"):
        sn.Model.load(tmp_path)
    m = dense_model()
    with pytest.raises(sn.ModelFileError, match="is a directory"):
        m.save(tmp_path)
    with pytest.raises(sn.ModelFileError, match="cannot save"):
        m.save(tmp_path / "no" / "such" / "dir" / "m.npz")


def test_a_failure_during_save_leaves_the_previous_file(tmp_path: Path, monkeypatch) -> None:
    X, Y = data()
    m = trained(dense_model(), X, Y)
    m.save(tmp_path / "m.npz")
    before = (tmp_path / "m.npz").read_bytes()
    m.fit(X, Y, epochs=1, verbose=0)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(serialization.os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        m.save(tmp_path / "m.npz")
    assert (tmp_path / "m.npz").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary left behind
    monkeypatch.undo()
    assert_same(sn.Model.load(tmp_path / "m.npz"), sn.Model.load(tmp_path / "m.npz"), X)


def test_metrics_are_stored_and_come_back(tmp_path: Path) -> None:
    m = sn.Model(
        [linear(4, 3, "softmax")],
        "categorical_cross_entropy",
        metrics=["f1", {"name": "top_k_accuracy", "k": 2}],
    )
    m.save(tmp_path / "m.npz")
    loaded = sn.Model.load(tmp_path / "m.npz")
    assert [type(x) for x in loaded.metrics] == [type(x) for x in m.metrics]
    assert [x.get_config() for x in loaded.metrics] == [x.get_config() for x in m.metrics]


def test_a_damaged_metrics_field_is_a_model_file_error(tmp_path: Path) -> None:
    path = rewrite_header(tmp_path, lambda h: h.update(metrics="f1"))
    with pytest.raises(sn.ModelFileError, match="'metrics' must be a list"):
        sn.Model.load(path)
