"""A small CNN on scikit-learn's 8x8 digits: conv, pool, conv, pool, flatten, linear-softmax.

    pip install 'scratchnet[examples]'     # scikit-learn (the data ships inside it)
    python examples/digits_cnn.py [--epochs 15] [--backend auto]

Prints test accuracy and seconds per epoch; when PyTorch is importable, trains the same net
(same initial weights, same batches, same Adam) with it and prints its figures too.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import scratchnet_core as sn
from scratchnet_core.layers import convolutional_2d, flatten, linear, max_pool2d
from scratchnet_core.optimizers import adam


def split(seed: int = 0):
    X, Y = sn.get_datasets()["digits"]()
    order = np.random.default_rng(seed).permutation(len(X))
    cut = int(len(X) * 0.75)
    return X[order[:cut]], Y[order[:cut]], X[order[cut:]], Y[order[cut:]]


def build(backend: str | None) -> sn.Model:
    return sn.Model(
        [
            convolutional_2d(1, 16, 3, 1, "relu", backend=backend),
            max_pool2d(2),
            convolutional_2d(16, 32, 3, 1, "relu", backend=backend),
            max_pool2d(2),
            flatten(),
            linear(32 * 2 * 2, 10, "softmax"),
        ],
        "categorical_cross_entropy",
        adam(0.003),
        batch_size=32,
    )


class EpochTimer:
    def __init__(self) -> None:
        self.seconds: list[float] = []

    @sn.hookimpl
    def scratchnet_epoch_start(self) -> None:
        self._start = time.perf_counter()

    @sn.hookimpl
    def scratchnet_epoch_end(self) -> None:
        self.seconds.append(time.perf_counter() - self._start)


def run_torch(model: sn.Model, X, Y, X_test, Y_test, epochs: int, seed: int):
    import torch

    torch.set_num_threads(2)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(128, 10),
    )  # fmt: skip
    params = model.parameters()  # start from the same weights (linear is (in, out) here)
    with torch.no_grad():
        net[0].weight.copy_(torch.from_numpy(params["0.weight"]))
        net[0].bias.copy_(torch.from_numpy(params["0.bias"]))
        net[3].weight.copy_(torch.from_numpy(params["2.weight"]))
        net[3].bias.copy_(torch.from_numpy(params["2.bias"]))
        net[7].weight.copy_(torch.from_numpy(params["5.weight"].T.copy()))
        net[7].bias.copy_(torch.from_numpy(params["5.bias"]))
    opt = torch.optim.Adam(net.parameters(), lr=0.003)
    xt = torch.from_numpy(X.astype(np.float32))
    yt = torch.from_numpy(Y.astype(np.int64))
    seconds = []
    for epoch in range(epochs):
        start = time.perf_counter()
        order = np.random.default_rng([seed, epoch]).permutation(len(X))
        for s in range(0, len(X), 32):
            idx = torch.from_numpy(order[s : s + 32])
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        seconds.append(time.perf_counter() - start)
    with torch.no_grad():
        pred = net(torch.from_numpy(X_test.astype(np.float32))).argmax(1).numpy()
    return float(np.mean(pred == Y_test)), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--backend", default=None, help="fft, direct or auto (default: auto)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    X, Y, X_test, Y_test = split(args.seed)
    sn.seed(args.seed)
    model = build(args.backend)
    initial = build(args.backend)
    initial.set_weights(model.get_weights())
    timer = EpochTimer()
    model.fit(X, Y, epochs=args.epochs, verbose=0, seed=args.seed, callbacks=[timer])
    accuracy = model.evaluate(X_test, Y_test)["accuracy"]
    per_epoch = float(np.median(timer.seconds))
    print(
        f"scratchnet: test accuracy {accuracy:.4f}, {per_epoch * 1e3:.0f} ms per epoch "
        f"(median of {args.epochs}; {len(X)} training images, batch 32)"
    )
    try:
        import torch  # noqa: F401
    except ImportError:
        print("PyTorch is not installed: no comparison")
        return
    t_acc, t_seconds = run_torch(initial, X, Y, X_test, Y_test, args.epochs, args.seed)
    t_epoch = float(np.median(t_seconds))
    print(f"PyTorch:    test accuracy {t_acc:.4f}, {t_epoch * 1e3:.0f} ms per epoch")
    print(f"ratio scratchnet / PyTorch per epoch: {per_epoch / t_epoch:.2f}")


if __name__ == "__main__":
    main()
