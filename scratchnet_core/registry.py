"""Plugin discovery and the per-kind registries.

Discovery is a pipeline of small functions over frozen records, so each step can be tested
without installing anything::

    distributions --find_plugins--> [PluginRecord] --hide_disabled--> --build_registries-->
    {kind: Registry}

Entry points are read once per process, on the first look-up (not at import), and a plugin's
module is imported the first time one of its components is asked for. `refresh` reads
them again (after a ``pip install`` in a running notebook).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple, TypeVar

from .errors import (
    ConfigurationError,
    InterfaceError,
    PluginConflictError,
    PluginLoadError,
    PluginNotFoundError,
)
from .interfaces import (
    ActivationFunction,
    ConvBackend,
    CostFunction,
    Layer,
    Metric,
    Optimizer,
)

if TYPE_CHECKING:
    from importlib_metadata import EntryPoint

__all__ = [
    "DISABLE_ENV",
    "GROUP_PREFIX",
    "KINDS",
    "PluginRecord",
    "Registry",
    "build_registries",
    "find_plugins",
    "get_registry",
    "hide_disabled",
    "refresh",
    "register",
    "unmatched_disabled",
    "unmatched_disabled_entries",
]

GROUP_PREFIX: Final = "scratchnet."
DISABLE_ENV: Final = "SCRATCHNET_DISABLE_PLUGINS"
RUNTIME: Final = "<runtime>"

KINDS: Final[dict[str, type | None]] = {
    "activations": ActivationFunction,
    "costs": CostFunction,
    "layers": Layer,
    "optimizers": Optimizer,
    "conv_backends": ConvBackend,
    "initializers": None,  # any callable
    "hooks": None,  # a module, object or class carrying pluggy hook implementations
    "metrics": Metric,
    "datasets": None,  # a callable: keyword options -> (X, Y) arrays or a dataset object
    "onnx_converters": None,  # an ONNX converter for the component of the same name
    "distributed": None,  # a callable: keyword options -> a training callback (hook object)
    "commands": None,  # a command-line subcommand contributed by a distribution
}

_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
T = TypeVar("T")


class PluginRecord(NamedTuple):
    """One entry point, as found: nothing imported yet.

    >>> from scratchnet_core.registry import PluginRecord
    >>> value = "scratchnet_std.layers.dense:Linear"
    >>> PluginRecord("layers", "linear", value, "scratchnet-std", "0.1.0").name
    'linear'
    """

    kind: str
    name: str
    value: str
    distribution: str
    version: str
    entry_point: EntryPoint | None = None


def normalize_name(name: str) -> str:
    """Registry names compare case-insensitively."""
    return name.strip().lower()


def normalize_distribution(name: str) -> str:
    """PEP 503 normalisation: ``Scratchnet_Std`` and ``scratchnet-std`` are one distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


# --------------------------------------------------------------------------- the pipeline


def find_plugins(distributions: Iterable[Any]) -> list[PluginRecord]:
    """Every ``scratchnet.*`` entry point of ``distributions``, in the order found.

    ``distributions`` are ``importlib_metadata.Distribution`` objects (or anything with
    their ``metadata``, ``version`` and ``entry_points``).

    A distribution seen twice (the same name earlier on ``sys.path``) counts once, as
    ``import`` would resolve it.

    >>> import importlib_metadata
    >>> from scratchnet_core.registry import find_plugins
    >>> records = find_plugins(importlib_metadata.distributions())
    >>> any(r.kind == "activations" and r.name == "relu" for r in records)
    True
    """
    seen: set[str] = set()
    records: list[PluginRecord] = []
    for dist in distributions:
        dist_name = dist.metadata["Name"] or "unknown"
        key = normalize_distribution(dist_name)
        if key in seen:
            continue
        seen.add(key)
        for ep in dist.entry_points:
            if not ep.group.startswith(GROUP_PREFIX):
                continue
            kind = ep.group[len(GROUP_PREFIX) :]
            if kind not in KINDS:
                continue
            records.append(
                PluginRecord(kind, normalize_name(ep.name), ep.value, dist_name, dist.version, ep)
            )
    return records


