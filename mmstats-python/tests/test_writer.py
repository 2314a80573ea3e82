"""The Python package writes format-2 files that mmdump and the
standard-library reader read back: every field type of mmstats 0.8, the
original's semantics (wrapping, single precision, string cuts, timers),
models, removal, threads."""

import ctypes
import os
import struct
import threading
import time
import warnings

import pytest

import mmstats


def test_the_original_readme_class_runs_unchanged(stats_dir, read):
    # The class and calls of the README of mmstats 0.8, word for word.
    class WebStats(mmstats.MmStats):
        status2xx = mmstats.CounterField(label='status.2XX')
        status3xx = mmstats.CounterField(label='status.3XX')
        status4xx = mmstats.CounterField(label='status.4XX')
        status5xx = mmstats.CounterField(label='status.5XX')
        last_hit = mmstats.DoubleField(label='timers.last_hit')

    webstats = WebStats(label_prefix='web.stats.')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        webstats.status2xx.inc()
    assert [w.category for w in caught] == [DeprecationWarning]
    webstats.status2xx.incr()
    webstats.status5xx.incr(3)
    now = time.time()
    webstats.last_hit = now

    assert os.path.dirname(webstats.filename) == stats_dir
    got = read(webstats.filename)
    assert got['web.stats.status.2XX']['kind'] == 'counter'
    assert got['web.stats.status.2XX']['value'] == 2
    assert got['web.stats.status.3XX']['value'] == 0
    assert got['web.stats.status.5XX']['value'] == 3
    assert got['web.stats.timers.last_hit'] == {
        'name': 'web.stats.timers.last_hit', 'kind': 'float', 'value': now}
    assert webstats.status2xx.value == 2
    assert webstats.last_hit == now
    # MmStats' own fields: the library's sys.* and the original's extras.
    assert got['sys.pid']['value'] == os.getpid() == webstats.pid
    assert got['sys.tid']['value'] == threading.get_native_id() == webstats.tid
    assert got['sys.uid']['value'] == os.getuid() == webstats.uid
    assert got['web.stats.sys.gid']['value'] == os.getgid() == webstats.gid
    assert got['web.stats.org.python.version']['value'] == webstats.python_version
    assert webstats.python_version.startswith('%d.%d.' % os.sys.version_info[:2])
    assert got.file['writer'] == 'alive'
    webstats.remove()


class EveryType(mmstats.BaseMmStats):
    u64 = mmstats.UInt64Field()
    u32 = mmstats.UIntField(label='u32.label')
    i32 = mmstats.IntField()
    i16 = mmstats.ShortField()
    u16 = mmstats.UShortField()
    i8 = mmstats.ByteField()
    f32 = mmstats.FloatField()
    f64 = mmstats.DoubleField(unit='seconds', description='a double')
    flag = mmstats.BoolField()
    flag_on = mmstats.BoolField(True)
    text = mmstats.StringField(8)
    s_u32 = mmstats.StaticUIntField(value=7)
    s_i64 = mmstats.StaticInt64Field(value=lambda: -5)
    s_u64 = mmstats.StaticUInt64Field(value=2 ** 40)
    s_f32 = mmstats.StaticFloatField(value=0.1)
    s_f64 = mmstats.StaticDoubleField(value=0.1)
    s_text = mmstats.StaticTextField(value='v1.2')
    hits = mmstats.CounterField(unit='events')
    mean = mmstats.AverageField(unit='milliseconds')
    window = mmstats.MovingAverageField(size=2)
    timer = mmstats.TimerField(timer=iter([10.0, 10.5, 20.0, 21.0]).__next__)


def c_value(ctype, value):
    """What the original's ctypes field held after `value` was assigned."""
    return ctype(value).value


