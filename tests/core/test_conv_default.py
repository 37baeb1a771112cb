"""The default convolution backend (scratchnet_core/_conv_default.py): scoped block, process
default, environment variable, then "auto", each checked against the registry."""

from __future__ import annotations

import asyncio
import threading

import pytest

import scratchnet_core as sn


@pytest.fixture(autouse=True)
def _no_process_default(monkeypatch):
    monkeypatch.delenv("SCRATCHNET_CONV_BACKEND", raising=False)
    sn.set_conv_backend(None)
    yield
    sn.set_conv_backend(None)


def test_precedence_block_then_process_then_environment_then_auto(monkeypatch) -> None:
    assert sn.current_conv_backend() == "auto"
    monkeypatch.setenv("SCRATCHNET_CONV_BACKEND", "fft")
    assert sn.current_conv_backend() == "fft"
    sn.set_conv_backend("direct")
    assert sn.current_conv_backend() == "direct"
    with sn.conv_backend("fft") as chosen:
        assert chosen == "fft" and sn.current_conv_backend() == "fft"
        with sn.conv_backend("auto"):
            assert sn.current_conv_backend() == "auto"
        assert sn.current_conv_backend() == "fft"
    assert sn.current_conv_backend() == "direct"
    sn.set_conv_backend(None)
    assert sn.current_conv_backend() == "fft"


def test_environment_variable_is_checked_when_used(monkeypatch) -> None:
    monkeypatch.setenv("SCRATCHNET_CONV_BACKEND", " fft ")
    assert sn.current_conv_backend() == "fft"
    monkeypatch.setenv("SCRATCHNET_CONV_BACKEND", "fftt")
    with pytest.raises(sn.PluginNotFoundError, match="SCRATCHNET_CONV_BACKEND") as info:
        sn.current_conv_backend()
    assert "did you mean 'fft'" in str(info.value)
    monkeypatch.delenv("SCRATCHNET_CONV_BACKEND")
    assert sn.current_conv_backend() == "auto"


def test_unknown_names_fail_at_once() -> None:
    with pytest.raises(sn.PluginNotFoundError, match=r"\(from set_conv_backend\)"):
        sn.set_conv_backend("winograd")
    assert sn.current_conv_backend() == "auto"  # the bad name was not kept
    with (
        pytest.raises(sn.PluginNotFoundError, match=r"\(from conv_backend\)"),
        sn.conv_backend("nope"),
    ):
        pass


def test_a_block_is_scoped_to_its_thread_and_task() -> None:
    seen: list[str] = []
    with sn.conv_backend("fft"):
        thread = threading.Thread(target=lambda: seen.append(sn.current_conv_backend()))
        thread.start()
        thread.join()

        async def other_task() -> str:
            with sn.conv_backend("direct"):
                await asyncio.sleep(0)
                return sn.current_conv_backend()

        assert asyncio.run(other_task()) == "direct"
        assert sn.current_conv_backend() == "fft"
    assert seen == ["auto"]  # a new thread starts from the process default
