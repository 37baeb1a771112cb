"""Feeding data to the training loop, batch by batch.

``fit``, ``evaluate`` and ``predict`` take any of four forms, each turned into a
`Feed` by `make_feed`:

- ``(X, Y)`` arrays in memory: checked for NaN/inf and cast to the model's dtype once, before
  training, so a bad value is reported before any step;
- memory-mapped arrays (``np.load(path, mmap_mode="r")``, any `numpy.memmap`): read
  batch by batch and never copied, converted or scanned whole; each batch is cast and checked
  as it is read, and a bad value is a `DataError` naming the
  batch and the rows, raised before that batch's step;
- a *dataset*: any object with ``__len__`` and ``__getitem__(indices) -> (x_batch, y_batch)``
  for an integer index array (the loop shuffles the indices, so shuffling stays exact and
  resumable), as PyTorch's map-style ``Dataset`` with a batch sampler;
- an *iterable of batches* ``(x_batch, y_batch)`` such as a generator, with
  ``steps_per_epoch`` when it has no length. Each epoch starts a new pass when ``iter()``
  gives a fresh iterator (a list, a re-iterable object); a one-shot iterator (a generator)
  simply continues, as Keras does.

Every feed yields, per step, the rows of the *global* batch (``indices``) and a reader that
returns the batch for any subset of those rows, so that a data-parallel plugin can train each
process on its shard (``scratchnet_batch_indices``). For iterables, ``indices`` number the
rows of the batch as it came (``0 .. n-1``).

Example: a dataset object and an iterable of batches train like arrays.

>>> import numpy as np, scratchnet_core as sn
>>> class Squares:
...     def __len__(self): return 40
...     def __getitem__(self, idx):
...         x = np.asarray(idx, dtype=float)[:, None] / 40
...         return x, x**2
>>> model = sn.Model([sn.get_layers()["linear"](1, 1)], "mse", "adam")
>>> history = model.fit(Squares(), epochs=2, batch_size=8, verbose=0)
>>> batches = [(np.ones((4, 1)), np.ones(4))] * 3
>>> history = model.fit(batches, epochs=2, verbose=0)
>>> history.epoch
[0, 1]
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
from numpy.typing import NDArray

from .errors import ConfigurationError, DataError, ShapeError
from .interfaces import Array, CostFunction

if TYPE_CHECKING:
    from .model import Model

__all__ = [
    "ArrayDataset",
    "ArrayFeed",
    "DatasetFeed",
    "Feed",
    "IterableFeed",
    "Indices",
    "cast_checked",
    "is_batch_list",
    "is_dataset",
    "make_feed",
    "prefetched",
    "prepare_targets",
    "Subset",
]

Indices: TypeAlias = NDArray[np.intp]
Reader: TypeAlias = Callable[[Indices], tuple[Array, Array]]
"""Reads the batch made of some of a step's rows: ``rows -> (x, y)``."""


# ---------------------------------------------------------------------------- checks and casts


def _row_text(index: tuple[int, ...], rows: Indices | None, batch: int | None) -> str:
    if rows is None or batch is None:
        return f"at index {index}"
    return (
        f"in batch {batch}, at row {int(rows[index[0]])} of the data (index {index} of the batch)"
    )


_CHUNK = 1 << 22


def _all_finite(array: Array) -> bool:
    """``np.isfinite(array).all()`` in chunks, so a 2 GB array needs no 512 MB mask."""
    flat = array.reshape(-1)
    return all(bool(np.isfinite(flat[i : i + _CHUNK]).all()) for i in range(0, flat.size, _CHUNK))


