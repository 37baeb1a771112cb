"""Builds the plugin manager that a ``fit`` call fires its training events through."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import pluggy

from . import hookspecs
from .errors import ConfigurationError, PluginLoadError
from .registry import get_registry

__all__ = ["make_plugin_manager"]

log = logging.getLogger(__name__)


def make_plugin_manager(callbacks: Iterable[object] = ()) -> pluggy.PluginManager:
    """A fresh manager with every ``scratchnet.hooks`` plugin and ``callbacks`` registered.

    A hook plugin that fails to load is logged and left out, so one broken plugin does not
    stop training; a callback whose hooks do not match the specifications is a
    `ConfigurationError`.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    registry = get_registry("hooks")
    seen: set[int] = set()
    for name in registry:
        try:
            obj = registry[name]
        except PluginLoadError as exc:
            log.warning("hook plugin left out: %s", exc)
            continue
        if id(obj) in seen:  # an alias of a plugin already registered
            continue
        seen.add(id(obj))
        pm.register(obj() if isinstance(obj, type) else obj, name=f"scratchnet.hooks:{name}")
    for callback in callbacks:
        try:
            pm.register(callback)
        except (pluggy.PluginValidationError, ValueError) as exc:
            raise ConfigurationError(f"callbacks: {callback!r} is not usable: {exc}") from exc
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise ConfigurationError(f"callbacks: {exc}") from exc
    return pm
