"""The registry: discovery through real entry points, laziness, names, conflicts, failures."""

from __future__ import annotations

import importlib_metadata
import pytest

import scratchnet_core as sn
from scratchnet_core import registry
from scratchnet_core.cli import main
from scratchnet_core.registry import (
    PluginRecord,
    build_registries,
    find_plugins,
    hide_disabled,
    parse_disabled,
)

CUBE = """
import numpy as np
import scratchnet_core as sn

class Cube(sn.ActivationFunction):
    def forward(self, z):
        self.z = z
        return z ** 3

    def backward(self, grad):
        return grad * 3 * self.z ** 2
"""


def test_standard_set_is_discovered_through_entry_points() -> None:
    records = find_plugins(importlib_metadata.distributions())
    std = {(r.kind, r.name) for r in records if r.distribution == "scratchnet-std"}
    assert ("activations", "relu") in std
    assert ("costs", "categorical_cross_entropy") in std
    assert ("layers", "dense") in std  # an alias is a further entry point
    assert ("optimizers", "sgd") in std


def test_lookups_are_case_insensitive_and_aliases_resolve() -> None:
    assert sn.get_optimizers()["SGD"] is sn.get_optimizers()["sgd"]
    assert sn.get_cost_functions()["MSE"] is sn.get_cost_functions()["mean_squared_error"]
    assert sn.get_layers()["dense"] is sn.get_layers()["Linear"]
    from scratchnet_core.optimizers import SGD, sgd

    assert SGD is sgd


def test_unknown_name_suggests_close_matches_and_lists_installed() -> None:
    with pytest.raises(sn.PluginNotFoundError) as info:
        sn.get_activation_functions()["rellu"]
    message = str(info.value)
    assert "'relu'" in message and "did you mean" in message
    assert "sigmoid" in message  # the installed names
    assert isinstance(info.value, KeyError)
    assert sn.get_activation_functions().get("rellu") is None  # Mapping.get works


def test_family_module_unknown_names() -> None:
    import scratchnet_core.layers as layers

    with pytest.raises(sn.PluginNotFoundError, match="did you mean 'linear'") as info:
        layers.lineer  # noqa: B018
    assert isinstance(info.value, AttributeError)  # tools that probe modules keep working
    assert not hasattr(layers, "lineer") and getattr(layers, "pytest_plugins", None) is None
    with pytest.raises(ImportError, match="lineer"):
        from scratchnet_core.layers import lineer  # noqa: F401
    assert "linear" in dir(layers)  # what Python 3.12+ suggests from


def test_empty_registry_points_at_the_standard_distribution() -> None:
    empty = build_registries([])["layers"]
    with pytest.raises(sn.PluginNotFoundError, match="scratchnet-std"):
        empty["linear"]
    assert list(empty) == [] and len(empty) == 0


def test_a_new_distribution_is_found_and_loaded_lazily(make_distribution) -> None:
    import sys

    make_distribution(
        "acme-plugins",
        {"scratchnet.activations": {"cube": "acme_cube:Cube", "Cubed": "acme_cube:Cube"}},
        {"acme_cube": CUBE},
    )
    acts = sn.get_activation_functions()
    assert "cube" in acts and "CUBED" in acts
    assert "acme_cube" not in sys.modules  # listing imports nothing
    cls = acts["cube"]
    assert "acme_cube" in sys.modules and cls.__name__ == "Cube"
    assert acts["acme-plugins:cube"] is cls  # qualified name
    assert registry.get_registry("activations").origin("cube") == ("acme-plugins", "1.0")


def test_conflict_names_both_distributions_and_qualified_names_choose(make_distribution) -> None:
    make_distribution(
        "acme-one", {"scratchnet.activations": {"relu": "acme_one:Cube"}}, {"acme_one": CUBE}
    )
    acts = sn.get_activation_functions()
    with pytest.raises(sn.PluginConflictError) as info:
        acts["relu"]
    assert "acme-one" in str(info.value) and "scratchnet-std" in str(info.value)
    assert "'scratchnet-std:relu'" in str(info.value)
    assert acts["scratchnet-std:relu"].__name__ == "ReLU"
    assert acts["acme_one:relu"].__name__ == "Cube"  # distribution names normalise


def test_conflict_error_mentions_the_qualified_form_and_the_disable_variable(
    make_distribution,
) -> None:
    make_distribution(
        "acme-one", {"scratchnet.activations": {"relu": "acme_one:Cube"}}, {"acme_one": CUBE}
    )
    with pytest.raises(sn.PluginConflictError) as info:
        sn.get_activation_functions()["relu"]
    message = str(info.value)
    assert "'distribution:name'" in message and "SCRATCHNET_DISABLE_PLUGINS=" in message


def test_plugins_command_marks_both_conflicting_distributions(make_distribution, capsys) -> None:
    make_distribution(
        "acme-one", {"scratchnet.activations": {"relu": "acme_one:Cube"}}, {"acme_one": CUBE}
    )
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out.splitlines()
    lines = [line for line in out if " relu " in line and line.startswith("activations")]
    assert len(lines) == 2
    assert {line.split()[2] for line in lines} == {"acme-one", "scratchnet-std"}
    for line in lines:
        assert "loaded; conflict: 2 distributions offer 'relu'" in line
        assert "'acme-one:relu'" in line and "'scratchnet-std:relu'" in line
    other = registry.get_registry("activations")
    tanh = next(r for r in other.records() if r.name == "tanh")
    assert "conflict" not in other.state(tanh)