def parse_disabled(spec: str | None) -> frozenset[str]:
    """``"a, B,scratchnet-extras"`` -> normalised names and distributions."""
    if not spec:
        return frozenset()
    return frozenset(normalize_name(part) for part in spec.split(",") if part.strip())


def _is_disabled(record: PluginRecord, disabled: frozenset[str]) -> bool:
    return (
        record.name in disabled
        or normalize_distribution(record.distribution)
        in {normalize_distribution(d) for d in disabled}
        or f"{record.kind}:{record.name}" in disabled
    )


def hide_disabled(
    records: Iterable[PluginRecord], disabled: frozenset[str]
) -> tuple[list[PluginRecord], list[PluginRecord]]:
    """Split records into (kept, hidden) by name, ``kind:name`` or distribution.

    >>> from scratchnet_core.registry import PluginRecord, hide_disabled
    >>> records = [
    ...     PluginRecord("layers", "a", "m:A", "dist-one", "1"),
    ...     PluginRecord("layers", "b", "m:B", "dist-two", "1"),
    ... ]
    >>> kept, hidden = hide_disabled(records, frozenset({"dist-two"}))
    >>> [r.name for r in kept], [r.name for r in hidden]
    (['a'], ['b'])
    """
    kept: list[PluginRecord] = []
    hidden: list[PluginRecord] = []
    for record in records:
        (hidden if _is_disabled(record, disabled) else kept).append(record)
    return kept, hidden


def unmatched_disabled(records: Iterable[PluginRecord], disabled: frozenset[str]) -> list[str]:
    """Entries of ``disabled`` that hide no record (a typo, or a plugin not installed).

    >>> from scratchnet_core.registry import PluginRecord, unmatched_disabled
    >>> records = [PluginRecord("layers", "a", "m:A", "dist-one", "1")]
    >>> unmatched_disabled(records, frozenset({"a", "dist-twoo", "layers:b"}))
    ['dist-twoo', 'layers:b']
    """
    records = list(records)
    return sorted(
        entry
        for entry in disabled
        if not any(_is_disabled(record, frozenset({entry})) for record in records)
    )


def build_registries(
    records: Iterable[PluginRecord], hidden: Iterable[PluginRecord] = ()
) -> dict[str, Registry]:
    """One `Registry` per kind.

    >>> from scratchnet_core.registry import build_registries
    >>> registries = build_registries([])
    >>> sorted(registries)[:3], len(registries["layers"])
    (['activations', 'commands', 'conv_backends'], 0)
    """
    by_kind: dict[str, list[PluginRecord]] = {kind: [] for kind in KINDS}
    hidden_by_kind: dict[str, list[PluginRecord]] = {kind: [] for kind in KINDS}
    for record in records:
        by_kind[record.kind].append(record)
    for record in hidden:
        hidden_by_kind[record.kind].append(record)
    return {kind: Registry(kind, by_kind[kind], hidden_by_kind[kind]) for kind in KINDS}


def interface_problems(kind: str, obj: object) -> list[str]:
    """Why ``obj`` cannot serve as a component of ``kind`` (empty when it can)."""
    base = KINDS[kind]
    if base is None:
        if kind in ("initializers", "datasets") and not callable(obj):
            return [f"{kind} entries must be callable, got {type(obj).__name__}"]
        return []
    if not isinstance(obj, type):
        return [f"expected a class deriving from {base.__name__}, got {type(obj).__name__}"]
    required = sorted(getattr(base, "__abstractmethods__", ()))
    missing = [m for m in required if not callable(getattr(obj, m, None))]
    if missing:
        return [f"{obj.__name__} does not implement {base.__name__}: missing {', '.join(missing)}"]
    if not issubclass(obj, base):
        return [f"{obj.__name__} must subclass scratchnet_core.{base.__name__}"]
    abstract = getattr(obj, "__abstractmethods__", None)
    if abstract:
        still = ", ".join(sorted(abstract))
        return [f"{obj.__name__} leaves abstract methods unimplemented: {still}"]
    return []


