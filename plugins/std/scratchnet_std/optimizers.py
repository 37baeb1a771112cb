"""Standard optimizers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from scratchnet_core import ConfigurationError, Optimizer
from scratchnet_core.checks import real_in_range, real_pair
from scratchnet_core.interfaces import Array

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "RMSprop"]


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

    state_names = ("momentum_buffer",)

    def step(self, params: Mapping[str, Array], grads: Mapping[str, Array]) -> None:
        lr, momentum, decay = self.lr, self.momentum, self.weight_decay
        for name, p in params.items():
            g = grads[name]
            if decay:
                g = g + decay * p
            if momentum:
                buf = self.buffers["momentum_buffer"].get(name)
                if buf is None:  # the first step starts the buffer at the gradient
                    buf = self.buffer("momentum_buffer", name, g, fill=None)
                else:
                    buf *= momentum
                    buf += (1 - self.dampening) * g
                g = g + momentum * buf if self.nesterov else buf
            p -= lr * g
        self.iterations += 1

    def get_config(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "weight_decay": self.weight_decay,
            "dampening": self.dampening,
        }


class Adam(Optimizer):
    """Adam (Kingma & Ba), as ``torch.optim.Adam``: L2 ``weight_decay`` added to the gradient.

    ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``,
    ``p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``.

    >>> p = {"w": np.array([1.0, -1.0])}
    >>> Adam(lr=0.1).step(p, {"w": np.array([0.3, -5.0])})  # first step: lr * sign(g)
    >>> p["w"]
    array([ 0.9, -0.9])
    """

    state_names = ("exp_avg", "exp_avg_sq")
    decoupled = False

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] | list[float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(lr)
        name = type(self).__name__.lower()
        self.betas = real_pair(name, "betas", betas, 0.0, 1.0, high_open=True)
        self.eps = real_in_range(name, "eps", eps, 0.0, float("inf"))
        self.weight_decay = real_in_range(name, "weight_decay", weight_decay, 0.0, float("inf"))

    def step(self, params: Mapping[str, Array], grads: Mapping[str, Array]) -> None:
        self.iterations += 1
        t = self.iterations
        b1, b2 = self.betas
        lr, decay = self.lr, self.weight_decay
        step_size = lr / (1 - b1**t)
        root_correction = (1 - b2**t) ** 0.5
        for name, p in params.items():
            g = grads[name]
            if decay and self.decoupled:
                p *= 1 - lr * decay
            elif decay:
                g = g + decay * p
            m = self.buffer("exp_avg", name, p)
            v = self.buffer("exp_avg_sq", name, p)
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            denom = np.sqrt(v)
            denom /= root_correction
            denom += self.eps
            p -= step_size * (m / denom)

    def get_config(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "betas": list(self.betas),
            "eps": self.eps,
            "weight_decay": self.weight_decay,
        }


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as ``torch.optim.AdamW``:
    ``p *= 1 - lr * weight_decay`` before the Adam step; default ``weight_decay=0.01``.

    >>> p = {"w": np.array([1.0])}
    >>> AdamW(lr=0.1, weight_decay=0.5).step(p, {"w": np.array([0.0])})
    >>> p["w"]  # decayed by lr * weight_decay, whatever the gradient
    array([0.95])
    """

    decoupled = True

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] | list[float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
    ) -> None:
        super().__init__(lr, betas, eps, weight_decay)


class RMSprop(Optimizer):
    """RMSprop, as ``torch.optim.RMSprop`` (``alpha``, ``eps``, ``momentum``, ``centered``).

    >>> p = {"w": np.array([0.0])}
    >>> RMSprop(lr=0.1, alpha=0.75, eps=0.0).step(p, {"w": np.array([2.0])})
    >>> p["w"]  # lr * g / sqrt((1 - alpha) g^2)
    array([-0.2])
    """

    state_names = ("square_avg", "grad_avg", "momentum_buffer")

    def __init__(
        self,
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        super().__init__(lr)
        self.alpha = real_in_range("rmsprop", "alpha", alpha, 0.0, 1.0)
        self.eps = real_in_range("rmsprop", "eps", eps, 0.0, float("inf"))
        self.weight_decay = real_in_range(
            "rmsprop", "weight_decay", weight_decay, 0.0, float("inf")
        )
        self.momentum = real_in_range("rmsprop", "momentum", momentum, 0.0, 1.0, high_open=True)
        self.centered = bool(centered)

    def step(self, params: Mapping[str, Array], grads: Mapping[str, Array]) -> None:
        self.iterations += 1
        alpha, lr = self.alpha, self.lr
        for name, p in params.items():
            g = grads[name]
            if self.weight_decay:
                g = g + self.weight_decay * p
            sq = self.buffer("square_avg", name, p)
            sq *= alpha
            sq += (1 - alpha) * (g * g)
            if self.centered:
                ga = self.buffer("grad_avg", name, p)
                ga *= alpha
                ga += (1 - alpha) * g
                avg = np.sqrt(sq - ga * ga)
            else:
                avg = np.sqrt(sq)
            avg += self.eps
            if self.momentum:
                buf = self.buffer("momentum_buffer", name, p)
                buf *= self.momentum
                buf += g / avg
                p -= lr * buf
            else:
                p -= lr * (g / avg)

    def get_config(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "alpha": self.alpha,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "momentum": self.momentum,
            "centered": self.centered,
        }


class Adagrad(Optimizer):
    """Adagrad, as ``torch.optim.Adagrad``: ``sum += g^2``,
    ``p -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(sum) + eps)``.

    >>> p = {"w": np.array([0.0])}
    >>> opt = Adagrad(lr=0.1, eps=0.0)
    >>> opt.step(p, {"w": np.array([3.0])}); opt.step(p, {"w": np.array([4.0])})
    >>> p["w"].round(4)  # -0.1 * (3/3 + 4/5)
    array([-0.18])
    """

    state_names = ("sum",)

    def __init__(
        self,
        lr: float = 0.01,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        super().__init__(lr)
        inf = float("inf")
        self.lr_decay = real_in_range("adagrad", "lr_decay", lr_decay, 0.0, inf)
        self.weight_decay = real_in_range("adagrad", "weight_decay", weight_decay, 0.0, inf)
        self.initial_accumulator_value = real_in_range(
            "adagrad", "initial_accumulator_value", initial_accumulator_value, 0.0, inf
        )
        self.eps = real_in_range("adagrad", "eps", eps, 0.0, inf)

    def step(self, params: Mapping[str, Array], grads: Mapping[str, Array]) -> None:
        self.iterations += 1
        clr = self.lr / (1 + (self.iterations - 1) * self.lr_decay)
        for name, p in params.items():
            g = grads[name]
            if self.weight_decay:
                g = g + self.weight_decay * p
            acc = self.buffer("sum", name, p, self.initial_accumulator_value)
            acc += g * g
            p -= clr * (g / (np.sqrt(acc) + self.eps))

    def get_config(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "lr_decay": self.lr_decay,
            "weight_decay": self.weight_decay,
            "initial_accumulator_value": self.initial_accumulator_value,
            "eps": self.eps,
        }
