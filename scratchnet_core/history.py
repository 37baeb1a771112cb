"""Per-epoch metrics of a ``fit`` call (`History`), with CSV export and plotting."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import DataError, OptionalDependencyError
from .hookspecs import hookimpl

__all__ = ["History"]


class History:
    """Per-epoch metrics of one `Model.fit` call, as Keras keeps them.

    ``history.history`` maps a metric name (``"loss"``, ``"accuracy"``, ``"val_loss"``, ...)
    to one float per epoch; ``history["loss"]`` is a shortcut; ``history.epoch`` lists the
    epochs run. It is itself a hook implementation, registered for each ``fit``.

    Examples
    --------
    >>> import numpy as np, scratchnet_core as sn
    >>> X = np.random.default_rng(0).normal(size=(16, 2)); Y = (X[:, 0] > 0).astype(int)
    >>> model = sn.Model([sn.get_layers()["linear"](2, 1, "sigmoid")], "binary_cross_entropy")
    >>> history = model.fit(X, Y, epochs=2, validation_split=0.25, verbose=0)
    >>> sorted(history.history), history.epoch
    (['accuracy', 'loss', 'val_accuracy', 'val_loss'], [0, 1])
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    @hookimpl(trylast=True)  # after callbacks that add to the logs (learning rate, ...)
    def scratchnet_epoch_end(self, epoch: int, logs: Mapping[str, float]) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def __getitem__(self, key: str) -> list[float]:
        try:
            return self.history[key]
        except KeyError:
            raise DataError(
                f"History has no metric {key!r}; it has {', '.join(self.history) or 'none'}"
            ) from None

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write one row per epoch: ``epoch`` (from 1) then every metric."""
        import csv

        keys = list(self.history)
        with open(os.fspath(path), "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["epoch", *keys])
            for row, epoch in enumerate(self.epoch):
                writer.writerow([epoch + 1, *(repr(self.history[k][row]) for k in keys)])

    def plot(
        self, path: str | os.PathLike[str] | None = None, metrics: Sequence[str] | None = None
    ) -> Any:
        """Plot metrics against epochs with matplotlib (optional); save to ``path`` if given.

        Returns the matplotlib figure. Losses and accuracies go on separate axes.
        """
        try:
            import matplotlib

            if path is not None:
                matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise OptionalDependencyError(
                "History.plot needs matplotlib: pip install 'scratchnet[plot]'"
            ) from exc
        names = list(metrics) if metrics is not None else list(self.history)
        groups = [[n for n in names if "acc" not in n], [n for n in names if "acc" in n]]
        groups = [g for g in groups if g]
        fig, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 3.5), squeeze=False)
        epochs = [e + 1 for e in self.epoch]
        for ax, group in zip(axes[0], groups, strict=True):
            for name in group:
                ax.plot(epochs, self[name], label=name)
            ax.set(xlabel="epoch")
            ax.legend()
            ax.grid(alpha=0.3)
        fig.tight_layout()
        if path is not None:
            fig.savefig(os.fspath(path), dpi=100)
            plt.close(fig)
        return fig

    def __repr__(self) -> str:
        last = {k: round(v[-1], 6) for k, v in self.history.items() if v}
        return f"History(epochs={len(self.epoch)}, last={last})"
