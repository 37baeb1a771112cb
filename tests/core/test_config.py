"""The TOML runner: the shipped configs end to end, and errors that name key and line."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import scratchnet_core as sn
from scratchnet_core.cli import main
from scratchnet_core.config import run_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_xor_config_end_to_end(tmp_path: Path, capsys) -> None:
    assert (
        main(["train", str(EXAMPLES / "xor.toml"), "--output-dir", str(tmp_path), "--quiet"]) == 0
    )
    out = capsys.readouterr().out
    held_out = float(out.split("held-out: loss ")[1].split("accuracy ")[1].split()[0])
    assert held_out >= 0.95
    model = sn.Model.load(tmp_path / "xor_model.npz")
    assert [type(layer).__name__ for layer in model.layers] == ["Linear"] * 3
    rows = list(csv.reader((tmp_path / "xor_history.csv").read_text().splitlines()))
    assert rows[0][:3] == ["epoch", "loss", "accuracy"] and len(rows) == 151
    if "wrote plot" in out:
        assert (tmp_path / "xor_loss.png").stat().st_size > 1000


def test_digits_cnn_config(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    result = run_config(EXAMPLES / "digits_cnn.toml", output_dir=tmp_path, verbose=0)
    assert result.test_metrics is not None and result.test_metrics["accuracy"] >= 0.97


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


BASE = """seed = 1
[data]
source = "xor"
samples = 64
[model]
cost = "binary_cross_entropy"
[[model.layers]]
type = "linear"
in_features = 2
out_features = 1
activation = "sigmoid"
[fit]
epochs = 2
verbose = 0
"""


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (
            ("out_features = 1", "out_feature = 1"),
            r"c\.toml:10: model\.layers\[0\]\.out_feature: linear: unknown option "
            r"'out_feature'; it accepts in_features",
        ),
        (("epochs = 2", 'epochs = "2"'), r"c\.toml:13: fit\.epochs: must be an integer, got str"),
        (
            ("epochs = 2", "epoch = 2"),
            r"c\.toml:13: fit\.epoch: unknown key; expected one of epochs",
        ),
        (('source = "xor"', 'source = "mnist"'), r"c\.toml:3: data\.source: no dataset.* 'mnist'"),
        (
            ("samples = 64", "sample = 64"),
            r"c\.toml:4: data\.sample: unknown option of dataset 'xor'; it takes samples, seed",
        ),
        (
            ('type = "linear"', 'type = "lineer"'),
            r"c\.toml:8: model\.layers\[0\]\.type: no layer named 'lineer'; did you mean 'linear'",
        ),
        (
            ("out_features = 1", "out_features = 0"),
            r"c\.toml:10: model\.layers\[0\]\.out_features: linear: out_features must be >= 1",
        ),
        (
            ("verbose = 0", "verbose = true"),
            r"c\.toml:14: fit\.verbose: must be 0, 1 or 2, got bool",
        ),
        (("seed = 1", "seed = 1.5"), r"c\.toml:1: seed: must be an integer"),
        (("[fit]", "[fitt]"), r"fitt: unknown key"),
        (("epochs = 2", "epochs = [2"), r"not valid TOML"),
    ],
)
def test_config_errors_name_key_and_line(tmp_path: Path, change, match) -> None:
    path = write(tmp_path, BASE.replace(*change))
    with pytest.raises(sn.ConfigurationError, match=match):
        run_config(path, output_dir=tmp_path)


def test_missing_sections_and_files(tmp_path: Path) -> None:
    with pytest.raises(sn.ConfigurationError, match="missing required key 'model'"):
        run_config(write(tmp_path, 'seed = 1\n[data]\nsource = "xor"\n'))
    with pytest.raises(sn.ConfigurationError, match="cannot read config"):
        run_config(tmp_path / "nope.toml")


def test_npz_data_source(tmp_path: Path) -> None:
    import numpy as np

    X, Y = sn.get_datasets()["xor"](samples=80, seed=0)
    np.savez(tmp_path / "d.npz", X=X, Y=Y)
    text = BASE.replace('source = "xor"', 'source = "npz"\npath = "d.npz"').replace(
        "samples = 64\n", ""
    )
    result = run_config(write(tmp_path, text), output_dir=tmp_path)
    assert len(result.history.epoch) == 2
    np.savez(tmp_path / "d.npz", A=X)
    with pytest.raises(sn.DataError, match=r"d\.npz has no array 'X' or 'Y'"):
        run_config(write(tmp_path, text), output_dir=tmp_path)


class _Replica:
    """A stand-in distributed backend: a callback that makes this process a non-writer."""

    def __init__(self, writer: bool = False) -> None:
        self.writer = writer
        self.started = 0

    @sn.hookimpl
    def scratchnet_train_start(self, model: sn.Model) -> None:
        self.started += 1
        model.is_main_process = self.writer


@pytest.fixture
def replica_backend():
    sn.register("distributed", "test_replica", override=True)(_Replica)
    yield
    sn.get_registry("distributed")._runtime.pop("test_replica", None)


def test_distributed_table_builds_the_backend_and_only_the_main_process_writes(
    tmp_path: Path, capsys, replica_backend
) -> None:
    outputs = '[output]\nmodel = "m.npz"\nhistory = "h.csv"\n'
    path = write(tmp_path, BASE + outputs + '[distributed]\nbackend = "test_replica"\n')
    result = run_config(path, output_dir=tmp_path)
    assert (
        result.files == {} and not list(tmp_path.glob("*.npz")) and not result.model.is_main_process
    )
    path.write_text(BASE + outputs + "[distributed]\nwriter = true\n")
    assert (
        main(["train", str(path), "--output-dir", str(tmp_path), "--distributed", "test_replica"])
        == 0
    )
    assert (tmp_path / "m.npz").exists() and "wrote model" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("table", "match"),
    [
        (
            'backend = "test_replica"\nwriters = 2',
            r"c\.toml:\d+: distributed\.writers: test_replica: unknown option 'writers'; "
            "it accepts writer",
        ),
        ('backend = "nope"', r"c\.toml:\d+: distributed\.backend: no distributed named 'nope'"),
        ("writer = true", r"c\.toml:\d+: distributed: needs backend"),
        ("backend = 3", r"distributed\.backend: must be a string"),
    ],
)
def test_distributed_table_errors(tmp_path: Path, table: str, match: str, replica_backend) -> None:
    path = write(tmp_path, BASE + "[distributed]\n" + table + "\n")
    with pytest.raises(sn.ConfigurationError, match=match):
        run_config(path, output_dir=tmp_path)


def test_a_runtime_registered_dataset_works_in_a_config(tmp_path: Path) -> None:
    import numpy as np

    calls: list[dict] = []

    def lines(samples: int = 10, slope: float = 1.0, seed: int | None = None):
        calls.append({"samples": samples, "slope": slope, "seed": seed})
        X = np.random.default_rng(seed).normal(size=(samples, 2))
        return X, (slope * X[:, 0] > 0).astype(int)

    sn.register("datasets", "third_party_lines")(lines)
    try:
        text = BASE.replace('source = "xor"', 'source = "third_party_lines"\nslope = -2.0')
        result = run_config(write(tmp_path, text), output_dir=tmp_path)
        assert calls == [{"samples": 64, "slope": -2.0, "seed": 1}]
        assert len(result.history.epoch) == 2
        with pytest.raises(sn.ConfigurationError, match="it takes samples, slope, seed"):
            run_config(write(tmp_path, text.replace("slope", "slop")), output_dir=tmp_path)
    finally:
        sn.get_registry("datasets")._runtime.pop("third_party_lines", None)


def test_npy_source_stays_memory_mapped_and_metrics_come_from_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    from scratchnet_core import feeding

    X, Y = sn.get_datasets()["xor"](samples=120, seed=0)
    np.save(tmp_path / "x.npy", X.astype(np.float32))
    np.save(tmp_path / "y.npy", Y)
    feeds: list[object] = []
    original = feeding.make_feed
    monkeypatch.setattr(
        "scratchnet_core.loop.make_feed",
        lambda *a, **k: feeds.append(a[1]) or original(*a, **k),
    )
    text = (
        BASE.replace('source = "xor"', 'source = "npy"\nx_path = "x.npy"\ny_path = "y.npy"')
        .replace("samples = 64\n", "test_fraction = 0.25\n")
        .replace('cost = "binary_cross_entropy"', 'cost = "bce"\nmetrics = ["accuracy", "f1"]')
    )
    result = run_config(write(tmp_path, text), output_dir=tmp_path)
    assert sorted(result.history.history) == ["accuracy", "f1", "loss"]
    assert result.test_metrics is not None and set(result.test_metrics) == {
        "loss",
        "accuracy",
        "f1",
    }
    train = feeds[0]
    assert isinstance(train, feeding.Subset) and len(train) == 90
    assert isinstance(train.dataset.X, np.memmap)  # never loaded whole


OUTPUT = """[output]
model = "m.npz"
history = "h.csv"
"""


def test_output_dir_is_created_before_training(tmp_path: Path) -> None:
    config = write(tmp_path, BASE + OUTPUT)
    target = tmp_path / "new" / "dir"
    assert main(["train", str(config), "--output-dir", str(target), "--quiet"]) == 0
    assert sn.Model.load(target / "m.npz").layers
    assert (target / "h.csv").read_text().startswith("epoch,")


def test_output_paths_are_relative_to_the_config_file(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "configs"
    folder.mkdir()
    config = write(folder, BASE + OUTPUT.replace('"m.npz"', '"runs/m.npz"'))
    monkeypatch.chdir(tmp_path)
    result = run_config(config)
    assert result.files["model"] == str(folder / "runs" / "m.npz")
    assert (folder / "runs" / "m.npz").is_file() and (folder / "h.csv").is_file()


def test_unwritable_output_fails_before_the_first_epoch(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "blocker").write_text("a file where a folder should be")
    config = write(tmp_path, BASE + '[output]\nplot = "blocker/loss.png"\n')
    trained = []
    monkeypatch.setattr(sn.Model, "fit", lambda *a, **k: trained.append(1))
    with pytest.raises(sn.ConfigurationError, match=r"output\.plot: cannot write to .*blocker"):
        run_config(config)
    assert not trained


def test_demo_plot_location_is_checked_before_training(tmp_path: Path, monkeypatch, capsys) -> None:
    (tmp_path / "blocker").write_text("")
    trained = []
    monkeypatch.setattr(sn.Model, "fit", lambda *a, **k: trained.append(1))
    assert main(["demo", "xor", "--plot", str(tmp_path / "blocker" / "x.png")]) == 1
    assert "--plot: cannot write to" in capsys.readouterr().err and not trained


def test_a_layer_activation_table_keeps_its_options_and_refuses_unknown_ones(
    tmp_path: Path,
) -> None:
    base = BASE.replace('cost = "binary_cross_entropy"', 'cost = "mse"')
    flat = 'activation = {name = "leaky_relu", negative_slope = 0.3}'
    result = run_config(write(tmp_path, base.replace('activation = "sigmoid"', flat)))
    assert result.model.layers[0].activation.negative_slope == 0.3
    typo = 'activation = {name = "leaky_relu", slope = 0.3}'
    with pytest.raises(
        sn.ConfigurationError,
        match=r"model\.layers\[0\]\.activation: activation 'leaky_relu': unknown option "
        "'slope'; it accepts negative_slope",
    ):
        run_config(write(tmp_path, base.replace('activation = "sigmoid"', typo)))
