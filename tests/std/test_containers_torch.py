"""Containers against PyTorch autograd in float64: ResNet basic blocks (identity and
downsampling shortcut) and an Inception-style concat block; output, input gradient and every
parameter gradient agree to 1e-8 (optional: runs when torch is importable)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from scratchnet_core import Layer
from scratchnet_core.layers import (
    activation,
    batch_norm2d,
    concat,
    convolutional_2d,
    max_pool2d,
    residual,
)

torch = pytest.importorskip("torch")
nn = torch.nn

RTOL, ATOL = 1e-8, 1e-10


def basic_block(c_in: int, c_out: int, stride: int) -> Layer:
    """conv -> batch norm -> relu -> conv -> batch norm, + shortcut, relu."""
    shortcut = None
    if stride != 1 or c_in != c_out:
        shortcut = [
            convolutional_2d(c_in, c_out, 1, stride=stride, bias=False),
            batch_norm2d(c_out),
        ]
    return residual(
        [
            convolutional_2d(c_in, c_out, 3, 1, stride=stride, bias=False),
            batch_norm2d(c_out),
            activation("relu"),
            convolutional_2d(c_out, c_out, 3, 1, bias=False),
            batch_norm2d(c_out),
        ],
        shortcut=shortcut,
        activation="relu",
        dtype="float64",
    )


class TorchBasicBlock(nn.Module):  # type: ignore[misc]
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x):  # type: ignore[no-untyped-def]
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


BASIC_NAMES = {
    "block.0.weight": "conv1.weight",
    "block.1.weight": "bn1.weight",
    "block.1.bias": "bn1.bias",
    "block.3.weight": "conv2.weight",
    "block.4.weight": "bn2.weight",
    "block.4.bias": "bn2.bias",
    "shortcut.0.weight": "shortcut.0.weight",
    "shortcut.1.weight": "shortcut.1.weight",
    "shortcut.1.bias": "shortcut.1.bias",
}


class TorchInception(nn.Module):  # type: ignore[misc]
    def __init__(self, c: int) -> None:
        super().__init__()
        self.b0 = nn.Conv2d(c, 4, 1)
        self.b1 = nn.Sequential(nn.Conv2d(c, 3, 1), nn.ReLU(), nn.Conv2d(3, 4, 3, padding=1))
        self.b2 = nn.Sequential(nn.Conv2d(c, 2, 1), nn.ReLU(), nn.Conv2d(2, 3, 5, padding=2))
        self.b3 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), nn.Conv2d(c, 2, 1))

    def forward(self, x):  # type: ignore[no-untyped-def]
        return torch.cat([self.b0(x), self.b1(x), self.b2(x), self.b3(x)], dim=1)


def inception(c: int) -> Layer:
    return concat(
        [
            convolutional_2d(c, 4, 1),
            [convolutional_2d(c, 3, 1, activation="relu"), convolutional_2d(3, 4, 3, 1)],
            [convolutional_2d(c, 2, 1), activation("relu"), convolutional_2d(2, 3, 5, 2)],
            [max_pool2d(3, 1, 1), convolutional_2d(c, 2, 1)],
        ],
        dtype="float64",
    )


INCEPTION_NAMES = {
    "branches.0.weight": "b0.weight",
    "branches.0.bias": "b0.bias",
    "branches.1.0.weight": "b1.0.weight",
    "branches.1.0.bias": "b1.0.bias",
    "branches.1.1.weight": "b1.2.weight",
    "branches.1.1.bias": "b1.2.bias",
    "branches.2.0.weight": "b2.0.weight",
    "branches.2.0.bias": "b2.0.bias",
    "branches.2.2.weight": "b2.2.weight",
    "branches.2.2.bias": "b2.2.bias",
    "branches.3.1.weight": "b3.1.weight",
    "branches.3.1.bias": "b3.1.bias",
}


def compare(
    ours: Layer, theirs: nn.Module, names: dict[str, str], x_shape: tuple[int, ...]
) -> dict[str, float]:
    """Same weights, one forward and backward of ``sum(y * g)`` in training mode; returns the
    largest relative difference of each compared array (asserting each within 1e-8)."""
    rng = np.random.default_rng(0)
    theirs = theirs.double().train()
    params = ours.parameters()
    assert set(params) == {k for k in names if k in params} and len(params) == len(
        dict(theirs.named_parameters())
    )
    torch_params = dict(theirs.named_parameters())
    with torch.no_grad():
        for key, value in params.items():
            value[...] = rng.standard_normal(value.shape) * 0.5 + (
                1.0 if key.endswith("weight") and value.ndim == 1 else 0.0
            )
            torch_params[names[key]].copy_(torch.from_numpy(value))
    x = rng.standard_normal(x_shape)
    y = ours.forward(x, training=True)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    yt = theirs(xt)
    g = rng.standard_normal(y.shape)
    grad_x = ours.backward(g)
    (yt * torch.from_numpy(g)).sum().backward()
    errors: dict[str, float] = {}

    def check(name: str, a: np.ndarray, b: np.ndarray) -> None:
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=name)
        errors[name] = float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-300))

    check("output", y, yt.detach().numpy())
    assert grad_x is not None
    check("dL/dx", grad_x, xt.grad.numpy())
    for key, value in ours.gradients().items():
        check(f"dL/d{key}", value, torch_params[names[key]].grad.numpy())
    buffers = dict(theirs.named_buffers())
    for key, value in ours.buffers().items():
        torch_key = names[key.rsplit(".", 1)[0] + ".weight"].rsplit(".", 1)[0]
        check(key, value, buffers[f"{torch_key}.{key.rsplit('.', 1)[1]}"].numpy())
    return errors


CASES: dict[str, tuple[Callable[[], Layer], Callable[[], nn.Module], dict[str, str], tuple]] = {
    "basic block, identity shortcut": (
        lambda: basic_block(4, 4, 1),
        lambda: TorchBasicBlock(4, 4, 1),
        BASIC_NAMES,
        (3, 4, 6, 6),
    ),
    "basic block, downsampling shortcut": (
        lambda: basic_block(3, 6, 2),
        lambda: TorchBasicBlock(3, 6, 2),
        BASIC_NAMES,
        (3, 3, 7, 7),
    ),
    "inception concat": (
        lambda: inception(3),
        lambda: TorchInception(3),
        INCEPTION_NAMES,
        (2, 3, 6, 5),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("backend", ["direct", "fft"])
def test_matches_pytorch_autograd(case: str, backend: str) -> None:
    import scratchnet_core as sn

    make_ours, make_theirs, names, x_shape = CASES[case]
    torch.manual_seed(0)
    with sn.conv_backend(backend):
        errors = compare(make_ours(), make_theirs(), names, x_shape)
    assert max(errors.values()) < RTOL
    assert {"output", "dL/dx"} <= set(errors)
