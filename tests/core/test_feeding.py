"""Data from anywhere: arrays, memory-mapped arrays, datasets, iterables of batches, and the
errors for each when the data is bad."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import scratchnet_core as sn
from scratchnet_core import feeding
from scratchnet_core.layers import linear
from scratchnet_core.optimizers import sgd


def blobs(n: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    return (rng.standard_normal((3, 4)) * 3)[y] + rng.standard_normal((n, 4)), y


def classifier(**kwargs: Any) -> sn.Model:
    sn.seed(0)
    return sn.Model(
        [linear(4, 8, "relu"), linear(8, 3, "softmax")],
        "categorical_cross_entropy",
        sgd(0.1),
        **kwargs,
    )


class Rows:
    """A dataset over arrays, counting how many rows it was asked for."""

    def __init__(self, X: np.ndarray, Y: np.ndarray) -> None:
        self.X, self.Y = X, Y
        self.requested = 0

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.requested += len(indices)
        return self.X[indices], self.Y[indices]


def assert_same_weights(a: sn.Model, b: sn.Model) -> None:
    for name, value in a.get_weights().items():
        np.testing.assert_array_equal(value, b.get_weights()[name], err_msg=name)


def save_memmaps(tmp_path: Path, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", Y)
    return np.load(tmp_path / "x.npy", mmap_mode="r"), np.load(tmp_path / "y.npy", mmap_mode="r")


def test_arrays_memmaps_and_datasets_train_identically(tmp_path: Path) -> None:
    X, Y = blobs()
    X = X.astype(np.float32)
    Xm, Ym = save_memmaps(tmp_path, X, Y)
    runs = {}
    for name, args in {
        "arrays": (X, Y),
        "memmap": (Xm, Ym),
        "dataset": (Rows(X, Y),),
        "prefetched memmap": (Xm, Ym),
    }.items():
        model = classifier()
        history = model.fit(
            *args, epochs=3, batch_size=10, seed=4, verbose=0, prefetch=name.startswith("pre")
        )
        runs[name] = (model, history.history)
    for name, (model, history) in runs.items():
        assert_same_weights(model, runs["arrays"][0])
        assert history == runs["arrays"][1], name


def test_validation_data_in_every_form(tmp_path: Path) -> None:
    X, Y = blobs()
    Xv, Yv = blobs(30, seed=1)
    Xm, Ym = save_memmaps(tmp_path, Xv.astype(np.float32), Yv)
    expected = classifier().fit(X, Y, epochs=2, validation_data=(Xv, Yv), verbose=0, seed=0)
    batches = [(Xv[i : i + 8], Yv[i : i + 8]) for i in range(0, 30, 8)]
    for data in ((Xm, Ym), Rows(Xv, Yv), batches, iter(batches)):
        extra = {"validation_steps": 4} if not hasattr(data, "__len__") else {}
        history = classifier().fit(X, Y, epochs=1, validation_data=data, verbose=0, seed=0, **extra)
        assert history["val_loss"][0] == pytest.approx(expected["val_loss"][0], rel=1e-6)
        assert history["val_accuracy"][0] == expected["val_accuracy"][0]


def test_memmap_is_read_batch_by_batch_never_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    X, Y = blobs(200)
    Xm, Ym = save_memmaps(tmp_path, X.astype(np.float64), Y)  # float64 file, float32 model
    seen: list[int] = []
    original = feeding.cast_checked

    def spy(values: Any, *args: Any, **kwargs: Any) -> np.ndarray:
        seen.append(len(values))
        return original(values, *args, **kwargs)

    monkeypatch.setattr(feeding, "cast_checked", spy)
    classifier().fit(Xm, Ym, epochs=1, batch_size=32, verbose=0)
    assert max(seen) <= 32 and sum(seen) >= 200  # cast per batch; Y batches too


def test_generators_need_steps_per_epoch_and_continue_across_epochs() -> None:
    X, Y = blobs(60)

    def forever():
        while True:
            for i in range(0, 60, 20):
                yield X[i : i + 20], Y[i : i + 20]

    with pytest.raises(sn.ConfigurationError, match="needs steps_per_epoch"):
        classifier().fit(forever(), epochs=1, verbose=0)
    history = classifier().fit(forever(), epochs=3, steps_per_epoch=2, verbose=0)
    assert len(history["loss"]) == 3
    shuffled_arrays = classifier()
    shuffled_arrays.fit(X, Y, epochs=1, batch_size=20, shuffle=False, verbose=0)
    batches = classifier()
    batches.fit([(X[i : i + 20], Y[i : i + 20]) for i in range(0, 60, 20)], verbose=0)
    assert_same_weights(shuffled_arrays, batches)


def test_predict_and_evaluate_take_every_form(tmp_path: Path) -> None:
    X, Y = blobs(50)
    model = classifier()
    expected = model.predict(X)
    Xm, Ym = save_memmaps(tmp_path, X, Y)
    np.testing.assert_allclose(model.predict(Xm, batch_size=7), expected, rtol=1e-6)
    np.testing.assert_allclose(model.predict(Rows(X, Y), batch_size=7), expected, rtol=1e-6)
    gen = (X[i : i + 10] for i in range(0, 50, 10))
    np.testing.assert_allclose(model.predict(gen, steps=5), expected, rtol=1e-6)
    np.testing.assert_allclose(model.predict(X.tolist()), expected, rtol=1e-6)
    reference = model.evaluate(X, Y)
    assert model.evaluate(Rows(X, Y), batch_size=9) == pytest.approx(reference)
    assert model.evaluate(Xm, Ym, batch_size=9) == pytest.approx(reference)


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("prefetch", [False, True])
def test_nan_in_a_late_memmap_batch_stops_with_the_rows_and_keeps_the_weights(
    tmp_path: Path, prefetch: bool
) -> None:
    rows, batch_size, bad_batch = 20_000, 2, 9_999  # the 10,000th batch
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, 4)).astype(np.float32)
    X[bad_batch * batch_size + 1, 2] = np.nan
    Xm, Ym = save_memmaps(tmp_path, X, rng.integers(0, 3, rows))
    snapshots: dict[int, dict[str, np.ndarray]] = {}

    class Snapshot:
        @sn.hookimpl
        def scratchnet_batch_end(self, model: sn.Model, batch: int) -> None:
            if batch == bad_batch - 1:
                snapshots[batch] = model.get_weights()

    model = classifier()
    with pytest.raises(
        sn.DataError,
        match=r"X holds 1 NaN or inf value\(s\), the first in batch 9999, at row 19999 of the data",
    ):
        model.fit(
            Xm,
            Ym,
            epochs=1,
            batch_size=batch_size,
            shuffle=False,
            prefetch=prefetch,
            verbose=0,
            callbacks=[Snapshot()],
        )
    for name, value in model.get_weights().items():
        np.testing.assert_array_equal(value, snapshots[bad_batch - 1][name])


def test_float64_beyond_float32_range_is_a_data_error_before_training(tmp_path: Path) -> None:
    X, Y = blobs(40)
    X[17, 1] = 1e39
    model = classifier()
    before = model.get_weights()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # never NumPy's overflow warning
        with pytest.raises(
            sn.DataError, match=r"beyond float32's range .* index \(17, 1\): 1e\+39"
        ):
            model.fit(X, Y, verbose=0)
        assert_same_weights(model, before_model(model, before))  # in memory: before any step
        Xm, Ym = save_memmaps(tmp_path, X, Y)
        with pytest.raises(sn.DataError, match=r"in batch 1, at row 17 of the data"):
            model.fit(Xm, Ym, batch_size=16, shuffle=False, verbose=0)  # streamed: at the batch
    assert classifier(dtype="float64").fit(X, Y, verbose=0).history["loss"]  # float64 is fine


def before_model(model: sn.Model, weights: dict[str, np.ndarray]) -> sn.Model:
    clone = classifier()
    clone.set_weights(weights)
    return clone


def test_a_dataset_with_inconsistent_batches() -> None:
    class Ragged:
        def __len__(self) -> int:
            return 20

        def __getitem__(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            width = 4 if idx[0] < 10 else 5
            return np.zeros((len(idx), width)), np.zeros(len(idx), dtype=int)

    with pytest.raises(
        sn.DataError, match=r"batch 1 has samples of shape \(5,\), earlier batches had \(4,\)"
    ):
        classifier().fit(Ragged(), batch_size=10, shuffle=False, verbose=0)

    class Short(Ragged):
        def __getitem__(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return np.zeros((len(idx) - 1, 4)), np.zeros(len(idx) - 1, dtype=int)

    with pytest.raises(sn.DataError, match="asked for 10 rows and got 9"):
        classifier().fit(Short(), batch_size=10, verbose=0)

    class NotAPair(Ragged):
        def __getitem__(self, idx: np.ndarray) -> np.ndarray:
            return np.zeros((len(idx), 4))

    with pytest.raises(sn.DataError, match=r"must be a pair \(x_batch, y_batch\)"):
        classifier().fit(NotAPair(), verbose=0)


def test_a_generator_that_ends_early() -> None:
    X, Y = blobs(30)
    batches = ((X[i : i + 10], Y[i : i + 10]) for i in range(0, 30, 10))
    with pytest.raises(sn.DataError, match=r"ended after 3 batch\(es\) .* steps_per_epoch=4"):
        classifier().fit(batches, epochs=2, steps_per_epoch=4, verbose=0)


def test_neither_array_dataset_nor_iterable() -> None:
    with pytest.raises(sn.DataError, match=r"expected an array .* got object"):
        classifier().fit(object(), verbose=0)
    with pytest.raises(sn.ConfigurationError, match="carries its own targets; leave Y out"):
        classifier().fit(Rows(*blobs()), np.zeros(64), verbose=0)
    with pytest.raises(sn.ConfigurationError, match="X is an array, so Y is needed"):
        classifier().fit(np.zeros((4, 4)), verbose=0)
    with pytest.raises(sn.ConfigurationError, match="validation_split needs arrays"):
        classifier().fit(Rows(*blobs()), validation_split=0.2, verbose=0)


def test_targets_checked_per_batch_for_streamed_data(tmp_path: Path) -> None:
    X, Y = blobs(40)
    Y[33] = 7  # not a class of a 3-output model
    Xm, Ym = save_memmaps(tmp_path, X, Y)
    with pytest.raises(sn.DataError, match=r"class indices must lie in \[0, 2\]"):
        classifier().fit(Xm, Ym, batch_size=8, verbose=0)


def test_set_weights_takes_a_keras_style_list_with_clear_errors() -> None:
    model = classifier()
    weights = model.get_weights()
    listed = [w * 2 for w in weights.values()]
    model.set_weights(listed)
    for got, want in zip(model.get_weights().values(), listed, strict=True):
        np.testing.assert_array_equal(got, want)
    before = model.get_weights()
    with pytest.raises(sn.ConfigurationError, match=r"has 4 parameter arrays .* got a list of 3"):
        model.set_weights(listed[:3])
    with pytest.raises(sn.ShapeError, match=r"'0\.bias'"):
        model.set_weights([listed[0], np.zeros(3), *listed[2:]])
    bad = [w.copy() for w in listed]
    bad[3][0] = np.nan
    with pytest.raises(sn.DataError, match=r"'1\.bias' holds 1 NaN or inf"):
        model.set_weights(bad)
    with pytest.raises(sn.DataError, match="beyond float32's range"):
        model.set_weights([np.full(listed[0].shape, 1e39), *listed[1:]])
    with pytest.raises(sn.ConfigurationError, match="expected a dict name -> array or a list"):
        model.set_weights("weights")  # type: ignore[arg-type]
    for name, value in model.get_weights().items():  # every failure left the weights alone
        np.testing.assert_array_equal(value, before[name])
