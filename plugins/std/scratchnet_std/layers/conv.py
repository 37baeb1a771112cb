"""Convolution layers, 1-, 2- and 3-d, on any registered convolution backend."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.typing import DTypeLike

from scratchnet_core import (
    ActivationFunction,
    ConfigurationError,
    ConvBackend,
    Layer,
    ShapeError,
    constant,
    current_conv_backend,
    get_conv_backends,
    initialize_weights,
)
from scratchnet_core.checks import int_tuple, positive_int
from scratchnet_core.components import build_component, component_spec
from scratchnet_core.interfaces import Array
from scratchnet_core.numerics import ieee

__all__ = ["Conv1d", "Conv2d", "Conv3d"]

_LAYOUTS = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}


class _ConvNd(Layer):
    """``y = activation(x (*) weight + bias)``: cross-correlation as in every framework.

    ``x: (N, in_channels, *spatial)`` -> ``y: (N, out_channels, *out)`` with
    ``out = (spatial + pad_before + pad_after - dilation * (kernel - 1) - 1) // stride + 1``;
    ``weight: (out_channels, in_channels, *kernel_size)``, ``bias: (out_channels,)``.

    ``padding`` is an int, a tuple, ``"valid"`` (none) or ``"same"`` (output as large as the
    input; stride 1 only, and for even kernels the extra zero goes after, as PyTorch does).
    ``backend`` names a ``scratchnet.conv_backends`` plugin; ``None`` follows
    `scratchnet_core.current_conv_backend` at every call.
    """

    dims: ClassVar[int]
    registry_name: ClassVar[str]

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        padding: int | Sequence[int] | str = 0,
        activation: str | ActivationFunction | Mapping[str, Any] | None = None,
        *,
        stride: int | Sequence[int] = 1,
        dilation: int | Sequence[int] = 1,
        bias: bool = True,
        backend: str | None = None,
        initializer: str | None = None,
        dtype: DTypeLike | None = None,
    ) -> None:
        super().__init__(dtype=dtype)
        owner, d = self.registry_name, self.dims
        self.in_channels = positive_int(owner, "in_channels", in_channels)
        self.out_channels = positive_int(owner, "out_channels", out_channels)
        self.kernel_size = int_tuple(owner, "kernel_size", kernel_size, d, 1)
        self.stride = int_tuple(owner, "stride", stride, d, 1)
        self.dilation = int_tuple(owner, "dilation", dilation, d, 1)
        self.padding_mode: str | tuple[int, ...]
        if isinstance(padding, str):
            mode = padding.lower()
            if mode not in ("valid", "same"):
                raise ConfigurationError(
                    f"{owner}: padding must be an int, a tuple, 'valid' or 'same', got {padding!r}"
                )
            if mode == "same" and any(s != 1 for s in self.stride):
                raise ConfigurationError(
                    f"{owner}: padding='same' needs stride 1, got stride={self.stride}"
                )
            self.padding_mode = mode
        else:
            self.padding_mode = int_tuple(owner, "padding", padding, d, 0)
        self._before, self._after = self._resolve_padding()
        if backend is not None:
            if not isinstance(backend, str):
                raise ConfigurationError(
                    f"{owner}: backend must be a registry name, got {backend!r}"
                )
            get_conv_backends()[backend]  # an unknown name fails here, not at the first call
        self.backend = backend
        self.activation = (
            None if activation is None else build_component("activations", activation, "activation")
        )
        self.initializer = initializer
        self.use_bias = bool(bias)
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        self.add_parameter(
            "weight",
            initialize_weights(shape, self.activation, initializer=initializer, dtype=self.dtype),
        )
        if self.use_bias:
            self.add_parameter("bias", constant((self.out_channels,), 0.0, dtype=self.dtype))
        self._backends: dict[str, ConvBackend] = {}

    def _resolve_padding(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        if self.padding_mode == "valid":
            zero = (0,) * self.dims
            return zero, zero
        if self.padding_mode == "same":
            total = [d * (k - 1) for k, d in zip(self.kernel_size, self.dilation, strict=True)]
            before = tuple(t // 2 for t in total)
            return before, tuple(t - b for t, b in zip(total, before, strict=True))
        assert isinstance(self.padding_mode, tuple)
        return self.padding_mode, self.padding_mode

    # ----------------------------------------------------------------------------- shapes
    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        shape = tuple(int(s) for s in input_shape)
        layout = _LAYOUTS[self.dims]
        if len(shape) != self.dims + 1:
            shown = "(N, " + ", ".join(map(str, shape)) + ")"
            raise ShapeError(repr(self), f"{layout} with rank {self.dims + 2}", f"shape {shown}")
        if shape[0] != self.in_channels:
            raise ShapeError(
                repr(self),
                f"{layout} with C = {self.in_channels} channels",
                f"{shape[0]} channels",
            )
        out = []
        for size, k, s, d, b, a in zip(
            shape[1:],
            self.kernel_size,
            self.stride,
            self.dilation,
            self._before,
            self._after,
            strict=True,
        ):
            padded, span = size + b + a, d * (k - 1) + 1
            if span > padded:
                raise ShapeError(
                    repr(self),
                    f"spatial size at least the dilated kernel {span} after padding",
                    f"spatial shape {shape[1:]} (padded {size} -> {padded})",
                )
            out.append((padded - span) // s + 1)
        return (self.out_channels, *out)

    # ----------------------------------------------------------------------------- passes
    def _backend(self) -> ConvBackend:
        name = self.backend or current_conv_backend()
        backend = self._backends.get(name)
        if backend is None:
            backend = self._backends[name] = get_conv_backends()[name]()
        return backend

    @ieee
    def forward(self, x: Array, training: bool = False) -> Array:
        if x.ndim != self.dims + 2:
            raise ShapeError(repr(self), _LAYOUTS[self.dims], x.shape)
        self.output_shape(x.shape[1:])
        if self._before != self._after:  # uneven 'same' padding: pad here, the rest is even
            x = np.pad(
                x,
                (
                    (0, 0),
                    (0, 0),
                    *((0, a - b) for b, a in zip(self._before, self._after, strict=True)),
                ),
            )
        backend = self._backend()
        weight = self._params["weight"]
        z = backend.forward(x, weight, self.stride, self._before, self.dilation)
        self.save_for_backward(x, backend)
        if not training:
            backend.clear_cache()  # no backward expected: drop the im2col buffer / transforms
        if self.use_bias:
            z += self._params["bias"].reshape(1, -1, *(1,) * self.dims)
        return self.activate(z)

    def backward(self, grad: Array) -> Array | None:
        return self.backward_through_activation(grad)

    @ieee
    def backward_preactivation(self, grad_z: Array) -> Array | None:
        grads = self._grads
        x, backend = self.saved  # released after this backward by the base class
        if self.use_bias:
            grads["bias"] = grad_z.sum(axis=(0, *range(2, 2 + self.dims)))
        grad_x, grads["weight"] = backend.backward(
            grad_z, x, self._params["weight"], self.stride, self._before, self.dilation
        )
        if not self.needs_input_grad:
            return None
        if self._before != self._after:
            grad_x = grad_x[
                (
                    slice(None),
                    slice(None),
                    *(
                        slice(0, s - (a - b))
                        for s, b, a in zip(grad_x.shape[2:], self._before, self._after, strict=True)
                    ),
                )
            ]
        result: Array = grad_x
        return result

    # ----------------------------------------------------------------------------- config
    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": list(self.kernel_size),
            "padding": self.padding_mode
            if isinstance(self.padding_mode, str)
            else list(self.padding_mode),
            "activation": None
            if self.activation is None
            else component_spec("activations", self.activation),
            "stride": list(self.stride),
            "dilation": list(self.dilation),
            "bias": self.use_bias,
            "backend": self.backend,
            "initializer": self.initializer,
        }
        config.update(super().get_config())
        return config

    def __repr__(self) -> str:
        parts = [f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"]
        if any(s != 1 for s in self.stride):
            parts.append(f"stride={self.stride}")
        if self.padding_mode not in ("valid", (0,) * self.dims):
            parts.append(f"padding={self.padding_mode!r}")
        if any(d != 1 for d in self.dilation):
            parts.append(f"dilation={self.dilation}")
        if self.activation is not None:
            parts.append(type(self.activation).__name__)
        return f"{type(self).__name__}({', '.join(parts)})"


class Conv1d(_ConvNd):
    """1-d convolution: ``x: (N, C, L)``, ``weight: (C_out, C_in, k)``.

    >>> import numpy as np
    >>> Conv1d(2, 4, 3, "same").forward(np.zeros((5, 2, 10), dtype=np.float32)).shape
    (5, 4, 10)
    """

    conformance = {"args": [2, 3, 3, 1, "tanh"], "input_shape": [2, 6], "bad_input_shape": [3, 6]}
    dims = 1
    registry_name = "convolutional_1d"


class Conv2d(_ConvNd):
    """2-d convolution: ``x: (N, C, H, W)``, ``weight: (C_out, C_in, kh, kw)``.

    >>> import numpy as np
    >>> layer = Conv2d(3, 8, 3, padding=1, activation="relu")
    >>> layer.forward(np.zeros((2, 3, 28, 28), dtype=np.float32)).shape
    (2, 8, 28, 28)
    """

    conformance = {
        "args": [2, 3, 3, 1, "tanh"],
        "kwargs": {"stride": 2},
        "input_shape": [2, 6, 5],
        "bad_input_shape": [3, 6, 5],
    }
    dims = 2
    registry_name = "convolutional_2d"


class Conv3d(_ConvNd):
    """3-d convolution: ``x: (N, C, D, H, W)``, ``weight: (C_out, C_in, kd, kh, kw)``.

    >>> import numpy as np
    >>> Conv3d(1, 2, 3, stride=2).forward(np.zeros((1, 1, 9, 9, 9), dtype=np.float32)).shape
    (1, 2, 4, 4, 4)
    """

    conformance = {
        "args": [1, 2, 2, 0, "tanh"],
        "input_shape": [1, 3, 4, 3],
        "bad_input_shape": [2, 3, 4, 3],
    }
    dims = 3
    registry_name = "convolutional_3d"
