"""The field types of mmstats 0.8, writing format-2 fields.

Each class is a field definition for a model class::

    class WebStats(mmstats.MmStats):
        status2xx = mmstats.UIntField(label='status.2XX')

The constructors take the original's arguments (``label``; ``initial`` for
`BoolField`, ``size`` for `StringField` and `MovingAverageField`,
``timer`` and ``size`` for `TimerField`, ``value`` for the static fields)
plus two keyword options the original did not have: ``unit`` (a unit name
of the format: ``'bytes'``, ``'seconds'``, ``'milliseconds'``,
``'events'``, ...) and ``description`` (one line, at most 80 bytes).

The families (all defined in Rust, in ``mmstats._native``):

- `Field` subclasses (integers, floats, bools, strings) are data
  descriptors: ``stats.status2xx = 5`` stores through the handle (the
  model's own ``__setattr__`` does it for plain fields, without the
  descriptor call), reading returns the value.
- `ObjectField` subclasses (`CounterField`, `AverageField`,
  `MovingAverageField`, `TimerField`): the instance attribute is a
  `Counter`, `Average`, `MovingAverage` or `Timer` object with
  ``incr()``/``add()``/``value``.
- `StaticField` subclasses: a value set once (a constant field).

What differs from the original: docs/PYTHON.md.
"""

from ._native import (  # noqa: F401
    Average,
    AverageField,
    BoolField,
    ByteField,
    Counter,
    CounterField,
    DoubleField,
    DuplicateFieldName,
    Field,
    FloatField,
    IntField,
    MovingAverage,
    MovingAverageField,
    ObjectField,
    ShortField,
    StaticDoubleField,
    StaticField,
    StaticFloatField,
    StaticInt64Field,
    StaticTextField,
    StaticUInt64Field,
    StaticUIntField,
    StringField,
    Timer,
    TimerContext,
    TimerField,
    UInt64Field,
    UIntField,
    UShortField,
)

DEFAULT_STRING_SIZE = 255

__all__ = [
    'DuplicateFieldName', 'Field', 'ObjectField', 'StaticField',
    'UInt64Field', 'UIntField', 'IntField', 'ShortField', 'UShortField',
    'ByteField', 'FloatField', 'DoubleField', 'BoolField', 'StringField',
    'StaticUIntField', 'StaticInt64Field', 'StaticUInt64Field',
    'StaticFloatField', 'StaticDoubleField', 'StaticTextField',
    'CounterField', 'AverageField', 'MovingAverageField', 'TimerField',
]
