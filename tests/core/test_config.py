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
        (('source = "xor"', 'source = "mnist"'), r"c\.toml:3: data\.source: must be one of"),
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

    from scratchnet_core import data

    X, Y = data.xor(80, rng=np.random.default_rng(0))
    np.savez(tmp_path / "d.npz", X=X, Y=Y)
    text = BASE.replace('source = "xor"', 'source = "npz"\npath = "d.npz"').replace(
        "samples = 64\n", ""
    )
    result = run_config(write(tmp_path, text), output_dir=tmp_path)
    assert len(result.history.epoch) == 2
    np.savez(tmp_path / "d.npz", A=X)
    with pytest.raises(sn.DataError, match="no X or Y"):
        run_config(write(tmp_path, text), output_dir=tmp_path)


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
        match=r"model\.layers\[0\]: activation 'leaky_relu': unknown option 'slope'; it accepts "
        "negative_slope",
    ):
        run_config(write(tmp_path, base.replace('activation = "sigmoid"', typo)))
