"""The field types of mmstats 0.8, writing format-2 fields.

Each class is a field definition for a model class::

    class WebStats(mmstats.MmStats):
        status2xx = mmstats.UIntField(label='status.2XX')

Every field also takes the keyword options ``unit`` (a unit name of the
format: ``'bytes'``, ``'seconds'``, ``'milliseconds'``, ``'events'``, ...)
and ``description`` (one line, at most 80 bytes), which the original did
not have. The value checks (wrapping to the C width, single precision) are
the original's; see docs/PYTHON.md for what differs.
"""

import time

from . import _native
from ._native import (  # noqa: F401  (the classes behind complex fields)
    Average,
    Counter,
    DuplicateFieldName,
    Field,
    MovingAverage,
    StaticField,
    Timer,
    TimerContext,
)

DEFAULT_STRING_SIZE = 255

__all__ = [
    'DuplicateFieldName', 'Field', 'StaticField',
    'UInt64Field', 'UIntField', 'IntField', 'ShortField', 'UShortField',
    'ByteField', 'FloatField', 'DoubleField', 'BoolField', 'StringField',
    'StaticUIntField', 'StaticInt64Field', 'StaticUInt64Field',
    'StaticFloatField', 'StaticDoubleField', 'StaticTextField',
    'CounterField', 'AverageField', 'MovingAverageField', 'TimerField',
]


def _writable(name, kind, doc):
    def __new__(cls, label=None, **options):
        return Field.__new__(cls, kind, label, **options)
    return type(name, (Field,), {'__new__': __new__, '__doc__': doc,
                                 '__module__': __name__})


def _static(name, kind, doc):
    def __new__(cls, label=None, value=None, **options):
        return StaticField.__new__(cls, kind, label, value, **options)
    return type(name, (StaticField,), {'__new__': __new__, '__doc__': doc,
                                       '__module__': __name__})


UInt64Field = _writable(
    'UInt64Field', 'uint64',
    '64-bit unsigned integer: a gauge (0 to 2**63-1, the format\'s gauge '
    'being signed).')
UIntField = _writable(
    'UIntField', 'uint', '32-bit unsigned integer: a gauge (wraps at 2**32).')
IntField = _writable(
    'IntField', 'int', '32-bit signed integer: a gauge (wraps at 32 bits).')
ShortField = _writable(
    'ShortField', 'short', '16-bit signed integer: a gauge.')
UShortField = _writable(
    'UShortField', 'ushort', '16-bit unsigned integer: a gauge.')
ByteField = _writable(
    'ByteField', 'byte', '8-bit signed integer: a gauge.')
FloatField = _writable(
    'FloatField', 'float',
    '32-bit float: a float gauge holding single-precision values.')
DoubleField = _writable(
    'DoubleField', 'double', '64-bit float: a float gauge.')
AverageField = _writable(
    'AverageField', 'average',
    'Running average: the attribute has add() and value (kind average).')
CounterField = _writable(
    'CounterField', 'counter',
    'Counter: the attribute has incr(amount=1) and value (kind counter).')

StaticUIntField = _static(
    'StaticUIntField', 'uint', 'Read-only 32-bit unsigned integer (a constant gauge).')
StaticInt64Field = _static(
    'StaticInt64Field', 'int64', 'Read-only 64-bit signed integer (a constant gauge).')
StaticUInt64Field = _static(
    'StaticUInt64Field', 'uint64', 'Read-only 64-bit unsigned integer (a constant gauge).')
StaticFloatField = _static(
    'StaticFloatField', 'float', 'Read-only 32-bit float (a constant float gauge).')
StaticDoubleField = _static(
    'StaticDoubleField', 'double', 'Read-only 64-bit float (a constant float gauge).')
StaticTextField = _static(
    'StaticTextField', 'text', 'Read-only UTF-8 string of up to 256 bytes (a constant string).')


class BoolField(Field):
    """Boolean (kind bool)."""

    def __new__(cls, initial=False, label=None, **options):
        return Field.__new__(cls, 'bool', label, initial=initial, **options)


class StringField(Field):
    """UTF-8 string of at most `size` bytes (cut at a character boundary)."""

    def __new__(cls, size=DEFAULT_STRING_SIZE, label=None, **options):
        return Field.__new__(cls, 'string', label, size=size, **options)


class MovingAverageField(Field):
    """Mean of the last `size` values: the attribute has add() and value
    (kind moving_average)."""

    def __new__(cls, size=100, label=None, **options):
        return Field.__new__(cls, 'moving_average', label, size=size, **options)


class TimerField(Field):
    """Moving average of durations in seconds, with start()/stop() and a
    context manager (kind moving_average, unit seconds)::

        with stats.render as ctx:
            ...
        stats.render.value   # mean of the last `size` timings
        stats.render.last    # the last one
    """

    def __new__(cls, timer=time.time, size=100, label=None, **options):
        return Field.__new__(cls, 'timer', label, size=size, timer=timer, **options)


del _native
