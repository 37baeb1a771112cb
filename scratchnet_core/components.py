"""Turning registry names and configs into component instances, and back.

A component *spec* is what configs and model files hold: a registry name (``"relu"``), or
``{"name": "leaky_relu", "config": {"negative_slope": 0.2}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import ConfigurationError, PluginNotFoundError
from .registry import KINDS, get_registry

__all__ = ["build_component", "component_spec"]


def build_component(kind: str, spec: Any, argument: str | None = None) -> Any:
    """An instance of a ``kind`` component from a name, spec dict, class or instance.

    >>> from scratchnet_core.components import build_component
    >>> build_component("activations", {"name": "leaky_relu", "config": {"negative_slope": 0.2}})
    LeakyReLU(negative_slope=0.2)
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
        cls = get_registry(kind)[spec["name"]]
        config = spec.get("config", {})
        if not isinstance(config, Mapping):
            raise ConfigurationError(f"{label}: 'config' must be a table, got {config!r}")
        return cls.from_config(config)
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
