"""``scratchnet bench conv``: forward + backward of a conv2d step on every installed backend.

Times each installed ``scratchnet.conv_backends`` plugin (the shapes are generic: nothing here
names a backend) and, when it is importable, PyTorch's CPU ``conv2d`` on the same arrays.
Each contender is timed in a block of its own (warm-up, a pause for the other library's
worker threads to go idle, then the repeats), in two rounds of opposite order; the better of
the two block medians is reported. Interleaving single calls instead makes OpenBLAS's and
PyTorch's thread pools spin against each other and swings PyTorch's times by 10x.
"""

from __future__ import annotations

import importlib
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from .interfaces import ConvBackend
from .registry import get_registry

__all__ = ["GRID", "ConvCase", "bench_conv", "format_table"]


class ConvCase(NamedTuple):
    """One conv2d layer shape: ``x: (n, c_in, size, size)``, ``w: (c_out, c_in, k, k)``."""

    n: int
    c_in: int
    c_out: int
    size: int
    k: int
    stride: int
    padding: int


GRID: tuple[ConvCase, ...] = (
    ConvCase(32, 16, 32, 28, 3, 1, 1),
    ConvCase(32, 16, 32, 28, 7, 1, 0),
    ConvCase(16, 8, 16, 64, 11, 1, 0),
    ConvCase(64, 1, 8, 28, 5, 1, 0),
    ConvCase(32, 32, 64, 16, 3, 2, 1),
)


def _step(backend: ConvBackend, case: ConvCase, x: Any, w: Any, g: Any) -> Callable[[], None]:
    stride, padding, dilation = (case.stride,) * 2, (case.padding,) * 2, (1, 1)

    def run() -> None:
        backend.forward(x, w, stride, padding, dilation)
        backend.backward(g, x, w, stride, padding, dilation)

    return run


def _torch_step(case: ConvCase, x: Any, w: Any, g: Any) -> Callable[[], None] | None:
    try:  # optional: a comparison, never a dependency (typed Any: no stubs needed)
        torch: Any = importlib.import_module("torch")
    except ImportError:
        return None
    xt = torch.from_numpy(x).requires_grad_(True)
    wt = torch.from_numpy(w).requires_grad_(True)
    gt = torch.from_numpy(g)

    def run() -> None:
        xt.grad = None
        wt.grad = None
        y = torch.nn.functional.conv2d(xt, wt, stride=case.stride, padding=case.padding)
        y.backward(gt)

    return run


def bench_conv(
    cases: Sequence[ConvCase] = GRID, repeats: int = 5, torch: bool = True
) -> list[dict[str, Any]]:
    """Milliseconds per forward + backward (float32) for each case and backend.

    Each row: the case, ``{backend: ms}`` under ``"ms"``, ``"torch"`` (ms or None),
    ``"auto_choice"`` (``{backend: chosen name}`` for a backend that delegates and reports
    its choice through ``choice_for``) and ``"auto_reason"`` (``{backend: why}``, from its
    ``explain(...).describe()`` when it has one).
    """
    registry = get_registry("conv_backends")
    rows = []
    for case in cases:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((case.n, case.c_in, case.size, case.size)).astype(np.float32)
        w = rng.standard_normal((case.c_out, case.c_in, case.k, case.k)).astype(np.float32)
        out = (case.size + 2 * case.padding - case.k) // case.stride + 1
        g = rng.standard_normal((case.n, case.c_out, out, out)).astype(np.float32)
        steps: dict[str, Callable[[], None]] = {}
        choices: dict[str, str] = {}
        reasons: dict[str, str] = {}
        conv = ((case.stride,) * 2, (case.padding,) * 2, (1, 1))
        for name in registry:
            backend = registry[name]()
            steps[name] = _step(backend, case, x, w, g)
            choice_for = getattr(backend, "choice_for", None)
            if choice_for is not None:
                choices[name] = choice_for(x.shape, w.shape, *conv, x.dtype)
            explain = getattr(backend, "explain", None)
            if explain is not None:
                decision = explain(x.shape, w.shape, *conv, x.dtype)
                describe = getattr(decision, "describe", None)
                reasons[name] = describe() if describe is not None else str(decision)
        torch_step = _torch_step(case, x, w, g) if torch else None
        if torch_step is not None:
            steps["torch"] = torch_step
        ms: dict[str, float] = {}
        order = list(steps)
        for round_order in (order, order[::-1]):
            for name in round_order:
                run = steps[name]
                run()  # warm-up: caches, plans, threads
                time.sleep(0.05)
                run()
                times = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    run()
                    times.append(time.perf_counter() - start)
                block = statistics.median(times) * 1e3
                ms[name] = min(ms.get(name, block), block)
        rows.append(
            {
                "case": case,
                "ms": {k: v for k, v in ms.items() if k != "torch"},
                "torch": ms.get("torch"),
                "auto_choice": choices,
                "auto_reason": reasons,
            }
        )
    return rows


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """A Markdown table of `bench_conv`'s rows."""
    backends = list(rows[0]["ms"]) if rows else []
    header = [
        "N, Cin, Cout, H=W, k, s, p",
        *(f"{b} ms" for b in backends),
        "auto chose",
        "torch ms",
        "best/torch",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        c = row["case"]
        ms = row["ms"]
        real = {k: v for k, v in ms.items() if k not in row["auto_choice"]}
        best = min(real.values()) if real else float("nan")
        chosen = ", ".join(row["auto_choice"].values()) or "-"
        torch_ms = row["torch"]
        cells = [
            f"{c.n}, {c.c_in}, {c.c_out}, {c.size}, {c.k}, {c.stride}, {c.padding}",
            *(f"{ms[b]:.2f}" for b in backends),
            chosen,
            "-" if torch_ms is None else f"{torch_ms:.2f}",
            "-" if torch_ms is None else f"{best / torch_ms:.2f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [
        f"- {c.n}, {c.c_in}, {c.c_out}, {c.size}, {c.k}, {c.stride}, {c.padding}: "
        f"{name} chose {why}"
        for row in rows
        for c in (row["case"],)
        for name, why in row.get("auto_reason", {}).items()
    ]
    if notes:
        lines += ["", "Why (estimates and timings: one forward + backward):", *notes]
    return "\n".join(lines)
