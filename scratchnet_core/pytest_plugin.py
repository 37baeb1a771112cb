"""The conformance kit as a pytest plugin (registered through the ``pytest11`` entry point).

A plugin author's whole test::

    def test_my_activation(scratchnet_check):
        scratchnet_check("activations", "cube")

``scratchnet_check(kind, name, **options)`` runs `scratchnet_core.testing.check_component`
on the registered component and fails the test with the check that failed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .testing import check_component


@pytest.fixture
def scratchnet_check() -> Callable[..., None]:
    """Run the conformance kit on a registered component: ``scratchnet_check(kind, name)``."""

    def run(kind: str, name: str, **options: Any) -> None:
        check_component(kind, name, **options)

    return run
