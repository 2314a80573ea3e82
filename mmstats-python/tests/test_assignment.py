"""Attribute assignment on models: `mmstats._native.Model` has its own
C-level `__setattr__` that stores plain fields without the descriptor.
Every kind assigned that way reads back through mmdump and the reader;
values the fast path does not take (ints beyond 64 bits, int subclasses,
ints given to float fields) keep the original's conversions and errors;
other names, deletion, subclasses with their own `__setattr__`, names
that are not the interned str and classes with more names than the
table scans all still work."""

import ctypes
import struct

import pytest

import mmstats


class Scalars(mmstats.BaseMmStats):
    u64 = mmstats.UInt64Field()
    u32 = mmstats.UIntField(label='u32.label')
    i32 = mmstats.IntField()
    i16 = mmstats.ShortField()
    u16 = mmstats.UShortField()
    i8 = mmstats.ByteField()
    f32 = mmstats.FloatField()
    f64 = mmstats.DoubleField()
    flag = mmstats.BoolField()
    text = mmstats.StringField(8)
    static = mmstats.StaticUIntField(value=3)
    hits = mmstats.CounterField()


INTS = [('u64', 'u64', ctypes.c_uint64), ('u32', 'u32.label', ctypes.c_uint32),
        ('i32', 'i32', ctypes.c_int32), ('i16', 'i16', ctypes.c_int16),
        ('u16', 'u16', ctypes.c_uint16), ('i8', 'i8', ctypes.c_byte)]


def single(value):
    return struct.unpack('f', struct.pack('f', value))[0]


@pytest.mark.parametrize('value', [0, 1, -1, 200, 40000, 2 ** 31, -2 ** 31 - 1, 2 ** 62,
                                   2 ** 63 - 1, -2 ** 63])
def test_every_integer_width_wraps_as_ctypes(stats_dir, read, value):
    stats = Scalars(path=stats_dir, filename='ints')
    for attribute, name, ctype in INTS:
        if attribute == 'u64' and value < 0:
            with pytest.raises(OverflowError):
                stats.u64 = value
            continue
        setattr(stats, attribute, value)
        assert getattr(stats, attribute) == ctype(value).value, attribute
    got = read(stats.filename)
    for attribute, name, ctype in INTS:
        expected = 0 if attribute == 'u64' and value < 0 else ctype(value).value
        assert got[name]['value'] == expected, name
    stats.remove()


def test_floats_bools_and_strings(stats_dir, read):
    stats = Scalars(path=stats_dir, filename='floats')
    stats.f32 = 0.1
    stats.f64 = 0.1
    assert (stats.f32, stats.f64) == (single(0.1), 0.1)
    got = read(stats.filename)
    assert (got['f32']['value'], got['f64']['value']) == (single(0.1), 0.1)
    stats.f64 = float('inf')
    assert stats.f64 == float('inf')
    stats.f64 = -0.0
    assert str(stats.f64) == '-0.0'
    stats.flag = [1]
    stats.text = 'héllo wörld'
    got = read(stats.filename)
    assert (got['flag']['value'], got['text']['value']) == (True, 'héllo w')
    assert (stats.flag, stats.text) == (True, 'héllo w')
    stats.flag = 0
    assert stats.flag is False
    stats.remove()


def test_values_the_fast_path_leaves_keep_the_original_conversions(stats_dir, read):
    stats = Scalars(path=stats_dir, filename='slow')

    class Count(int):
        pass

    stats.u32 = Count(7)  # an int subclass
    assert stats.u32 == 7
    stats.u32 = True
    assert stats.u32 == 1
    stats.u32 = 2 ** 70 + 3  # beyond 64 bits: the low 32 kept
    assert stats.u32 == 3
    stats.i8 = -2 ** 100 - 1
    assert stats.i8 == -1
    with pytest.raises(OverflowError):
        stats.u64 = 2 ** 63
    with pytest.raises(TypeError):
        stats.u32 = 1.0
    with pytest.raises(TypeError):
        stats.i16 = '5'
    stats.f64 = 5  # an int to a float field
    assert stats.f64 == 5.0 and isinstance(stats.f64, float)
    stats.f32 = Count(2)
    assert stats.f32 == 2.0
    with pytest.raises(TypeError):
        stats.f64 = 'x'
    with pytest.raises(TypeError):
        stats.text = 5
    # A failed assignment leaves the value.
    assert (stats.u32, stats.i16, stats.f64) == (3, 0, 5.0)
    got = read(stats.filename)
    assert (got['u32.label']['value'], got['i8']['value'], got['f64']['value']) == (3, -1, 5.0)
    stats.remove()


