"""Max and average pooling (1-, 2-, 3-d) and global average pooling, with PyTorch's defaults.

Max pooling pads with -inf; average pooling counts padded zeros in its mean
(``count_include_pad=True``); outputs round down (``ceil_mode=False``); ``stride`` defaults
to the kernel size. Forward and backward loop over kernel taps, never over the batch.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.typing import DTypeLike

from scratchnet_core import ConfigurationError, Layer, ShapeError
from scratchnet_core.checks import int_tuple
from scratchnet_core.interfaces import Array
from scratchnet_core.numerics import ieee

__all__ = [
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "GlobalAvgPool",
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
]

_LAYOUTS = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}


class _PoolNd(Layer):
    dims: ClassVar[int]
    registry_name: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "dims" in cls.__dict__:
            shape = [2, *(5,) * cls.dims]
            cls.conformance = {
                "args": [2, 2, 1],
                "input_shape": shape,
                "bad_input_shape": [2] * (cls.dims + 2),
            }

    def __init__(
        self,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] | None = None,
        padding: int | Sequence[int] = 0,
        *,
        dtype: DTypeLike | None = None,
    ) -> None:
        super().__init__(dtype=dtype)
        owner, d = self.registry_name, self.dims
        self.kernel_size = int_tuple(owner, "kernel_size", kernel_size, d, 1)
        self.stride = (
            self.kernel_size if stride is None else int_tuple(owner, "stride", stride, d, 1)
        )
        self.padding = int_tuple(owner, "padding", padding, d, 0)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size, strict=True)):
            raise ConfigurationError(
                f"{owner}: padding must be at most half the kernel size, got padding="
                f"{self.padding} for kernel_size={self.kernel_size}"
            )

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        shape = tuple(int(s) for s in input_shape)
        if len(shape) != self.dims + 1:
            shown = "(N, " + ", ".join(map(str, shape)) + ")"
            raise ShapeError(
                repr(self), f"{_LAYOUTS[self.dims]} with rank {self.dims + 2}", f"shape {shown}"
            )
        out = []
        for size, k, s, p in zip(
            shape[1:], self.kernel_size, self.stride, self.padding, strict=True
        ):
            if k > size + 2 * p:
                raise ShapeError(
                    repr(self),
                    f"spatial size at least the kernel {self.kernel_size} after padding",
                    f"spatial shape {shape[1:]}",
                )
            out.append((size + 2 * p - k) // s + 1)
        return (shape[0], *out)

    def _taps(self, out: Sequence[int]) -> list[tuple[slice, ...]]:
        """For each kernel tap, where it reads the padded input over all output positions
        (``out``: the output's spatial shape)."""
        return [
            (
                slice(None),
                slice(None),
                *(
                    slice(o, o + s * (n - 1) + 1, s)
                    for o, s, n in zip(tap, self.stride, out, strict=True)
                ),
            )
            for tap in itertools.product(*(range(k) for k in self.kernel_size))
        ]

    def _prepare(self, x: Array, fill: float) -> tuple[Array, tuple[int, ...]]:
        """The padded input and the output's spatial shape."""
        if x.ndim != self.dims + 2:
            raise ShapeError(repr(self), _LAYOUTS[self.dims], x.shape)
        out = self.output_shape(x.shape[1:])[1:]
        if not any(self.padding):
            return x, out
        pads = ((0, 0), (0, 0), *((p, p) for p in self.padding))
        return np.pad(x, pads, constant_values=fill), out

    def _unpad(self, grad_xp: Array) -> Array:
        if not any(self.padding):
            return grad_xp
        inner = tuple(slice(p, s - p) for p, s in zip(self.padding, grad_xp.shape[2:], strict=True))
        return np.ascontiguousarray(grad_xp[(slice(None), slice(None), *inner)])

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": list(self.padding),
        }
        config.update(super().get_config())
        return config

    def __repr__(self) -> str:
        name = type(self).__name__
        return (
            f"{name}(kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding})"
        )


class _MaxPoolNd(_PoolNd):
    """The maximum of each window; the gradient goes to the first maximum. A NaN in a window
    makes its maximum NaN, as in PyTorch."""

    def forward(self, x: Array, training: bool = False) -> Array:
        xp, out = self._prepare(x, -np.inf)
        taps = self._taps(out)
        # Each tap is copied into one contiguous buffer before it is compared: NumPy's loops
        # over strided views of short rows cost more than the copy. The running arg-max is
        # kept without masks (np.where and boolean assignment branch on every element).
        best = xp[taps[0]].copy()
        kind = np.int8 if len(taps) <= np.iinfo(np.int8).max else np.int32
        arg = np.zeros(best.shape, dtype=kind)
        v = np.empty_like(best)
        better = np.empty(best.shape, dtype=bool)
        for i, tap in enumerate(taps[1:], start=1):
            np.copyto(v, xp[tap])
            np.greater(v, best, out=better)
            np.maximum(best, v, out=best)
            np.maximum(arg, better * kind(i), out=arg)
        self.save_for_backward(arg, xp.shape, out)
        return best

    def backward(self, grad: Array) -> Array | None:
        arg, padded_shape, out = self.saved
        if not self.needs_input_grad:
            return None
        grad_xp = np.zeros(padded_shape, dtype=grad.dtype)
        disjoint = all(s >= k for s, k in zip(self.stride, self.kernel_size, strict=True))
        for i, tap in enumerate(self._taps(out)):
            if disjoint:  # windows do not overlap: each input takes at most one output
                np.multiply(grad, arg == i, out=grad_xp[tap])
            else:
                grad_xp[tap] += grad * (arg == i)
        return self._unpad(grad_xp)