def cast_checked(
    values: Any,
    dtype: np.dtype[Any],
    argument: str,
    *,
    rows: Indices | None = None,
    batch: int | None = None,
) -> Array:
    """``values`` as a C-contiguous array of ``dtype``, refusing NaN, inf and values beyond
    ``dtype``'s range (float64 data fed to a float32 model) with a
    `DataError`.

    ``rows`` (the data rows of a batch) and ``batch`` make the message name the batch and
    the row of the data; without them it names the index in ``values``.

    >>> cast_checked(np.array([[1.0], [1e300]]), np.dtype("float32"), "X")
    Traceback (most recent call last):
    ...
    scratchnet_core.errors.DataError: X holds 1 value(s) beyond float32's range (largest \
magnitude 3.4e+38), the first at index (1, 0): 1e+300; rescale the data or use \
Model(..., dtype="float64")
    """
    try:
        array = np.asarray(values)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{argument}: cannot be read as a numeric array: {exc}") from None
    if array.dtype.kind not in "biuf":
        raise DataError(f"{argument}: expected a numeric array, got dtype {array.dtype}")
    if array.ndim == 0:
        raise DataError(f"{argument}: expected an array with a batch axis, got a scalar")
    with np.errstate(over="ignore", invalid="ignore"):
        cast = np.ascontiguousarray(array, dtype=dtype)
    if cast.dtype.kind == "f" and not _all_finite(cast):
        bad = ~np.isfinite(cast)
        source_finite = (
            np.isfinite(array) if array.dtype.kind == "f" else np.ones(array.shape, dtype=bool)
        )
        nonfinite = bad & ~source_finite
        if nonfinite.any():
            first = tuple(int(i) for i in np.argwhere(nonfinite)[0])
            raise DataError(
                f"{argument} holds {int(np.count_nonzero(nonfinite))} NaN or inf value(s), "
                f"the first {_row_text(first, rows, batch)}"
            )
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"{argument} holds {int(np.count_nonzero(bad))} value(s) beyond {dtype.name}'s range "
            f"(largest magnitude {float(np.finfo(dtype).max):.3g}), the first "
            f"{_row_text(first, rows, batch)}: {float(array[first]):.6g}; rescale the data or use "
            'Model(..., dtype="float64")'
        )
    return cast


def prepare_targets(
    values: Any,
    n: int,
    out_shape: tuple[int, ...],
    cost: CostFunction,
    dtype: np.dtype[Any],
    argument: str,
    *,
    rows: Indices | None = None,
    batch: int | None = None,
    x_argument: str = "X",
) -> Array:
    """Targets as the cost takes them: class indices ``(N,)`` as ``intp`` when the cost
    accepts them, else ``(N, *out_shape)`` in ``dtype`` (a ``(N,)`` vector for a one-output
    model gains its axis).

    >>> import scratchnet_core as sn
    >>> mse = sn.get_cost_functions()["mse"]()
    >>> prepare_targets([1, 2], 2, (1,), mse, np.dtype("float32"), "Y").shape
    (2, 1)
    """
    try:
        array = np.asarray(values)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{argument}: cannot be read as a numeric array: {exc}") from None
    if array.dtype.kind == "f":
        array = cast_checked(array, dtype, argument, rows=rows, batch=batch)
    elif array.dtype.kind not in "biu":
        raise DataError(f"{argument}: expected a numeric array, got dtype {array.dtype}")
    if array.ndim == 0:
        raise DataError(f"{argument}: expected an array with a batch axis, got a scalar")
    if array.shape[0] != n:
        where = f" in batch {batch}" if batch is not None else ""
        raise DataError(
            f"{x_argument} and {argument} have different row counts{where}: {x_argument} has "
            f"{n}, {argument} has {array.shape[0]}"
        )
    if cost.accepts_class_indices and array.ndim == 1 and out_shape != (1,):
        if array.dtype.kind == "f" and not np.array_equal(array, np.round(array)):
            raise DataError(
                f"{argument}: class indices must be whole numbers, got values such as "
                f"{array[array != np.round(array)][0]}"
            )
        classes = out_shape[-1] if out_shape else 1
        low, high = array.min(), array.max()
        if low < 0 or high >= classes:
            raise DataError(
                f"{argument}: class indices must lie in [0, {classes - 1}] for a model with "
                f"{classes} outputs, got values from {low} to {high}"
            )
        return array.astype(np.intp, copy=False)
    if array.ndim == 1 and out_shape == (1,):
        array = array[:, None]
    cost.check_targets(array, argument)
    if array.shape[1:] != out_shape:
        raise ShapeError(
            f"cost {type(cost).__name__}",
            f"targets of shape (N, {', '.join(map(str, out_shape))}) like the model output",
            array.shape,
            detail=f"argument {argument}",
        )
    return np.ascontiguousarray(array, dtype=dtype)


def is_dataset(obj: object) -> bool:
    """Whether ``obj`` is a dataset (``__len__`` and ``__getitem__``, not a plain sequence).

    >>> is_dataset([1, 2]), is_dataset(np.zeros(3))
    (False, False)
    """
    return (
        hasattr(obj, "__len__")
        and hasattr(obj, "__getitem__")
        and not isinstance(obj, (list, tuple, str, bytes, np.ndarray, Mapping))
    )


