"""IEEE arithmetic without warnings, for the standard components' numeric code.

Layers follow IEEE 754 as PyTorch does: a result too large for the dtype is ``inf``,
silently. Costs then return an infinite loss and ``Model.fit`` stops with
``TrainingDivergedError``, one clear error instead of a stream of NumPy warnings. Where a
stable formula exists (softmax, sigmoid, the cross-entropies) the components use it and the
answer is exact, not ``inf``.
"""

from __future__ import annotations

import numpy as np

ieee = np.errstate(over="ignore", invalid="ignore", divide="ignore")
"""Decorator (re-entrant): run a function with floating-point warnings off."""
