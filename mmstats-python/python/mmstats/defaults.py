"""Defaults, named as in mmstats 0.8.

`DEFAULT_PATH` is where files go unless a model says otherwise: the
mmstats library's default directory (``$MMSTATS_DIR``, else
``/dev/shm/mmstats``, else ``mmstats-UID`` in the temporary directory),
which is also where ``mmdump`` looks. The original's ``$MMSTATS_PATH`` and
``$MMSTATS_FILES`` are not read.
"""

from . import _native

DEFAULT_PATH = _native.DEFAULT_DIR
DEFAULT_FILENAME = '{CMD}-{PID}-{TID}.mmstats'
DEFAULT_STRING_SIZE = 255
DEFAULT_SIZE = _native.DEFAULT_SIZE

del _native