# --------------------------------------------------------------------------- registry


def split_qualified(key: str) -> tuple[str | None, str]:
    """``"dist:name"`` -> ``("dist", "name")``; ``"name"`` -> ``(None, "name")``."""
    if not isinstance(key, str):
        raise ConfigurationError(f"component names are strings, got {type(key).__name__}")
    if ":" not in key:
        return None, normalize_name(key)
    dist, _, name = key.partition(":")
    if not dist.strip() or not name.strip() or ":" in name:
        raise ConfigurationError(
            f"malformed qualified name {key!r}: expected 'distribution:name', "
            "such as 'scratchnet-std:relu'"
        )
    return dist.strip(), normalize_name(name)


class Registry(Mapping[str, Any]):
    """The components of one kind, by case-insensitive name; loads each on first use.

    A read-only `Mapping`: listing names (``list(reg)``, ``"x" in
    reg``, ``len(reg)``) imports nothing; ``reg[name]`` imports the plugin's module. Keys may
    be qualified, ``"distribution:name"``, to pick one of two distributions offering a name.

    Examples
    --------
    >>> from scratchnet_core.registry import PluginRecord, Registry
    >>> reg = Registry("layers", [PluginRecord("layers", "thing", "pkg:Thing", "pkg", "1.0")])
    >>> list(reg), "THING" in reg, reg.get("other") is None
    (['thing'], True, True)
    """

    def __init__(
        self,
        kind: str,
        records: Iterable[PluginRecord] = (),
        hidden: Iterable[PluginRecord] = (),
    ) -> None:
        self.kind = kind
        self._by_name: dict[str, list[PluginRecord]] = {}
        for record in records:
            self._by_name.setdefault(record.name, []).append(record)
        self._hidden = {record.name: record for record in hidden}
        self._runtime: dict[str, Any] = {}
        self._loaded: dict[PluginRecord, Any] = {}
        self._failed: dict[PluginRecord, str] = {}

    # Mapping -----------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        dist, name = split_qualified(key)
        if dist is None and name in self._runtime:
            return self._runtime[name]
        records = self._by_name.get(name, [])
        if dist is not None:
            records = [
                r
                for r in records
                if normalize_distribution(r.distribution) == normalize_distribution(dist)
            ]
        if not records:
            raise self._not_found(key, name, dist)
        if len({r.value for r in records}) > 1:
            raise PluginConflictError(self.kind, name, [r.distribution for r in records])
        return self._load(records[0])

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(set(self._by_name) | set(self._runtime)))

    def __len__(self) -> int:
        return len(set(self._by_name) | set(self._runtime))

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        try:
            dist, name = split_qualified(key)
        except ConfigurationError:
            return False
        if dist is None:
            return name in self._runtime or name in self._by_name
        return any(
            normalize_distribution(r.distribution) == normalize_distribution(dist)
            for r in self._by_name.get(name, [])
        )

    def __repr__(self) -> str:
        return f"<Registry {self.kind}: {', '.join(self)}>"

    # look-ups beyond Mapping ---------------------------------------------------------
    def records(self) -> list[PluginRecord]:
        """Every entry-point record of this kind (runtime registrations excluded)."""
        return [r for rs in self._by_name.values() for r in rs]

    def state(self, record: PluginRecord) -> str:
        """``"loaded"``, ``"not loaded"`` or ``"failed: <cause>"``; when another distribution
        offers the same name, followed by ``"; conflict: ..."`` with the qualified names."""
        if record in self._loaded:
            state = "loaded"
        elif record in self._failed:
            state = f"failed: {self._failed[record]}"
        else:
            state = "not loaded"
        rivals = self.conflicting(record.name)
        if rivals:
            choices = " or ".join(f"'{d}:{record.name}'" for d in rivals)
            state += f"; conflict: {len(rivals)} distributions offer {record.name!r}, use {choices}"
        return state

    def conflicting(self, name: str) -> list[str]:
        """The distributions that offer ``name`` when more than one does (else empty)."""
        records = self._by_name.get(normalize_name(name), [])
        if len({r.value for r in records}) < 2:
            return []
        return [r.distribution for r in records]

    def runtime_names(self) -> list[str]:
        """Names registered in this process with `register`."""
        return sorted(self._runtime)

    def name_of(self, obj: object) -> str | None:
        """The registry name under which ``obj`` is found.

        Of several aliases the most descriptive (longest, then alphabetical) is chosen:
        ``binary_cross_entropy`` rather than ``bce``, ``linear`` rather than ``dense``.
        """
        for name, registered in self._runtime.items():
            if registered is obj:
                return name
        value = f"{getattr(obj, '__module__', None)}:{getattr(obj, '__qualname__', None)}"
        names = [
            record.name
            for record in self.records()
            if self._loaded.get(record) is obj or record.value == value
        ]
        return min(names, key=lambda n: (-len(n), n)) if names else None

    def origin(self, name: str) -> tuple[str, str]:
        """``(distribution, version)`` that provides ``name`` (``"<runtime>"`` for both if
        registered in this process)."""
        dist, bare = split_qualified(name)
        if dist is None and bare in self._runtime:
            return RUNTIME, RUNTIME
        records = self._by_name.get(bare, [])
        if not records:
            raise self._not_found(name, bare, dist)
        if dist is not None:
            records = [
                r
                for r in records
                if normalize_distribution(r.distribution) == normalize_distribution(dist)
            ] or records
        return records[0].distribution, records[0].version

    # registration ----------------------------------------------------------------------
    def add(self, name: str, obj: Any, *, override: bool = False) -> None:
        """Register ``obj`` as ``name`` for this process (see `register`)."""
        key = normalize_name(name)
        if not _NAME_RE.match(key):
            raise ConfigurationError(
                f"register: name {name!r} is not a valid registry name "
                "(lower snake_case: letters, digits and '_', not starting with a digit)"
            )
        problems = interface_problems(self.kind, obj)
        if problems:
            raise InterfaceError(f"cannot register {key!r} as {self.kind}: {problems[0]}")
        existing = self._runtime.get(key)
        if existing is obj:
            return
        if not override:
            if existing is not None:
                raise ConfigurationError(
                    f"register: {self.kind} name {key!r} is already registered to "
                    f"{existing!r}; pass override=True to replace it"
                )
            if key in self._by_name:
                dists = ", ".join(sorted({r.distribution for r in self._by_name[key]}))
                raise ConfigurationError(
                    f"register: {self.kind} name {key!r} is already provided by {dists}; "
                    "pass override=True to shadow it in this process"
                )
        self._runtime[key] = obj

    def remove(self, name: str) -> None:
        """Forget a runtime registration (entry points stay)."""
        self._runtime.pop(normalize_name(name), None)

    # internals -------------------------------------------------------------------------
    def _load(self, record: PluginRecord) -> Any:
        if record in self._loaded:
            return self._loaded[record]
        if record in self._failed:
            raise PluginLoadError(
                self.kind, record.name, record.value, record.distribution, self._failed[record]
            )
        try:
            if record.entry_point is None:
                raise ImportError("record has no entry point to load")
            obj = record.entry_point.load()
        except Exception as exc:  # any failure of third-party code is reported, not raised raw
            cause = f"{type(exc).__name__}: {exc}"
            self._failed[record] = cause
            raise PluginLoadError(
                self.kind, record.name, record.value, record.distribution, cause
            ) from exc
        problems = interface_problems(self.kind, obj)
        if problems:
            self._failed[record] = problems[0]
            raise PluginLoadError(
                self.kind, record.name, record.value, record.distribution, problems[0]
            )
        self._loaded[record] = obj
        return obj

    def _not_found(self, key: str, name: str, dist: str | None) -> PluginNotFoundError:
        hint = None
        if name in self._hidden:
            hint = f"It is hidden by {DISABLE_ENV}={os.environ.get(DISABLE_ENV, '')!r}."
        elif dist is not None and name in self._by_name:
            offered = ", ".join(sorted({r.distribution for r in self._by_name[name]}))
            hint = f"{name!r} is offered by: {offered}."
        return PluginNotFoundError(self.kind, key, list(self), hint)


