"""Config-driven runs: ``scratchnet train CONFIG.toml``.

A config names every component by its registry name; constructor arguments sit beside it::

    seed = 0

    [data]
    source = "xor"          # a name in the scratchnet.datasets registry
    samples = 500           # the dataset's own options
    test_fraction = 0.2     # held out for evaluation after training

    [model]
    cost = "binary_cross_entropy"

    [[model.layers]]
    type = "linear"
    in_features = 2
    out_features = 16
    activation = "relu"

    [model.optimizer]
    type = "sgd"
    lr = 0.1

    [fit]
    epochs = 100
    batch_size = 32

    [output]
    model = "xor.npz"       # paths relative to the config file (or to --output-dir)
    history = "xor.csv"
    plot = "xor.png"        # written when matplotlib is installed

    [distributed]           # optional: train on several processes, under the backend's launcher
    backend = "<name>"      # a name in the "distributed" registry; other keys are its options

A wrong key or a wrong type is a `ConfigurationError` naming the file, the line and the
key. Paths are relative to the config file: dataset options named ``path`` or ending in
``_path``, and the ``[output]`` paths, which ``output_dir`` (``--output-dir``) re-roots
instead. Every output folder is created, and checked writable, before training starts.

``[data] source`` names a dataset of the ``scratchnet.datasets`` registry (the standard set:
``xor``, ``spirals``, ``digits``, ``npz``, ``npy``; any installed or registered one works).
Besides ``source``, ``test_fraction`` and ``shape`` (samples reshaped to it), every key of
``[data]`` is an option of the dataset; an unknown one is an error naming the accepted
options. A dataset taking a ``seed`` option gets the config's ``seed`` unless ``[data]`` sets
one.
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._random import seed as seed_rng
from .checks import output_path
from .components import check_options
from .errors import (
    ConfigurationError,
    DataError,
    OptionalDependencyError,
    ScratchnetError,
    ShapeError,
)
from .feeding import ArrayDataset, Subset, is_dataset
from .model import Model
from .registry import get_registry

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["RunResult", "load_config", "run_config"]

_NUMBER = (int, float)
_SCHEMA: dict[tuple[str, ...], dict[str, tuple[type | tuple[type, ...], str]]] = {
    (): {
        "seed": (int, "an integer"),
        "data": (dict, "a table"),
        "model": (dict, "a table"),
        "fit": (dict, "a table"),
        "output": (dict, "a table"),
        "distributed": (dict, "a table"),
    },
    ("data",): {
        "source": (str, "a dataset name"),
        "test_fraction": (_NUMBER, "a number in [0, 1)"),
        "shape": (list, "a list of integers"),
    },
    ("model",): {
        "cost": ((str, dict), "a registry name or a table"),
        "dtype": (str, "'float32' or 'float64'"),
        "layers": (list, "an array of tables ([[model.layers]])"),
        "metrics": (list, "a list of metric names or tables"),
        "optimizer": ((str, dict), "a registry name or a table"),
    },
    ("fit",): {
        "epochs": (int, "an integer"),
        "batch_size": (int, "an integer"),
        "validation_split": (_NUMBER, "a number in [0, 1)"),
        "shuffle": (bool, "true or false"),
        "verbose": (int, "0, 1 or 2"),
        "steps_per_epoch": (int, "an integer"),
        "prefetch": (bool, "true or false"),
    },
    ("output",): {
        "model": (str, "a path"),
        "history": (str, "a path"),
        "plot": (str, "a path"),
    },
}
_REQUIRED = {(): ("data", "model"), ("data",): ("source",), ("model",): ("cost", "layers")}


@dataclass
class RunResult:
    """What a run produced: the model, its history, held-out metrics and files written.

    >>> RunResult.__dataclass_fields__.keys()
    dict_keys(['model', 'history', 'test_metrics', 'files', 'notes'])
    """

    model: Model
    history: Any
    test_metrics: dict[str, float] | None
    files: dict[str, str]
    notes: list[str]


class _Lines:
    """Where each key of a TOML document is written (tomllib keeps no positions)."""

    _ARRAY = re.compile(r"^\[\[\s*([^\]]+?)\s*\]\]$")
    _TABLE = re.compile(r"^\[\s*([^\]]+?)\s*\]$")
    _KEY = re.compile(r"^([A-Za-z0-9_\-.\"' ]+?)\s*=")

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        # the last index of each array of tables, by its path with the indices of the arrays
        # it sits in: [[model.layers.block]] belongs to the latest [[model.layers]]
        self._last: dict[tuple[str, ...], int] = {}
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if match := self._ARRAY.match(line):
                parts = self._split(match[1])
                array = (*self._resolve(parts[:-1]), parts[-1])
                index = self._last.get(array, -1) + 1
                self._last[array] = index
                table = (*array, str(index))
                self.lines[table] = number
            elif match := self._TABLE.match(line):
                table = self._resolve(self._split(match[1]))
                self.lines[table] = number
            elif match := self._KEY.match(line):
                self.lines[(*table, *self._split(match[1]))] = number

    def _resolve(self, parts: tuple[str, ...]) -> tuple[str, ...]:
        """A dotted table name as a path, each array of tables at its latest element."""
        path: tuple[str, ...] = ()
        for part in parts:
            path = (*path, part)
            if path in self._last:
                path = (*path, str(self._last[path]))
        return path

    @staticmethod
    def _split(dotted: str) -> tuple[str, ...]:
        return tuple(part.strip().strip("\"'") for part in dotted.split("."))

    def find(self, path: tuple[str, ...]) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None


class _Config:
    def __init__(self, path: Path, text: str, document: dict[str, Any]) -> None:
        self.path = path
        self.lines = _Lines(text)
        self.doc = document

    def error(self, where: tuple[str, ...], problem: str) -> ConfigurationError:
        line = self.lines.find(where)
        location = f"{self.path}:{line}" if line else str(self.path)
        key = ".".join(p if not p.isdigit() else f"[{p}]" for p in where).replace(".[", "[")
        return ConfigurationError(f"{location}: {key or 'config'}: {problem}")

    def check_table(self, where: tuple[str, ...], table: Mapping[str, Any]) -> None:
        schema = _SCHEMA[where]
        for key, value in table.items():
            if key not in schema and where == ("data",):
                continue  # an option of the dataset, checked against it when it is built
            if key not in schema:
                raise self.error((*where, key), f"unknown key; expected one of {', '.join(schema)}")
            types, described = schema[key]
            if (isinstance(value, bool) and types is not bool and bool not in _as_tuple(types)) or (
                not isinstance(value, types)
            ):
                raise self.error(
                    (*where, key), f"must be {described}, got {type(value).__name__} {value!r}"
                )
        for key in _REQUIRED.get(where, ()):
            if key not in table:
                raise self.error(where, f"missing required key {key!r}")


def _as_tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def load_config(path: str | Path) -> _Config:
    """Read and check a config file (structure and types; components are checked when built).

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "bad.toml")
    >>> lines = ["[data]", 'source = "xor"', "[fit]", 'epochs = "many"', "[model]"]
    >>> lines += ['cost = "mse"', "layers = []"]
    >>> with open(path, "w") as f:
    ...     _ = f.write(os.linesep.join(lines))
    >>> load_config(path)
    Traceback (most recent call last):
    ...
    scratchnet_core.errors.ConfigurationError: ...bad.toml:4: fit.epochs: must be an integer...
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read config {str(path)!r}: {exc.strerror or exc}"
        ) from exc
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: not valid TOML: {exc}") from exc
    config = _Config(path, text, document)
    config.check_table((), document)
    for section in ("data", "model", "fit", "output"):
        if section in document:
            config.check_table((section,), document[section])
    return config


