"""The XOR demo behind ``scratchnet demo xor`` and ``make demo``: the seed README's example."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._random import seed as seed_rng
from .checks import output_path
from .layers import linear
from .model import History, Model
from .optimizers import SGD
from .registry import get_registry

__all__ = ["run_xor_demo", "seed_xor_model"]


def seed_xor_model(X: np.ndarray[Any, Any], Y: np.ndarray[Any, Any]) -> Model:
    """The seed README's model, as written there: 2-32-32-1, relu, sigmoid, SGD(0.001)."""
    return Model(
        [linear(2, 32, "relu"), linear(32, 32, "relu"), linear(32, 1, "sigmoid")],
        "binary_cross_entropy",
        SGD(0.001),
        batch_size=100,
        X=X,
        Y=Y,
        epochs=10000,
    )


def run_xor_demo(plot: str | None = None, seed: int = 0, verbose: int = 1) -> dict[str, Any]:
    """Train the seed's XOR example; returns its metrics and, with ``plot``, what was drawn.

    Keys: ``train_loss``, ``train_accuracy``, ``test_accuracy`` and ``plot`` (the file
    written, or a hint when matplotlib is missing, or ``None``).
    """
    if plot:
        output_path("--plot", plot)  # a bad location fails now, not after training
    seed_rng(seed)
    xor = get_registry("datasets")["xor"]  # the core names no dataset: it asks the registry
    X, Y = xor(samples=500, seed=seed)
    X_test, Y_test = xor(samples=1000, seed=seed + 1)
    model = seed_xor_model(X, Y)
    model.fit(X, Y, epochs=model.epochs, batch_size=model.batch_size, verbose=verbose)
    history = model.history
    assert history is not None
    train = model.evaluate(X, Y)
    test = model.evaluate(X_test, Y_test)
    return {
        "train_loss": train["loss"],
        "train_accuracy": train["accuracy"],
        "test_accuracy": test["accuracy"],
        "plot": _plot(plot, model, history, X, Y) if plot else None,
    }


def _plot(
    path: str, model: Model, history: History, X: np.ndarray[Any, Any], Y: np.ndarray[Any, Any]
) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "no plot: --plot needs matplotlib (pip install 'scratchnet[plot]')"
    fig, (ax_boundary, ax_loss) = plt.subplots(1, 2, figsize=(10, 4.5))
    grid = np.linspace(-3, 3, 200)
    gx, gy = np.meshgrid(grid, grid)
    prob = model.predict(np.c_[gx.ravel(), gy.ravel()], batch_size=4096).reshape(gx.shape)
    ax_boundary.contourf(gx, gy, prob, levels=20, cmap="RdBu_r", alpha=0.6)
    ax_boundary.contour(gx, gy, prob, levels=[0.5], colors="k")
    ax_boundary.scatter(X[:, 0], X[:, 1], c=Y, cmap="RdBu_r", edgecolors="k", s=12)
    ax_boundary.set(title="decision boundary (p = 0.5)", xlabel="x0", ylabel="x1")
    ax_loss.plot(history["loss"])
    ax_loss.set(title="training loss", xlabel="epoch", ylabel="binary cross-entropy", yscale="log")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return f"wrote {path}"
