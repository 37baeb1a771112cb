"""Standard optimizers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from scratchnet_core import ConfigurationError, Optimizer
from scratchnet_core.interfaces import Array

from ._checks import real_in_range

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, Nesterov momentum and weight decay.

    The update is PyTorch's ``torch.optim.SGD``::

        g = grad + weight_decay * p
        buf = g                      (first step)
        buf = momentum * buf + (1 - dampening) * g
        g = g + momentum * buf       (nesterov)   or   g = buf
        p -= lr * g

    >>> import numpy as np
    >>> p = {"w": np.array([1.0])}; SGD(0.1).step(p, {"w": np.array([2.0])}); p["w"]
    array([0.8])
    """

    def __init__(
        self,
        lr: float = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        dampening: float = 0.0,
    ) -> None:
        super().__init__(lr)
        self.momentum = real_in_range("sgd", "momentum", momentum, 0.0, 1.0, high_open=True)
        self.weight_decay = real_in_range("sgd", "weight_decay", weight_decay, 0.0, float("inf"))
        self.dampening = real_in_range("sgd", "dampening", dampening, 0.0, 1.0)
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ConfigurationError(
                "sgd: nesterov needs momentum > 0 and dampening = 0, got "
                f"momentum={self.momentum}, dampening={self.dampening}"
            )
        self.buffers: dict[str, Array] = {}

    def step(self, params: Mapping[str, Array], grads: Mapping[str, Array]) -> None:
        lr, momentum, decay = self.lr, self.momentum, self.weight_decay
        for name, p in params.items():
            g = grads[name]
            if decay:
                g = g + decay * p
            if momentum:
                buf = self.buffers.get(name)
                if buf is None:
                    buf = self.buffers[name] = g.copy()
                else:
                    buf *= momentum
                    buf += (1 - self.dampening) * g
                g = g + momentum * buf if self.nesterov else buf
            p -= lr * g
        self.iterations += 1

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["momentum_buffer"] = {k: v.copy() for k, v in self.buffers.items()}
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.buffers = {k: np.array(v) for k, v in state.get("momentum_buffer", {}).items()}

    def get_config(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "weight_decay": self.weight_decay,
            "dampening": self.dampening,
        }