# --------------------------------------------------------------------------- process state

_REGISTRIES: dict[str, Registry] | None = None
_UNMATCHED: list[str] = []


def _scan() -> dict[str, Registry]:
    global _UNMATCHED
    import importlib_metadata  # deferred: reading metadata is not import-time work

    records = find_plugins(importlib_metadata.distributions())
    disabled = parse_disabled(os.environ.get(DISABLE_ENV))
    kept, hidden = hide_disabled(records, disabled)
    _UNMATCHED = unmatched_disabled(records, disabled)
    if _UNMATCHED:
        warnings.warn(
            f"{DISABLE_ENV}: {', '.join(repr(e) for e in _UNMATCHED)} "
            f"{'matches' if len(_UNMATCHED) == 1 else 'match'} no installed plugin name, "
            "kind:name or distribution, so nothing is hidden for "
            f"{'it' if len(_UNMATCHED) == 1 else 'them'}",
            UserWarning,
            stacklevel=4,
        )
    return build_registries(kept, hidden)


def unmatched_disabled_entries() -> list[str]:
    """Entries of ``SCRATCHNET_DISABLE_PLUGINS`` that hid nothing at the last scan (each was
    also reported with a `UserWarning`); ``scratchnet plugins`` lists them.

    >>> unmatched_disabled_entries()
    []
    """
    _registries()
    return list(_UNMATCHED)