# ---------------------------------------------------------------------------- dataset helpers


class ArrayDataset:
    """A dataset over ``(X, Y)`` arrays (memory-mapped ones too): ``ds[indices]`` reads only
    those rows.

    >>> ds = ArrayDataset(np.arange(10).reshape(5, 2), np.arange(5))
    >>> len(ds), [a.tolist() for a in ds[np.array([4, 0])]]
    (5, [[[8, 9], [0, 1]], [4, 0]])
    """

    def __init__(self, X: Array, Y: Array) -> None:
        if len(X) != len(Y):
            raise DataError(f"ArrayDataset: X has {len(X)} rows, Y has {len(Y)}")
        self.X, self.Y = X, Y

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, indices: Indices) -> tuple[Array, Array]:
        return self.X[indices], self.Y[indices]


class Subset:
    """The rows ``indices`` of a dataset, as a dataset (PyTorch's ``Subset``).

    >>> ds = Subset(ArrayDataset(np.arange(5), np.arange(5) * 10), np.array([3, 1]))
    >>> len(ds), [a.tolist() for a in ds[np.array([1])]]
    (2, [[1], [10]])
    """

    def __init__(self, dataset: Any, indices: Any) -> None:
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.intp)

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def __getitem__(self, indices: Indices) -> Any:
        return self.dataset[self.indices[np.asarray(indices, dtype=np.intp)]]


# ---------------------------------------------------------------------------- feeds


class Feed(ABC):
    """One source of ``(x, y)`` batches for the loop.

    ``samples`` is the number of rows per epoch (``None`` when unknown, for iterables);
    `steps` the number of steps per epoch; `epoch` yields, per step, the global
    batch's row indices and a reader for any subset of them.

    >>> import scratchnet_core as sn
    >>> model = sn.Model([sn.get_layers()["linear"](2, 1)], "mse")
    >>> feed = make_feed(model, np.zeros((5, 2)), np.zeros(5))
    >>> feed.samples, feed.steps(2)
    (5, 3)
    """

    samples: int | None = None
    input_shape: tuple[int, ...] | None = None
    """One input sample's shape, once known."""
    prefetchable = True
    """Whether reading ahead in a thread is safe (not for a user's iterator)."""
    prefetch_default = False
    """Whether ``fit(prefetch=None)`` reads ahead: for memory-mapped arrays, where it pays."""

    @abstractmethod
    def steps(self, batch_size: int) -> int:
        """Steps per epoch for ``batch_size``."""

    @abstractmethod
    def epoch(
        self, batch_size: int, order: Indices | None
    ) -> Iterator[tuple[int, Indices, Reader]]:
        """``(batch, indices, read)`` per step; ``order`` is the epoch's row permutation
        (``None``: in order)."""


