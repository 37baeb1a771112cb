"""``auto`` over every installed backend: estimates, timing, pinned choices, bad plugins."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import numpy as np
import pytest

import scratchnet_core as sn
from scratchnet_core.registry import get_registry
from scratchnet_std.conv_backends import auto as auto_mod
from scratchnet_std.conv_backends.auto import BackendExcludedWarning, explain
from scratchnet_std.conv_backends.direct import Direct

from .reference import conv_forward

TARGET = ((4, 3, 9, 9), (2, 3, 3, 3), (1, 1), (1, 1), (1, 1))
OTHER = ((2, 3, 12, 12), (2, 3, 5, 5), (2, 2), (0, 0), (1, 1))
RUNTIME = ["cheap_on_target", "quick", "quick_timed", "slow", "raising", "nonsense", "liar"]


@pytest.fixture(autouse=True)
def clean_auto() -> Iterator[None]:
    auto_mod.reset()
    yield
    registry = get_registry("conv_backends")
    for name in RUNTIME:
        registry.remove(name)
    auto_mod.reset()


def arrays(geometry: tuple[tuple[int, ...], ...]) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    x_shape, w_shape = geometry[0], geometry[1]
    return rng.standard_normal(x_shape), rng.standard_normal(w_shape)


def run_auto(geometry: tuple[tuple[int, ...], ...], **kw: object) -> np.ndarray:
    x, w = arrays(geometry)
    backend = sn.get_conv_backends()["auto"](**kw)
    y = backend.forward(x, w, *geometry[2:])
    backend.backward(np.ones_like(y), x, w, *geometry[2:])
    np.testing.assert_allclose(y, conv_forward(x, w, *geometry[2:]), rtol=1e-9, atol=1e-9)
    return y


def is_target(x_shape: tuple[int, ...], w_shape: tuple[int, ...]) -> bool:
    return tuple(x_shape) == TARGET[0] and tuple(w_shape) == TARGET[1]


def test_candidates_are_every_installed_backend_but_auto() -> None:
    d = explain(*TARGET, "float64")
    considered = set(d.estimates) | set(d.timings) | set(d.declined)
    assert considered == set(sn.get_conv_backends()) - {"auto"}
    assert d.backend in considered
    timed = {n for n in considered if sn.get_conv_backends()[n]().estimate(*TARGET) is None}
    assert d.reason == ("timed" if timed else "estimate")
    assert explain(*TARGET, "float64") is d  # one decision per geometry and process


def test_runtime_backend_with_the_lowest_estimate_is_chosen_where_it_is_lowest() -> None:
    @sn.register("conv_backends", "cheap_on_target")
    class CheapOnTarget(Direct):
        def supports(self, x_shape, w_shape, stride, padding, dilation, dtype=None):
            return tuple(stride) == (1, 1)

        def estimate(self, x_shape, w_shape, stride, padding, dilation, dtype=None):
            return 0.0 if is_target(x_shape, w_shape) else 10.0

    assert explain(*TARGET).backend == "cheap_on_target"
    other = explain(*OTHER)
    assert other.backend != "cheap_on_target" and "cheap_on_target" in other.declined
    run_auto(TARGET)


def slowed(method, seconds: float, when):
    def wrapper(self, *args):
        x, w = args[-5], args[-4]
        if when(x.shape, w.shape):
            time.sleep(seconds)
        return method(self, *args)

    return wrapper


def test_runtime_backend_without_estimate_is_timed_and_chosen_where_fastest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # every installed backend is made 30 ms slower on TARGET; "quick" is 30 ms slower
    # everywhere else: a timing, not an estimate, has to find that out
    direct_forward = Direct.forward
    for name in sorted(sn.get_conv_backends()):
        if name != "auto":
            cls = sn.get_conv_backends()[name]
            monkeypatch.setattr(cls, "forward", slowed(cls.forward, 0.03, is_target))

    @sn.register("conv_backends", "quick")
    class Quick(Direct):
        def estimate(self, *args, **kwargs):
            return None

    Quick.forward = slowed(direct_forward, 0.03, lambda *s: not is_target(*s))  # type: ignore[method-assign]
    d = explain(*TARGET)
    assert (d.backend, d.reason) == ("quick", "timed")
    # quick (and any installed backend without an estimate) against the best-estimated one
    assert "quick" in d.timings and len(d.timings) >= 2
    assert explain(*OTHER).backend != "quick"
    run_auto(TARGET)


def test_benchmark_mode_times_every_candidate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(auto_mod.ENV_BENCHMARK, "1")
    d = explain(*TARGET, candidates=["direct", "fft"])
    assert d.reason == "timed" and set(d.timings) == {"direct", "fft"}
    assert d.backend == min(d.timings, key=d.timings.__getitem__)


@pytest.mark.parametrize(
    ("estimate", "why"),
    [
        (ZeroDivisionError("boom"), "supports/estimate raised ZeroDivisionError: boom"),
        (float("nan"), "estimate returned nan"),
        (-1.0, "estimate returned -1.0"),
        ("fast", "estimate returned 'fast'"),
    ],
)
def test_bad_estimate_is_reported_once_and_left_out(estimate, why) -> None:
    @sn.register("conv_backends", "nonsense")
    class Nonsense(Direct):
        def estimate(self, *args, **kwargs):
            if isinstance(estimate, Exception):
                raise estimate
            return estimate

    with pytest.warns(BackendExcludedWarning, match=r"'nonsense' \(registered at run time\)"):
        d = explain(*TARGET)
    assert d.backend != "nonsense"
    with pytest.warns(BackendExcludedWarning, match=why):
        auto_mod.reset()
        explain(*TARGET)
    run_auto(OTHER)  # excluded for the process: no second warning (warnings are errors here)


def test_backend_failing_on_a_geometry_it_claimed_is_left_out_and_auto_carries_on() -> None:
    @sn.register("conv_backends", "quick_timed")
    class Timed(Direct):
        def estimate(self, *args, **kwargs):
            return None

    @sn.register("conv_backends", "liar")
    class Liar(Direct):
        def estimate(self, *args, **kwargs):
            return 0.0

        def forward(self, x, w, stride, padding, dilation):
            raise RuntimeError("not implemented for this one after all")

    estimated = ["liar", "direct", "fft"]  # all with estimates: liar wins without running
    assert explain(*TARGET, candidates=estimated).backend == "liar"
    with pytest.warns(BackendExcludedWarning, match="'liar'.*RuntimeError: not implemented"):
        run_auto(TARGET, candidates=estimated)  # recomputed on the next choice
    assert explain(*TARGET, candidates=estimated).backend != "liar"
    run_auto(OTHER)
    auto_mod.reset()  # against a backend that is timed, liar fails while being timed
    with pytest.warns(BackendExcludedWarning, match="'liar'.*RuntimeError: not implemented"):
        assert explain(*TARGET, candidates=["liar", "quick_timed"]).backend == "quick_timed"


def test_plugin_from_a_distribution_is_named_in_the_report(make_distribution) -> None:
    make_distribution(
        "acme-conv",
        {"scratchnet.conv_backends": {"raising": "acme_conv:Raising"}},
        {
            "acme_conv": """
                from scratchnet_std.conv_backends.direct import Direct

                class Raising(Direct):
                    def supports(self, *args, **kwargs):
                        raise OSError("no device")
            """
        },
    )
    with pytest.warns(BackendExcludedWarning, match=r"'raising' \(distribution acme-conv 1.0\)"):
        assert explain(*TARGET).backend != "raising"


def test_plugin_that_fails_to_load_is_reported_and_left_out(make_distribution) -> None:
    make_distribution(
        "broken-conv", {"scratchnet.conv_backends": {"raising": "not_there_at_all:Backend"}}
    )
    with pytest.warns(BackendExcludedWarning, match="'raising'.*PluginLoadError"):
        run_auto(TARGET)


def test_pinned_choices_replay_and_record(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    path = tmp_path / "choices.json"
    monkeypatch.setenv(auto_mod.ENV_CHOICES, str(path))
    first = explain(*TARGET, "float64")
    recorded = json.loads(path.read_text())
    key = auto_mod.geometry_key(*TARGET, "float64")
    assert recorded == {key: first.backend}
    path.write_text(json.dumps({key: "fft"}))
    auto_mod.reset()
    pinned = explain(*TARGET, "float64")
    assert (pinned.backend, pinned.reason) == ("fft", "pinned")
    run_auto(TARGET)  # float64 arrays: the pinned geometry
    path.write_text(json.dumps({key: "no_such_backend"}))
    auto_mod.reset()
    with pytest.raises(sn.PluginNotFoundError, match=r"choices\.json"):
        explain(*TARGET, "float64")
    path.write_text("[1, 2]")
    auto_mod.reset()
    with pytest.raises(sn.ConfigurationError, match="JSON object"):
        explain(*TARGET, "float64")


def test_choice_explained_and_no_backend_left_is_one_clear_error() -> None:
    d = explain(*OTHER, candidates=["direct", "fft"])
    assert d.describe().startswith(d.backend + " (estimate: ")

    @sn.register("conv_backends", "slow")
    class Declines(Direct):
        def supports(self, *args, **kwargs):
            return False

    with pytest.raises(sn.ConfigurationError, match="declined: slow"):
        explain(*TARGET, candidates=["slow"])
    with pytest.raises(sn.PluginNotFoundError):
        explain(*TARGET, candidates=["nope"])
