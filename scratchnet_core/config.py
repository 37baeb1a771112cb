"""Config-driven runs: ``scratchnet train CONFIG.toml``.

A config names every component by its registry name; constructor arguments sit beside it::

    seed = 0

    [data]
    source = "xor"          # xor | spirals | digits | npz
    samples = 500
    test_fraction = 0.2

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

A wrong key or a wrong type is a `ConfigurationError` naming
the file, the line and the key. Paths are relative to the config file: ``data.path`` (for
``source = "npz"``) and the ``[output]`` paths, which ``output_dir`` (``--output-dir``)
re-roots instead. Every output folder is created, and checked writable, before training
starts.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import data as datasets
from ._random import seed as seed_rng
from .checks import output_path
from .components import check_options
from .errors import ConfigurationError, OptionalDependencyError, ScratchnetError, ShapeError
from .interfaces import Array
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
    },
    ("data",): {
        "source": (str, "one of 'xor', 'spirals', 'digits', 'npz'"),
        "samples": (int, "an integer"),
        "classes": (int, "an integer"),
        "noise": (_NUMBER, "a number"),
        "path": (str, "a path"),
        "test_fraction": (_NUMBER, "a number in [0, 1)"),
        "shape": (list, "a list of integers"),
    },
    ("model",): {
        "cost": ((str, dict), "a registry name or a table"),
        "dtype": (str, "'float32' or 'float64'"),
        "layers": (list, "an array of tables ([[model.layers]])"),
        "optimizer": ((str, dict), "a registry name or a table"),
    },
    ("fit",): {
        "epochs": (int, "an integer"),
        "batch_size": (int, "an integer"),
        "validation_split": (_NUMBER, "a number in [0, 1)"),
        "shuffle": (bool, "true or false"),
        "verbose": (int, "0, 1 or 2"),
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
    >>> lines = ["[data]", 'source = "xor"', 'samples = "many"', "[model]", 'cost = "mse"']
    >>> lines += ["layers = []"]
    >>> with open(path, "w") as f:
    ...     _ = f.write(os.linesep.join(lines))
    >>> load_config(path)
    Traceback (most recent call last):
    ...
    scratchnet_core.errors.ConfigurationError: ...bad.toml:3: data.samples: must be an integer...
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


def _component(config: _Config, kind: str, spec: Any, where: tuple[str, ...]) -> Any:
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
            (*where, "type") if not isinstance(spec, str) else where, str(exc)
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


def _load_data(config: _Config, table: Mapping[str, Any], seed: int) -> tuple[Array, Array]:
    source = table["source"]
    rng = np.random.default_rng(seed)
    where = ("data",)
    try:
        if source == "xor":
            X, Y = datasets.xor(table.get("samples", 500), rng=rng)
        elif source == "spirals":
            X, Y = datasets.spirals(
                table.get("samples", 600), table.get("classes", 3), table.get("noise", 0.2), rng=rng
            )
        elif source == "digits":
            X, Y = datasets.digits()
        elif source == "npz":
            if "path" not in table:
                raise config.error(where, "source = 'npz' needs path = \"<file.npz>\"")
            X, Y = datasets.load_npz(str(config.path.parent / table["path"]))
        else:
            raise config.error(
                (*where, "source"),
                f"must be one of 'xor', 'spirals', 'digits', 'npz', got {source!r}",
            )
    except OptionalDependencyError as exc:
        raise config.error((*where, "source"), str(exc)) from None
    if "shape" in table:
        shape = table["shape"]
        if not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape):
            raise config.error((*where, "shape"), f"must be positive integers, got {shape}")
        try:
            X = X.reshape(X.shape[0], *shape)
        except ValueError:
            raise config.error(
                (*where, "shape"), f"cannot reshape samples of shape {X.shape[1:]} to {shape}"
            ) from None
    return X, Y


def run_config(
    path: str | Path, output_dir: str | Path | None = None, verbose: int | None = None
) -> RunResult:
    """Build, train and save as ``path`` says; returns what was made.

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
    seed = doc.get("seed", 0)
    seed_rng(seed)
    X, Y = _load_data(config, doc["data"], seed)

    test_fraction = float(doc["data"].get("test_fraction", 0.0))
    if not 0 <= test_fraction < 1:
        raise config.error(("data", "test_fraction"), f"must be in [0, 1), got {test_fraction}")
    X_test = Y_test = None
    if test_fraction:
        order = np.random.default_rng(seed).permutation(X.shape[0])
        cut = X.shape[0] - max(1, round(X.shape[0] * test_fraction))
        X, Y, X_test, Y_test = X[order[:cut]], Y[order[:cut]], X[order[cut:]], Y[order[cut:]]

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
    try:
        model = Model(layers, cost, optimizer, dtype=model_table.get("dtype"))
    except ScratchnetError as exc:
        raise config.error(("model",), str(exc)) from None
    sample = tuple(getattr(X, "shape", ())[1:])  # one sample's shape, when X has one
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
    base = Path(output_dir) if output_dir is not None else config.path.parent
    targets = {  # every output location is checked (folders created) before training
        key: output_path(f"output.{key}", base / value) for key, value in out.items()
    }

    fit = dict(doc.get("fit", {}))
    if verbose is not None:
        fit["verbose"] = verbose
    history = model.fit(X, Y, seed=seed, **fit)
    test_metrics = (
        model.evaluate(X_test, Y_test) if X_test is not None and Y_test is not None else None
    )

    files: dict[str, str] = {}
    notes: list[str] = []
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
