"""The model: a list of layers, a cost and an optimizer, with the training loop.

The seed's constructor stays (``Model(layers, cost_function, optimizer, batch_size, X, Y,
epochs).train()``); ``fit`` / ``predict`` / ``evaluate`` work as in Keras.
"""

from __future__ import annotations

import math
import numbers
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ._random import get_rng
from .components import build_component
from .errors import (
    ConfigurationError,
    DataError,
    OptionalDependencyError,
    ShapeError,
    TrainingDivergedError,
)
from .hooks import make_plugin_manager
from .hookspecs import hookimpl
from .interfaces import Array, CostFunction, Layer, Optimizer, as_float_dtype
from .registry import get_registry

__all__ = ["History", "Model"]


class History:
    """Per-epoch metrics of one :meth:`Model.fit` call, as Keras keeps them.

    ``history.history`` maps a metric name (``"loss"``, ``"accuracy"``, ``"val_loss"``, ...)
    to one float per epoch; ``history["loss"]`` is a shortcut; ``history.epoch`` lists the
    epochs run. It is itself a hook implementation, registered for each ``fit``.

    Examples
    --------
    >>> import numpy as np, scratchnet_core as sn
    >>> X = np.random.default_rng(0).normal(size=(16, 2)); Y = (X[:, 0] > 0).astype(int)
    >>> model = sn.Model([sn.get_layers()["linear"](2, 1, "sigmoid")], "binary_cross_entropy")
    >>> history = model.fit(X, Y, epochs=2, validation_split=0.25, verbose=0)
    >>> sorted(history.history), history.epoch
    (['accuracy', 'loss', 'val_accuracy', 'val_loss'], [0, 1])
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    @hookimpl(trylast=True)  # after callbacks that add to the logs (learning rate, ...)
    def scratchnet_epoch_end(self, epoch: int, logs: Mapping[str, float]) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def __getitem__(self, key: str) -> list[float]:
        try:
            return self.history[key]
        except KeyError:
            raise DataError(
                f"History has no metric {key!r}; it has {', '.join(self.history) or 'none'}"
            ) from None

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write one row per epoch: ``epoch`` (from 1) then every metric."""
        import csv

        keys = list(self.history)
        with open(os.fspath(path), "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["epoch", *keys])
            for row, epoch in enumerate(self.epoch):
                writer.writerow([epoch + 1, *(repr(self.history[k][row]) for k in keys)])

    def plot(
        self, path: str | os.PathLike[str] | None = None, metrics: Sequence[str] | None = None
    ) -> Any:
        """Plot metrics against epochs with matplotlib (optional); save to ``path`` if given.

        Returns the matplotlib figure. Losses and accuracies go on separate axes.
        """
        try:
            import matplotlib

            if path is not None:
                matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise OptionalDependencyError(
                "History.plot needs matplotlib: pip install 'scratchnet[plot]'"
            ) from exc
        names = list(metrics) if metrics is not None else list(self.history)
        groups = [[n for n in names if "acc" not in n], [n for n in names if "acc" in n]]
        groups = [g for g in groups if g]
        fig, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 3.5), squeeze=False)
        epochs = [e + 1 for e in self.epoch]
        for ax, group in zip(axes[0], groups, strict=True):
            for name in group:
                ax.plot(epochs, self[name], label=name)
            ax.set(xlabel="epoch")
            ax.legend()
            ax.grid(alpha=0.3)
        fig.tight_layout()
        if path is not None:
            fig.savefig(os.fspath(path), dpi=100)
            plt.close(fig)
        return fig

    def __repr__(self) -> str:
        last = {k: round(v[-1], 6) for k, v in self.history.items() if v}
        return f"History(epochs={len(self.epoch)}, last={last})"


def _write_line(text: str) -> None:
    sys.stdout.write(text + "\n")


