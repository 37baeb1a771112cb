"""NAdam: Adam with Nesterov momentum, as ``torch.optim.NAdam``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from scratchnet_core import Optimizer
from scratchnet_core.checks import real_in_range, real_pair
from scratchnet_core.interfaces import Array

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """NAdam (Dozat) with PyTorch's momentum schedule
    ``mu_t = beta1 (1 - 0.5 * 0.96 ** (t * momentum_decay))``.

    Examples
    --------
    >>> p = {"w": np.array([1.0])}
    >>> opt = NAdam(lr=0.1)
    >>> for _ in range(3):
    ...     opt.step(p, {"w": np.array([1.0])})
    >>> bool(p["w"][0] < 1.0), opt.iterations
    (True, 3)
    """

    def __init__(
        self,
        lr: float = 2e-3,
        betas: tuple[float, float] | list[float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum_decay: float = 4e-3,
    ) -> None:
        super().__init__(lr)
        inf = float("inf")
        self.betas = real_pair("nadam", "betas", betas, 0.0, 1.0, high_open=True)
        self.eps = real_in_range("nadam", "eps", eps, 0.0, inf)
        self.weight_decay = real_in_range("nadam", "weight_decay", weight_decay, 0.0, inf)
        self.momentum_decay = real_in_range("nadam", "momentum_decay", momentum_decay, 0.0, inf)
        self.mu_product = 1.0

    state_names = ("exp_avg", "exp_avg_sq")

    def step(self, params: Mapping[str, Array], grads: Mapping[str, Array]) -> None:
        self.iterations += 1
        t = self.iterations
        b1, b2 = self.betas
        mu = b1 * (1 - 0.5 * 0.96 ** (t * self.momentum_decay))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * self.momentum_decay))
        self.mu_product *= mu
        correction2 = 1 - b2**t
        for name, p in params.items():
            g = grads[name]
            if self.weight_decay:
                g = g + self.weight_decay * p
            m = self.buffer("exp_avg", name, p)
            v = self.buffer("exp_avg_sq", name, p)
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            denom = np.sqrt(v / correction2) + self.eps
            p -= (self.lr * (1 - mu) / (1 - self.mu_product)) * (g / denom)
            p -= (self.lr * mu_next / (1 - self.mu_product * mu_next)) * (m / denom)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "mu_product": self.mu_product}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.mu_product = float(state["mu_product"])

    def get_config(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "betas": list(self.betas),
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "momentum_decay": self.momentum_decay,
        }
