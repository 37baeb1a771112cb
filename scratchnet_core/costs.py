"""The installed costs, by registry name: ``from scratchnet_core.costs import <name>``.

Names resolve case-insensitively in the ``scratchnet.costs`` registry when first asked for
(see `scratchnet_core.registry.get_registry`).
"""

from __future__ import annotations

from ._family import family

__getattr__, __dir__ = family("costs")
