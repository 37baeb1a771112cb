"""The installed optimizers, by registry name: ``from scratchnet_core.optimizers import <name>``.

Names resolve case-insensitively in the ``scratchnet.optimizers`` registry when first asked for
(see `scratchnet_core.registry.get_registry`).
"""

from __future__ import annotations

from ._family import family

__getattr__, __dir__ = family("optimizers")
