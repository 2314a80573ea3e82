"""Model base classes, as in mmstats 0.8: subclass, add fields, instantiate.

>>> from mmstats.models import MmStats
>>> from mmstats.fields import CounterField
>>> class MyStats(MmStats):
...     errors = CounterField()
...
>>> stats = MyStats()
>>> stats.errors.incr()
>>> stats.errors.value
1
"""

import os
import re
import sys
import threading
import time

from . import _native, fields
from .defaults import DEFAULT_FILENAME

__all__ = ['BaseMmStats', 'MmStats']

# {PID} and {TID} with the separator before them: the library puts the
# pid and tid into every file name itself.
_PID_TID = re.compile(r'[-_.]?\{(?:PID|TID)\}')


def _substitutions():
    return {
        'CMD': os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else 'python',
        'PID': os.getpid(),
        'TID': threading.get_native_id(),
    }


def _file_name(template):
    """The name part of the library's `{program}-{pid}-{tid}-{name}.mmstats`
    for the original's filename template."""
    name = _PID_TID.sub('', template)
    if name.endswith('.mmstats'):
        name = name[:-len('.mmstats')]
    return name.format(**_substitutions()).strip('-_.')


_DEFINITIONS = (fields.Field, fields.ObjectField, fields.StaticField)


class _ModelType(type):
    """The metaclass of models.

    It moves the definitions of complex fields (counters, averages,
    timers) out of the class namespace into ``__mmstats_fields__``: the
    instance's attribute of that name is the field's object, and CPython
    reads an instance attribute much faster when the class has nothing of
    that name (the field objects' type is not immutable). ``WebStats.errors``
    still returns the definition, through ``__getattr__`` here.
    """

    def __new__(mcls, name, bases, namespace, **kwargs):
        # Every definition, in the order of the class body (the order of
        # the fields in the file); only the complex ones leave the namespace.
        defined = tuple((key, value) for key, value in namespace.items()
                        if isinstance(value, _DEFINITIONS))
        for key, value in defined:
            if isinstance(value, fields.ObjectField):
                del namespace[key]
        namespace['__mmstats_fields__'] = defined
        return super().__new__(mcls, name, bases, namespace, **kwargs)

    def __getattr__(cls, name):
        for klass in cls.__mro__:
            for key, value in vars(klass).get('__mmstats_fields__', ()):
                if key == name and isinstance(value, fields.ObjectField):
                    return value
        raise AttributeError(
            'type object %r has no attribute %r' % (cls.__name__, name))


class BaseMmStats(_native.Model, metaclass=_ModelType):
    """Stats models should inherit from this (or from `MmStats`).

    :param path: directory for the file (default: the library's, where
        ``mmdump`` looks). ``{CMD}``, ``{PID}`` and ``{TID}`` are expanded.
    :param filename: the original's file name template; its ``{CMD}`` and
        any other text become the name part of the library's file name
        ``{program}-{pid}-{tid}-{name}.mmstats`` (``{PID}``/``{TID}`` are
        in that name already).
    :param label_prefix: put before every field's name.
    :param size: file size in bytes (default 256 KiB, allocated as touched).
    :param keep: leave the file when the model is garbage collected
        (`remove()` always removes it).
    """

    _mmstats_library_fields = False

    def __init__(self, path=None, filename=DEFAULT_FILENAME, label_prefix=None,
                 size=None, keep=False):
        directory = None if path is None else path.format(**_substitutions())
        _native.open_model(
            self,
            name=_file_name(filename),
            directory=directory,
            label_prefix='' if label_prefix is None else label_prefix,
            size=size,
            keep=keep,
            library_fields=self._mmstats_library_fields,
        )


class MmStats(BaseMmStats):
    """Mmstats default model base class: `BaseMmStats` plus the process's
    pid, tid, uid, gid, Python version and creation time.

    ``sys.pid``, ``sys.tid``, ``sys.uid`` and ``sys.created`` are the
    library's own default fields (not prefixed by `label_prefix`);
    ``sys.gid`` and ``org.python.version`` are added here.
    """

    _mmstats_library_fields = True

    pid = fields.StaticUIntField(label='sys.pid', value=os.getpid,
                                 _published_by_library=True)
    tid = fields.StaticInt64Field(label='sys.tid', value=threading.get_native_id,
                                  _published_by_library=True)
    uid = fields.StaticUInt64Field(label='sys.uid', value=os.getuid,
                                   _published_by_library=True)
    gid = fields.StaticUInt64Field(label='sys.gid', value=os.getgid)
    python_version = fields.StaticTextField(
        label='org.python.version', value=lambda: sys.version.replace('\n', ''))
    created = fields.StaticDoubleField(label='sys.created', value=time.time,
                                       _published_by_library=True)
