"""Clocks: ``time.time/time_ns/monotonic/perf_counter/process_time/thread_time`` (and ``_ns``),
``time.localtime/ctime/asctime/strftime`` without a time, ``datetime.now/utcnow/today`` and
``date.today``.

Managed threads read the execution's virtual clock (``runtime/patching.py``): the values are recorded
and a replay serves the recorded ones. Calendar values (``localtime``, ``datetime.now``) depend on the
machine's time zone, so their fields are recorded, not the timestamp they came from.
"""

from __future__ import annotations

import datetime as _dt
import time
from typing import Any

_real_localtime = time.localtime
_real_gmtime = time.gmtime
_real_strftime = time.strftime
_real_asctime = time.asctime
_real_process_time = time.process_time
_real_process_time_ns = time.process_time_ns
_real_thread_time = time.thread_time
_real_thread_time_ns = time.thread_time_ns
_REAL_DATETIME = _dt.datetime
_REAL_DATE = _dt.date

CLOCKS = ("time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns")


def install(ch: Any) -> None:
    virtual_time = time.time  # the runtime's virtual clock (installed by the Session before us)

    for name in CLOCKS:
        ch.set(time, name, _clock(ch, "time." + name, getattr(time, name)))

    def cpu(real: Any, scale: int, kind: str) -> Any:
        def clock() -> Any:
            ex, me = ch.caller()
            if me is None:
                return real()
            value = ex.now if scale == 1 else int(ex.now * scale)
            return ch.call(kind, lambda: value)
        clock.__name__ = kind.split(".")[1]
        return clock

    ch.set(time, "process_time", cpu(_real_process_time, 1, "time.process_time"))
    ch.set(time, "process_time_ns", cpu(_real_process_time_ns, 10**9, "time.process_time_ns"))
    ch.set(time, "thread_time", cpu(_real_thread_time, 1, "time.thread_time"))
    ch.set(time, "thread_time_ns", cpu(_real_thread_time_ns, 10**9, "time.thread_time_ns"))

    def local_fields() -> tuple:
        st = _real_localtime(virtual_time())
        return (*tuple(st), st.tm_zone, st.tm_gmtoff)

    def localtime(secs: Any = None) -> time.struct_time:
        ex, me = ch.caller()
        if secs is not None or me is None:
            return _real_localtime(secs)
        fields = ch.call("time.localtime", local_fields)
        return time.struct_time(fields)

    def gmtime(secs: Any = None) -> time.struct_time:
        ex, me = ch.caller()
        if secs is not None or me is None:
            return _real_gmtime(secs)
        return _real_gmtime(virtual_time())

    def strftime(fmt: str, t: Any = None) -> str:
        return _real_strftime(fmt, localtime() if t is None else t)

    def asctime(t: Any = None) -> str:
        return _real_asctime(localtime() if t is None else t)

    def ctime(secs: Any = None) -> str:
        return _real_asctime(localtime(secs))

    for name, fn in (("localtime", localtime), ("gmtime", gmtime), ("strftime", strftime),
                     ("asctime", asctime), ("ctime", ctime)):
        ch.set(time, name, fn)

    def now_fields(tz: Any) -> tuple:
        d = _REAL_DATETIME.fromtimestamp(virtual_time(), tz)
        return (d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond, d.fold)

    def utc_fields() -> tuple:
        d = _REAL_DATETIME.fromtimestamp(virtual_time(), _dt.timezone.utc)
        return (d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond, 0)

    class datetime(_REAL_DATETIME):  # noqa: N801 - stands in for datetime.datetime
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            ex, me = ch.caller()
            if me is None:
                return super().now(tz)
            f = ch.call("datetime.now", now_fields, tz)
            return cls(*f[:7], tzinfo=tz, fold=f[7])

        @classmethod
        def today(cls) -> Any:
            return cls.now()

        @classmethod
        def utcnow(cls) -> Any:
            ex, me = ch.caller()
            if me is None:
                return super().utcnow()
            f = ch.call("datetime.utcnow", utc_fields)
            return cls(*f[:7])

    class date(_REAL_DATE):  # noqa: N801 - stands in for datetime.date
        @classmethod
        def today(cls) -> Any:
            ex, me = ch.caller()
            if me is None:
                return super().today()
            f = ch.call("date.today", lambda: now_fields(None)[:3])
            return cls(*f)

    for cls, real in ((datetime, _REAL_DATETIME), (date, _REAL_DATE)):
        cls.__name__ = cls.__qualname__ = real.__name__
        cls.__module__ = "datetime"
    ch.set(_dt, "datetime", datetime)
    ch.set(_dt, "date", date)


def _clock(ch: Any, kind: str, virtual: Any) -> Any:
    leaf = ch.leaf

    def clock() -> Any:
        return leaf(kind, virtual)

    clock.__name__ = kind.split(".")[1]
    return clock


__all__ = ["install"]