def _component(
    config: _Config, kind: str, spec: Any, where: tuple[str, ...], key: str = "type"
) -> Any:
    if isinstance(spec, str):
        name, kwargs = spec, {}
    else:
        if kind == "layers" and "type" not in spec and "layers" in spec:
            spec = {"type": "sequential", **spec}  # a table of just `layers`: a sequential
        if "type" not in spec or not isinstance(spec["type"], str):
            raise config.error(where, f'needs type = "<{kind} registry name>"')
        name, kwargs = spec["type"], {k: v for k, v in spec.items() if k != "type"}
        if kind == "layers":  # containers: arrays of tables are their children, built here
            kwargs = {k: _children(config, v, (*where, k)) for k, v in kwargs.items()}
    try:
        cls = get_registry(kind)[name]
    except ScratchnetError as exc:
        raise config.error(
            (*where, key) if not isinstance(spec, str) else where, str(exc)
        ) from None
    for key in kwargs:
        try:
            check_options(name, cls, [key])
        except ConfigurationError as exc:
            raise config.error((*where, key), str(exc)) from None
    try:
        return cls(**kwargs)
    except (ScratchnetError, TypeError, ValueError) as exc:
        message = str(exc)
        named = [k for k in kwargs if re.search(rf"\b{re.escape(k)}\b", message)]
        raise config.error((*where, named[0]) if named else where, message) from None


def _sample_shape(X: Any) -> tuple[int, ...]:
    """The shape of one sample of ``X`` (arrays, or a dataset's first row); ``()`` if none."""
    shape = getattr(X, "shape", None)
    if shape is not None:
        return tuple(int(s) for s in shape[1:])
    if is_dataset(X) and len(X):
        return tuple(int(s) for s in np.shape(X[np.arange(1)][0])[1:])
    return ()


