"""The fully-connected layer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from numpy.typing import DTypeLike

from scratchnet_core import (
    ActivationFunction,
    Layer,
    ShapeError,
    constant,
    initialize_weights,
)
from scratchnet_core.checks import positive_int
from scratchnet_core.components import build_component, component_spec
from scratchnet_core.interfaces import Array
from scratchnet_core.numerics import ieee

__all__ = ["Linear"]


class Linear(Layer):
    """``y = activation(x @ weight + bias)``, PyTorch's layout, Keras' fused activation.

    Parameters
    ----------
    in_features, out_features:
        ``x: (N, in_features)`` -> ``y: (N, out_features)``; ``weight: (in_features,
        out_features)``, ``bias: (out_features,)``.
    activation:
        ``None``, a registry name (``"relu"``), a spec dict or an instance. It chooses the
        initialisation: He for the relu family, Glorot otherwise.
    bias, initializer, dtype:
        No bias when false; an initializer registry name overriding the activation's choice;
        ``float32`` (default) or ``float64``.

    Examples
    --------
    >>> import numpy as np, scratchnet_core as sn
    >>> layer = Linear(3, 2, "relu")
    >>> layer.forward(np.ones((4, 3), dtype=np.float32)).shape
    (4, 2)
    """

    conformance = {"args": [5, 4, "tanh"], "input_shape": [5], "bad_input_shape": [6]}

    def __init__(
        self,
        in_features: int,
        out_features: int,
        activation: str | ActivationFunction | Mapping[str, Any] | None = None,
        *,
        bias: bool = True,
        initializer: str | None = None,
        dtype: DTypeLike | None = None,
    ) -> None:
        super().__init__(dtype=dtype)
        self.in_features = positive_int("linear", "in_features", in_features)
        self.out_features = positive_int("linear", "out_features", out_features)
        self.activation = (
            None if activation is None else build_component("activations", activation, "activation")
        )
        self.initializer = initializer
        self.use_bias = bool(bias)
        self.add_parameter(
            "weight",
            initialize_weights(
                (self.in_features, self.out_features),
                self.activation,
                initializer=initializer,
                dtype=self.dtype,
            ),
        )
        if self.use_bias:
            self.add_parameter("bias", constant((self.out_features,), 0.0, dtype=self.dtype))

    @ieee
    def forward(self, x: Array, training: bool = False) -> Array:
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ShapeError(repr(self), f"(N, {self.in_features})", x.shape)
        self.save_for_backward(x)
        z = x @ self._params["weight"]
        if self.use_bias:
            z += self._params["bias"]
        return self.activate(z)

    def backward(self, grad: Array) -> Array | None:
        return self.backward_through_activation(grad)

    @ieee
    def backward_preactivation(self, grad_z: Array) -> Array | None:
        grads = self._grads
        (x,) = self.saved  # released after this backward by the base class
        grads["weight"] = x.T @ grad_z
        if self.use_bias:
            grads["bias"] = grad_z.sum(axis=0)
        if not self.needs_input_grad:
            return None
        return grad_z @ self._params["weight"].T

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        if tuple(input_shape) != (self.in_features,):
            shown = ", ".join(str(s) for s in input_shape)
            raise ShapeError(repr(self), f"(N, {self.in_features})", f"shape (N, {shown})")
        return (self.out_features,)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "activation": None
            if self.activation is None
            else component_spec("activations", self.activation),
            "bias": self.use_bias,
            "initializer": self.initializer,
        }
        config.update(super().get_config())
        return config

    def __repr__(self) -> str:
        act = "" if self.activation is None else f", {type(self.activation).__name__}"
        return f"Linear({self.in_features}, {self.out_features}{act})"
