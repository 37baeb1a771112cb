"""The standard metrics: accuracy, top-k accuracy, precision, recall, F1, MAE, RMSE, R².

Each keeps additive sufficient statistics in one float64 vector (`Metric.state`), so
an epoch's value is exact over the epoch (never a mean of per-batch values) and states from
several processes merge by summation. Definitions follow scikit-learn: precision, recall and
F1 are the binary ones (positive class 1) for one sigmoid output and macro averages over the
classes seen (in targets or predictions) for categorical outputs; a class with no predicted
(or no true) rows has precision (or recall) 0. R² averages the per-output scores uniformly.

>>> import numpy as np, scratchnet_core as sn
>>> f1 = sn.get_metrics()["f1"]()
>>> f1.bind("categorical", (3,))
>>> f1.reset()
>>> f1.update(np.eye(3)[[0, 1, 2, 2]], np.array([0, 1, 2, 1]))
>>> round(f1.result(), 6)
0.777778
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from scratchnet_core import ConfigurationError, DataError, Metric
from scratchnet_core.checks import positive_int
from scratchnet_core.interfaces import Array

__all__ = ["MAE", "R2", "RMSE", "Accuracy", "F1", "Precision", "Recall", "TopKAccuracy"]


def _labels(y_true: Array) -> NDArray[np.intp]:
    """Class indices from indices ``(N,)`` or one-hot ``(N, C)`` targets."""
    return y_true.astype(np.intp, copy=False) if y_true.ndim == 1 else y_true.argmax(axis=1)


def _columns(y_pred: Array, y_true: Array) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Predictions and targets as float64 ``(N, D)``; class indices become one-hot."""
    pred = np.asarray(y_pred, dtype=np.float64).reshape(y_pred.shape[0], -1)
    if y_true.ndim == 1 and pred.shape[1] > 1:
        true = np.zeros_like(pred)
        true[np.arange(pred.shape[0]), y_true.astype(np.intp)] = 1.0
    else:
        true = np.asarray(y_true, dtype=np.float64).reshape(pred.shape[0], -1)
    if true.shape != pred.shape:
        raise DataError(f"metric: targets of shape {true.shape} do not match outputs {pred.shape}")
    return pred, true


class _Stateful(Metric):
    """A metric whose statistics are the float64 vector ``self.totals``."""

    tasks: ClassVar[tuple[str, ...]] = Metric.TASKS

    def __init__(self) -> None:
        self.task: str | None = None
        self.width: int | None = None  # outputs (or classes) per sample, once known
        self.totals = np.zeros(0)

    def bind(self, task: str, output_shape: tuple[int, ...] | None) -> None:
        if task not in self.tasks:
            needs = " or ".join(self.tasks)
            kind = "a regression" if task == "regression" else f"a {task} classification"
            raise ConfigurationError(
                f"metrics: {self._label()} needs a {needs} output, but the cost makes this "
                f"{kind} model"
            )
        self.task = task
        if output_shape is not None:
            self.width = int(np.prod(output_shape)) if output_shape else 1
            self._check_width()
        self.reset()

    def _label(self) -> str:
        return self.name or type(self).__name__.lower()

    def _check_width(self) -> None:
        """Refuse output widths this metric cannot take (after `bind`)."""

    def _length(self) -> int:
        """Length of the state vector for ``self.width``."""
        return 2

    def reset(self) -> None:
        self.totals = np.zeros(self._length() if self.width is not None else 0)

    def _ensure(self, y_pred: Array) -> None:
        if self.width is None:  # used outside a model: learn the width from the data
            self.width = int(np.prod(y_pred.shape[1:])) if y_pred.ndim > 1 else 1
            if self.task is None:
                self.task = "categorical" if self.width > 1 else "binary"
            self._check_width()
            self.totals = np.zeros(self._length())

    def state(self) -> NDArray[np.float64]:
        return self.totals.copy()

    def load_state(self, state: NDArray[np.float64]) -> None:
        array = np.asarray(state, dtype=np.float64).ravel()
        if self.width is not None and array.size != self._length():
            raise DataError(
                f"{self._label()}.load_state: expected {self._length()} values, got {array.size}"
            )
        self.totals = array.copy()


