"""Helpers shared by several test modules."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import scratchnet_core as sn


class WrongSquare(sn.ActivationFunction):
    """``z * z`` with a wrong gradient, for showing that the checks catch one."""

    def forward(self, z):
        self.z = z
        return z * z

    def backward(self, grad):
        return grad * self.z  # should be 2 z


WRONG_SQUARE_MODULE = "import scratchnet_core as sn\n\n\n" + inspect.getsource(WrongSquare)
"""The same class as the source of a plugin module."""


def assert_optimizer_matches_pytorch(
    name: str, torch_name: str, kwargs: dict, *, size: int = 7, seed: int = 2, rtol: float = 1e-10
) -> None:
    """Six steps of ours and of ``torch.optim.<torch_name>`` on the same gradients agree."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    p0 = rng.standard_normal(size)
    t = torch.tensor(p0.copy(), requires_grad=True)
    theirs = getattr(torch.optim, torch_name)([t], **kwargs)
    params = {"w": p0.copy()}
    ours = sn.get_optimizers()[name](**kwargs)
    for _ in range(6):
        g = rng.standard_normal(size)
        t.grad = torch.tensor(g)
        theirs.step()
        ours.step(params, {"w": g})
    np.testing.assert_allclose(params["w"], t.detach().numpy(), rtol=rtol)