def test_a_disable_entry_matching_nothing_is_reported(make_distribution, monkeypatch, capsys):
    monkeypatch.setenv("SCRATCHNET_DISABLE_PLUGINS", "cube, no-such-dist")
    with pytest.warns(UserWarning, match=r"'no-such-dist' matches no installed plugin"):
        make_distribution("acme-plugins", {"scratchnet.activations": {"cube": "acme_cube:Cube"}})
    assert registry.unmatched_disabled_entries() == ["no-such-dist"]  # 'cube' hides acme's
    assert main(["plugins", "--no-load"]) == 0
    out = capsys.readouterr().out
    assert "SCRATCHNET_DISABLE_PLUGINS: 'no-such-dist' matches no installed plugin" in out
    assert "'cube'" not in out.split("SCRATCHNET_DISABLE_PLUGINS")[-1]
    monkeypatch.delenv("SCRATCHNET_DISABLE_PLUGINS")
    registry.refresh()
    assert registry.unmatched_disabled_entries() == []


def test_broken_plugin_reports_entry_point_distribution_and_cause(make_distribution) -> None:
    make_distribution(
        "acme-broken",
        {
            "scratchnet.activations": {
                "broken": "acme_broken:Thing",
                "missing": "acme_missing_attr:Nope",
                "notanact": "acme_missing_attr:NotAnActivation",
            }
        },
        {
            "acme_broken": "raise RuntimeError('boom at import')\n",
            "acme_missing_attr": "class NotAnActivation:\n    pass\n",
        },
    )
    acts = sn.get_activation_functions()
    with pytest.raises(sn.PluginLoadError) as info:
        acts["broken"]
    msg = str(info.value)
    assert "'broken'" in msg and "acme_broken:Thing" in msg and "acme-broken" in msg
    assert "RuntimeError: boom at import" in msg
    with pytest.raises(sn.PluginLoadError, match="Nope"):
        acts["missing"]
    with pytest.raises(sn.PluginLoadError, match="missing backward, forward"):
        acts["notanact"]
    # every other plugin keeps working
    assert acts["relu"].__name__ == "ReLU"
    record = next(r for r in registry.get_registry("activations").records() if r.name == "broken")
    assert registry.get_registry("activations").state(record).startswith("failed: RuntimeError")


def test_disable_env_hides_by_name_and_distribution(make_distribution, monkeypatch) -> None:
    monkeypatch.setenv("SCRATCHNET_DISABLE_PLUGINS", "cube, scratchnet-std")
    make_distribution(
        "acme-plugins",
        {"scratchnet.activations": {"cube": "acme_cube:Cube", "square": "acme_cube:Cube"}},
        {"acme_cube": CUBE},
    )
    acts = sn.get_activation_functions()
    assert "square" in acts and "cube" not in acts and "relu" not in acts
    with pytest.raises(sn.PluginNotFoundError, match="SCRATCHNET_DISABLE_PLUGINS"):
        acts["cube"]
    monkeypatch.delenv("SCRATCHNET_DISABLE_PLUGINS")
    sn.refresh()
    assert "relu" in sn.get_activation_functions()


def test_pipeline_functions_are_pure() -> None:
    records = [
        PluginRecord("layers", "a", "m:A", "dist-one", "1"),
        PluginRecord("layers", "b", "m:B", "Dist_Two", "1"),
    ]
    kept, hidden = hide_disabled(records, parse_disabled("dist-two"))
    assert [r.name for r in kept] == ["a"] and [r.name for r in hidden] == ["b"]
    regs = build_registries(kept, hidden)
    assert list(regs["layers"]) == ["a"] and list(regs["costs"]) == []


def test_malformed_qualified_name_says_the_form() -> None:
    with pytest.raises(sn.ConfigurationError, match="'distribution:name'"):
        sn.get_layers()["scratchnet-std:"]
    with pytest.raises(sn.ConfigurationError, match="'distribution:name'"):
        sn.get_layers()[":linear"]


def test_runtime_registration(fresh_runtime_registrations) -> None:
    @sn.register("activations", "test_cube")
    class Cube(sn.ActivationFunction):
        def forward(self, z):
            self.z = z
            return z**3

        def backward(self, grad):
            return grad * 3 * self.z**2

    assert sn.get_activation_functions()["Test_Cube"] is Cube
    assert registry.get_registry("activations").name_of(Cube) == "test_cube"
    with pytest.raises(sn.ConfigurationError, match="already registered"):
        sn.register("activations", "test_cube")(type("Other", (Cube,), {}))
    with pytest.raises(sn.ConfigurationError, match="already provided by scratchnet-std"):
        sn.register("activations", "relu")(Cube)


def test_registration_refuses_what_does_not_implement_the_interface(
    fresh_runtime_registrations,
) -> None:
    class HalfLayer(sn.Layer):
        def forward(self, x, training=False):
            return x

    with pytest.raises(sn.InterfaceError, match="backward"):
        sn.register("layers", "half")(HalfLayer)

    class NotALayer:
        def forward(self, x):
            return x

    with pytest.raises(sn.InterfaceError, match="missing backward"):
        sn.register("layers", "not_a_layer")(NotALayer)
    with pytest.raises(sn.ConfigurationError, match="unknown component kind 'layer'"):
        sn.register("layer", "x")
    with pytest.raises(sn.ConfigurationError, match="not a valid registry name"):
        sn.register("layers", "has space")(HalfLayer)
