"""Sockets: results of ``connect``/``connect_ex``, ``accept``, ``recv``/``recv_into``/``recvfrom``/
``recvfrom_into``, ``send``/``sendall``/``sendto``, ``getpeername``/``getsockname``,
``socket.getaddrinfo``, and readiness from ``select.select`` and ``selectors`` (``DefaultSelector`` is
the select-based one during a run, so that its readiness is recorded too).

Recording waits for a socket to be readable (:meth:`Channel.wait`) before receiving, so a thread that
waits for a peer lets the others run, at scheduling points the replay makes too. Replaying does no
network I/O at all: sockets are created (they are only file descriptors) but never connected, and
every result comes from the recording.
"""

from __future__ import annotations

import select
import selectors
import socket
from typing import Any

from ..runtime.patching import _real_monotonic
from . import interlace_calling

_real_select = select.select
_real_getaddrinfo = socket.getaddrinfo
_S = socket.socket


def _ready_to_read(sock: Any) -> Any:
    timeout = _S.gettimeout(sock)
    deadline = None if timeout is None else _real_monotonic() + timeout

    def ready(wait: float) -> bool:
        if deadline is not None and _real_monotonic() >= deadline:
            return True  # the real call raises the timeout
        try:
            return bool(_real_select([sock], [], [], wait)[0])
        except (OSError, ValueError):
            return True  # closed or unusable: the real call reports it
    return ready


def install(ch: Any) -> None:
    def reading(kind: str, method: Any) -> Any:
        def patched(self: Any, *args: Any) -> Any:
            ex, me = ch.caller()
            if me is None:
                return method(self, *args)
            if ch.recording and _S.gettimeout(self) != 0.0:
                ch.wait(ex, me, _ready_to_read(self), f"{kind} {_S.fileno(self)}", "socket")
            elif not ch.recording:
                ch.wait(ex, me, lambda t: True, kind, "socket")
            return ch.call(kind, method, self, *args)
        patched.__name__ = method.__name__
        return patched

    def into(kind: str, method: Any, with_address: bool) -> Any:
        def patched(self: Any, buffer: Any, nbytes: int = 0, flags: int = 0) -> Any:
            ex, me = ch.caller()
            if me is None:
                return method(self, buffer, nbytes, flags)
            if ch.recording and _S.gettimeout(self) != 0.0:
                ch.wait(ex, me, _ready_to_read(self), f"{kind} {_S.fileno(self)}", "socket")
            elif not ch.recording:
                ch.wait(ex, me, lambda t: True, kind, "socket")

            def real() -> Any:
                result = method(self, buffer, nbytes, flags)
                n = result[0] if with_address else result
                data = bytes(memoryview(buffer).cast("B")[:n])
                return (data, result[1]) if with_address else data

            got = ch.call(kind, real)
            data = got[0] if with_address else got
            if not ch.recording:
                memoryview(buffer).cast("B")[:len(data)] = data
            return (len(data), got[1]) if with_address else len(data)
        patched.__name__ = method.__name__
        return patched

    def plain_call(kind: str, method: Any) -> Any:
        def patched(self: Any, *args: Any) -> Any:
            return ch.call(kind, method, self, *args)
        patched.__name__ = method.__name__
        return patched

    real_accept = _S.accept

    def accept(self: Any) -> Any:
        ex, me = ch.caller()
        if me is None:
            return real_accept(self)
        if ch.recording and _S.gettimeout(self) != 0.0:
            ch.wait(ex, me, _ready_to_read(self), f"accept {_S.fileno(self)}", "socket")
        elif not ch.recording:
            ch.wait(ex, me, lambda t: True, "accept", "socket")
        if ch.recording:
            ch.busy.add(me.tid)
            try:
                conn, address = real_accept(self)
            except Exception as exc:
                from . import encode_exception

                ch.put(me, "socket.accept", encode_exception(exc))
                raise
            finally:
                ch.busy.discard(me.tid)
            ch.put(me, "socket.accept", (address,))
            return conn, address
        from . import unwrap

        (address,) = unwrap(ch.take(ex, me, "socket.accept"))
        return _S(self.family, self.type, self.proto), address

    for name, kind in (("recv", "socket.recv"), ("recvfrom", "socket.recvfrom")):
        ch.set(_S, name, reading(kind, getattr(_S, name)))
    ch.set(_S, "recv_into", into("socket.recv_into", _S.recv_into, False))
    ch.set(_S, "recvfrom_into", into("socket.recvfrom_into", _S.recvfrom_into, True))
    for name in ("connect", "connect_ex", "send", "sendall", "sendto", "getpeername", "getsockname"):
        ch.set(_S, name, plain_call("socket." + name, getattr(_S, name)))
    ch.set(_S, "accept", accept)

    def getaddrinfo(*args: Any, **kwargs: Any) -> Any:
        return ch.call("socket.getaddrinfo", lambda: [tuple(_plain_entry(e)) for e in
                                                      _real_getaddrinfo(*args, **kwargs)])

    ch.set(socket, "getaddrinfo", getaddrinfo)
    install_select(ch)


