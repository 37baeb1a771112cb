"""``auto``: for each convolution geometry, the fastest of every installed backend.

The candidates are all backends in ``scratchnet.conv_backends`` (entry points and runtime
registrations) except ``auto`` itself. For a geometry (shapes, stride, padding, dilation,
dtype) ``auto`` decides once per process, and every layer with that geometry uses the same
choice:

1. **pinned**: ``SCRATCHNET_CONV_AUTO_CHOICES=path.json`` names a file of choices. A
   geometry listed there uses the listed backend; a geometry not listed is decided as below
   and *added* to the file. The first run records its choices, later runs replay them
   bit for bit (a pinned backend that is not installed is an error, never a silent switch).
2. A backend declines a geometry with ``supports(...) -> False``; it is not considered.
3. **estimate**: if every remaining backend offers ``estimate(...)`` (predicted seconds),
   the smallest wins, without running anything: the choice is the same in every run.
4. **timed**: backends whose estimate is ``None`` (and the best-estimated one, to compare
   against) run two warm-ups, then timed forward + backward passes in alternating rounds
   (at least three, more until a quarter of a second has passed, at most twelve) on random
   data of the geometry, each timed pass right after an untimed one (so that the thread
   pool of the library that ran before has gone quiet); the fastest pass wins (the rule
   of ``torch.backends.cudnn.benchmark``). Set ``SCRATCHNET_CONV_AUTO_BENCHMARK=1`` to
   time every candidate, estimates or not.

A backend that misbehaves (``supports`` or ``estimate`` raising, an estimate that is not a
finite number >= 0, an exception while timed or while computing a geometry it accepted, or
failing to load) is reported once with a `BackendExcludedWarning` naming it and its
distribution, left out for the rest of the process, and ``auto`` carries on with the
others (recomputing the failed call on the next choice). `explain` tells what was
chosen and why; ``scratchnet bench conv`` prints it.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, NamedTuple

import numpy as np

from scratchnet_core import ConfigurationError, ConvBackend, PluginNotFoundError
from scratchnet_core.interfaces import Array
from scratchnet_core.registry import get_registry

from ._common import ConvGeometry, geometry

__all__ = [
    "ENV_BENCHMARK",
    "ENV_CHOICES",
    "Auto",
    "BackendExcludedWarning",
    "Decision",
    "explain",
    "geometry_key",
    "reset",
]

ENV_CHOICES: Final = "SCRATCHNET_CONV_AUTO_CHOICES"
ENV_BENCHMARK: Final = "SCRATCHNET_CONV_AUTO_BENCHMARK"
_SELF: Final = "auto"
_TIMED_RUNS: Final = 3  # rounds at least; more until _TIMING_SECONDS have passed
_MAX_RUNS: Final = 12
_TIMING_SECONDS: Final = 0.25
_WARM_UPS: Final = 2  # compilation, plans, and the allocator settling on the buffers' sizes
# Each timed pass follows an untimed one of the same backend: the worker threads of the
# library that ran last (OpenBLAS's, numba's OpenMP pool) keep spinning for a while after
# their work and slowed the next backend's first pass by 2-5x on 2 cores. No pause between
# backends: on this project's virtual machines a pause of 50-200 ms let the idle cores
# halt, and the next parallel pass then waited 10-15 ms to wake them. The rounds go on for
# at least _TIMING_SECONDS: two libraries' spinning pools sometimes slowed a parallel
# backend to 16 ms per pass (against 0.6-2 ms) for 100-200 ms at a time, and a minimum
# over a longer window sees past such a spell.


class BackendExcludedWarning(UserWarning):
    """A convolution backend misbehaved and ``auto`` no longer considers it (this process).

    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", BackendExcludedWarning)  # e.g. a known-bad plugin
    ...     issubclass(BackendExcludedWarning, UserWarning)
    True
    """


class Decision(NamedTuple):
    """What ``auto`` chose for one geometry, and why.

    ``reason`` is ``"pinned"``, ``"estimate"``, ``"timed"`` or ``"only candidate"``;
    ``estimates`` and ``timings`` are seconds per forward + backward; ``declined`` lists the
    backends whose ``supports`` said no.

    >>> d = Decision("direct", "timed", {}, {"direct": 0.004, "my_backend": 0.005}, ())
    >>> d.backend, d.describe()
    ('direct', 'direct (timed: direct 4.00 ms, my_backend 5.00 ms)')
    """

    backend: str
    reason: str
    estimates: dict[str, float]
    timings: dict[str, float]
    declined: tuple[str, ...]

    def describe(self) -> str:
        """One line: the choice, the reason, the figures it rests on.

        >>> Decision("fft", "estimate", {"fft": 0.002, "direct": 0.009}, {}, ()).describe()
        'fft (estimate: fft 2.00 ms, direct 9.00 ms)'
        """
        figures = self.timings if self.reason == "timed" else self.estimates
        parts = ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in figures.items())
        declined = f"; declined: {', '.join(self.declined)}" if self.declined else ""
        return f"{self.backend} ({self.reason}{': ' + parts if parts else ''}{declined})"


def geometry_key(
    x_shape: Sequence[int],
    w_shape: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
    dtype: Any = None,
) -> str:
    """The text that names a geometry in decisions and in the pinned-choices file.

    >>> geometry_key((32, 16, 28, 28), (32, 16, 3, 3), (1, 1), (1, 1), (1, 1), "float32")
    'x=32x16x28x28 w=32x16x3x3 stride=1x1 padding=1x1 dilation=1x1 float32'
    """

    def dims(values: Sequence[int]) -> str:
        return "x".join(str(int(v)) for v in values)

    name = np.dtype(dtype if dtype is not None else np.float32).name
    return (
        f"x={dims(x_shape)} w={dims(w_shape)} stride={dims(stride)} "
        f"padding={dims(padding)} dilation={dims(dilation)} {name}"
    )


# ------------------------------------------------------------------- process-wide state
_lock = threading.RLock()
_decisions: dict[tuple[str, tuple[tuple[str, Any], ...]], Decision] = {}
_excluded: dict[str, tuple[Any, str]] = {}  # name -> (the class excluded, why)
_pins: dict[str, dict[str, str]] = {}  # file path -> its choices
_generation = [0]  # bumped whenever a decision may have become stale


def reset() -> None:
    """Forget every decision, exclusion and loaded pin file (tests; after re-registering).

    >>> reset()
    """
    with _lock:
        _decisions.clear()
        _excluded.clear()
        _pins.clear()
        _generation[0] += 1


def _origin(name: str) -> str:
    try:
        dist, version = get_registry("conv_backends").origin(name)
    except Exception:  # the origin is for the message only
        return "unknown distribution"
    return "registered at run time" if dist == version else f"distribution {dist} {version}"


def _exclude(name: str, cls: Any, why: str) -> None:
    with _lock:
        if name in _excluded and _excluded[name][0] is cls:
            return
        _excluded[name] = (cls, why)
        _generation[0] += 1
        stale = [k for k in _decisions if any(n == name for n, _ in k[1])]
        for key in stale:
            del _decisions[key]
    warnings.warn(
        f"conv backend {name!r} ({_origin(name)}) left out of 'auto': {why}",
        BackendExcludedWarning,
        stacklevel=4,
    )


def _candidates(restrict: Sequence[str] | None) -> dict[str, Any]:
    """name -> backend class, for every usable candidate."""
    registry = get_registry("conv_backends")
    names = [n for n in registry if n != _SELF] if restrict is None else list(restrict)
    found: dict[str, Any] = {}
    for name in names:
        try:
            cls = registry[name]
        except PluginNotFoundError:
            if restrict is not None:
                raise
            continue
        except Exception as exc:  # PluginLoadError: reported once, never fatal for auto
            if name not in _excluded:
                _exclude(name, None, f"{type(exc).__name__}: {exc}")
            continue
        if isinstance(cls, type) and issubclass(cls, Auto):
            continue
        excluded = _excluded.get(name)
        if excluded is not None and excluded[0] is cls:
            continue
        found[name] = cls
    return found


def _pin_file() -> Path | None:
    value = os.environ.get(ENV_CHOICES, "").strip()
    return Path(value) if value else None


def _read_pins(path: Path) -> dict[str, str]:
    key = str(path)
    if key not in _pins:
        choices: dict[str, str] = {}
        if path.exists():
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise ConfigurationError(
                    f"auto: cannot read the pinned choices {path} ({ENV_CHOICES}): {exc}"
                ) from exc
            if not isinstance(data, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in data.items()
            ):
                raise ConfigurationError(
                    f"auto: {path} ({ENV_CHOICES}) must hold a JSON object mapping geometry "
                    f"keys to backend names, got {type(data).__name__}"
                )
            choices = dict(data)
        _pins[key] = choices
    return _pins[key]


def _write_pin(path: Path, key: str, backend: str) -> None:
    choices = _read_pins(path)
    choices[key] = backend
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(choices, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)  # atomic: a crash never leaves half a file


def _finite_seconds(value: Any) -> bool:
    return (
        isinstance(value, (int, float, np.floating, np.integer))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
        and float(value) >= 0
    )


def _time_backends(
    probes: dict[str, ConvBackend],
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    conv: tuple[tuple[int, ...], ...],
    dtype: Any,
    key: str,
    candidates: dict[str, Any],
) -> dict[str, float]:
    """Fastest timed forward + backward pass of each backend, in alternating rounds (so
    that a burst of load on a shared machine hits all of them; at least `_TIMED_RUNS`, more
    until `_TIMING_SECONDS` have passed, at most `_MAX_RUNS`), each right after an untimed
    pass, after `_WARM_UPS` each (compilation, plans, caches, and the allocator: the first
    calls that allocate large buffers are slower). A backend that fails is left out."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    grads: dict[str, Array] = {}
    for name, backend in probes.items():
        try:
            grads[name] = np.ones_like(backend.forward(x, w, *conv))
            for _ in range(_WARM_UPS):
                backend.forward(x, w, *conv)
                backend.backward(grads[name], x, w, *conv)
        except Exception as exc:
            _exclude(name, candidates[name], f"failed on {key}: {type(exc).__name__}: {exc}")
    best = dict.fromkeys(grads, math.inf)
    order = list(grads)
    began = time.perf_counter()
    for r in range(_MAX_RUNS):
        if r >= _TIMED_RUNS and time.perf_counter() - began > _TIMING_SECONDS:
            break
        for name in order if r % 2 == 0 else order[::-1]:
            backend = probes[name]
            backend.forward(x, w, *conv)
            backend.backward(grads[name], x, w, *conv)
            start = time.perf_counter()
            backend.forward(x, w, *conv)
            backend.backward(grads[name], x, w, *conv)
            best[name] = min(best[name], time.perf_counter() - start)
    for backend in probes.values():
        backend.clear_cache()
    return best


