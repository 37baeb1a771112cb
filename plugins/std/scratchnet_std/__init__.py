"""scratchnet-std: the standard components of scratchnet, registered through entry points.

Nothing here is imported by ``scratchnet_core``; the core finds each component by its
entry point (see this distribution's ``pyproject.toml``) the first time it is asked for.
"""

__version__ = "0.1.0"