def test_every_field_type_reads_back_through_mmdump_and_the_reader(stats_dir, read):
    stats = EveryType(path=stats_dir, filename='every')
    stats.u64 = 2 ** 62
    stats.u32 = -1
    stats.i32 = 2 ** 31
    stats.i16 = 40000
    stats.u16 = -1
    stats.i8 = 200
    stats.f32 = 0.1
    stats.f64 = 0.1
    stats.flag = 'yes'
    stats.text = 'héllo wörld'
    for _ in range(3):
        stats.hits.incr()
    stats.hits.incr(5)
    for sample in (1, 2, 3, 4):
        stats.mean.add(sample)
    for sample in (1.0, 2.0, 3.0):
        stats.window.add(sample)
    with stats.timer as context:
        pass
    stats.timer.start()
    stats.timer.stop()

    got = read(stats.filename)
    integer = {
        'u64': 2 ** 62,
        'u32.label': c_value(ctypes.c_uint32, -1),
        'i32': c_value(ctypes.c_int32, 2 ** 31),
        'i16': c_value(ctypes.c_int16, 40000),
        'u16': c_value(ctypes.c_uint16, -1),
        'i8': c_value(ctypes.c_byte, 200),
        's_u32': 7,
        's_i64': -5,
        's_u64': 2 ** 40,
    }
    assert integer['u32.label'] == 4294967295 and integer['i8'] == -56
    for name, value in integer.items():
        assert (got[name]['kind'], got[name]['value']) == ('gauge', value), name
    single = struct.unpack('f', struct.pack('f', 0.1))[0]
    assert single != 0.1
    assert (got['f32']['kind'], got['f32']['value']) == ('float', single)
    assert got['f64'] == {'name': 'f64', 'kind': 'float', 'value': 0.1,
                          'unit': 'seconds', 'description': 'a double'}
    assert got['s_f32']['value'] == single and got['s_f64']['value'] == 0.1
    assert (got['flag']['kind'], got['flag']['value']) == ('bool', True)
    assert got['flag_on']['value'] is True
    # Cut to 8 bytes at a character boundary ('é' and 'ö' are 2 bytes).
    assert (got['text']['kind'], got['text']['value']) == ('string', 'héllo w')
    assert (got['s_text']['kind'], got['s_text']['value']) == ('string', 'v1.2')
    assert (got['hits']['kind'], got['hits']['value'], got['hits']['unit']) == (
        'counter', 8, 'events')
    assert got['mean'] == {'name': 'mean', 'kind': 'average', 'value': 2.5,
                           'sum': 10.0, 'count': 4, 'unit': 'milliseconds'}
    window = got['window']
    assert (window['kind'], window['value'], window['count'], window['total'],
            window['window']) == ('moving_average', 2.5, 2, 3, 2)
    timer = got['timer']
    assert (timer['kind'], timer['unit'], timer['value'], timer['total']) == (
        'moving_average', 'seconds', 0.75, 2)

    # The same values through the attributes.
    assert [stats.u64, stats.u32, stats.i32, stats.i16, stats.u16, stats.i8] == [
        integer[n] for n in ('u64', 'u32.label', 'i32', 'i16', 'u16', 'i8')]
    assert (stats.f32, stats.f64, stats.flag, stats.flag_on) == (single, 0.1, True, True)
    assert (stats.text, stats.s_text, stats.s_u32, stats.s_i64) == ('héllo w', 'v1.2', 7, -5)
    assert (stats.hits.value, stats.mean.value, stats.mean.count) == (8, 2.5, 4)
    assert (stats.window.value, stats.window.size) == (2.5, 2)
    assert (stats.timer.value, stats.timer.last) == (0.75, 1.0)
    assert (context.start, context.end, context.done, context.elapsed) == (10.0, 10.5, True, 0.5)
    # The whole file reads the same through both readers.
    assert got.reader == got.fields
    stats.remove()


def test_values_are_checked_as_the_original_checked_them(stats_dir):
    stats = EveryType(path=stats_dir, filename='checks')
    with pytest.raises(TypeError):
        stats.u32 = 1.5
    with pytest.raises(TypeError):
        stats.f64 = 'x'
    with pytest.raises(TypeError):
        stats.text = 5
    with pytest.raises(OverflowError):
        stats.u64 = 2 ** 63
    stats.u32 = 2 ** 70 + 3  # low 32 bits, as ctypes keeps them
    assert stats.u32 == 3
    stats.text = b'bytes'
    assert stats.text == 'bytes'
    with pytest.raises(ValueError):
        stats.text = b'\xff'
    # Object fields (counters, averages, timers) have no setter in the
    # original either: assigning replaces the instance's attribute.
    mean = stats.mean
    stats.mean = 3
    assert stats.mean == 3 and mean.value == 0.0
    # Static fields are non-data descriptors: assigning shadows, as before.
    stats.s_u32 = 9
    assert stats.s_u32 == 9
    stats.remove()


def test_class_attributes_are_the_definitions(stats_dir):
    assert isinstance(EveryType.u32, mmstats.UIntField)
    assert isinstance(EveryType.u32, mmstats.Field)
    assert isinstance(EveryType.hits, mmstats.CounterField)
    assert isinstance(EveryType.timer, mmstats.ObjectField)
    assert isinstance(EveryType.s_text, mmstats.StaticField)
    assert repr(EveryType.u32) == "UIntField(label='u32.label')"
    assert repr(EveryType.hits) == 'CounterField(label=None)'
    assert (EveryType.hits.unit, EveryType.timer.unit, EveryType.f64.description) == (
        'events', 'seconds', 'a double')
    with pytest.raises(AttributeError):
        EveryType.no_such_field
    with pytest.raises(ValueError):
        mmstats.UIntField(unit='furlongs')