def _nested_where(spec: Any, where: tuple[str, ...], labels: Any) -> tuple[str, ...]:
    """The config path of the layer a container's error names by ``labels`` (``("block",
    "[1]")``): ``model.layers[3].block[1]``; as far as the tables go."""
    for label in labels:
        match = re.fullmatch(r"(\w*)\[(\d+)\]|(\w+)", str(label))
        if match is None:
            break
        key, index = (match[1] or match[3]), match[2]
        if key:
            if not isinstance(spec, dict) or key not in spec:
                break
            spec, where = spec[key], (*where, key)
        if index is not None:
            if isinstance(spec, dict) and isinstance(spec.get("layers"), list):
                spec, where = spec["layers"], (*where, "layers")
            if not isinstance(spec, list) or int(index) >= len(spec):
                break
            spec, where = spec[int(index)], (*where, index)
    return where


def _children(config: _Config, value: Any, where: tuple[str, ...]) -> Any:
    """An array of tables (``[[model.layers.block]]``) as a list of layers, each built with
    its full path (``model.layers[3].block[1]``); any other value as it is."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [
            _component(config, "layers", item, (*where, str(j))) for j, item in enumerate(value)
        ]
    return value


def _distributed_callback(
    config: _Config, table: Mapping[str, Any], backend: str | None
) -> object | None:
    """The training callback of the ``[distributed]`` table (or of ``backend`` alone)."""
    where = ("distributed",)
    options = {k: v for k, v in table.items() if k != "backend"}
    name = backend if backend is not None else table.get("backend")
    if name is None:
        if not table:
            return None
        raise config.error(where, 'needs backend = "<distributed registry name>"')
    if not isinstance(name, str):
        raise config.error((*where, "backend"), f"must be a string, got {name!r}")
    callback: object = _component(
        config, "distributed", {"type": name, **options}, where, "backend"
    )
    return callback


def _load_data(config: _Config, table: Mapping[str, Any], seed: int) -> tuple[Any, Any]:
    """``(X, Y)`` arrays (possibly memory-mapped) or a dataset object, as ``[data]`` says."""
    where = ("data",)
    source = table["source"]
    try:
        factory = get_registry("datasets")[source]
    except ScratchnetError as exc:
        raise config.error((*where, "source"), str(exc)) from None
    options = {k: v for k, v in table.items() if k not in _SCHEMA[where]}
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a callable without a signature takes what it is given
        parameters = None
    if parameters is not None and not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        accepted = [n for n, p in parameters.items() if p.kind is not p.VAR_POSITIONAL]
        for key in options:
            if key not in accepted:
                raise config.error(
                    (*where, key),
                    f"unknown option of dataset {source!r}; it takes "
                    f"{', '.join(accepted) or 'no options'}",
                )
        if "seed" in accepted and "seed" not in options:
            options["seed"] = seed
    for key, value in options.items():
        if (key == "path" or key.endswith("_path")) and isinstance(value, str):
            options[key] = str(config.path.parent / value)
    try:
        data = factory(**options)
    except (ScratchnetError, TypeError, ValueError, OSError) as exc:
        error = config.error((*where, "source"), f"dataset {source!r}: {exc}")
        raise (DataError(str(error)) if isinstance(exc, DataError) else error) from None
    if isinstance(data, tuple) and len(data) == 2:
        X, Y = data
    elif is_dataset(data):
        X, Y = data, None
    else:
        raise config.error(
            (*where, "source"),
            f"dataset {source!r} returned a {type(data).__name__}; expected (X, Y) arrays or "
            "a dataset object (__len__ and __getitem__(indices) -> (x, y))",
        )
    if "shape" in table:
        shape = table["shape"]
        if Y is None:
            raise config.error((*where, "shape"), "applies to (X, Y) arrays, not a dataset")
        if not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape):
            raise config.error((*where, "shape"), f"must be positive integers, got {shape}")
        try:
            X = (
                np.asarray(X).reshape(len(X), *shape)
                if not isinstance(X, np.ndarray)
                else (X.reshape(X.shape[0], *shape))
            )
        except ValueError:
            raise config.error(
                (*where, "shape"), f"cannot reshape samples of shape {X.shape[1:]} to {shape}"
            ) from None
    return X, Y


def _split(X: Any, Y: Any, fraction: float, seed: int) -> tuple[Any, Any, Any, Any]:
    """Hold out ``fraction`` of the rows (a seeded draw): ``X, Y, X_test, Y_test``. Arrays
    in memory are indexed; memory-mapped arrays and datasets are wrapped in a
    `Subset`, so nothing is read ahead of training."""
    n = len(X)
    order = np.random.default_rng(seed).permutation(n)
    cut = n - max(1, round(n * fraction))
    train, test = order[:cut], order[cut:]
    if Y is None or isinstance(X, np.memmap) or isinstance(Y, np.memmap):
        dataset = X if Y is None else ArrayDataset(X, Y)
        return Subset(dataset, train), None, Subset(dataset, test), None
    X, Y = np.asarray(X), np.asarray(Y)
    return X[train], Y[train], X[test], Y[test]


def run_config(
    path: str | Path,
    output_dir: str | Path | None = None,
    verbose: int | None = None,
    distributed: str | None = None,
) -> RunResult:
    """Build, train and save as ``path`` says; returns what was made.

    ``distributed`` names a backend of the ``"distributed"`` registry (overriding the
    config's ``[distributed] backend``): its training callback is passed to ``fit``. In a
    distributed run only one process checks and writes the outputs: the one whose callback
    has a true ``is_main_process`` attribute (a callback without one counts as true), and
    whose ``model.is_main_process`` is still true after training.

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "tiny.toml")
    >>> lines = [
    ...     "[data]", 'source = "xor"', "samples = 64",
    ...     "[model]", 'cost = "binary_cross_entropy"',
    ...     "[[model.layers]]", 'type = "linear"', "in_features = 2", "out_features = 1",
    ...     'activation = "sigmoid"', "[fit]", "epochs = 2", "verbose = 0",
    ... ]
    >>> with open(path, "w") as f:
    ...     _ = f.write(os.linesep.join(lines))
    >>> result = run_config(path, output_dir=folder)
    >>> len(result.history.epoch), result.files
    (2, {})
    """
    config = load_config(path)
    doc = config.doc
    parallel = _distributed_callback(config, doc.get("distributed", {}), distributed)
    seed = doc.get("seed", 0)
    seed_rng(seed)
    X, Y = _load_data(config, doc["data"], seed)

    test_fraction = float(doc["data"].get("test_fraction", 0.0))
    if not 0 <= test_fraction < 1:
        raise config.error(("data", "test_fraction"), f"must be in [0, 1), got {test_fraction}")
    X_test = Y_test = None
    if test_fraction:
        X, Y, X_test, Y_test = _split(X, Y, test_fraction, seed)

    model_table = doc["model"]
    layers = []
    for i, spec in enumerate(model_table["layers"]):
        if not isinstance(spec, dict):
            raise config.error(("model", "layers", str(i)), "each layer must be a table")
        layers.append(_component(config, "layers", spec, ("model", "layers", str(i))))
    cost = _component(config, "costs", model_table["cost"], ("model", "cost"))
    optimizer = _component(
        config, "optimizers", model_table.get("optimizer", "sgd"), ("model", "optimizer")
    )
    metrics = (
        [
            {"name": m["type"], "config": {k: v for k, v in m.items() if k != "type"}}
            if isinstance(m, dict) and isinstance(m.get("type"), str)
            else m
            for m in model_table.get("metrics", ()) or ()
        ]
        if "metrics" in model_table
        else None
    )
    try:
        model = Model(layers, cost, optimizer, dtype=model_table.get("dtype"), metrics=metrics)
    except ScratchnetError as exc:
        raise config.error(("model",), str(exc)) from None
    sample = _sample_shape(X)
    try:  # shapes through every layer and container, before any training
        if sample:
            model.output_shape(sample)
    except ShapeError as exc:
        where: tuple[str, ...] = ("model",)
        if exc.index is not None:
            where = _nested_where(
                model_table["layers"][exc.index],
                ("model", "layers", str(exc.index)),
                getattr(exc, "scratchnet_labels", ()),
            )
        raise config.error(where, f"for data of shape {sample}: {exc}") from None

    out = doc.get("output", {})
    if not getattr(parallel, "is_main_process", True):
        out = {}  # another process of this distributed run writes the outputs
    base = Path(output_dir) if output_dir is not None else config.path.parent
    targets = {  # every output location is checked (folders created) before training
        key: output_path(f"output.{key}", base / value) for key, value in out.items()
    }

    fit = dict(doc.get("fit", {}))
    if verbose is not None:
        fit["verbose"] = verbose
    callbacks = [parallel] if parallel is not None else []
    history = model.fit(X, Y, seed=seed, callbacks=callbacks, **fit)
    test_metrics = model.evaluate(X_test, Y_test) if X_test is not None else None

    files: dict[str, str] = {}
    notes: list[str] = []
    if not model.is_main_process:  # the callback cleared it while training
        targets = {}
    if "model" in targets:
        files["model"] = str(targets["model"])
        model.save(files["model"])
    if "history" in targets:
        files["history"] = str(targets["history"])
        history.to_csv(files["history"])
    if "plot" in targets:
        try:
            history.plot(targets["plot"])
            files["plot"] = str(targets["plot"])
        except OptionalDependencyError as exc:
            notes.append(f"no plot: {exc}")
    return RunResult(model, history, test_metrics, files, notes)
