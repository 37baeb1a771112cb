"""The installed convolution backends, by registry name (``fft``, ``direct``, ``auto``).

Names resolve case-insensitively in the ``scratchnet.conv_backends`` registry when first asked for
(see `scratchnet_core.registry.get_registry`).
"""

from __future__ import annotations

from ._family import family

__getattr__, __dir__ = family("conv_backends")
