"""Reusable scratch buffers for the convolution backends.

A backend that allocates its temporaries afresh on every call makes glibc give the memory
back at the end of each call (heap trim, or ``munmap`` of a large block) and fault it in
again on the next: thousands of page faults and up to twice the time per step in a process
that runs nothing else. A `Workspace` keeps the buffers from call to call instead.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from scratchnet_core.interfaces import Array

__all__ = ["Workspace", "fill_zero"]

# Views remembered at most (a few per geometry; beyond this the cache starts over).
_MAX_VIEWS = 256


class Workspace:
    """Flat buffers reused from call to call, one per named slot.

    `get` hands out a view of the slot's buffer with the shape and dtype asked for; a slot
    grows (a new buffer) only when asked for more bytes than it holds, so that its size is
    the largest request since the last `clear`, never a sum over the shapes seen. Callers
    must not hand a view out of the backend, nor use two views of one slot at once. The views
    handed out are remembered per ``(slot, shape, dtype)`` (a small convolution makes a
    handful of requests and runs in 100 us: making each view anew cost 5% of its time) until
    a slot grows or `clear` is called.

    Examples
    --------
    >>> ws = Workspace()
    >>> a = ws.get("spectrum", (4, 8), np.complex64)
    >>> b = ws.get("spectrum", (2, 8), np.float32)  # same memory, smaller view
    >>> np.shares_memory(a, b), ws.nbytes, ws.allocations
    (True, 256, 1)
    >>> ws.clear(); ws.nbytes
    0
    """

    def __init__(self) -> None:
        self._slots: dict[str, Array] = {}
        self._views: dict[tuple[str, tuple[int, ...], Any], Array] = {}
        #: Buffers allocated since creation (a reused workspace stops counting up).
        self.allocations = 0

    def get(self, slot: str, shape: tuple[int, ...], dtype: Any) -> Array:
        """A C-contiguous ``shape`` array of ``dtype`` on the slot's buffer (contents
        undefined)."""
        key = (slot, shape, dtype)
        view = self._views.get(key)
        if view is not None:
            return view
        dt = np.dtype(dtype)
        need = math.prod(shape) * dt.itemsize
        buf = self._slots.get(slot)
        if buf is None or buf.nbytes < need:
            self._views = {}  # views of the old buffer would keep it alive
            buf = self._slots[slot] = np.empty(need, np.uint8)
            self.allocations += 1
        elif len(self._views) >= _MAX_VIEWS:
            self._views = {}
        made: Array = buf[:need].view(dt).reshape(shape)
        self._views[key] = made
        return made

    def zeros(self, slot: str, shape: tuple[int, ...], dtype: Any) -> Array:
        """`get`, filled with zeros (by bytes: ``memset``, twice as fast as ``fill(0)`` on
        floats).

        >>> Workspace().zeros("grad", (2, 3), np.float32)
        array([[0., 0., 0.],
               [0., 0., 0.]], dtype=float32)
        """
        view = self.get(slot, shape, dtype)
        fill_zero(view)
        return view

    @property
    def nbytes(self) -> int:
        """Bytes held by all slots."""
        return sum(buf.nbytes for buf in self._slots.values())

    def clear(self) -> None:
        """Release every buffer."""
        self._slots = {}
        self._views = {}

    def shares_memory(self, a: Array) -> bool:
        """Whether ``a`` lies (partly) in one of the slots' buffers: an array a backend
        returns must not.

        >>> ws = Workspace()
        >>> view = ws.get("cols", (3,), np.float64)
        >>> ws.shares_memory(view), ws.shares_memory(view.copy())
        (True, False)
        """
        return any(np.shares_memory(a, buf) for buf in self._slots.values())


def fill_zero(a: Array) -> None:
    """Zero the C-contiguous ``a`` in place, byte by byte (``memset``).

    >>> a = np.ones(3, np.float32); fill_zero(a); a
    array([0., 0., 0.], dtype=float32)
    """
    a.reshape(-1).view(np.uint8).fill(0)
