"""mmstats: stats in shared memory, with the Python API of mmstats 0.8.

The fields and models of the original library, writing format-2 files
through the mmstats Rust library (no torn values, real kinds and units).
Read them with ``mmdump`` or ``readers/python/mmstats_reader.py``::

    import mmstats

    class WebStats(mmstats.MmStats):
        status2xx = mmstats.UIntField(label='status.2XX')
        errors = mmstats.CounterField()

    stats = WebStats(label_prefix='web.')
    stats.status2xx = 5
    stats.errors.incr()

What differs from the original: docs/PYTHON.md.
"""

version = __version__ = '0.9.0'

from .defaults import *  # noqa: E402,F401,F403
from .fields import *  # noqa: E402,F401,F403
from .models import *  # noqa: E402,F401,F403
