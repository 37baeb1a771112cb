"""A small ResNet on scikit-learn's 8x8 digits: a stem convolution, three residual blocks
(the second one downsampling, with a strided 1x1 convolution shortcut), global average
pooling and a linear softmax.

    pip install 'scratchnet[examples]'     # scikit-learn (the data ships inside it)
    python examples/digits_resnet.py [--epochs 12] [--torch]

The same network as examples/digits_resnet.toml (``scratchnet train`` runs that one).
Trains with Adam and a cosine learning-rate schedule. Prints the summary, the test accuracy
and the seconds per epoch; with ``--torch`` (when PyTorch is importable) trains the same net
with it, from the same initial weights, on the same batches, and prints its figures too.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

import scratchnet_core as sn
from scratchnet_core.layers import (
    activation,
    batch_norm2d,
    convolutional_2d,
    global_avg_pool,
    linear,
    residual,
)
from scratchnet_core.optimizers import adam
from scratchnet_std.callbacks import CosineAnnealingLR, LearningRateScheduler

LR, BATCH = 0.003, 32


def split(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    X, Y = sn.get_datasets()["digits"]()
    order = np.random.default_rng(seed).permutation(len(X))
    cut = int(len(X) * 0.75)
    return X[order[:cut]], Y[order[:cut]], X[order[cut:]], Y[order[cut:]]


def basic_block(c_in: int, c_out: int, stride: int = 1) -> sn.Layer:
    """conv -> batch norm -> relu -> conv -> batch norm, plus the shortcut, then relu."""
    shortcut = None
    if stride != 1 or c_in != c_out:  # match the block's shape: a strided 1x1 convolution
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
    )


def build() -> sn.Model:
    return sn.Model(
        [
            [convolutional_2d(1, 16, 3, 1, bias=False), batch_norm2d(16), activation("relu")],
            basic_block(16, 16),  # 16 x 8 x 8
            basic_block(16, 32, stride=2),  # 32 x 4 x 4
            basic_block(32, 32),
            global_avg_pool(),
            linear(32, 10, "softmax"),
        ],
        "categorical_cross_entropy",
        adam(LR),
        batch_size=BATCH,
    )


class EpochTimer:
    """Seconds per epoch, as a hook plugin."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    @sn.hookimpl
    def scratchnet_epoch_start(self) -> None:
        self._start = time.perf_counter()

    @sn.hookimpl
    def scratchnet_epoch_end(self) -> None:
        self.seconds.append(time.perf_counter() - self._start)


def torch_twin(model: sn.Model) -> Any:
    """The same network in PyTorch, with ``model``'s weights copied in."""
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, c_in: int, c_out: int, stride: int) -> None:
            super().__init__()
            self.block = nn.Sequential(
                nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out),
                nn.ReLU(), nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out),
            )  # fmt: skip
            self.shortcut = nn.Sequential()
            if stride != 1 or c_in != c_out:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
                )

        def forward(self, x: Any) -> Any:
            return torch.relu(self.block(x) + self.shortcut(x))

    net = nn.Sequential(
        nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()),
        Block(16, 16, 1), Block(16, 32, 2), Block(32, 32, 1),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10),
    )  # fmt: skip
    ours = {**model.parameters(), **model.buffers()}
    with torch.no_grad():
        for name, tensor in [*net.named_parameters(), *net.named_buffers()]:
            if name.endswith("num_batches_tracked"):
                continue
            key = {"6.weight": "5.weight", "6.bias": "5.bias"}.get(name, name)  # same paths
            value = ours[key]
            tensor.copy_(torch.from_numpy(value.T.copy() if key == "5.weight" else value))
    return net


def run_torch(
    model: sn.Model, X: np.ndarray, Y: np.ndarray, X_test: np.ndarray, Y_test: np.ndarray,
    epochs: int, seed: int,
) -> tuple[float, list[float]]:  # fmt: skip
    import torch

    torch.set_num_threads(2)
    net = torch_twin(model)
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    xt = torch.from_numpy(X.astype(np.float32))
    yt = torch.from_numpy(Y.astype(np.int64))
    seconds = []
    for epoch in range(epochs):
        start = time.perf_counter()
        net.train()
        order = np.random.default_rng([seed, epoch]).permutation(len(X))
        for s in range(0, len(X), BATCH):
            idx = torch.from_numpy(order[s : s + BATCH])
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        schedule.step()
        seconds.append(time.perf_counter() - start)
    net.eval()
    with torch.no_grad():
        pred = net(torch.from_numpy(X_test.astype(np.float32))).argmax(1).numpy()
    return float(np.mean(pred == Y_test)), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--torch", action="store_true", help="compare with PyTorch")
    args = parser.parse_args()

    X, Y, X_test, Y_test = split(args.seed)
    sn.seed(args.seed)
    model = build()
    model.summary(X.shape[1:])
    initial = build()
    initial.set_weights(model.get_weights())
    timer = EpochTimer()
    schedule = LearningRateScheduler(CosineAnnealingLR(T_max=args.epochs))
    model.fit(X, Y, epochs=args.epochs, verbose=0, seed=args.seed, callbacks=[timer, schedule])
    accuracy = model.evaluate(X_test, Y_test)["accuracy"]
    per_epoch = float(np.median(timer.seconds))
    print(
        f"scratchnet: test accuracy {accuracy:.4f}, {per_epoch * 1e3:.0f} ms per epoch "
        f"(median of {args.epochs}; {len(X)} training images, batch {BATCH})"
    )
    if not args.torch:
        return
    t_acc, t_seconds = run_torch(initial, X, Y, X_test, Y_test, args.epochs, args.seed)
    t_epoch = float(np.median(t_seconds))
    print(f"PyTorch:    test accuracy {t_acc:.4f}, {t_epoch * 1e3:.0f} ms per epoch")
    print(f"ratio scratchnet / PyTorch per epoch: {per_epoch / t_epoch:.2f}")


if __name__ == "__main__":
    main()