def _plain_entry(entry: tuple) -> tuple:
    family, kind, proto, canon, address = entry
    return (int(family), int(kind), int(proto), canon, tuple(address))


def install_select(ch: Any) -> None:
    from ..runtime.patching import _real_monotonic as wall

    def select_(rlist: Any, wlist: Any, xlist: Any, timeout: float | None = None) -> Any:
        ex, me = ch.caller()
        if me is None or interlace_calling():  # (multiprocessing's machinery polls its pipes: no input)
            return _real_select(rlist, wlist, xlist, timeout)
        lists = (list(rlist), list(wlist), list(xlist))
        if ch.recording:
            deadline = None if timeout is None else wall() + max(float(timeout), 0.0)
            box: list = [None]

            def ready(wait: float) -> bool:
                if deadline is not None:
                    wait = max(0.0, min(wait, deadline - wall()))
                box[0] = _real_select(*lists, wait)
                return any(box[0]) or (deadline is not None and wall() >= deadline)

            ch.wait(ex, me, ready, "select", "select")
            found = box[0]
            indices = tuple(tuple(i for i, obj in enumerate(lst) if obj in got)
                            for lst, got in zip(lists, found, strict=True))
            ch.put(me, "select.select", indices)
        else:
            ch.wait(ex, me, lambda t: True, "select", "select")
            indices = ch.take(ex, me, "select.select")
        return tuple([lst[i] for i in idx] for lst, idx in zip(lists, indices, strict=True))

    ch.set(select, "select", select_)
    ch.set(selectors.SelectSelector, "_select", staticmethod(select_))
    ch.set(selectors, "DefaultSelector", selectors.SelectSelector)

    def selector_select(self: Any, timeout: float | None = None) -> Any:
        """``select`` of the poll/epoll selectors that code chose itself (``socketserver`` uses
        ``PollSelector``), recorded as the ``select.select`` it amounts to."""
        keys = list(self.get_map().values())
        readers = [k.fd for k in keys if k.events & selectors.EVENT_READ]
        writers = [k.fd for k in keys if k.events & selectors.EVENT_WRITE]
        got = select_(readers, writers, [], timeout)
        readable, writable = set(got[0]), set(got[1])
        ready = []
        for key in keys:
            events = ((selectors.EVENT_READ if key.fd in readable else 0)
                      | (selectors.EVENT_WRITE if key.fd in writable else 0)) & key.events
            if events:
                ready.append((key, events))
        return ready

    for name in ("PollSelector", "EpollSelector", "DevpollSelector", "KqueueSelector"):
        cls = getattr(selectors, name, None)
        if cls is not None:
            original = cls.select

            def patched(self: Any, timeout: float | None = None, _original: Any = original) -> Any:
                if ch.caller()[1] is None or interlace_calling():
                    return _original(self, timeout)
                return selector_select(self, timeout)
            ch.set(cls, "select", patched)
