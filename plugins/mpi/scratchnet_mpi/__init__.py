"""scratchnet-mpi: data-parallel training over MPI (mpi4py), as Horovod does it.

>>> import scratchnet_mpi
>>> scratchnet_mpi.rank(), scratchnet_mpi.size(), scratchnet_mpi.is_root()
(0, 1, True)

See `DataParallel` and the guide's page on distributed training. Importing this
package does not initialise MPI; the first call that needs a communicator does.
"""

from .comm import is_root, rank, size, world
from .data_parallel import DataParallel, shard_bounds

__all__ = ["DataParallel", "is_root", "rank", "shard_bounds", "size", "world"]
