"""Error messages: one numbering of epochs for people (from 1), indices from 0 for programs."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnet_core as sn
from scratchnet_core.layers import linear
from scratchnet_core.optimizers import sgd


def test_divergence_in_the_first_epoch_is_reported_as_epoch_1() -> None:
    X = np.random.default_rng(0).standard_normal((32, 4)) * 1e3
    m = sn.Model([linear(4, 16, "relu"), linear(16, 1)], "mse", sgd(1e3))
    with pytest.raises(sn.TrainingDivergedError) as info:
        m.fit(X, X[:, :1] * 1e3, epochs=50, batch_size=8, verbose=0)
    exc = info.value
    assert f"training diverged at epoch {exc.epoch + 1}, batch {exc.batch + 1}:" in str(exc)
    assert exc.epoch == 0  # the index, as hooks see it


def test_message_counts_from_1_and_attributes_from_0() -> None:
    exc = sn.TrainingDivergedError(0, 0, float("nan"), restored_to_epoch_start=True)
    assert str(exc).startswith("training diverged at epoch 1, batch 1: loss is nan;")
    assert "restored to the start of epoch 1" in str(exc)
    assert (exc.epoch, exc.batch) == (0, 0)
    custom = sn.TrainingDivergedError(2, 5, float("inf"), restored="put back by a callback")
    assert "epoch 3, batch 6: loss is inf; put back by a callback" in str(custom)
