"""Output locations, checked (and their folders created) before any training starts."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import ConfigurationError

__all__ = ["prepare_output"]


def prepare_output(path: str | os.PathLike[str], what: str) -> Path:
    """Make sure a file can be written at ``path`` later: create its folder (and parents),
    refuse a path that is a directory or a folder that cannot be written; ``what`` names the
    output in the error (``"--plot"``, ``"output.model"``).

    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "new", "dir", "model.npz")
    >>> prepare_output(target, "output.model").parent.is_dir()
    True
    """
    target = Path(path)
    if target.is_dir():
        raise ConfigurationError(f"{what}: {str(target)!r} is a directory, expected a file path")
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):  # writable? (checked by writing, not by mode)
            pass
    except OSError as exc:
        raise ConfigurationError(
            f"{what}: cannot write to {str(folder)!r}: {exc.strerror or exc}"
        ) from exc
    return target
