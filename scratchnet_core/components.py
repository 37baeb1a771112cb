"""Turning registry names and configs into component instances, and back.

A component *spec* is what configs and model files hold: a registry name (``"relu"``), a
nested dict ``{"name": "leaky_relu", "config": {"negative_slope": 0.2}}`` or the flat form
that TOML tables use, ``{"name": "leaky_relu", "negative_slope": 0.2}``. A key that is not
an option of the component's constructor is a
`ConfigurationError` naming the options it takes, never
silently dropped.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import ConfigurationError, PluginNotFoundError
from .registry import KINDS, get_registry

__all__ = ["accepted_options", "build_component", "check_options", "component_spec"]


def accepted_options(cls: Any) -> tuple[list[str], bool]:
    """The keyword options ``cls(...)`` takes, and whether it takes any (``**kwargs``).

    >>> import scratchnet_core as sn
    >>> accepted_options(sn.get_activation_functions()["leaky_relu"])
    (['negative_slope'], False)
    """
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return [], True
    names = [
        p.name
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    any_keyword = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    return names, any_keyword


def check_options(owner: str, cls: Any, keys: Iterable[str]) -> None:
    """Raise `ConfigurationError` for the first of ``keys`` that ``cls`` does not take,
    naming ``owner`` (the component's registry name) and the options it accepts.

    >>> import scratchnet_core as sn
    >>> check_options("adam", sn.get_optimizers()["adam"], ["lr", "momentum"])
    Traceback (most recent call last):
    ...
    scratchnet_core.errors.ConfigurationError: adam: unknown option 'momentum'; it accepts lr, ...
    """
    names, any_keyword = accepted_options(cls)
    if any_keyword:
        return
    for key in keys:
        if key not in names:
            accepted = ", ".join(names) if names else "no options"
            raise ConfigurationError(f"{owner}: unknown option {key!r}; it accepts {accepted}")


def _options(label: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The constructor options of a spec dict, nested (``config``) or flat."""
    rest = {k: v for k, v in spec.items() if k != "name"}
    if "config" in rest and isinstance(rest["config"], Mapping):
        if len(rest) > 1:
            extra = ", ".join(repr(k) for k in rest if k != "config")
            raise ConfigurationError(
                f"{label}: a spec dict holds its options either in 'config' or beside 'name', "
                f"not both (got 'config' and {extra})"
            )
        return dict(rest["config"])
    return rest


def build_component(kind: str, spec: Any, argument: str | None = None) -> Any:
    """An instance of a ``kind`` component from a name, spec dict, class or instance.

    >>> from scratchnet_core.components import build_component
    >>> build_component("activations", {"name": "leaky_relu", "config": {"negative_slope": 0.2}})
    LeakyReLU(negative_slope=0.2)
    >>> build_component("optimizers", {"name": "adam", "lr": 0.1}).lr  # the flat form
    0.1
    """
    base = KINDS[kind]
    label = argument or kind
    if base is not None and isinstance(spec, base):
        return spec
    if isinstance(spec, str):
        return get_registry(kind)[spec]()
    if isinstance(spec, Mapping):
        if "name" not in spec:
            raise ConfigurationError(f"{label}: a spec dict needs a 'name' key, got {dict(spec)}")
        name = spec["name"]
        if not isinstance(name, str):
            raise ConfigurationError(f"{label}: 'name' must be a registry name, got {name!r}")
        if "config" in spec and not isinstance(spec["config"], Mapping):
            raise ConfigurationError(f"{label}: 'config' must be a table, got {spec['config']!r}")
        cls = get_registry(kind)[name]
        options = _options(label, spec)
        check_options(f"{label} {name!r}" if argument else name, cls, options)
        return cls.from_config(options)
    if base is not None and isinstance(spec, type) and issubclass(spec, base):
        return spec()
    expected = f"a registry name, a spec dict or a {base.__name__ if base else kind} instance"
    raise ConfigurationError(f"{label}: expected {expected}, got {spec!r}")


def component_spec(kind: str, obj: Any) -> dict[str, Any]:
    """The ``{"name": ..., "config": ...}`` spec that rebuilds ``obj``.

    >>> import scratchnet_core as sn
    >>> from scratchnet_core.components import component_spec
    >>> component_spec("activations", sn.get_activation_functions()["leaky_relu"](0.2))
    {'name': 'leaky_relu', 'config': {'negative_slope': 0.2}}
    """
    registry = get_registry(kind)
    name = registry.name_of(type(obj))
    if name is None:
        raise PluginNotFoundError(
            kind,
            type(obj).__name__,
            list(registry),
            hint="Register it with @scratchnet_core.register(...) so it can be named.",
        )
    return {"name": name, "config": obj.get_config()}
