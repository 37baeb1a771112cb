"""Checks shared by the backends that keep a `Workspace` (``direct``, ``fft``)."""

from __future__ import annotations

import numpy as np


def step(backend, x, w, g, conv):
    """``(y, dL/dx, dL/dw)`` of one forward + backward."""
    return (backend.forward(x, w, *conv), *backend.backward(g, x, w, *conv))


def check_reuse_and_release(backend, x, w, g, conv) -> None:
    """The workspace is reused by later steps (no new buffers, also for a smaller batch),
    never shared with the arrays handed out, and released by ``clear_cache()``; after the
    release the same inputs give the same results and the same workspace size."""
    first = step(backend, x, w, g, conv)
    held, allocations = backend.workspace.nbytes, backend.workspace.allocations
    assert held > 0
    # the arrays handed out are the caller's: later steps (other inputs) leave them alone
    kept = [a.copy() for a in first]
    for _ in range(3):
        step(backend, 2 * x, w, g, conv)
    assert (backend.workspace.nbytes, backend.workspace.allocations) == (held, allocations)
    for a, b in zip(first, kept, strict=True):
        np.testing.assert_array_equal(a, b)
    # a smaller batch fits in the buffers already there
    step(backend, x[:2], w, g[:2], conv)
    assert backend.workspace.allocations == allocations
    backend.clear_cache()
    assert backend.workspace.nbytes == 0
    for a, b in zip(step(backend, x, w, g, conv), first, strict=True):
        np.testing.assert_array_equal(a, b)
    assert backend.workspace.nbytes == held


def check_bounded_by_the_largest_shape(make_backend) -> None:
    """After many smaller shapes the workspace holds what the largest one needs, never a
    sum over the shapes seen."""
    rng = np.random.default_rng(2)
    w = rng.standard_normal((4, 2, 3, 3))
    conv = ((1, 1), (1, 1), (1, 1))
    largest = make_backend()
    x = rng.standard_normal((3, 2, 20, 20))
    step(largest, x, w, rng.standard_normal((3, 4, 20, 20)), conv)
    backend = make_backend()
    step(backend, x, w, rng.standard_normal((3, 4, 20, 20)), conv)
    for size in range(4, 20):
        xs = rng.standard_normal((3, 2, size, size))
        step(backend, xs, w, rng.standard_normal((3, 4, size, size)), conv)
    assert backend.workspace.nbytes == largest.workspace.nbytes