def test_remove_closes_unlinks_and_frees_the_name(stats_dir):
    class Small(mmstats.BaseMmStats):
        hits = mmstats.CounterField()
        level = mmstats.IntField()
        label = mmstats.StringField()

    stats = Small(path=stats_dir, filename='small', keep=True)
    counter = stats.hits
    stats.hits.incr()
    path = stats.filename
    assert os.path.exists(path)
    stats.remove()
    assert not os.path.exists(path) and stats.removed
    for update in (counter.incr, lambda: setattr(stats, 'level', 1),
                   lambda: setattr(stats, 'label', 'x')):
        with pytest.raises(ValueError):
            update()
    stats.remove()  # again: nothing more
    again = Small(path=stats_dir, filename='small')
    assert again.filename == path and os.path.exists(path)
    again.remove()


def test_names_prefixes_sizes_and_duplicates(stats_dir, read):
    class Named(mmstats.BaseMmStats):
        a = mmstats.UIntField()

    stats = Named(path=stats_dir, filename='web-{PID}-{TID}.mmstats', label_prefix='p.',
                  size=8192)
    base = os.path.basename(stats.filename)
    assert base.endswith('-%d-%d-web.mmstats' % (os.getpid(), threading.get_native_id())), base
    assert (stats.label_prefix, stats.size) == ('p.', 8192)
    stats.a = 1
    assert 'p.a' in read(stats.filename).fields
    assert 'sys.pid' not in read(stats.filename).fields  # BaseMmStats: no defaults
    with pytest.raises(OSError):
        Named(path=stats_dir, filename='web')  # a live writer holds the name
    stats.remove()

    class Twice(mmstats.BaseMmStats):
        a = mmstats.UIntField(label='same')
        b = mmstats.IntField(label='same')

    with pytest.raises(mmstats.DuplicateFieldName):
        Twice(path=stats_dir, filename='twice')
    assert os.listdir(stats_dir) == [], 'a failed model leaves no file'


def test_inheritance_and_own_init(stats_dir, read):
    class Base(mmstats.MmStats):
        requests = mmstats.CounterField()
        level = mmstats.UIntField()

    class Child(Base):
        level = mmstats.IntField(label='level.signed')  # overrides the base's
        errors = mmstats.CounterField()

        def __init__(self, service, **kwargs):
            super().__init__(label_prefix=service + '.', **kwargs)
            self.service = service

    child = Child('api', filename='child')
    child.requests.incr()
    child.errors.incr(2)
    child.level = -1
    got = read(child.filename)
    assert (got['api.requests']['value'], got['api.errors']['value']) == (1, 2)
    assert got['api.level.signed']['value'] == -1
    assert 'api.level' not in got.fields
    assert child.service == 'api' and Child.requests is Base.requests
    child.remove()


def test_one_model_is_shared_by_threads(stats_dir, read):
    class Shared(mmstats.BaseMmStats):
        hits = mmstats.CounterField()
        last = mmstats.UIntField()
        mean = mmstats.AverageField()

    stats = Shared(path=stats_dir, filename='threads')

    def work(n):
        for i in range(20000):
            stats.hits.incr()
            stats.last = n
            stats.mean.add(1.0)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    got = read(stats.filename)
    assert got['hits']['value'] == 80000
    assert got['mean']['count'] == 80000 and got['mean']['value'] == 1.0
    assert got['last']['value'] in range(4)
    stats.remove()


def test_a_model_is_removed_with_its_last_reference(stats_dir):
    class Gone(mmstats.BaseMmStats):
        hits = mmstats.CounterField()

    stats = Gone(path=stats_dir, filename='gone')
    path = stats.filename
    assert os.path.exists(path)
    del stats
    assert not os.path.exists(path)


def test_init_twice_and_fields_before_init_are_errors(stats_dir):
    class Early(mmstats.BaseMmStats):
        a = mmstats.UIntField()

        def __init__(self):
            self.a = 1  # before BaseMmStats.__init__

    with pytest.raises(RuntimeError):
        Early()
    stats = EveryType(path=stats_dir, filename='twice')
    with pytest.raises(RuntimeError):
        mmstats.BaseMmStats.__init__(stats, path=stats_dir, filename='other')
    stats.remove()


def test_fields_set_on_the_class_later_count_for_new_instances(stats_dir, read):
    class Late(mmstats.BaseMmStats):
        a = mmstats.UIntField()

    first = Late(path=stats_dir, filename='first')
    Late.b = mmstats.IntField()
    Late.a = mmstats.ShortField(label='a.short')  # replaces the definition
    second = Late(path=stats_dir, filename='second')
    second.b = -2
    second.a = 40000
    got = read(second.filename)
    assert (got['b']['value'], got['a.short']['value']) == (-2, 40000 - 65536)
    assert 'a' not in got.fields
    with pytest.raises(AttributeError):
        first.b = 1  # the first instance was made without it
    first.remove()
    second.remove()
