"""The model: a list of layers, a cost and an optimizer; parameters, passes and files.

The seed's constructor stays (``Model(layers, cost_function, optimizer, batch_size, X, Y,
epochs).train()``); ``fit`` / ``predict`` / ``evaluate`` work as in Keras and live in
`scratchnet_core.loop`, data feeding in `scratchnet_core.feeding`, and
`History` in `scratchnet_core.history` (re-exported here).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import loop
from .checks import positive_int
from .components import build_component
from .errors import ConfigurationError, DataError, ShapeError, TrainingDivergedError
from .history import History
from .interfaces import Array, CostFunction, Layer, Metric, Optimizer, as_float_dtype
from .registry import get_registry

__all__ = ["History", "Model"]


class Model:
    """A feed-forward stack of layers trained against a cost by an optimizer.

    Parameters
    ----------
    layers:
        The layers, in order; ``model.layers`` keeps them.
    cost_function:
        A registry name (``"binary_cross_entropy"``) or a `CostFunction` instance.
    optimizer:
        A registry name (``"sgd"``, default learning rate) or an `Optimizer`.
    batch_size, X, Y, epochs:
        The seed's training settings, used by `train`; ``fit`` takes its own.
    dtype:
        ``"float32"`` (the default when the layers say nothing else) or ``"float64"``; every
        layer is converted, and data is cast once when it arrives (streamed data per batch).
    metrics:
        What ``fit`` and ``evaluate`` report besides the loss: registry names (``"f1"``),
        specs (``{"name": "top_k_accuracy", "config": {"k": 3}}``) or
        `Metric` instances. Default: ``["accuracy"]`` for
        classification costs, none for regression. A metric that does not fit the cost (F1
        on a regression output) is a `ConfigurationError` here.

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
        metrics: Iterable[str | Metric | Mapping[str, Any]] | None = None,
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
        self.batch_size = positive_int("Model", "batch_size", batch_size)
        self.epochs = positive_int("Model", "epochs", epochs)
        self.metrics: list[Metric] = loop.build_metrics(metrics, self.cost_function)
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
        """The gradients of the last backward pass, keyed like `parameters`."""
        return {
            f"{i}.{name}": value
            for i, layer in enumerate(self.layers)
            for name, value in layer.gradients().items()
        }

    def num_parameters(self) -> int:
        """Count of trainable scalars."""
        return sum(layer.num_parameters() for layer in self.layers)

    def get_weights(self) -> dict[str, Array]:
        """A copy of every parameter, keyed like `parameters`."""
        return {name: value.copy() for name, value in self.parameters().items()}

    def set_weights(self, weights: Mapping[str, ArrayLike] | Sequence[ArrayLike]) -> None:
        """Copy ``weights`` into the live parameters: a dict as from `get_weights`, or
        a list of arrays in `parameters` order (Keras' ``set_weights``).

        Nothing is changed unless every array fits: a wrong count or key is a
        `ConfigurationError`, a wrong shape a `ShapeError`, NaN or inf a
        `DataError`.

        >>> import numpy as np, scratchnet_core as sn
        >>> model = sn.Model([sn.get_layers()["linear"](2, 1)], "mse")
        >>> model.set_weights([np.ones((2, 1)), np.zeros(1)])
        >>> model.get_weights()["0.weight"].ravel().tolist()
        [1.0, 1.0]
        """
        params = self.parameters()
        if isinstance(weights, Mapping):
            if set(weights) != set(params):
                missing = sorted(set(params) - set(weights))
                extra = sorted(set(weights) - set(params))
                raise ConfigurationError(
                    f"set_weights: keys differ from the model's (missing {missing}, "
                    f"unexpected {extra})"
                )
            items = [(name, weights[name]) for name in params]
        elif isinstance(weights, (str, bytes)) or not isinstance(weights, (Sequence, np.ndarray)):
            raise ConfigurationError(
                "set_weights: expected a dict name -> array or a list of arrays in "
                f"parameters() order, got {type(weights).__name__}"
            )
        else:
            if len(weights) != len(params):
                raise ConfigurationError(
                    f"set_weights: the model has {len(params)} parameter arrays "
                    f"({', '.join(params)}), got a list of {len(weights)}"
                )
            items = list(zip(params, weights, strict=True))
        arrays = []
        for name, value in items:
            try:
                array = np.asarray(value)
            except (TypeError, ValueError) as exc:
                raise DataError(f"set_weights: {name!r} is not a numeric array: {exc}") from None
            if array.shape != params[name].shape:
                raise ShapeError(f"parameter {name!r}", f"shape {params[name].shape}", array.shape)
            if array.dtype.kind not in "biuf":
                raise DataError(f"set_weights: {name!r} must be numeric, got dtype {array.dtype}")
            if array.dtype.kind == "f" and not np.isfinite(array).all():
                count = int(array.size - np.count_nonzero(np.isfinite(array)))
                raise DataError(f"set_weights: {name!r} holds {count} NaN or inf value(s)")
            with np.errstate(over="ignore"):
                cast = array.astype(params[name].dtype)
            if not np.isfinite(cast).all():
                raise DataError(
                    f"set_weights: {name!r} holds values beyond {params[name].dtype}'s range"
                )
            arrays.append((name, cast))
        for name, cast in arrays:
            params[name][...] = cast

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model (architecture, weights, optimizer state) to one ``.npz`` file,
        atomically: see `scratchnet_core.serialization`."""
        from .serialization import save_model

        save_model(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Model:
        """Read a model written by `save`; never runs code from the file."""
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

    # ------------------------------------------------------------------ passes
    def forward(self, x: Array, training: bool = False) -> Array:
        """Run ``x`` through every layer; a `ShapeError` names the layer's index."""
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
        ``needs_input_grad`` is cleared, as during `fit`).
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

    def train_step(
        self,
        x: Array,
        y: Array,
        epoch: int = 0,
        batch: int = 0,
        *,
        after_backward: Callable[[dict[str, Array], int, int], None] | None = None,
    ) -> tuple[float, Array]:
        """One optimisation step on a prepared batch; returns ``(loss, output)``.

        ``after_backward(gradients, size, batch)``, when given, runs between the backward
        pass and the optimizer step (the loop passes ``scratchnet_after_backward`` through
        it). A non-finite loss raises `TrainingDivergedError` before any update, so
        the weights stay at their last finite values.
        """
        # overflow while diverging is reported once, as TrainingDivergedError, not as warnings
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            out = self.forward(x, training=True)
            loss, grad, fused = self._loss_and_gradient(out, y)
            if not math.isfinite(loss):
                raise TrainingDivergedError(epoch, batch, loss)
            self.backward(grad, preactivation=fused)
            gradients = self.gradients()
            if after_backward is not None:
                after_backward(gradients, int(x.shape[0]), batch)
            self.optimizer.step(self.parameters(), gradients)
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
        *,
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
        prefetch: bool | None = None,
    ) -> History:
        """Train for ``epochs`` passes over ``(X, Y)`` in mini-batches; returns a `History`.

        Parameters
        ----------
        X : array (N, *input_shape), dataset or iterable of batches
            The inputs: an array (a memory-mapped one, ``np.load(path, mmap_mode="r")``, is
            read batch by batch, never whole); or a dataset, any object with ``__len__`` and
            ``__getitem__(indices) -> (x_batch, y_batch)``; or an iterable of
            ``(x_batch, y_batch)`` (see `scratchnet_core.feeding`).
        Y : array, shape (N, *output_shape) or (N,)
            The targets with an array ``X`` (left out otherwise); ``(N,)`` for a one-output
            model, or class indices for a cost that accepts them (categorical cross-entropy).
        epochs : int
            The epoch to stop before (Keras' meaning: with ``initial_epoch``, epochs
            ``initial_epoch .. epochs - 1`` run).
        batch_size : int, optional
            Default: the model's. The last batch of an epoch may be smaller.
        shuffle : bool
            Reshuffle the rows every epoch. Epoch ``e``'s order comes from ``(seed, e)`` alone,
            so a run resumed with ``initial_epoch`` and the same ``seed`` repeats the
            uninterrupted run exactly.
        validation_data : (X_val, Y_val), dataset or iterable of batches, optional
            Held-out data evaluated after every epoch (``val_loss``, ``val_<metric>``).
        validation_split : float
            Instead, hold out this last fraction of ``X``, ``Y`` (taken before shuffling, as
            Keras does).
        callbacks : list of hook implementations, optional
            Active for this call only (see `scratchnet_core.hookspecs`).
        verbose : {0, 1, 2}
            0 silent, 1 a progress bar, 2 one log line per batch.
        seed : int, optional
            The shuffling seed; default: drawn from scratchnet's generator
            (`scratchnet_core.seed`).
        initial_epoch : int
            The epoch to start from.
        steps_per_epoch, validation_steps : int, optional
            Batches per epoch (required for an iterable without ``len()``; with arrays or a
            dataset, a limit).
        prefetch : bool, optional
            Read the next batch in a background thread while this one trains (memory-mapped
            arrays and datasets). Default: on for memory-mapped arrays, where it hides the
            page-table work of gathering rows from a mapped file (``benchmarks/bench_mmap.py``),
            off otherwise.

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
        return loop.fit(
            self,
            X,
            Y,
            epochs=epochs,
            batch_size=batch_size,
            shuffle=shuffle,
            validation_data=validation_data,
            validation_split=validation_split,
            callbacks=callbacks,
            verbose=verbose,
            seed=seed,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch,
            validation_steps=validation_steps,
            prefetch=prefetch,
        )

    def _weights_finite(self) -> bool:
        return all(np.isfinite(p).all() for p in self.parameters().values())

    # ------------------------------------------------------------------ inference
    def predict(self, X: Any, batch_size: int | None = None, *, steps: int | None = None) -> Array:
        """Outputs for ``X`` (an array ``(N, *input_shape)``, a dataset or an iterable of
        batches, as `fit` takes), in batches, with layers in inference mode.

        >>> import numpy as np, scratchnet_core as sn
        >>> model = sn.Model([sn.get_layers()["linear"](2, 3)], "mse")
        >>> model.predict(np.zeros((5, 2)), batch_size=2).shape
        (5, 3)
        """
        return loop.predict(self, X, batch_size, steps)

    def evaluate(
        self, X: Any, Y: Any = None, batch_size: int | None = None, *, steps: int | None = None
    ) -> dict[str, float]:
        """``{"loss": ..., <metric>: ...}`` over all of ``(X, Y)`` (or a dataset or an
        iterable of batches), each exact over the data, never a mean of per-batch values.

        >>> import numpy as np, scratchnet_core as sn
        >>> model = sn.Model([sn.get_layers()["linear"](2, 1)], "mse", metrics=["mae"])
        >>> model.evaluate(np.zeros((4, 2)), np.ones(4))
        {'loss': 1.0, 'mae': 1.0}
        """
        return loop.evaluate(self, X, Y, batch_size, steps)

    _fused_now = False

    is_main_process: bool = True
    """Whether this process writes files, logs and the progress bar for this model.

    Always true in one process. A data-parallel plugin clears it on every process but one
    when training starts; callbacks that write (checkpoints, CSV logs, the progress bar)
    and ``scratchnet train``'s outputs check it."""

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return (
            f"Model([\n  {inner}\n], cost_function={self.cost_function!r}, "
            f"optimizer={self.optimizer!r}, dtype={self.dtype.name})"
        )
