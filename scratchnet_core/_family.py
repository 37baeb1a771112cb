"""Module-level ``__getattr__`` for the family modules (``scratchnet_core.layers`` ...)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import PluginNotFoundError, _PluginAttributeError
from .registry import get_registry


def family(kind: str) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` resolving attribute names in the ``kind`` registry."""

    def __getattr__(name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        registry = get_registry(kind)
        try:
            return registry[name]
        except PluginNotFoundError as exc:
            raise _PluginAttributeError(exc) from None

    def __dir__() -> list[str]:
        return list(get_registry(kind))

    return __getattr__, __dir__
