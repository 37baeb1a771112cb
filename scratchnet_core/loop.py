"""The training loop behind `Model.fit`, `Model.evaluate` and `Model.predict`.

One step of ``fit``:

1. the step's *global* batch ``indices`` come from the epoch's permutation, drawn from
   ``(seed, epoch)`` alone (the same on every process, and on a resumed run);
2. ``scratchnet_batch_indices`` may pick this process's rows among them (default: all);
3. those rows are read (cast and, for streamed data, checked) and run forward and backward;
4. ``scratchnet_after_backward`` sees the live gradients (a data-parallel plugin sums them
   across processes), then the optimizer steps;
5. the step's loss (times its rows) and the metrics' statistics are added to the epoch's
   totals, from which the epoch's logs are computed exactly (``scratchnet_epoch_totals``
   lets a plugin sum them across processes first).

A plugin implementing neither seam costs nothing per step: whether anyone implements them is
asked once per ``fit``.

>>> import numpy as np, scratchnet_core as sn
>>> seen = []
>>> class EveryOtherRow:
...     @sn.hookimpl
...     def scratchnet_batch_indices(self, indices):
...         return indices[::2]
...     @sn.hookimpl
...     def scratchnet_after_backward(self, batch, size):
...         seen.append(size)
>>> model = sn.Model([sn.get_layers()["linear"](2, 1)], "mse")
>>> _ = model.fit(np.zeros((8, 2)), np.zeros(8), batch_size=4, verbose=0,
...               callbacks=[EveryOtherRow()])
>>> seen
[2, 2]
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ._random import get_rng
from .checks import integer, positive_int
from .components import build_component
from .errors import ConfigurationError, DataError, TrainingDivergedError
from .feeding import ArrayFeed, Feed, Indices, is_batch_list, make_feed, prefetched
from .history import History
from .hooks import make_plugin_manager
from .interfaces import Array, CostFunction, Metric
from .registry import get_registry

if TYPE_CHECKING:
    from .model import Model

__all__ = ["build_metrics", "evaluate", "fit", "infer_task", "metric_name", "predict"]


# ---------------------------------------------------------------------------- metrics


def infer_task(cost: CostFunction) -> str:
    """``"regression"`` for a cost with no notion of accuracy, ``"categorical"`` for one that
    takes class indices, else ``"binary"``.

    >>> import scratchnet_core as sn
    >>> [infer_task(sn.get_cost_functions()[n]()) for n in ("mse", "bce", "cross_entropy")]
    ['regression', 'binary', 'categorical']
    """
    if type(cost).accuracy is CostFunction.accuracy:
        return "regression"
    return "categorical" if cost.accepts_class_indices else "binary"


def metric_name(metric: Metric) -> str:
    """The key of ``metric`` in logs: its ``name``, else its registry name.

    >>> import scratchnet_core as sn
    >>> metric_name(sn.get_metrics()["acc"]())
    'accuracy'
    """
    if metric.name:
        return metric.name
    return get_registry("metrics").name_of(type(metric)) or type(metric).__name__.lower()


def build_metrics(specs: Iterable[Any] | None, cost: CostFunction) -> list[Metric]:
    """Metric instances from names, specs or instances (``None``: accuracy for
    classification costs, nothing for regression), each checked against the cost's task.

    >>> import scratchnet_core as sn
    >>> mse = sn.get_cost_functions()["mse"]()
    >>> build_metrics(["f1"], mse)
    Traceback (most recent call last):
    ...
    scratchnet_core.errors.ConfigurationError: metrics: f1 needs a binary or categorical output, ...
    """
    task = infer_task(cost)
    if specs is None:  # accuracy, when a plugin (scratchnet-std) provides it
        accurate = task != "regression" and "accuracy" in get_registry("metrics")
        specs = ["accuracy"] if accurate else []
    elif isinstance(specs, (str, Metric)) or not isinstance(specs, Iterable):
        raise ConfigurationError(
            f"metrics must be a list of names, specs or Metric instances, got {specs!r}"
        )
    metrics: list[Metric] = []
    names: set[str] = {"loss"}
    for spec in specs:
        metric = build_component("metrics", spec, "metrics")
        name = metric_name(metric)
        if name in names:
            raise ConfigurationError(
                f"metrics: {name!r} appears twice (or clashes with 'loss'); give one a name= "
                "to tell them apart"
            )
        names.add(name)
        metric.bind(task, None)
        metrics.append(metric)
    return metrics


# ---------------------------------------------------------------------------- arguments


def _batch_size(model: Model, batch_size: Any) -> int:
    if batch_size is None:
        return model.batch_size
    return positive_int("fit", "batch_size", batch_size)


def _bind_metrics(model: Model, feed: Feed) -> None:
    shape = model.output_shape(feed.input_shape) if feed.input_shape is not None else None
    task = infer_task(model.cost_function)
    for metric in model.metrics:
        metric.bind(task, shape)


# ---------------------------------------------------------------------------- fit


def fit(
    model: Model,
    X: Any,
    Y: Any = None,
    epochs: int = 1,
    batch_size: int | None = None,
    shuffle: bool = True,
    validation_data: Any = None,
    validation_split: float = 0.0,
    callbacks: Iterable[object] | None = None,
    verbose: int = 1,
    seed: int | None = None,
    initial_epoch: int = 0,
    steps_per_epoch: int | None = None,
    validation_steps: int | None = None,
    prefetch: bool | None = None,
) -> History:
    """`Model.fit`'s implementation (see there for the arguments).

    >>> import numpy as np, scratchnet_core as sn
    >>> model = sn.Model([sn.get_layers()["linear"](2, 1)], "mse", metrics=["r2"])
    >>> fit(model, np.ones((4, 2)), np.ones(4), epochs=2, verbose=0).epoch
    [0, 1]
    """
    epochs = positive_int("fit", "epochs", epochs)
    initial_epoch = integer("fit", "initial_epoch", initial_epoch)
    if not 0 <= initial_epoch < epochs:
        raise ConfigurationError(
            f"initial_epoch must be in [0, epochs), got {initial_epoch} with epochs={epochs}"
        )
    if seed is not None:
        seed = integer("fit", "seed", seed)
    if steps_per_epoch is not None:
        steps_per_epoch = positive_int("fit", "steps_per_epoch", steps_per_epoch)
    if validation_steps is not None:
        validation_steps = positive_int("fit", "validation_steps", validation_steps)
    batch_size = _batch_size(model, batch_size)
    if prefetch is not None and not isinstance(prefetch, bool):
        raise ConfigurationError(f"fit: prefetch must be True, False or None, got {prefetch!r}")
    if verbose not in (0, 1, 2):
        raise ConfigurationError(f"verbose must be 0, 1 or 2, got {verbose!r}")

    feed = make_feed(model, X, Y, steps_per_epoch=steps_per_epoch)
    feed, val = _validation(model, feed, validation_data, validation_split, validation_steps)
    steps = feed.steps(batch_size)
    if steps_per_epoch is not None and feed.samples is not None:
        steps = min(steps, steps_per_epoch)
    _bind_metrics(model, feed)
    names = ["loss", *(metric_name(m) for m in model.metrics)]
    higher = {"loss": False, **{metric_name(m): m.higher_is_better for m in model.metrics}}
    if val is not None:
        names += [f"val_{n}" for n in names]
        higher.update({f"val_{k}": v for k, v in higher.items()})

    history = History()
    model.history = history
    model.stop_training = False
    pm = make_plugin_manager([history, *(callbacks or ())])
    hook = pm.hook
    config: dict[str, Any] = {
        "epochs": epochs,
        "initial_epoch": initial_epoch,
        "batch_size": batch_size,
        "samples": feed.samples,
        "steps_per_epoch": steps,
        "shuffle": bool(shuffle) and feed.samples is not None,
        "seed": seed if seed is not None else int(get_rng().integers(2**63)),
        "verbose": verbose,
        "validation": val is not None,
        "metrics": names,
        "higher_is_better": higher,
    }
    hook.scratchnet_train_start(model=model, config=config)
    fit_seed = integer("scratchnet_train_start", "config['seed']", config["seed"])

    seams = _Seams(
        choose=bool(hook.scratchnet_batch_indices.get_hookimpls()),
        after_backward=bool(hook.scratchnet_after_backward.get_hookimpls()),
        totals=bool(hook.scratchnet_epoch_totals.get_hookimpls()),
    )
    model._fused_now = model._fused
    first = model.layers[0]
    first_needed, first.needs_input_grad = first.needs_input_grad, False
    try:
        for epoch in range(initial_epoch, epochs):
            hook.scratchnet_epoch_start(model=model, epoch=epoch)
            order = None
            if config["shuffle"]:
                assert feed.samples is not None
                order = np.random.default_rng([fit_seed, epoch]).permutation(feed.samples)
            start_weights = model.get_weights()  # finite: checked at the last epoch's end
            try:
                logs = _run_epoch(
                    model, feed, batch_size, steps, order, epoch, hook, seams, prefetch
                )
            except TrainingDivergedError as exc:
                raise _diverged(model, exc, start_weights) from None
            if not model._weights_finite():
                raise _diverged(
                    model, TrainingDivergedError(epoch, steps - 1, math.nan), start_weights
                )
            model.epochs_trained = epoch + 1
            if val is not None:
                for key, value in _evaluate_feed(model, val, batch_size).items():
                    logs[f"val_{key}"] = value
            stop = hook.scratchnet_epoch_end(model=model, epoch=epoch, logs=logs)
            if any(stop) or model.stop_training:
                break
    finally:
        first.needs_input_grad = first_needed
        if feed.input_shape is not None:  # known after the first batch for streamed data
            model.input_shape = feed.input_shape
    hook.scratchnet_train_end(model=model, history=history)
    return history


class _Seams:
    """Which of the step's seams some plugin implements (asked once per ``fit``)."""

    __slots__ = ("after_backward", "choose", "totals")

    def __init__(self, choose: bool, after_backward: bool, totals: bool) -> None:
        self.choose = choose
        self.after_backward = after_backward
        self.totals = totals