class _IndexedFeed(Feed):
    """Shared by arrays and datasets: steps are slices of a row order."""

    samples: int

    def steps(self, batch_size: int) -> int:
        return -(-self.samples // batch_size)

    def epoch(
        self, batch_size: int, order: Indices | None
    ) -> Iterator[tuple[int, Indices, Reader]]:
        n = self.samples
        if order is None:
            order = np.arange(n, dtype=np.intp)
        for batch, start in enumerate(range(0, n, batch_size)):
            indices = order[start : start + batch_size]
            yield batch, indices, self._reader(batch)

    @abstractmethod
    def _reader(self, batch: int) -> Reader: ...


class ArrayFeed(_IndexedFeed):
    """``(X, Y)`` arrays. In-memory arrays are checked and cast once here; memory-mapped
    ones (``streamed``) are cast and checked batch by batch as they are read.

    >>> import scratchnet_core as sn
    >>> model = sn.Model([sn.get_layers()["linear"](2, 1)], "mse")
    >>> feed = ArrayFeed(model, np.ones((3, 2)), np.ones(3))
    >>> x, y = feed.read(np.array([2, 0]))
    >>> x.dtype, y.shape
    (dtype('float32'), (2, 1))
    """

    def __init__(
        self,
        model: Model,
        X: Any,
        Y: Any,
        what: str = "",
        *,
        streamed: bool | None = None,
        targets: bool = True,
    ) -> None:
        self.x_argument, self.y_argument = f"X{what}", f"Y{what}"
        self.model = model
        self.streamed = isinstance(X, np.memmap) if streamed is None else streamed
        if self.streamed:
            x = X
            if not isinstance(x, np.ndarray) or x.dtype.kind not in "biuf" or x.ndim == 0:
                raise DataError(
                    f"{self.x_argument}: a streamed array must be a numeric NumPy array with a "
                    f"batch axis, got {type(X).__name__}"
                )
        else:
            x = cast_checked(X, model.dtype, self.x_argument)
        if x.shape[0] == 0:
            raise DataError(f"{self.x_argument} is empty: shape {x.shape}")
        self.x: Array = x
        self.prefetch_default = self.streamed
        self.samples = int(x.shape[0])
        self.input_shape = tuple(int(s) for s in x.shape[1:])
        self.out_shape = model.output_shape(self.input_shape)
        self.y: Array | None = None
        self.y_streamed = False
        if targets:
            self.y_streamed = isinstance(Y, np.memmap) or self.streamed
            if self.y_streamed:
                y = np.asarray(Y) if not isinstance(Y, np.ndarray) else Y
                if y.ndim == 0 or y.shape[0] != self.samples:
                    raise DataError(
                        f"{self.x_argument} and {self.y_argument} have different row counts: "
                        f"{self.x_argument} has {self.samples}, {self.y_argument} has "
                        f"{y.shape[0] if y.ndim else 'no batch axis'}"
                    )
                self.y = y
            else:
                self.y = self._targets(Y, self.samples, None, None)

    def _targets(self, values: Any, n: int, rows: Indices | None, batch: int | None) -> Array:
        model = self.model
        return prepare_targets(
            values,
            n,
            self.out_shape,
            model.cost_function,
            model.dtype,
            self.y_argument,
            rows=rows,
            batch=batch,
            x_argument=self.x_argument,
        )

    def split(self, count: int) -> tuple[ArrayFeed, ArrayFeed]:
        """The first ``samples - count`` rows and the last ``count`` (``validation_split``)."""
        cut = self.samples - count
        head, tail = (_copy_feed(self) for _ in range(2))
        head.x, tail.x = self.x[:cut], self.x[cut:]
        if self.y is not None:
            head.y, tail.y = self.y[:cut], self.y[cut:]
        head.samples, tail.samples = cut, count
        tail.x_argument, tail.y_argument = f"{self.x_argument}_val", f"{self.y_argument}_val"
        return head, tail

    def read(self, rows: Indices, batch: int | None = None) -> tuple[Array, Array]:
        """The batch of ``rows``, cast and (when streamed) checked."""
        x = self.x[rows]
        if self.streamed:
            x = cast_checked(x, self.model.dtype, self.x_argument, rows=rows, batch=batch)
        y = self.y
        if y is None:
            return x, x[:0]
        yb = y[rows]
        if self.y_streamed:
            yb = self._targets(yb, x.shape[0], rows, batch)
        return x, yb

    def _reader(self, batch: int) -> Reader:
        if not self.streamed and not self.y_streamed:
            return self.read
        return lambda rows: self.read(rows, batch)


def _copy_feed(feed: ArrayFeed) -> ArrayFeed:
    clone = object.__new__(ArrayFeed)
    clone.__dict__.update(feed.__dict__)
    return clone


class _BatchChecker:
    """Per-batch checks for data the loop does not hold: cast, NaN/inf, consistent shapes."""

    def __init__(self, model: Model, what: str, kind: str, targets: bool = True) -> None:
        self.model = model
        self.x_argument, self.y_argument = f"X{what}", f"Y{what}"
        self.kind = kind
        self.targets = targets
        self.input_shape: tuple[int, ...] | None = None
        self.out_shape: tuple[int, ...] = ()

    def check(self, item: Any, batch: int, rows: Indices | None) -> tuple[Array, Array]:
        if self.targets:
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise DataError(
                    f"{self.kind}: batch {batch} must be a pair (x_batch, y_batch), got "
                    f"{type(item).__name__}"
                )
            x_raw, y_raw = item
        else:
            x_raw = item[0] if isinstance(item, (tuple, list)) else item
            y_raw = None
        x = cast_checked(x_raw, self.model.dtype, self.x_argument, rows=rows, batch=batch)
        shape = tuple(int(s) for s in x.shape[1:])
        if self.input_shape is None:
            self.input_shape = shape
            self.out_shape = self.model.output_shape(shape)
        elif shape != self.input_shape:
            raise DataError(
                f"{self.kind}: batch {batch} has samples of shape {shape}, earlier batches "
                f"had {self.input_shape}; every batch must hold samples of one shape"
            )
        if rows is not None and x.shape[0] != len(rows):
            raise DataError(
                f"{self.kind}: batch {batch} asked for {len(rows)} rows and got {x.shape[0]}"
            )
        if y_raw is None:
            return x, x[:0]
        y = prepare_targets(
            y_raw,
            x.shape[0],
            self.out_shape,
            self.model.cost_function,
            self.model.dtype,
            self.y_argument,
            batch=batch,
            x_argument=self.x_argument,
        )
        return x, y


class DatasetFeed(_IndexedFeed):
    """A dataset: ``len(ds)`` rows, ``ds[indices] -> (x_batch, y_batch)``; each batch is
    cast and checked as it is read.

    >>> import scratchnet_core as sn
    >>> class Ones:
    ...     def __len__(self): return 4
    ...     def __getitem__(self, idx): return np.ones((len(idx), 2)), np.ones(len(idx))
    >>> model = sn.Model([sn.get_layers()["linear"](2, 1)], "mse")
    >>> feed = DatasetFeed(model, Ones())
    >>> feed.samples, [a.shape for a in feed.read(np.array([0, 1, 2]))]
    (4, [(3, 2), (3, 1)])
    """

    def __init__(self, model: Model, dataset: Any, what: str = "", targets: bool = True) -> None:
        self.dataset = dataset
        try:
            samples = len(dataset)
        except TypeError as exc:
            raise DataError(f"X{what}: len() of the dataset failed: {exc}") from exc
        if samples < 1:
            raise DataError(f"X{what}: a dataset must have at least one row, len() = {samples!r}")
        self.samples = int(samples)
        self.checker = _BatchChecker(model, what, f"dataset {type(dataset).__name__}", targets)

    def read(self, rows: Indices, batch: int = 0) -> tuple[Array, Array]:
        """The batch of ``rows``: ``dataset[rows]``, cast and checked."""
        batch_data: Any = self.dataset[rows]
        out = self.checker.check(batch_data, batch, rows)
        self.input_shape = self.checker.input_shape
        return out

    def _reader(self, batch: int) -> Reader:
        return lambda rows: self.read(rows, batch)


class IterableFeed(Feed):
    """An iterable of ``(x_batch, y_batch)``; ``steps_per_epoch`` batches make an epoch.

    >>> import scratchnet_core as sn
    >>> model = sn.Model([sn.get_layers()["linear"](2, 1)], "mse")
    >>> feed = IterableFeed(model, [(np.ones((3, 2)), np.ones(3))] * 2)
    >>> feed.steps(32), [i.tolist() for _, i, _ in feed.epoch(32, None)]
    (2, [[0, 1, 2], [0, 1, 2]])
    """

    prefetchable = False

    def __init__(
        self,
        model: Model,
        iterable: Iterable[Any],
        steps_per_epoch: int | None = None,
        what: str = "",
        targets: bool = True,
    ) -> None:
        self.iterable = iterable
        self.what = what
        if steps_per_epoch is None:
            try:
                steps_per_epoch = len(iterable)  # type: ignore[arg-type]
            except TypeError:
                raise ConfigurationError(
                    f"X{what}: an iterable of batches without len() needs steps_per_epoch"
                    f"{' (validation_steps)' if what else ''}"
                ) from None
        if steps_per_epoch < 1:
            raise DataError(f"X{what}: the iterable of batches is empty")
        self._steps = steps_per_epoch
        self._iterator: Iterator[Any] | None = None
        self.checker = _BatchChecker(model, what, f"iterable {type(iterable).__name__}", targets)

    def steps(self, batch_size: int) -> int:
        return self._steps

    def _begin(self) -> Iterator[Any]:
        fresh = iter(self.iterable)
        if fresh is self.iterable and self._iterator is not None:
            return self._iterator  # a one-shot iterator continues where the last epoch ended
        self._iterator = fresh
        return fresh

    def epoch(
        self, batch_size: int, order: Indices | None
    ) -> Iterator[tuple[int, Indices, Reader]]:
        iterator = self._begin()
        for batch in range(self._steps):
            try:
                item = next(iterator)
            except StopIteration:
                raise DataError(
                    f"X{self.what}: the iterable of batches ended after {batch} batch(es) of "
                    f"an epoch, before steps_per_epoch={self._steps}"
                ) from None
            x, y = self.checker.check(item, batch, None)
            self.input_shape = self.checker.input_shape
            indices = np.arange(x.shape[0], dtype=np.intp)

            def read(rows: Indices, x: Array = x, y: Array = y, whole: Indices = indices) -> Any:
                if rows is whole:
                    return x, y
                return x[rows], (y[rows] if y.shape[0] else y)

            yield batch, indices, read


def make_feed(
    model: Model,
    X: Any,
    Y: Any = None,
    *,
    steps_per_epoch: int | None = None,
    what: str = "",
    targets: bool = True,
) -> Feed:
    """The `Feed` for what was passed as ``X`` (and ``Y``).

    ``targets=False`` (``predict``) reads inputs only. Anything that is neither an array, a
    dataset nor an iterable of batches is a `DataError`.

    >>> import scratchnet_core as sn
    >>> model = sn.Model([sn.get_layers()["linear"](2, 1)], "mse")
    >>> make_feed(model, 42)
    Traceback (most recent call last):
    ...
    scratchnet_core.errors.DataError: X: expected an array (with Y), a dataset (__len__ and \
__getitem__(indices) -> (x, y)) or an iterable of (x, y) batches, got int
    """
    argument = f"X{what}"
    with_y = Y is not None and targets
    if isinstance(X, np.ndarray):
        if targets and Y is None:
            raise ConfigurationError(f"{argument} is an array, so Y{what} is needed")
        return ArrayFeed(model, X, Y, what, targets=targets)
    if isinstance(X, (list, tuple)) and (with_y or not targets):
        return ArrayFeed(model, X, Y, what, targets=targets)
    if is_dataset(X) or (hasattr(X, "__iter__") and not isinstance(X, (str, bytes, Mapping))):
        if with_y:
            raise ConfigurationError(
                f"{argument} is a {type(X).__name__} (a dataset or an iterable of batches), "
                f"which carries its own targets; leave Y{what} out"
            )
        if is_dataset(X):
            return DatasetFeed(model, X, what, targets)
        return IterableFeed(model, X, steps_per_epoch, what, targets)
    if with_y:
        return ArrayFeed(model, X, Y, what, targets=targets)
    raise DataError(
        f"{argument}: expected an array (with Y{what}), a dataset (__len__ and "
        f"__getitem__(indices) -> (x, y)) or an iterable of (x, y) batches, got "
        f"{type(X).__name__}"
    )


def is_batch_list(data: Any) -> bool:
    """Whether a list holds ``(x, y)`` batches rather than being an ``(X, Y)`` pair.

    >>> is_batch_list([(np.ones((2, 1)), np.ones(2))]), is_batch_list((np.ones(2), np.ones(2)))
    (True, False)
    """
    return all(isinstance(item, (tuple, list)) and len(item) == 2 for item in data) and not any(
        isinstance(item, np.ndarray) for item in data
    )


def prefetched(
    steps: Iterator[tuple[int, Indices, Reader]],
    choose: Callable[[int, Indices], Indices],
) -> Iterator[tuple[int, Indices, Indices, tuple[Array, Array]]]:
    """``(batch, indices, rows, (x, y))`` per step, reading the next step's batch in a
    background thread while the caller trains on this one.

    ``choose(batch, indices)`` picks the rows to read (``scratchnet_batch_indices``); it
    runs in the caller's thread, in step order.

    >>> def read(rows): return rows * 1.0, rows
    >>> steps = iter([(0, np.arange(2), read), (1, np.arange(2, 4), read)])
    >>> [(b, x.tolist()) for b, _, _, (x, _) in prefetched(steps, lambda b, i: i)]
    [(0, [0.0, 1.0]), (1, [2.0, 3.0])]
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="scratchnet-prefetch") as pool:
        pending: tuple[int, Indices, Indices, Future[tuple[Array, Array]]] | None = None
        try:
            for batch, indices, read in steps:
                rows = choose(batch, indices)
                job = (batch, indices, rows, pool.submit(read, rows))
                if pending is not None:
                    b, i, r, future = pending
                    yield b, i, r, future.result()
                pending = job
            if pending is not None:
                b, i, r, future = pending
                pending = None
                yield b, i, r, future.result()
        finally:
            if pending is not None:
                pending[3].cancel()