def _integer(value: Any, argument: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigurationError(f"{argument} must be an integer, got {value!r}")
    return int(value)


def _positive_int(value: Any, argument: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigurationError(
            f"{argument} must be a positive integer, got {value!r} ({type(value).__name__})"
        )
    if value < 1:
        raise ConfigurationError(f"{argument} must be >= 1, got {value}")
    return int(value)


def _as_data(values: ArrayLike, argument: str) -> Array:
    try:
        array = np.asarray(values)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{argument}: cannot be read as a numeric array: {exc}") from None
    if array.dtype.kind not in "biuf":
        raise DataError(f"{argument}: expected a numeric array, got dtype {array.dtype}")
    if array.ndim == 0:
        raise DataError(f"{argument}: expected an array with a batch axis, got a scalar")
    if array.shape[0] == 0:
        raise DataError(f"{argument} is empty: shape {array.shape}")
    if array.dtype.kind == "f":
        finite = np.isfinite(array)
        if not finite.all():
            bad = np.argwhere(~finite)[0]
            count = int(array.size - np.count_nonzero(finite))
            raise DataError(
                f"{argument} holds {count} NaN or inf value(s), the first at index "
                f"{tuple(int(i) for i in bad)}"
            )
    return array


class Model:
    """A feed-forward stack of layers trained against a cost by an optimizer.

    Parameters
    ----------
    layers:
        The layers, in order; ``model.layers`` keeps them.
    cost_function:
        A registry name (``"binary_cross_entropy"``) or a :class:`CostFunction` instance.
    optimizer:
        A registry name (``"sgd"``, default learning rate) or an :class:`Optimizer`.
    batch_size, X, Y, epochs:
        The seed's training settings, used by :meth:`train`; ``fit`` takes its own.
    dtype:
        ``"float32"`` (the default when the layers say nothing else) or ``"float64"``; every
        layer is converted, and data is cast once when it arrives.

    Examples
    --------
    >>> import numpy as np, scratchnet_core as sn
    >>> from scratchnet_core.layers import linear
    >>> sn.seed(0)
    >>> X = np.random.default_rng(0).normal(size=(64, 3)); Y = (X.sum(1) > 0).astype(int)
    >>> m = sn.Model([linear(3, 8, "tanh"), linear(8, 1, "sigmoid")], "binary_cross_entropy",
    ...              sn.optimizers.sgd(0.5))
    >>> hist = m.fit(X, Y, epochs=20, batch_size=16, verbose=0)
    >>> hist["accuracy"][-1] > 0.9
    True
    """

    def __init__(
        self,
        layers: Sequence[Layer],
        cost_function: str | CostFunction | Mapping[str, Any],
        optimizer: str | Optimizer | Mapping[str, Any] = "sgd",
        batch_size: int = 32,
        X: ArrayLike | None = None,
        Y: ArrayLike | None = None,
        epochs: int = 1,
        *,
        dtype: DTypeLike | None = None,
    ) -> None:
        layers = list(layers)
        if not layers:
            raise ConfigurationError("Model: layers must hold at least one layer, got none")
        for i, layer in enumerate(layers):
            if isinstance(layer, list):  # a list where a layer is expected is a sequential
                layers[i] = layer = get_registry("layers")["sequential"](layer)
            if not isinstance(layer, Layer):
                raise ConfigurationError(
                    f"Model: layers[{i}] must be a scratchnet_core.Layer, got {layer!r}"
                )
        self.layers: list[Layer] = layers
        self.cost_function: CostFunction = build_component("costs", cost_function, "cost_function")
        self.optimizer: Optimizer = build_component("optimizers", optimizer, "optimizer")
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.epochs = _positive_int(epochs, "epochs")
        self.X = X
        self.Y = Y
        self.dtype = self._choose_dtype(dtype)
        for layer in self.layers:
            if layer.dtype != self.dtype:
                layer.to(self.dtype)
        self.history: History | None = None
        self.stop_training = False
        self.epochs_trained = 0
        self.input_shape: tuple[int, ...] | None = None

    # ------------------------------------------------------------------ construction
    def _choose_dtype(self, dtype: DTypeLike | None) -> np.dtype[Any]:
        if dtype is not None:
            return as_float_dtype(dtype)
        with_params = {layer.dtype for layer in self.layers if layer.parameters()}
        if len(with_params) > 1:
            raise ConfigurationError(
                "Model: layers have different dtypes "
                f"({', '.join(sorted(d.name for d in with_params))}); pass dtype= to choose one"
            )
        return with_params.pop() if with_params else as_float_dtype(None)

    @property
    def _fused(self) -> bool:
        last = self.layers[-1]
        return type(last).backward_preactivation is not Layer.backward_preactivation and bool(
            self.cost_function.fuses_with(last.activation)
        )

    # ------------------------------------------------------------------ parameters
    def parameters(self) -> dict[str, Array]:
        """Every parameter by ``"<layer index>.<name>"`` (``"0.weight"``), live arrays."""
        return {
            f"{i}.{name}": value
            for i, layer in enumerate(self.layers)
            for name, value in layer.parameters().items()
        }

    def buffers(self) -> dict[str, Array]:
        """Every layer buffer (running statistics, ...) by ``"<layer index>.<name>"``."""
        return {
            f"{i}.{name}": value
            for i, layer in enumerate(self.layers)
            for name, value in layer.buffers().items()
        }

    def gradients(self) -> dict[str, Array]:
        """The gradients of the last backward pass, keyed like :meth:`parameters`."""
        return {
            f"{i}.{name}": value
            for i, layer in enumerate(self.layers)
            for name, value in layer.gradients().items()
        }

    def num_parameters(self) -> int:
        """Count of trainable scalars."""
        return sum(layer.num_parameters() for layer in self.layers)

    def get_weights(self) -> dict[str, Array]:
        """A copy of every parameter, keyed like :meth:`parameters`."""
        return {name: value.copy() for name, value in self.parameters().items()}

    def set_weights(self, weights: Mapping[str, ArrayLike]) -> None:
        """Copy ``weights`` (as from :meth:`get_weights`) into the live parameters."""
        params = self.parameters()
        if set(weights) != set(params):
            missing = sorted(set(params) - set(weights))
            extra = sorted(set(weights) - set(params))
            raise ConfigurationError(
                f"set_weights: keys differ from the model's (missing {missing}, unexpected {extra})"
            )
        for name, value in weights.items():
            array = np.asarray(value)
            if array.shape != params[name].shape:
                raise ShapeError(f"parameter {name!r}", f"shape {params[name].shape}", array.shape)
            params[name][...] = array

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model (architecture, weights, optimizer state) to one ``.npz`` file,
        atomically: see :mod:`scratchnet_core.serialization`."""
        from .serialization import save_model

        save_model(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Model:
        """Read a model written by :meth:`save`; never runs code from the file."""
        from .serialization import load_model

        return load_model(path)

    def summary(self, input_shape: Sequence[int] | None = None, print_fn: Any = None) -> str:
        """Print (and return) a table of layers, output shapes and parameter counts.

        ``input_shape`` (one sample, no batch axis) defaults to the shape of the data the
        model last saw; without either, output shapes are not shown.
        """
        from .summary import summarize

        return summarize(self, input_shape, print_fn)

    # ------------------------------------------------------------------ shapes and data
    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        """Shape of one output sample for one input sample of ``input_shape``."""
        shape = tuple(int(s) for s in input_shape)
        for i, layer in enumerate(self.layers):
            try:
                shape = layer.output_shape(shape)
            except ShapeError as exc:
                raise exc.at_index(i) from None
        return shape

    def _prepare_x(self, X: ArrayLike, argument: str = "X") -> Array:
        array = _as_data(X, argument)
        return np.ascontiguousarray(array, dtype=self.dtype)

    def _prepare_y(self, Y: ArrayLike, n: int, out_shape: tuple[int, ...], argument: str) -> Array:
        array = _as_data(Y, argument)
        if array.shape[0] != n:
            raise DataError(
                f"X and {argument} have different row counts: X has {n}, "
                f"{argument} has {array.shape[0]}"
            )
        cost = self.cost_function
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
            return array.astype(np.intp)
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
        return np.ascontiguousarray(array, dtype=self.dtype)

    def _prepare(self, X: ArrayLike, Y: ArrayLike, what: str = "") -> tuple[Array, Array]:
        x = self._prepare_x(X, f"X{what}")
        out_shape = self.output_shape(x.shape[1:])
        self.input_shape = tuple(int(s) for s in x.shape[1:])
        y = self._prepare_y(Y, x.shape[0], out_shape, f"Y{what}")
        return x, y

    # ------------------------------------------------------------------ passes
    def forward(self, x: Array, training: bool = False) -> Array:
        """Run ``x`` through every layer; a :class:`ShapeError` names the layer's index."""
        i = 0
        try:
            for i, layer in enumerate(self.layers):  # noqa: B007 - i names the failing layer
                x = layer.forward(x, training)
        except ShapeError as exc:
            raise exc.at_index(i) from None
        return x

    def _loss_and_gradient(self, out: Array, y: Array) -> tuple[float, Array, bool]:
        cost = self.cost_function
        if self._fused_now:
            z = self.layers[-1].preactivation
            assert z is not None
            loss, grad = cost.loss_and_gradient_from_logits(z, y, out)
            return loss, grad, True
        loss, grad = cost.loss_and_gradient(out, y)
        return loss, grad, False

    def backward(self, grad: Array, preactivation: bool = False) -> Array | None:
        """Back-propagate ``dL/d(output)`` (or ``dL/dz`` of the last layer's pre-activation).

        Returns ``dL/dx`` for the model input (``None`` while the first layer's
        ``needs_input_grad`` is cleared, as during :meth:`fit`).
        """
        layers = self.layers
        last = len(layers) - 1
        out = (
            layers[last].backward_preactivation(grad)
            if preactivation
            else layers[last].backward(grad)
        )
        for i in range(last - 1, -1, -1):
            if out is None:
                raise ShapeError(
                    repr(layers[i + 1]), "a gradient for the layer before it", "None"
                ).at_index(i + 1)
            out = layers[i].backward(out)
        return out

    def train_step(self, x: Array, y: Array, epoch: int = 0, batch: int = 0) -> tuple[float, Array]:
        """One optimisation step on a prepared batch; returns ``(loss, output)``.

        A non-finite loss raises :class:`TrainingDivergedError` before any update, so the
        weights stay at their last finite values.
        """
        # overflow while diverging is reported once, as TrainingDivergedError, not as warnings
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            out = self.forward(x, training=True)
            loss, grad, fused = self._loss_and_gradient(out, y)
            if not math.isfinite(loss):
                raise TrainingDivergedError(epoch, batch, loss)
            self.backward(grad, preactivation=fused)
            self.optimizer.step(self.parameters(), self.gradients())
        return loss, out

    # ------------------------------------------------------------------ training
    def train(self) -> History:
        """The seed's entry point: fit on the ``X``, ``Y``, ``epochs`` and ``batch_size`` given
        to the constructor."""
        if self.X is None or self.Y is None:
            raise ConfigurationError(
                "Model.train() uses the X and Y given to the constructor, and none were given; "
                "pass X=..., Y=... to Model(...) or call fit(X, Y)"
            )
        return self.fit(self.X, self.Y, epochs=self.epochs, batch_size=self.batch_size)

    def fit(
        self,
        X: ArrayLike,
        Y: ArrayLike,
        epochs: int = 1,
        batch_size: int | None = None,
        shuffle: bool = True,
        validation_data: tuple[ArrayLike, ArrayLike] | None = None,
        validation_split: float = 0.0,
        callbacks: Iterable[object] | None = None,
        verbose: int = 1,
        seed: int | None = None,
        initial_epoch: int = 0,
    ) -> History:
        """Train for ``epochs`` passes over ``(X, Y)`` in mini-batches; returns a :class:`History`.

        Parameters
        ----------
        X : array, shape (N, *input_shape)
            The inputs.
        Y : array, shape (N, *output_shape) or (N,)
            The targets; ``(N,)`` for a one-output model, or class indices for a cost that
            accepts them (categorical cross-entropy).
        epochs : int
            The epoch to stop before (Keras' meaning: with ``initial_epoch``, epochs
            ``initial_epoch .. epochs - 1`` run).
        batch_size : int, optional
            Default: the model's. The last batch of an epoch may be smaller.
        shuffle : bool
            Reshuffle the rows every epoch. Epoch ``e``'s order comes from ``(seed, e)`` alone,
            so a run resumed with ``initial_epoch`` and the same ``seed`` repeats the
            uninterrupted run exactly.
        validation_data : (X_val, Y_val), optional
            Held-out data evaluated after every epoch (``val_loss``, ``val_accuracy``).
        validation_split : float
            Instead, hold out this last fraction of ``X``, ``Y`` (taken before shuffling, as
            Keras does).
        callbacks : list of hook implementations, optional
            Active for this call only (see :mod:`scratchnet_core.hookspecs`).
        verbose : {0, 1, 2}
            0 silent, 1 a progress bar, 2 one log line per batch.
        seed : int, optional
            The shuffling seed; default: drawn from scratchnet's generator
            (:func:`scratchnet_core.seed`).
        initial_epoch : int
            The epoch to start from.

        Returns
        -------
        History
            One value per epoch and metric.

        Examples
        --------
        >>> import numpy as np, scratchnet_core as sn
        >>> from scratchnet_core.layers import linear
        >>> X = np.random.default_rng(0).normal(size=(32, 2)); Y = (X[:, 0] > 0).astype(int)
        >>> model = sn.Model([linear(2, 1, "sigmoid")], "binary_cross_entropy", "adam")
        >>> history = model.fit(X, Y, epochs=3, batch_size=8, verbose=0, seed=0)
        >>> len(history["loss"])
        3
        """
        epochs = _positive_int(epochs, "epochs")
        initial_epoch = _integer(initial_epoch, "initial_epoch")
        if not 0 <= initial_epoch < epochs:
            raise ConfigurationError(
                f"initial_epoch must be in [0, epochs), got {initial_epoch} with epochs={epochs}"
            )
        if seed is not None:
            seed = _integer(seed, "seed")
        batch_size = (
            self.batch_size if batch_size is None else _positive_int(batch_size, "batch_size")
        )
        if verbose not in (0, 1, 2):
            raise ConfigurationError(f"verbose must be 0, 1 or 2, got {verbose!r}")
        x, y = self._prepare(X, Y)
        val = self._validation(x, y, validation_data, validation_split)
        if val is not None and validation_data is None:
            cut = x.shape[0] - val[0].shape[0]
            x, y = x[:cut], y[:cut]
        n = x.shape[0]
        steps = -(-n // batch_size)
        fit_seed = int(seed) if seed is not None else int(get_rng().integers(2**63))

        history = History()
        self.history = history
        self.stop_training = False
        pm = make_plugin_manager([history, *(callbacks or ())])
        hook = pm.hook
        classification = self.cost_function.accuracy(*self._probe(x[:1], y[:1])) is not None
        metrics = ["loss", "accuracy"] if classification else ["loss"]
        if val is not None:
            metrics += [f"val_{m}" for m in metrics]
        hook.scratchnet_train_start(
            model=self,
            config={
                "epochs": epochs,
                "initial_epoch": initial_epoch,
                "batch_size": batch_size,
                "samples": n,
                "steps_per_epoch": steps,
                "verbose": verbose,
                "validation": val is not None,
                "metrics": metrics,
            },
        )
        self._fused_now = self._fused
        first = self.layers[0]
        first_needed, first.needs_input_grad = first.needs_input_grad, False
        try:
            for epoch in range(initial_epoch, epochs):
                hook.scratchnet_epoch_start(model=self, epoch=epoch)
                rng = np.random.default_rng([fit_seed, epoch]) if shuffle else None
                start_weights = self.get_weights()  # finite: checked at the last epoch's end
                try:
                    logs = self._run_epoch(x, y, batch_size, rng, epoch, hook)
                except TrainingDivergedError as exc:
                    raise self._diverged(exc, start_weights) from None
                if not self._weights_finite():
                    raise self._diverged(
                        TrainingDivergedError(epoch, -(-x.shape[0] // batch_size) - 1, math.nan),
                        start_weights,
                    )
                self.epochs_trained = epoch + 1
                if not classification:
                    logs.pop("accuracy")
                if val is not None:
                    for key, value in self.evaluate(val[0], val[1], batch_size=batch_size).items():
                        logs[f"val_{key}"] = value
                stop = hook.scratchnet_epoch_end(model=self, epoch=epoch, logs=logs)
                if any(stop) or self.stop_training:
                    break
        finally:
            first.needs_input_grad = first_needed
        hook.scratchnet_train_end(model=self, history=history)
        return history

    def _run_epoch(
        self,
        x: Array,
        y: Array,
        batch_size: int,
        rng: np.random.Generator | None,
        epoch: int,
        hook: Any,
    ) -> dict[str, float]:
        n = x.shape[0]
        order = rng.permutation(n) if rng is not None else None
        accuracy = self.cost_function.accuracy
        loss_sum = 0.0
        correct = 0.0
        for batch, start in enumerate(range(0, n, batch_size)):
            if order is None:
                xb, yb = x[start : start + batch_size], y[start : start + batch_size]
            else:
                idx = order[start : start + batch_size]
                xb, yb = x[idx], y[idx]
            loss, out = self.train_step(xb, yb, epoch, batch)
            size = xb.shape[0]
            loss_sum += loss * size
            correct += (accuracy(out, yb) or 0.0) * size
            hook.scratchnet_batch_end(
                model=self, epoch=epoch, batch=batch, logs={"loss": loss, "size": size}
            )
        return {"loss": loss_sum / n, "accuracy": correct / n}

    def _diverged(
        self, exc: TrainingDivergedError, start_weights: dict[str, Array]
    ) -> TrainingDivergedError:
        """The loss is checked before each update, so the weights are normally the last finite
        ones already; if an update itself overflowed them, fall back to the epoch's start."""
        if self._weights_finite():
            return exc
        self.set_weights(start_weights)
        return TrainingDivergedError(
            exc.epoch,
            exc.batch,
            exc.loss,
            restored=f"an update had made weights non-finite, so they were restored to the start "
            f"of epoch {exc.epoch}",
        )

    def _weights_finite(self) -> bool:
        return all(np.isfinite(p).all() for p in self.parameters().values())

    def _probe(self, x: Array, y: Array) -> tuple[Array, Array]:
        return self.forward(x, training=False), y

    def _validation(
        self,
        x: Array,
        y: Array,
        data: tuple[ArrayLike, ArrayLike] | None,
        split: Any,
    ) -> tuple[Array, Array] | None:
        if data is not None:
            if not isinstance(data, (tuple, list)) or len(data) != 2:
                raise ConfigurationError(
                    f"validation_data must be a pair (X_val, Y_val), got {type(data).__name__}"
                )
            return self._prepare(data[0], data[1], "_val")
        real = isinstance(split, numbers.Real) and not isinstance(split, bool)
        if not real or not 0 <= float(split) < 1:
            raise ConfigurationError(f"validation_split must be in [0, 1), got {split!r}")
        if split == 0:
            return None
        count = round(x.shape[0] * float(split))
        if count < 1 or count >= x.shape[0]:
            raise ConfigurationError(
                f"validation_split={split} leaves {count} validation rows out of {x.shape[0]}; "
                "both parts need at least one row"
            )
        return x[-count:], y[-count:]

    # ------------------------------------------------------------------ inference
    def predict(self, X: ArrayLike, batch_size: int | None = None) -> Array:
        """Outputs for ``X: (N, *input_shape)``, in batches, with layers in inference mode."""
        batch_size = (
            self.batch_size if batch_size is None else _positive_int(batch_size, "batch_size")
        )
        x = self._prepare_x(X)
        self.output_shape(x.shape[1:])
        parts = [
            self.forward(x[start : start + batch_size], training=False)
            for start in range(0, x.shape[0], batch_size)
        ]
        return np.concatenate(parts, axis=0)

    def evaluate(
        self, X: ArrayLike, Y: ArrayLike, batch_size: int | None = None
    ) -> dict[str, float]:
        """Mean ``loss`` (and ``accuracy`` for classification costs) over ``(X, Y)``."""
        batch_size = (
            self.batch_size if batch_size is None else _positive_int(batch_size, "batch_size")
        )
        x, y = self._prepare(X, Y)
        self._fused_now = self._fused
        cost = self.cost_function
        n = x.shape[0]
        loss_sum = 0.0
        correct: float | None = 0.0
        for start in range(0, n, batch_size):
            xb, yb = x[start : start + batch_size], y[start : start + batch_size]
            out = self.forward(xb, training=False)
            if self._fused_now:
                z = self.layers[-1].preactivation
                assert z is not None
                loss = cost.loss_from_logits(z, yb)
            else:
                loss = cost.loss(out, yb)
            loss_sum += loss * xb.shape[0]
            acc = cost.accuracy(out, yb)
            correct = None if acc is None or correct is None else correct + acc * xb.shape[0]
        result = {"loss": loss_sum / n}
        if correct is not None:
            result["accuracy"] = correct / n
        return result

    _fused_now = False

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return (
            f"Model([\n  {inner}\n], cost_function={self.cost_function!r}, "
            f"optimizer={self.optimizer!r}, dtype={self.dtype.name})"
        )