def _steps(
    feed: Feed,
    batch_size: int,
    steps: int,
    order: Indices | None,
    epoch: int,
    model: Model,
    hook: Any,
    seams: _Seams,
    prefetch: bool | None,
) -> Iterator[tuple[int, Indices, Indices, tuple[Array, Array]]]:
    """``(batch, indices, rows, (x, y))`` for each step of one epoch."""
    plan = feed.epoch(batch_size, order)

    def choose(batch: int, indices: Indices) -> Indices:
        if not seams.choose:
            return indices
        rows = hook.scratchnet_batch_indices(model=model, epoch=epoch, batch=batch, indices=indices)
        return indices if rows is None else np.asarray(rows, dtype=np.intp)

    limited = itertools.islice(plan, steps)
    if feed.prefetchable and (feed.prefetch_default if prefetch is None else prefetch):
        yield from prefetched(limited, choose)
        return
    for batch, indices, read in limited:
        rows = choose(batch, indices)
        yield batch, indices, rows, read(rows)


def _run_epoch(
    model: Model,
    feed: Feed,
    batch_size: int,
    steps: int,
    order: Indices | None,
    epoch: int,
    hook: Any,
    seams: _Seams,
    prefetch: bool | None,
) -> dict[str, float]:
    metrics = model.metrics
    for metric in metrics:
        metric.reset()
    after_backward = None
    if seams.after_backward:

        def after_backward(gradients: dict[str, Array], size: int, batch: int) -> None:
            hook.scratchnet_after_backward(
                model=model, epoch=epoch, batch=batch, gradients=gradients, size=size
            )

    loss_sum = 0.0
    rows_seen = 0
    batch_end = hook.scratchnet_batch_end
    for batch, _indices, _rows, (xb, yb) in _steps(
        feed, batch_size, steps, order, epoch, model, hook, seams, prefetch
    ):
        size = int(xb.shape[0])
        if size:
            loss, out = model.train_step(xb, yb, epoch, batch, after_backward=after_backward)
            for metric in metrics:
                metric.update(out, yb)
        else:  # this process has no rows in the step: it contributes a zero gradient
            loss = 0.0
            gradients = model.gradients()
            for g in gradients.values():
                g.fill(0)
            if after_backward is not None:
                after_backward(gradients, 0, batch)
            model.optimizer.step(model.parameters(), gradients)
        loss_sum += loss * size
        rows_seen += size
        batch_end(model=model, epoch=epoch, batch=batch, logs={"loss": loss, "size": size})
    if seams.totals:
        loss_sum, rows_seen = _reduce_totals(model, epoch, hook, loss_sum, rows_seen)
    logs = {"loss": loss_sum / rows_seen if rows_seen else math.nan}
    for metric in metrics:
        logs[metric_name(metric)] = float(metric.result())
    return logs