def _decide(
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    conv: tuple[tuple[int, ...], ...],
    dtype: Any,
    restrict: Sequence[str] | None,
) -> Decision:
    key = geometry_key(x_shape, w_shape, conv[0], conv[1], conv[2], dtype)
    candidates = _candidates(restrict)
    cache_key = (key, tuple(candidates.items()))
    with _lock:
        if cache_key in _decisions:
            return _decisions[cache_key]
    pin_path = _pin_file()
    if pin_path is not None:
        pinned = _read_pins(pin_path).get(key)
        if pinned is not None:
            if pinned not in get_registry("conv_backends"):
                raise PluginNotFoundError(
                    "conv_backends",
                    pinned,
                    list(get_registry("conv_backends")),
                    hint=f"(pinned for {key} in {pin_path}, {ENV_CHOICES})",
                )
            decision = Decision(pinned, "pinned", {}, {}, ())
            with _lock:
                _decisions[cache_key] = decision
            return decision
    estimates: dict[str, float] = {}
    unestimated: list[str] = []
    declined: list[str] = []
    probes: dict[str, ConvBackend] = {}
    for name, cls in candidates.items():
        try:
            probe = cls()
            if not probe.supports(x_shape, w_shape, *conv, dtype):
                declined.append(name)
                continue
            value = probe.estimate(x_shape, w_shape, *conv, dtype)
        except Exception as exc:
            _exclude(name, cls, f"supports/estimate raised {type(exc).__name__}: {exc}")
            continue
        if value is not None and not _finite_seconds(value):
            _exclude(name, cls, f"estimate returned {value!r}, not a finite number >= 0")
            continue
        probes[name] = probe
        if value is None:
            unestimated.append(name)
        else:
            estimates[name] = float(value)
    if not probes:
        raise ConfigurationError(
            f"auto: no installed convolution backend takes {key} "
            f"(declined: {', '.join(declined) or 'none'}; "
            f"left out: {', '.join(sorted(_excluded)) or 'none'})"
        )
    benchmark = os.environ.get(ENV_BENCHMARK, "").strip() not in ("", "0")
    to_time = list(probes) if benchmark else list(unestimated)
    if to_time and estimates and not benchmark:
        to_time.append(min(estimates, key=lambda n: (estimates[n], n)))
    timings: dict[str, float] = {}
    if len(probes) == 1:
        reason, choice = "only candidate", next(iter(probes))
    elif to_time:
        probed = {name: probes[name] for name in to_time}
        timings = _time_backends(probed, x_shape, w_shape, conv, dtype, key, candidates)
        if not timings:
            return _decide(x_shape, w_shape, conv, dtype, restrict)
        reason, choice = "timed", min(timings, key=lambda n: (timings[n], n))
    else:
        reason, choice = "estimate", min(estimates, key=lambda n: (estimates[n], n))
    decision = Decision(choice, reason, estimates, timings, tuple(declined))
    with _lock:
        decision = _decisions.setdefault((key, tuple(_candidates(restrict).items())), decision)
    if pin_path is not None:
        with _lock:
            _write_pin(pin_path, key, decision.backend)
    return decision


