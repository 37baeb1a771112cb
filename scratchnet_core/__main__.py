"""``python -m scratchnet_core`` is the ``scratchnet`` command."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