def test_other_names_and_deletion_go_the_generic_way(stats_dir, read):
    stats = Scalars(path=stats_dir, filename='other')
    stats.other = 5
    assert stats.other == 5 and vars(stats)['other'] == 5
    del stats.other
    assert 'other' not in vars(stats)
    with pytest.raises(AttributeError):
        del stats.other
    with pytest.raises(AttributeError):
        stats.filename = 'x'  # a read-only property of the base
    # Deleting a plain field is refused, as through the descriptor before.
    with pytest.raises(NotImplementedError):
        del stats.u32
    stats.u32 = 4
    assert stats.u32 == 4
    # Static fields shadow, counters are replaced (instance attributes).
    stats.static = 9
    assert stats.static == 9 and vars(stats)['static'] == 9
    hits = stats.hits
    stats.hits = 1
    assert stats.hits == 1 and hits.value == 0
    with pytest.raises(TypeError):
        setattr(stats, 5, 1)
    with pytest.raises(TypeError):
        mmstats._native.Model.__setattr__(stats, 5, 1)  # no str check before
    with pytest.raises(TypeError):
        mmstats._native.Model.__setattr__(object(), 'u32', 1)  # not a model
    got = read(stats.filename)
    assert got['static']['value'] == 3
    stats.remove()


def test_names_that_are_not_the_interned_str(stats_dir):
    class Name(str):
        pass

    stats = Scalars(path=stats_dir, filename='names')
    made = ''.join(['i', '32'])
    # The base's own __setattr__ called with a str made at run time (no
    # interning on this way) and a str subclass (never interned).
    mmstats._native.Model.__setattr__(stats, made, -7)
    assert stats.i32 == -7
    setattr(stats, Name('i32'), 8)
    assert stats.i32 == 8 and 'i32' not in vars(stats)
    setattr(stats, Name('nofield'), 1)
    assert stats.nofield == 1
    stats.remove()


def test_a_subclass_with_its_own_setattr(stats_dir, read):
    seen = []

    class Watched(Scalars):
        def __setattr__(self, name, value):
            seen.append(name)
            super().__setattr__(name, value)

    stats = Watched(path=stats_dir, filename='watched')
    stats.u32 = 12
    stats.f64 = 2.5
    stats.other = 'x'
    assert seen[-3:] == ['u32', 'f64', 'other']
    assert (stats.u32, stats.f64, stats.other) == (12, 2.5, 'x')
    got = read(stats.filename)
    assert (got['u32.label']['value'], got['f64']['value']) == (12, 2.5)
    stats.remove()


def test_a_subclass_that_hides_a_field(stats_dir, read):
    class Hidden(Scalars):
        u32 = 5  # a plain class attribute: the name is no field here

    stats = Hidden(path=stats_dir, filename='hidden')
    stats.u32 = 6
    assert vars(stats)['u32'] == 6
    got = read(stats.filename)
    assert 'u32.label' not in got.fields
    stats.i32 = 1
    assert read(stats.filename)['i32']['value'] == 1
    stats.remove()


@pytest.mark.parametrize('count', [16, 17, 40, 200])
def test_classes_with_many_fields(stats_dir, read, count):
    namespace = {'f%d' % n: mmstats.IntField() for n in range(count)}
    namespace.update({'d%d' % n: mmstats.DoubleField() for n in range(count)})
    Many = type('Many', (mmstats.BaseMmStats,), namespace)
    stats = Many(path=stats_dir, filename='many%d' % count, size=1 << 20)
    for n in range(count):
        setattr(stats, 'f%d' % n, n * 3 - 7)
        setattr(stats, 'd%d' % n, n / 4)
        mmstats._native.Model.__setattr__(stats, ''.join(['f', str(n)]), n * 3 - 7)
    stats.other = 1
    setattr(stats, 'f%d' % count, 'not a field')
    assert vars(stats) == {'other': 1, 'f%d' % count: 'not a field'}
    got = read(stats.filename)
    for n in range(count):
        assert getattr(stats, 'f%d' % n) == n * 3 - 7
        assert got['f%d' % n]['value'] == n * 3 - 7
        assert got['d%d' % n]['value'] == n / 4
    stats.remove()


def test_assignment_after_remove_and_before_init(stats_dir):
    stats = Scalars(path=stats_dir, filename='removed')
    stats.remove()
    for name, value in (('u32', 1), ('f64', 1.5), ('flag', True), ('text', 'x')):
        with pytest.raises(ValueError):
            setattr(stats, name, value)
    stats.other = 1  # not a field: still fine
    assert stats.other == 1

    class Early(mmstats.BaseMmStats):
        a = mmstats.UIntField()

        def __init__(self):
            self.a = 1

    with pytest.raises(RuntimeError):
        Early()


def test_the_model_base_classes():
    assert mmstats._native.Model.__mro__[1:] == (mmstats._native.ModelBase, object)
    assert issubclass(mmstats.BaseMmStats, mmstats._native.Model)