class Accuracy(_Stateful):
    """The fraction of correct predictions: argmax against the class for categorical
    outputs; for sigmoid outputs, ``y_pred > 0.5`` against ``y_true > 0.5`` per output.

    >>> m = Accuracy(); m.bind("binary", (1,))
    >>> m.update(np.array([[0.9], [0.2], [0.7]]), np.array([[1.0], [1.0], [0.0]]))
    >>> round(m.result(), 4)
    0.3333
    """

    name = "accuracy"

    higher_is_better = True
    tasks = ("binary", "categorical")

    def update(self, y_pred: Array, y_true: Array) -> None:
        self._ensure(y_pred)
        if self.task == "categorical":
            hits = y_pred.argmax(axis=1) == _labels(y_true)
        else:
            hits = (y_pred > 0.5) == (y_true > 0.5)
        self.totals[0] += np.count_nonzero(hits)
        self.totals[1] += hits.size

    def result(self) -> float:
        correct, total = self.totals
        return float(correct / total) if total else 0.0


class TopKAccuracy(_Stateful):
    """The fraction of rows whose true class is among the ``k`` highest outputs (a tie with
    the true class's score counts in its favour).

    >>> m = TopKAccuracy(k=2); m.bind("categorical", (3,))
    >>> m.update(np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]]), np.array([1, 0]))
    >>> m.result()
    0.5
    """

    name = "top_k_accuracy"

    higher_is_better = True
    tasks = ("categorical",)

    def __init__(self, k: int = 5) -> None:
        super().__init__()
        self.k = positive_int("top_k_accuracy", "k", k)

    def _check_width(self) -> None:
        assert self.width is not None
        if self.k > self.width:
            raise ConfigurationError(
                f"metrics: top_k_accuracy k={self.k} exceeds the {self.width} classes of the "
                "model's output"
            )

    def update(self, y_pred: Array, y_true: Array) -> None:
        self._ensure(y_pred)
        labels = _labels(y_true)
        true_score = np.take_along_axis(y_pred, labels[:, None], axis=1)
        above = np.count_nonzero(y_pred > true_score, axis=1)
        self.totals[0] += np.count_nonzero(above < self.k)
        self.totals[1] += labels.shape[0]

    def result(self) -> float:
        correct, total = self.totals
        return float(correct / total) if total else 0.0

    def get_config(self) -> dict[str, Any]:
        return {"k": self.k}


