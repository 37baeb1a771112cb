"""SGD: conformance (descent, exact state round trip) and PyTorch's update rule."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnet_core as sn
from scratchnet_core.optimizers import sgd
from scratchnet_core.testing import check_optimizer

from ..helpers import assert_optimizer_matches_pytorch

VARIANTS = [
    {},
    {"momentum": 0.9},
    {"momentum": 0.9, "nesterov": True},
    {"momentum": 0.5, "weight_decay": 0.01},
    {"momentum": 0.9, "dampening": 0.1},
]


@pytest.mark.parametrize("kwargs", VARIANTS)
def test_conformance(kwargs: dict) -> None:
    check_optimizer(lambda: sgd(0.05, **kwargs))


def reference_sgd(p, grads, lr, momentum=0.0, nesterov=False, weight_decay=0.0, dampening=0.0):
    """torch.optim.SGD's documented update, written out step by step."""
    buf = None
    for g in grads:
        g = g + weight_decay * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p


@pytest.mark.parametrize("kwargs", VARIANTS)
def test_update_rule(kwargs: dict) -> None:
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal(5)
    grads = [rng.standard_normal(5) for _ in range(4)]
    params = {"w": p0.copy()}
    opt = sgd(0.1, **kwargs)
    for g in grads:
        opt.step(params, {"w": g})
    np.testing.assert_allclose(params["w"], reference_sgd(p0, grads, 0.1, **kwargs), rtol=1e-12)


def test_against_pytorch_when_available() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    p0 = rng.standard_normal(6)
    grads = [rng.standard_normal(6) for _ in range(5)]
    t = torch.tensor(p0.copy(), requires_grad=True)
    topt = torch.optim.SGD([t], lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
    params = {"w": p0.copy()}
    opt = sgd(0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
    for g in grads:
        t.grad = torch.tensor(g)
        topt.step()
        opt.step(params, {"w": g})
    np.testing.assert_allclose(params["w"], t.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lr": 0}, "lr must be > 0"),
        ({"lr": float("nan")}, "lr must be > 0"),
        ({"lr": "0.1"}, "lr must be a number"),
        ({"lr": 0.1, "momentum": 1.5}, "momentum must be in"),
        ({"lr": 0.1, "nesterov": True}, "nesterov needs momentum"),
    ],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(sn.ConfigurationError, match=match):
        sgd(**kwargs)


ADAPTIVE = {
    "adam": {},
    "adamw": {"weight_decay": 0.1},
    "rmsprop": {"momentum": 0.5, "centered": True},
    "adagrad": {"lr_decay": 0.01, "initial_accumulator_value": 0.1},
}


@pytest.mark.parametrize("name", sorted(ADAPTIVE))
def test_adaptive_conformance(name: str) -> None:
    cls = sn.get_optimizers()[name]
    check_optimizer(lambda: cls(0.05, **ADAPTIVE[name]))
    check_optimizer(lambda: cls(0.05))


def test_first_steps_have_their_closed_forms() -> None:
    g = np.array([0.5, -2.0, 3.0])
    opt = sn.get_optimizers()
    # Adam and Adagrad: the first step moves every weight by lr in the gradient's direction
    for name in ("adam", "adagrad"):
        p = {"w": np.zeros(3)}
        opt[name](lr=0.1).step(p, {"w": g})
        np.testing.assert_allclose(p["w"], -0.1 * np.sign(g), rtol=1e-6)
    # RMSprop: v = (1 - alpha) g^2, so the step is lr g / (sqrt(1 - alpha) |g| + eps)
    p = {"w": np.zeros(3)}
    opt["rmsprop"](lr=0.1, alpha=0.9, eps=0.0).step(p, {"w": g})
    np.testing.assert_allclose(p["w"], -0.1 * np.sign(g) / np.sqrt(0.1), rtol=1e-12)
    # AdamW: decay is applied to the weight itself, not through the moments
    p = {"w": np.ones(3)}
    opt["adamw"](lr=0.1, weight_decay=0.5).step(p, {"w": np.zeros(3)})
    np.testing.assert_allclose(p["w"], np.full(3, 1 - 0.1 * 0.5))


@pytest.mark.parametrize(
    ("name", "torch_name", "kwargs"),
    [
        ("adam", "Adam", {"lr": 0.01, "weight_decay": 0.1}),
        ("adamw", "AdamW", {"lr": 0.01, "weight_decay": 0.1}),
        ("rmsprop", "RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True}),
        ("adagrad", "Adagrad", {"lr": 0.1, "lr_decay": 0.01}),
    ],
)
def test_adaptive_against_pytorch_when_available(name, torch_name, kwargs) -> None:
    assert_optimizer_matches_pytorch(name, torch_name, kwargs)
