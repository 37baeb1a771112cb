"""scratchnet-numba: a compiled convolution backend, registered as ``numba``.

Installing the distribution is the whole set-up: the backend appears in
``scratchnet.conv_backends``, ``auto`` considers it for every convolution, and a layer can
ask for it by name (``convolutional_2d(..., backend="numba")``). Importing this package
imports nothing heavy; the backend module (numba, SciPy's BLAS) loads on first use.

>>> import scratchnet_core as sn
>>> "numba" in sn.get_conv_backends()
True
"""

from __future__ import annotations

__all__: list[str] = []