class _Confusion(_Stateful):
    """Per-class counts: true positives, predicted and actual rows of each class.

    State: ``[tp (C), predicted (C), actual (C)]``, with ``C = 1`` (the positive class) for
    one sigmoid output.
    """

    higher_is_better = True
    tasks = ("binary", "categorical")

    def _check_width(self) -> None:
        if self.task == "binary" and self.width != 1:
            raise ConfigurationError(
                f"metrics: {self._label()} takes one sigmoid output (binary) or a categorical "
                f"output; this model has {self.width} sigmoid outputs (multi-label)"
            )

    def _length(self) -> int:
        classes = 1 if self.task == "binary" else (self.width or 1)
        return 3 * classes

    def update(self, y_pred: Array, y_true: Array) -> None:
        self._ensure(y_pred)
        if self.task == "binary":
            pred = y_pred.reshape(-1) > 0.5
            true = y_true.reshape(-1) > 0.5
            self.totals += (
                np.count_nonzero(pred & true),
                np.count_nonzero(pred),
                np.count_nonzero(true),
            )
            return
        classes = self.totals.size // 3
        pred_labels = y_pred.argmax(axis=1)
        labels = _labels(y_true)
        self.totals[:classes] += np.bincount(labels[pred_labels == labels], minlength=classes)
        self.totals[classes : 2 * classes] += np.bincount(pred_labels, minlength=classes)
        self.totals[2 * classes :] += np.bincount(labels, minlength=classes)

    def _scores(self) -> NDArray[np.float64]:
        """Per-class scores of the classes seen (in targets or predictions)."""
        classes = self.totals.size // 3
        tp, predicted, actual = (self.totals[i * classes : (i + 1) * classes] for i in range(3))
        seen = (predicted + actual) > 0 if classes > 1 else np.ones(1, dtype=bool)
        return self._per_class(tp[seen], predicted[seen], actual[seen])

    def _per_class(
        self, tp: NDArray[np.float64], predicted: NDArray[np.float64], actual: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        raise NotImplementedError

    def result(self) -> float:
        if self.totals.size == 0:
            return 0.0
        scores = self._scores()
        return float(scores.mean()) if scores.size else 0.0


def _ratio(num: NDArray[np.float64], den: NDArray[np.float64]) -> NDArray[np.float64]:
    out = np.zeros_like(num)
    np.divide(num, den, out=out, where=den > 0)
    return out


class Precision(_Confusion):
    """``tp / (tp + fp)``: binary for one sigmoid output, macro over classes otherwise
    (scikit-learn's ``precision_score``, ``zero_division=0``).

    >>> m = Precision(); m.bind("binary", (1,))
    >>> m.update(np.array([[0.9], [0.8], [0.1]]), np.array([[1.0], [0.0], [1.0]]))
    >>> m.result()
    0.5
    """

    name = "precision"

    def _per_class(
        self, tp: NDArray[np.float64], predicted: NDArray[np.float64], actual: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        return _ratio(tp, predicted)


class Recall(_Confusion):
    """``tp / (tp + fn)``: binary for one sigmoid output, macro over classes otherwise
    (scikit-learn's ``recall_score``, ``zero_division=0``).

    >>> m = Recall(); m.bind("binary", (1,))
    >>> m.update(np.array([[0.9], [0.8], [0.1]]), np.array([[1.0], [0.0], [1.0]]))
    >>> m.result()
    0.5
    """

    name = "recall"

    def _per_class(
        self, tp: NDArray[np.float64], predicted: NDArray[np.float64], actual: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        return _ratio(tp, actual)


class F1(_Confusion):
    """``2 tp / (2 tp + fp + fn)``: binary for one sigmoid output, macro over classes
    otherwise (scikit-learn's ``f1_score``, ``zero_division=0``).

    >>> m = F1(); m.bind("binary", (1,))
    >>> m.update(np.array([[0.9], [0.8], [0.1]]), np.array([[1.0], [0.0], [1.0]]))
    >>> m.result()
    0.5
    """

    name = "f1"

    def _per_class(
        self, tp: NDArray[np.float64], predicted: NDArray[np.float64], actual: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        return _ratio(2 * tp, predicted + actual)


class MAE(_Stateful):
    """Mean absolute error over every output of every row (class indices count as one-hot).

    >>> m = MAE(); m.update(np.array([[1.0], [3.0]]), np.array([[0.0], [0.0]])); m.result()
    2.0
    """

    name = "mae"

    higher_is_better = False

    def update(self, y_pred: Array, y_true: Array) -> None:
        self._ensure(y_pred)
        pred, true = _columns(y_pred, y_true)
        self.totals += (np.abs(pred - true).sum(), pred.size)

    def result(self) -> float:
        total, count = self.totals
        return float(total / count) if count else 0.0


class RMSE(_Stateful):
    """Root mean squared error over every output of every row.

    >>> m = RMSE(); m.update(np.array([[3.0], [4.0]]), np.array([[0.0], [0.0]])); m.result()
    3.5355339059327378
    """

    name = "rmse"

    higher_is_better = False

    def update(self, y_pred: Array, y_true: Array) -> None:
        self._ensure(y_pred)
        pred, true = _columns(y_pred, y_true)
        diff = pred - true
        self.totals += (np.einsum("ij,ij->", diff, diff), pred.size)

    def result(self) -> float:
        total, count = self.totals
        return float(np.sqrt(total / count)) if count else 0.0


class R2(_Stateful):
    """The coefficient of determination ``1 - SS_res / SS_tot`` per output, averaged over
    the outputs (scikit-learn's ``r2_score``: a constant target column scores 1 when
    predicted exactly, else 0).

    State: ``[rows, sum y (D), sum y² (D), SS_res (D)]`` in float64.

    >>> m = R2(); m.bind("regression", (1,))
    >>> m.update(np.array([[1.0], [2.0], [2.0]]), np.array([[1.0], [2.0], [3.0]]))
    >>> m.result()
    0.5
    """

    name = "r2"

    higher_is_better = True
    tasks = ("regression", "binary")

    def _length(self) -> int:
        return 1 + 3 * (self.width or 1)

    def update(self, y_pred: Array, y_true: Array) -> None:
        self._ensure(y_pred)
        pred, true = _columns(y_pred, y_true)
        d = pred.shape[1]
        diff = pred - true
        self.totals[0] += pred.shape[0]
        self.totals[1 : 1 + d] += true.sum(axis=0)
        self.totals[1 + d : 1 + 2 * d] += np.einsum("ij,ij->j", true, true)
        self.totals[1 + 2 * d :] += np.einsum("ij,ij->j", diff, diff)

    def result(self) -> float:
        if self.totals.size == 0 or self.totals[0] == 0:
            return 0.0
        d = (self.totals.size - 1) // 3
        n = self.totals[0]
        sums, squares, residual = (self.totals[1 + i * d : 1 + (i + 1) * d] for i in range(3))
        total = np.maximum(squares - sums * sums / n, 0.0)
        scores = np.where(
            total > 0,
            1.0 - residual / np.where(total > 0, total, 1.0),
            np.where(residual == 0, 1.0, 0.0),
        )
        return float(scores.mean())