def _reduce_totals(
    model: Model, epoch: int, hook: Any, loss_sum: float, rows: int
) -> tuple[float, int]:
    """Pack the epoch's additive statistics, let a plugin sum them across processes, unpack."""
    parts = [np.array([loss_sum, rows], dtype=np.float64)]
    for metric in model.metrics:
        try:
            parts.append(np.asarray(metric.state(), dtype=np.float64).ravel())
        except NotImplementedError as exc:
            raise ConfigurationError(
                f"scratchnet_epoch_totals is implemented, but {exc}; implement Metric.state and "
                "Metric.load_state to merge it"
            ) from None
    totals = np.concatenate(parts)
    reduced = hook.scratchnet_epoch_totals(model=model, epoch=epoch, totals=totals)
    if reduced is None:
        return loss_sum, rows
    reduced = np.asarray(reduced, dtype=np.float64)
    if reduced.shape != totals.shape:
        raise ConfigurationError(
            f"scratchnet_epoch_totals returned shape {reduced.shape}, expected {totals.shape}"
        )
    offset = 2
    for part, metric in zip(parts[1:], model.metrics, strict=True):
        metric.load_state(reduced[offset : offset + part.size].copy())
        offset += part.size
    return float(reduced[0]), round(float(reduced[1]))


def _diverged(
    model: Model, exc: TrainingDivergedError, start_weights: dict[str, Array]
) -> TrainingDivergedError:
    """The loss is checked before each update, so the weights are normally the last finite
    ones already; if an update itself overflowed them, fall back to the epoch's start."""
    if model._weights_finite():
        return exc
    model.set_weights(start_weights)
    return TrainingDivergedError(exc.epoch, exc.batch, exc.loss, restored_to_epoch_start=True)


