"""The exceptions scratchnet raises.

Every error derives from `ScratchnetError` and also from the builtin it refines, so
``except ValueError`` keeps working for callers that do not know scratchnet. Messages name
the component or argument, what was expected and what was given.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from difflib import get_close_matches

__all__ = [
    "BackwardError",
    "ConfigurationError",
    "DataError",
    "InterfaceError",
    "MissingPluginError",
    "ModelFileError",
    "OptionalDependencyError",
    "PluginConflictError",
    "PluginLoadError",
    "PluginNotFoundError",
    "ScratchnetError",
    "ShapeError",
    "TrainingDivergedError",
]


class ScratchnetError(Exception):
    """Base class of every error scratchnet raises on purpose.

    Examples
    --------
    >>> import scratchnet_core as sn
    >>> try:
    ...     sn.get_layers()["lineer"]
    ... except sn.ScratchnetError as exc:
    ...     print(type(exc).__name__, isinstance(exc, KeyError))
    PluginNotFoundError True
    """


class PluginNotFoundError(ScratchnetError, KeyError):
    """No component of this kind is registered under this name.

    A `KeyError`, so ``registry.get(name)`` returns ``None`` as a mapping should.
    The message lists close matches and the installed names.

    Examples
    --------
    >>> import scratchnet_core as sn
    >>> sn.get_optimizers()["adamm"]
    Traceback (most recent call last):
    ...
    scratchnet_core.errors.PluginNotFoundError: no optimizer named 'adamm'; did you mean 'adam'...
    >>> sn.get_optimizers().get("adamm") is None
    True
    """

    def __init__(
        self,
        kind: str,
        name: str,
        available: Iterable[str] = (),
        hint: str | None = None,
    ) -> None:
        self.kind = kind
        self.requested = name
        self.available = sorted(available)
        singular = kind[:-1] if kind.endswith("s") else kind
        message = f"no {singular} named {name!r}"
        close = get_close_matches(name.lower(), self.available, n=3, cutoff=0.6)
        if close:
            message += "; did you mean " + " or ".join(repr(c) for c in close) + "?"
        else:
            message += "."
        if self.available:
            message += f" Installed {kind}: {', '.join(self.available)}."
        else:
            message += (
                f" No {kind} are installed: the standard set ships in the 'scratchnet-std'"
                " distribution (install it from a scratchnet checkout with `pip install"
                " plugins/std`, or run `make demo` there)."
            )
        if hint:
            message += " " + hint
        super().__init__(message)

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class _PluginAttributeError(PluginNotFoundError, AttributeError):
    """Raised by the family modules' ``__getattr__``: an `AttributeError`, so that
    ``hasattr``, ``getattr(module, name, default)`` and tools that probe modules (pytest,
    IPython, inspect) work; ``from ... import`` turns it into an ImportError (with Python's
    own "did you mean" from 3.12, which reads the module's ``__dir__``)."""

    def __init__(self, original: PluginNotFoundError) -> None:
        self.kind = original.kind
        self.requested = original.requested
        self.available = original.available
        Exception.__init__(self, original.args[0])


class PluginLoadError(ScratchnetError, ImportError):
    """A plugin's entry point could not be loaded (import failed, missing attribute, wrong type).

    Examples
    --------
    >>> import scratchnet_core as sn
    >>> exc = sn.PluginLoadError(
    ...     "layers", "fancy", "fancy_pkg:Fancy", "fancy-pkg", "ModuleNotFoundError: ..."
    ... )
    >>> print(exc)
    could not load layers plugin 'fancy' = 'fancy_pkg:Fancy' from distribution 'fancy-pkg': ...
    """

    def __init__(self, kind: str, name: str, value: str, distribution: str | None, cause: str):
        self.kind = kind
        self.entry_point = name
        self.value = value
        self.distribution = distribution
        self.cause = cause
        where = f"distribution {distribution!r}" if distribution else "runtime registration"
        super().__init__(f"could not load {kind} plugin {name!r} = {value!r} from {where}: {cause}")


class InterfaceError(ScratchnetError, TypeError):
    """A component does not implement the interface of the kind it is registered under.

    Examples
    --------
    >>> import scratchnet_core as sn
    >>> class Half(sn.Layer):
    ...     def forward(self, x, training=False):
    ...         return x
    >>> sn.register("layers", "half")(Half)
    Traceback (most recent call last):
    ...
    scratchnet_core.errors.InterfaceError: cannot register 'half' as layers: ...: backward
    """


class PluginConflictError(ScratchnetError, LookupError):
    """Two distributions offer the same component name; pick one with ``"distribution:name"``.

    Examples
    --------
    >>> import scratchnet_core as sn
    >>> print(sn.PluginConflictError("activations", "relu", ["scratchnet-std", "acme"]))
    activations name 'relu' is offered by 2 distributions (scratchnet-std, acme); choose ...
    """

    def __init__(self, kind: str, name: str, distributions: Sequence[str]):
        self.kind = kind
        self.name = name
        self.distributions = list(distributions)
        choices = ", ".join(f"'{d}:{name}'" for d in self.distributions)
        super().__init__(
            f"{kind} name {name!r} is offered by {len(self.distributions)} distributions "
            f"({', '.join(self.distributions)}); choose one with a qualified name "
            f"'distribution:name' ({choices}), or hide a whole distribution with the "
            f"environment variable SCRATCHNET_DISABLE_PLUGINS (e.g. SCRATCHNET_DISABLE_PLUGINS="
            f"{self.distributions[-1]} keeps {self.distributions[0]}'s {name!r})"
        )


class ShapeError(ScratchnetError, ValueError):
    """An array reached a layer (or cost) with a shape it cannot take.

    Attributes ``layer``, ``index`` (position in the model, when known), ``expected`` and
    ``actual`` are kept for programs; the message states all of them.

    Examples
    --------
    >>> import numpy as np, scratchnet_core as sn
    >>> model = sn.Model([sn.get_layers()["linear"](3, 2)], "mse")
    >>> model.predict(np.zeros((5, 4)))
    Traceback (most recent call last):
    ...
    scratchnet_core.errors.ShapeError: layer 0 (Linear(3, 2)): expected input (N, 3), got ...(N, 4)
    """

    def __init__(
        self,
        layer: str,
        expected: str,
        actual: tuple[int, ...] | str,
        index: int | None = None,
        detail: str | None = None,
    ) -> None:
        self.layer = layer
        self.expected = expected
        self.actual = actual
        self.index = index
        self.detail = detail
        super().__init__(self._message())

    def _message(self) -> str:
        where = f"layer {self.index} ({self.layer})" if self.index is not None else self.layer
        actual = self.actual if isinstance(self.actual, str) else f"shape {tuple(self.actual)}"
        msg = f"{where}: expected input {self.expected}, got {actual}"
        return f"{msg}; {self.detail}" if self.detail else msg

    def at_index(self, index: int) -> ShapeError:
        """The same error, now naming the layer's position in its model."""
        error = ShapeError(self.layer, self.expected, self.actual, index, self.detail)
        extra = {k: v for k, v in vars(self).items() if k not in vars(error)}
        vars(error).update(extra)  # such as the path inside a container
        return error


class DataError(ScratchnetError, ValueError):
    """Training or evaluation data is unusable (row counts differ, empty, NaN or inf, ...).

    Examples
    --------
    >>> import numpy as np, scratchnet_core as sn
    >>> model = sn.Model([sn.get_layers()["linear"](3, 1)], "mse")
    >>> model.fit(np.zeros((5, 3)), np.zeros(4), verbose=0)
    Traceback (most recent call last):
    ...
    scratchnet_core.errors.DataError: X and Y have different row counts: X has 5, Y has 4
    """


class ConfigurationError(ScratchnetError, ValueError):
    """An argument is out of range or of the wrong type (``batch_size=0``, ``lr=-1``, ...).

    Examples
    --------
    >>> import scratchnet_core as sn
    >>> sn.get_layers()["linear"](0, 2)
    Traceback (most recent call last):
    ...
    scratchnet_core.errors.ConfigurationError: linear: in_features must be >= 1, got 0
    """


class OptionalDependencyError(ScratchnetError, ImportError):
    """A feature needs an optional package that is not installed (matplotlib, ...).

    Examples
    --------
    >>> import scratchnet_core as sn
    >>> issubclass(sn.OptionalDependencyError, ImportError)
    True
    """


class ModelFileError(ScratchnetError, ValueError, OSError):
    """A model file is missing, unwritable, truncated, corrupted, foreign or of an unknown
    format version. Both a `ValueError` (bad content) and an `OSError` (the
    file itself).

    Examples
    --------
    >>> import scratchnet_core as sn
    >>> sn.Model.load("no/such/model.npz")
    Traceback (most recent call last):
    ...
    scratchnet_core.errors.ModelFileError: no model file at 'no/such/model.npz'
    """

    def __str__(self) -> str:  # OSError would format (errno, strerror) pairs
        return str(self.args[0]) if self.args else ""


class BackwardError(ScratchnetError, RuntimeError):
    """``backward`` was called without a ``forward`` since the last one: layers release what
    they kept for the gradient once it is used, as PyTorch frees saved tensors.

    Examples
    --------
    >>> import numpy as np, scratchnet_core as sn
    >>> layer = sn.get_layers()["linear"](2, 1)
    >>> y = layer.forward(np.ones((3, 2), dtype=np.float32), training=True)
    >>> _ = layer.backward(np.ones_like(y))
    >>> layer.backward(np.ones_like(y))
    Traceback (most recent call last):
    ...
    scratchnet_core.errors.BackwardError: Linear(2, 1): backward needs a forward first ...
    """

    def __init__(self, component: object) -> None:
        super().__init__(
            f"{component!r}: backward needs a forward first (what the last forward kept was "
            "used by the backward after it)"
        )


class MissingPluginError(PluginNotFoundError, ModelFileError):
    """A model file names a component whose plugin is not installed: both a
    `PluginNotFoundError` (it names the distribution to install) and a
    `ModelFileError` (the file cannot be loaded here).

    Examples
    --------
    >>> import scratchnet_core as sn
    >>> exc = sn.MissingPluginError("optimizers", "lion", ["adam"], hint="pip install lion")
    >>> isinstance(exc, sn.ModelFileError), isinstance(exc, sn.PluginNotFoundError)
    (True, True)
    """


class TrainingDivergedError(ScratchnetError, FloatingPointError):
    """The loss became NaN or infinite; training stopped with the last finite weights kept.

    ``epoch`` and ``batch`` are indices from 0, as hooks receive them; the message counts
    from 1, as the progress bar and the CSV log do (one numbering for people reading it).
    With ``restored_to_epoch_start`` the message says the weights went back to the start of
    that epoch (an update, not the loss, went non-finite); ``restored`` replaces that phrase
    with any other account.

    Examples
    --------
    >>> import scratchnet_core as sn
    >>> print(sn.TrainingDivergedError(epoch=3, batch=7, loss=float("nan")))
    training diverged at epoch 4, batch 8: loss is nan; the weights were left at ...
    >>> print(sn.TrainingDivergedError(0, 2, float("inf"), restored_to_epoch_start=True))
    training diverged at epoch 1, batch 3: ...restored to the start of epoch 1 (try a ...
    """

    def __init__(
        self,
        epoch: int,
        batch: int,
        loss: float,
        restored: str | None = None,
        *,
        restored_to_epoch_start: bool = False,
    ):
        self.epoch = epoch
        self.batch = batch
        self.loss = loss
        if restored is None and restored_to_epoch_start:
            restored = (
                "an update had made weights non-finite, so they were restored to the start of "
                f"epoch {epoch + 1}"
            )
        self.restored = restored
        kept = restored or "the weights were left at their last finite values"
        super().__init__(
            f"training diverged at epoch {epoch + 1}, batch {batch + 1}: loss is {loss}; {kept} "
            "(try a smaller learning rate)"
        )
