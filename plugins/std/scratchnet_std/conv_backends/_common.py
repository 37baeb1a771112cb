"""Shapes, checks and padding shared by the convolution backends."""

from __future__ import annotations

import numpy as np

from scratchnet_core.conv_geometry import MAX_SPATIAL_DIMS, ConvGeometry, geometry
from scratchnet_core.interfaces import Array

__all__ = ["MAX_SPATIAL_DIMS", "ConvGeometry", "geometry", "pad", "unpad"]


def pad(x: Array, padding: tuple[int, ...]) -> Array:
    """Zero-pad the spatial axes of ``x: (N, C, *spatial)`` on both sides."""
    if not any(padding):
        return x
    return np.pad(x, ((0, 0), (0, 0), *((p, p) for p in padding)))


def unpad(xp: Array, padding: tuple[int, ...]) -> Array:
    """Inverse of :func:`pad` (a view)."""
    if not any(padding):
        return xp
    return xp[
        (
            slice(None),
            slice(None),
            *(slice(p, s - p) for p, s in zip(padding, xp.shape[2:], strict=True)),
        )
    ]