class _AvgPoolNd(_PoolNd):
    """The mean of each window, padded zeros included."""

    @ieee  # a window's sum may overflow before the division
    def forward(self, x: Array, training: bool = False) -> Array:
        xp, out = self._prepare(x, 0.0)
        taps = self._taps(out)
        total = xp[taps[0]].copy()
        for tap in taps[1:]:
            total += xp[tap]
        self.save_for_backward(xp.shape, out)
        total /= math.prod(self.kernel_size)
        return total

    def backward(self, grad: Array) -> Array | None:
        padded_shape, out = self.saved
        if not self.needs_input_grad:
            return None
        share = grad / math.prod(self.kernel_size)
        grad_xp = np.zeros(padded_shape, dtype=grad.dtype)
        for tap in self._taps(out):
            grad_xp[tap] += share
        return self._unpad(grad_xp)


class MaxPool1d(_MaxPoolNd):
    """1-d max pooling over ``x: (N, C, L)`` (registered as ``max_pool`` and ``max_pool1d``).

    >>> import numpy as np
    >>> MaxPool1d(2).forward(np.array([[[1.0, 3.0, 2.0, 5.0]]]))
    array([[[3., 5.]]])
    """

    dims, registry_name = 1, "max_pool"


class MaxPool2d(_MaxPoolNd):
    """2-d max pooling over ``x: (N, C, H, W)``.

    >>> import numpy as np
    >>> MaxPool2d(2).forward(np.arange(16.0).reshape(1, 1, 4, 4))
    array([[[[ 5.,  7.],
             [13., 15.]]]])
    """

    dims, registry_name = 2, "max_pool2d"


class MaxPool3d(_MaxPoolNd):
    """3-d max pooling over ``x: (N, C, D, H, W)``.

    >>> import numpy as np
    >>> MaxPool3d(2).forward(np.zeros((1, 1, 4, 4, 4))).shape
    (1, 1, 2, 2, 2)
    """

    dims, registry_name = 3, "max_pool3d"


class AvgPool1d(_AvgPoolNd):
    """1-d average pooling over ``x: (N, C, L)`` (registered as ``avg_pool`` and ``avg_pool1d``).

    >>> import numpy as np
    >>> AvgPool1d(2).forward(np.array([[[1.0, 3.0, 2.0, 6.0]]]))
    array([[[2., 4.]]])
    """

    dims, registry_name = 1, "avg_pool"


class AvgPool2d(_AvgPoolNd):
    """2-d average pooling over ``x: (N, C, H, W)``.

    >>> import numpy as np
    >>> AvgPool2d(3, stride=1, padding=1).forward(np.ones((1, 1, 3, 3)))[0, 0]  # padded zeros count
    array([[0.44444444, 0.66666667, 0.44444444],
           [0.66666667, 1.        , 0.66666667],
           [0.44444444, 0.66666667, 0.44444444]])
    """

    dims, registry_name = 2, "avg_pool2d"


class AvgPool3d(_AvgPoolNd):
    """3-d average pooling over ``x: (N, C, D, H, W)``.

    >>> import numpy as np
    >>> AvgPool3d(2).forward(np.ones((1, 1, 2, 2, 2)))
    array([[[[[1.]]]]])
    """

    dims, registry_name = 3, "avg_pool3d"


class GlobalAvgPool(Layer):
    """Mean over every spatial axis: ``(N, C, *spatial)`` -> ``(N, C)``, as Keras'
    ``GlobalAveragePooling``; feeds a ``linear`` layer directly.

    >>> import numpy as np
    >>> GlobalAvgPool().forward(np.ones((2, 3, 4, 4))).shape
    (2, 3)
    """

    conformance = {"args": [], "input_shape": [3, 4, 5], "bad_input_shape": []}

    @ieee
    def forward(self, x: Array, training: bool = False) -> Array:
        if x.ndim < 3:
            raise ShapeError(repr(self), "(N, C, *spatial) with at least one spatial axis", x.shape)
        self.save_for_backward(x.shape)
        result: Array = x.mean(axis=tuple(range(2, x.ndim)))
        return result

    def backward(self, grad: Array) -> Array | None:
        (shape,) = self.saved
        if not self.needs_input_grad:
            return None
        spatial = shape[2:]
        share = grad / math.prod(spatial)
        return np.ascontiguousarray(
            np.broadcast_to(share.reshape(*share.shape, *(1,) * len(spatial)), shape)
        )

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        if len(input_shape) < 2:
            raise ShapeError(
                repr(self),
                "(N, C, *spatial) with at least one spatial axis",
                f"shape (N, {tuple(input_shape)})",
            )
        return (int(input_shape[0]),)

    def __repr__(self) -> str:
        return "GlobalAvgPool()"