def _registries() -> dict[str, Registry]:
    global _REGISTRIES
    if _REGISTRIES is None:
        _REGISTRIES = _scan()
    return _REGISTRIES


def get_registry(kind: str) -> Registry:
    """The registry of one kind: ``activations``, ``costs``, ``layers``, ``optimizers``,
    ``conv_backends``, ``initializers`` or ``hooks``.

    >>> import scratchnet_core as sn
    >>> sn.get_registry("layers")["dense"] is sn.get_registry("layers")["linear"]
    True
    """
    if kind not in KINDS:
        raise ConfigurationError(
            f"unknown component kind {kind!r}; expected one of {', '.join(KINDS)}"
        )
    return _registries()[kind]


def refresh() -> None:
    """Read the installed entry points again (after ``pip install`` in a running process).

    Runtime registrations are kept; ``SCRATCHNET_DISABLE_PLUGINS`` is read again.

    >>> import scratchnet_core as sn
    >>> sn.refresh()
    >>> "relu" in sn.get_activation_functions()
    True
    """
    global _REGISTRIES
    old = _REGISTRIES
    _REGISTRIES = _scan()
    if old is not None:
        for kind, registry in old.items():
            _REGISTRIES[kind]._runtime.update(registry._runtime)


def register(kind: str, name: str | None = None, *, override: bool = False) -> Callable[[T], T]:
    """Class (or function) decorator registering a component for this process.

    The object is checked against the kind's interface now; a missing method is an
    `InterfaceError` naming it.

    >>> import scratchnet_core as sn
    >>> @sn.register("activations", "doc_square")
    ... class Square(sn.ActivationFunction):
    ...     def forward(self, z):
    ...         self.z = z
    ...         return z * z
    ...     def backward(self, grad):
    ...         return 2 * self.z * grad
    >>> sn.get_activation_functions()["DOC_SQUARE"] is Square
    True
    """
    registry = get_registry(kind)

    def decorator(obj: T) -> T:
        default = getattr(obj, "__name__", None)
        chosen = name if name is not None else _snake_case(default or "")
        registry.add(chosen, obj, override=override)
        return obj

    return decorator


def _snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
