"""Slow, obvious loop-based references for convolution and pooling, kept for the tests.

Every value is computed one output position at a time from the definitions; nothing is
vectorised beyond the sum over one receptive field.
"""

from __future__ import annotations

import itertools

import numpy as np


def _pad(x: np.ndarray, padding: tuple[int, ...], value: float = 0.0) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), *((p, p) for p in padding)), constant_values=value)


def _field(
    out_pos: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
) -> tuple[slice, ...]:
    """The receptive field of one output position in the padded input."""
    return tuple(
        slice(o * s, o * s + d * (k - 1) + 1, d)
        for o, k, s, d in zip(out_pos, kernel, stride, dilation, strict=True)
    )


def _out_shape(padded, kernel, stride, dilation):
    return tuple(
        (p - d * (k - 1) - 1) // s + 1
        for p, k, s, d in zip(padded, kernel, stride, dilation, strict=True)
    )


def conv_forward(x, w, stride, padding, dilation):
    """y[n, o, i...] = sum_{c, j...} xpad[n, c, i*s + j*d] * w[o, c, j]."""
    xp = _pad(x, padding)
    kernel = w.shape[2:]
    out = _out_shape(xp.shape[2:], kernel, stride, dilation)
    y = np.zeros((x.shape[0], w.shape[0], *out))
    for n, o in itertools.product(range(x.shape[0]), range(w.shape[0])):
        for pos in itertools.product(*(range(s) for s in out)):
            field = xp[(n, slice(None), *_field(pos, kernel, stride, dilation))]
            y[(n, o, *pos)] = np.sum(field * w[o])
    return y


def conv_backward(grad_y, x, w, stride, padding, dilation):
    """Each output's gradient flows back to its receptive field and to the weight."""
    xp = _pad(x, padding)
    kernel = w.shape[2:]
    grad_xp = np.zeros_like(xp, dtype=np.float64)
    grad_w = np.zeros_like(w, dtype=np.float64)
    for n, o in itertools.product(range(x.shape[0]), range(w.shape[0])):
        for pos in itertools.product(*(range(s) for s in grad_y.shape[2:])):
            field = (n, slice(None), *_field(pos, kernel, stride, dilation))
            g = grad_y[(n, o, *pos)]
            grad_w[o] += g * xp[field]
            grad_xp[field] += g * w[o]
    inner = tuple(slice(p, p + s) for p, s in zip(padding, x.shape[2:], strict=True))
    return grad_xp[(slice(None), slice(None), *inner)], grad_w


def pool_forward(x, kernel, stride, padding, mode):
    """Max (padding -inf) or mean (padding counted as zeros) of each window."""
    xp = _pad(x, padding, -np.inf if mode == "max" else 0.0)
    out = _out_shape(xp.shape[2:], kernel, stride, (1,) * len(kernel))
    y = np.zeros((*x.shape[:2], *out))
    for n, c in itertools.product(range(x.shape[0]), range(x.shape[1])):
        for pos in itertools.product(*(range(s) for s in out)):
            window = xp[(n, c, *_field(pos, kernel, stride, (1,) * len(kernel)))]
            y[(n, c, *pos)] = window.max() if mode == "max" else window.mean()
    return y


def pool_backward(grad_y, x, kernel, stride, padding, mode):
    """Max: all to the first maximum of the window; mean: shared equally."""
    xp = _pad(x, padding, -np.inf if mode == "max" else 0.0)
    grad_xp = np.zeros(xp.shape)
    for n, c in itertools.product(range(x.shape[0]), range(x.shape[1])):
        for pos in itertools.product(*(range(s) for s in grad_y.shape[2:])):
            field = _field(pos, kernel, stride, (1,) * len(kernel))
            g = grad_y[(n, c, *pos)]
            window = xp[(n, c, *field)]
            if mode == "max":
                first = np.unravel_index(np.argmax(window), window.shape)
                index = tuple(f.start + i for f, i in zip(field, first, strict=True))
                grad_xp[(n, c, *index)] += g
            else:
                grad_xp[(n, c, *field)] += g / window.size
    inner = tuple(slice(p, p + s) for p, s in zip(padding, x.shape[2:], strict=True))
    return grad_xp[(slice(None), slice(None), *inner)]
