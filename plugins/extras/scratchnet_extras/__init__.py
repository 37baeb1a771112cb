"""scratchnet-extras: optional components, found through entry points like any plugin.

``pip install plugins/extras`` makes them appear in ``scratchnet_core.get_*()`` and in
``scratchnet plugins``; uninstalling removes them. Nothing here imports ``scratchnet_std``.
"""

__version__ = "0.1.0"
