"""The numba plugin's tests run only where numba (and so the plugin) is installed."""

from __future__ import annotations

import importlib.util

collect_ignore_glob = [] if importlib.util.find_spec("numba") else ["test_*.py"]
