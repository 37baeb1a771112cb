"""Numerical conventions shared by every component.

Layers follow IEEE 754 as PyTorch does: a result too large for the dtype is ``inf``,
silently. Costs then return an infinite loss and `Model.fit` stops with
`TrainingDivergedError`: one clear error instead of a stream
of NumPy warnings. Where a stable formula exists (softmax, sigmoid, the cross-entropies, the
norms) components use it, and the answer is exact rather than ``inf``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ieee"]

ieee = np.errstate(over="ignore", invalid="ignore", divide="ignore")
"""Decorator (re-entrant) running a function with floating-point warnings off.

>>> import numpy as np
>>> from scratchnet_core.numerics import ieee
>>> @ieee
... def square(x):
...     return x * x
>>> square(np.array([1e200]))
array([inf])
"""