def explain(
    x_shape: Sequence[int],
    w_shape: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
    dtype: Any = None,
    candidates: Sequence[str] | None = None,
) -> Decision:
    """The `Decision` ``auto`` makes (or made) for a geometry.

    >>> d = explain((16, 8, 64, 64), (16, 8, 11, 11), (1, 1), (0, 0), (1, 1), "float32",
    ...             candidates=["direct", "fft"])
    >>> d.backend, d.reason
    ('fft', 'estimate')
    """
    dt = np.dtype(dtype if dtype is not None else np.float32)
    g = ConvGeometry(
        tuple(x_shape), tuple(w_shape), tuple(stride), tuple(padding), tuple(dilation), "auto"
    )
    conv = (g.stride, g.padding, g.dilation)
    return _decide(tuple(x_shape), tuple(w_shape), conv, dt, candidates)


class Auto(ConvBackend):
    """Delegates each call to the installed backend ``auto`` decides on for its geometry.

    ``candidates`` restricts the choice to some backends (default: all installed).

    Examples
    --------
    >>> auto = Auto(candidates=["direct", "fft"])
    >>> auto.choice_for((32, 16, 28, 28), (32, 16, 3, 3), (1, 1), (1, 1), (1, 1))
    'direct'
    >>> auto.choice_for((16, 8, 64, 64), (16, 8, 11, 11), (1, 1), (0, 0), (1, 1))
    'fft'
    """

    def __init__(self, candidates: Sequence[str] | None = None) -> None:
        self._restrict = None if candidates is None else tuple(candidates)
        self._backends: dict[str, ConvBackend] = {}
        # per-call fast path: (shapes, conv, dtypes) -> (generation, backends, name, reason)
        self._memo: dict[tuple[Any, ...], tuple[int, int, str, str]] = {}

    def choice_for(
        self,
        x_shape: tuple[int, ...],
        w_shape: tuple[int, ...],
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
        dtype: Any = None,
    ) -> str:
        """The backend name chosen for these shapes (float32 when ``dtype`` is None)."""
        return self.explain(x_shape, w_shape, stride, padding, dilation, dtype).backend

    def explain(
        self,
        x_shape: tuple[int, ...],
        w_shape: tuple[int, ...],
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
        dtype: Any = None,
    ) -> Decision:
        """The `Decision` for these shapes: the choice and its reason."""
        return explain(x_shape, w_shape, stride, padding, dilation, dtype, self._restrict)

    def _backend(self, name: str) -> ConvBackend:
        backend = self._backends.get(name)
        if backend is None:
            backend = self._backends[name] = get_registry("conv_backends")[name]()
        return backend

    def _choose(self, x: Array, w: Array, conv: tuple[Any, ...]) -> tuple[str, str, Any]:
        """(backend name, reason, checked conv) for this call; memoised per instance."""
        try:
            memo_key: tuple[Any, ...] = (x.shape, w.shape, *map(tuple, conv), x.dtype, w.dtype)
        except TypeError:  # not tuples: geometry() below names the argument
            memo_key = ()
        installed = len(get_registry("conv_backends"))
        hit = self._memo.get(memo_key)
        if hit is not None and hit[0] == _generation[0] and hit[1] == installed:
            return hit[2], hit[3], memo_key[2:5]
        g = geometry(
            x, w, conv[0], conv[1], conv[2], "auto"
        )  # bad input is the caller's error, never a backend's
        checked = (g.stride, g.padding, g.dilation)
        generation = _generation[0]
        decision = _decide(x.shape, w.shape, checked, np.result_type(x, w), self._restrict)
        if memo_key:
            self._memo[memo_key] = (generation, installed, decision.backend, decision.reason)
        return decision.backend, decision.reason, checked

    def _run(self, method: str, x: Array, w: Array, conv: tuple[Any, ...], *args: Any) -> Any:
        while True:
            name, reason, checked = self._choose(x, w, conv)
            backend = self._backend(name)
            try:
                return getattr(backend, method)(*args, x, w, *checked)
            except Exception as exc:
                if reason in ("pinned", "only candidate"):
                    raise
                stride, padding, dilation = checked
                key = geometry_key(
                    x.shape, w.shape, stride, padding, dilation, np.result_type(x, w)
                )
                _exclude(name, type(backend), f"failed on {key}: {type(exc).__name__}: {exc}")

    def forward(
        self,
        x: Array,
        w: Array,
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
    ) -> Array:
        y: Array = self._run("forward", x, w, (stride, padding, dilation))
        return y

    def backward(
        self,
        grad_y: Array,
        x: Array,
        w: Array,
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
    ) -> tuple[Array, Array]:
        grads: tuple[Array, Array] = self._run(
            "backward", x, w, (stride, padding, dilation), grad_y
        )
        return grads

    def clear_cache(self) -> None:
        for backend in self._backends.values():
            backend.clear_cache()
