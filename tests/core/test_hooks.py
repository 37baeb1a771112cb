"""The plugin manager a fit fires its events through (scratchnet_core/hooks.py)."""

from __future__ import annotations

import logging

import pytest

import scratchnet_core as sn
from scratchnet_core.hooks import make_plugin_manager

RECORDER = """
import scratchnet_core as sn

calls = []

@sn.hookimpl
def scratchnet_epoch_start(model, epoch):
    calls.append(epoch)
"""


class Counter:
    def __init__(self) -> None:
        self.epochs: list[int] = []

    @sn.hookimpl
    def scratchnet_epoch_end(self, epoch, logs):
        self.epochs.append(epoch)


def test_installed_hook_plugins_and_callbacks_are_registered() -> None:
    counter = Counter()
    pm = make_plugin_manager([counter])
    names = {name for name, _ in pm.list_name_plugin()}
    assert any(name.startswith("scratchnet.hooks:") for name in names)  # std's progress bar
    assert pm.is_registered(counter)
    pm.hook.scratchnet_epoch_end(model=None, epoch=4, logs={})
    assert counter.epochs == [4]


def test_an_always_on_hook_plugin_from_a_distribution_fires(make_distribution) -> None:
    make_distribution(
        "acme-hooks",
        {"scratchnet.hooks": {"recorder": "acme_recorder", "recorder_alias": "acme_recorder"}},
        {"acme_recorder": RECORDER},
    )
    pm = make_plugin_manager()
    pm.hook.scratchnet_epoch_start(model=None, epoch=2)
    import acme_recorder  # loaded through the entry point

    assert acme_recorder.calls == [2]  # registered once, although two names point at it


def test_a_broken_hook_plugin_is_logged_and_left_out(make_distribution, caplog) -> None:
    make_distribution(
        "acme-broken-hooks",
        {"scratchnet.hooks": {"broken": "acme_broken_hooks"}},
        {"acme_broken_hooks": "raise RuntimeError('boom')\n"},
    )
    with caplog.at_level(logging.WARNING, logger="scratchnet_core.hooks"):
        pm = make_plugin_manager()
    assert "hook plugin left out" in caplog.text and "boom" in caplog.text
    assert not any(name == "scratchnet.hooks:broken" for name, _ in pm.list_name_plugin())


def test_a_callback_with_a_misspelt_hook_is_a_configuration_error() -> None:
    class Typo:
        @sn.hookimpl
        def scratchnet_epoch_ends(self, epoch):
            pass

    with pytest.raises(sn.ConfigurationError, match="scratchnet_epoch_ends"):
        make_plugin_manager([Typo()])


def test_a_callback_with_a_wrong_argument_is_a_configuration_error() -> None:
    class WrongArgument:
        @sn.hookimpl
        def scratchnet_epoch_end(self, epoch, loss):
            pass

    with pytest.raises(sn.ConfigurationError, match="is not usable"):
        make_plugin_manager([WrongArgument()])