def _validation(
    model: Model, feed: Feed, data: Any, split: Any, validation_steps: int | None
) -> tuple[Feed, Feed | None]:
    """The training feed and the validation feed (``None`` without validation)."""
    if data is not None:
        if isinstance(data, (tuple, list)) and len(data) == 2 and not is_batch_list(data):
            return feed, make_feed(model, data[0], data[1], what="_val")
        if isinstance(data, (tuple, list)) and not is_batch_list(data):
            raise ConfigurationError(
                "validation_data must be a pair (X_val, Y_val), a dataset or an iterable of "
                f"batches, got a {type(data).__name__} of {len(data)} items"
            )
        return feed, make_feed(model, data, steps_per_epoch=validation_steps, what="_val")
    real = isinstance(split, numbers.Real) and not isinstance(split, bool)
    if not real or not 0 <= float(split) < 1:
        raise ConfigurationError(f"validation_split must be in [0, 1), got {split!r}")
    if split == 0:
        return feed, None
    if not isinstance(feed, ArrayFeed):
        raise ConfigurationError(
            "validation_split needs arrays; for a dataset or an iterable of batches pass "
            "validation_data"
        )
    count = round(feed.samples * float(split))
    if count < 1 or count >= feed.samples:
        raise ConfigurationError(
            f"validation_split={split} leaves {count} validation rows out of {feed.samples}; "
            "both parts need at least one row"
        )
    return feed.split(count)


# ---------------------------------------------------------------------------- inference


def _evaluate_feed(model: Model, feed: Feed, batch_size: int) -> dict[str, float]:
    model._fused_now = model._fused
    cost = model.cost_function
    metrics = model.metrics
    for metric in metrics:
        metric.reset()
    loss_sum = 0.0
    rows = 0
    for _batch, indices, read in feed.epoch(batch_size, None):
        xb, yb = read(indices)
        out = model.forward(xb, training=False)
        if model._fused_now:
            z = model.layers[-1].preactivation
            assert z is not None
            loss = cost.loss_from_logits(z, yb)
        else:
            loss = cost.loss(out, yb)
        loss_sum += loss * xb.shape[0]
        rows += xb.shape[0]
        for metric in metrics:
            metric.update(out, yb)
    result = {"loss": loss_sum / rows}
    for metric in metrics:
        result[metric_name(metric)] = float(metric.result())
    return result


def evaluate(
    model: Model,
    X: Any,
    Y: Any = None,
    batch_size: int | None = None,
    steps: int | None = None,
) -> dict[str, float]:
    """`Model.evaluate`'s implementation.

    >>> import numpy as np, scratchnet_core as sn
    >>> model = sn.Model([sn.get_layers()["linear"](2, 1)], "mse")
    >>> evaluate(model, np.zeros((3, 2)), np.zeros(3))
    {'loss': 0.0}
    """
    batch_size = _batch_size(model, batch_size)
    if steps is not None:
        steps = positive_int("evaluate", "steps", steps)
    feed = make_feed(model, X, Y, steps_per_epoch=steps)
    if isinstance(feed, ArrayFeed):
        model.input_shape = feed.input_shape
    _bind_metrics(model, feed)
    return _evaluate_feed(model, feed, batch_size)


def predict(model: Model, X: Any, batch_size: int | None = None, steps: int | None = None) -> Array:
    """`Model.predict`'s implementation.

    >>> import numpy as np, scratchnet_core as sn
    >>> model = sn.Model([sn.get_layers()["linear"](2, 1)], "mse")
    >>> predict(model, (np.zeros((3, 2)) for _ in range(2)), steps=2).shape
    (6, 1)
    """
    batch_size = _batch_size(model, batch_size)
    if steps is not None:
        steps = positive_int("predict", "steps", steps)
    feed = make_feed(model, X, steps_per_epoch=steps, targets=False)
    parts = [
        model.forward(read(indices)[0], training=False)
        for _batch, indices, read in feed.epoch(batch_size, None)
    ]
    if not parts:
        raise DataError("predict: no batches to predict")
    return np.concatenate(parts, axis=0)
