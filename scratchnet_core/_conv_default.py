"""Which convolution backend layers use when they were not given one.

The choice, from the most specific: the innermost ``with conv_backend(name)`` block (per
thread and per asyncio task), then ``set_conv_backend(name)``, then the
``SCRATCHNET_CONV_BACKEND`` environment variable, then ``"auto"``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final

from .errors import PluginNotFoundError
from .registry import get_registry

__all__ = ["ENV_CONV_BACKEND", "conv_backend", "current_conv_backend", "set_conv_backend"]

ENV_CONV_BACKEND: Final = "SCRATCHNET_CONV_BACKEND"
_FALLBACK: Final = "auto"

_process_default: str | None = None
_scoped: ContextVar[str | None] = ContextVar("scratchnet_conv_backend", default=None)


def _checked(name: str, source: str) -> str:
    registry = get_registry("conv_backends")
    if name not in registry:
        raise PluginNotFoundError("conv_backends", name, list(registry), hint=f"(from {source})")
    return name


def set_conv_backend(name: str | None) -> None:
    """Set the process-wide default backend (``"fft"``, ``"direct"``, ``"auto"``, ...).

    ``None`` returns to the environment variable or ``"auto"``.

    >>> import scratchnet_core as sn
    >>> sn.set_conv_backend("direct"); sn.current_conv_backend()
    'direct'
    >>> sn.set_conv_backend(None)
    """
    global _process_default
    _process_default = None if name is None else _checked(name, "set_conv_backend")


@contextmanager
def conv_backend(name: str) -> Iterator[str]:
    """Use ``name`` as the default backend inside a ``with`` block.

    >>> import scratchnet_core as sn
    >>> with sn.conv_backend("fft"):
    ...     sn.current_conv_backend()
    'fft'
    """
    token = _scoped.set(_checked(name, "conv_backend"))
    try:
        yield name
    finally:
        _scoped.reset(token)


def current_conv_backend() -> str:
    """The backend name a layer without ``backend=`` uses right now.

    >>> import scratchnet_core as sn
    >>> with sn.conv_backend("direct"):
    ...     sn.current_conv_backend()
    'direct'
    """
    scoped = _scoped.get()
    if scoped is not None:
        return scoped
    if _process_default is not None:
        return _process_default
    env = os.environ.get(ENV_CONV_BACKEND, "").strip()
    if env:
        return _checked(env, f"environment variable {ENV_CONV_BACKEND}")
    return _FALLBACK
