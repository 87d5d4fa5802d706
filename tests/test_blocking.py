"""Blocking calls interlace knows (runtime/blocking.py) wait deterministically: a thread that would
block hands the baton over at the call, and looks again when no other thread can run."""

from __future__ import annotations

import os
import select
import socket
import threading
import time

import interlace


def _signature(program, seed):
    runs = []
    result = interlace.explore(program, executions=8, seed=seed, races="off",
                               on_execution=lambda i, ex: runs.append(
                                   (tuple(ex.choices), [(e.tid, e.kind, e.what) for e in ex.trace])))
    assert result.ok, result.report()
    return runs


def test_a_socket_ping_pong_explores_the_same_way_every_time():
    def program():
        left, right = socket.socketpair()
        got = []

        def ping():
            for i in range(3):
                left.sendall(b"%d" % i)
                got.append(left.recv(1))

        def pong():
            for _ in range(3):
                right.sendall(right.recv(1))

        threads = [threading.Thread(target=ping), threading.Thread(target=pong)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        left.close()
        right.close()
        assert got == [b"0", b"1", b"2"]

    first = _signature(program, 5)
    assert _signature(program, 5) == first
    assert len({choices for choices, _ in first}) > 1  # the strategy did vary the interleavings


def test_os_read_of_a_pipe_waits_for_the_writer_thread():
    def program():
        r, w = os.pipe()
        got = []
        reader = threading.Thread(target=lambda: got.append(os.read(r, 5)))
        writer = threading.Thread(target=lambda: os.write(w, b"hello"))
        reader.start()
        writer.start()
        reader.join()
        writer.join()
        os.close(r)
        os.close(w)
        assert got == [b"hello"]

    result = interlace.explore(program, executions=20, seed=1, races="off")
    assert result.ok, result.report()


def test_a_socket_timeout_is_virtual_time():
    def program():
        left, right = socket.socketpair()
        left.settimeout(5)
        late = threading.Thread(target=lambda: (time.sleep(10), right.sendall(b"x")))
        late.start()
        started = time.monotonic()
        try:
            got = left.recv(1)
        except TimeoutError:  # the sleeper sleeps on past the timeout
            assert abs(time.monotonic() - started - 5) < 1e-6
            late.join()
            assert left.recv(1) == b"x"
        else:  # the strategy ended the sleep before the recv began (no scheduler promises otherwise)
            assert got == b"x" and time.monotonic() - started < 5
            late.join()
        left.close()
        right.close()

    wall = time.perf_counter()
    result = interlace.explore(program, executions=3, seed=1, races="off")
    assert result.ok, result.report()
    assert time.perf_counter() - wall < 5


def test_select_with_a_timeout_returns_nothing_when_it_expires():
    def program():
        left, right = socket.socketpair()
        started = time.monotonic()
        # nothing else can run: it waits for another process on the wall clock, up to the timeout
        assert select.select([left], [], [], 0.2) == ([], [], [])
        assert abs(time.monotonic() - started - 0.2) < 1e-6
        right.sendall(b"x")
        assert select.select([left], [], [], 0.2) == ([left], [], [])
        waiting = threading.Thread(target=lambda: time.sleep(100))
        waiting.start()  # another thread can run (or, woken early by the strategy, has ended: then the
        started = time.monotonic()  # call waits on the wall clock); either way the timeout is 0.3 virtual s
        assert select.select([right], [], [], 0.3) == ([], [], [])
        assert abs(time.monotonic() - started - 0.3) < 1e-6
        waiting.join()
        left.close()
        right.close()

    result = interlace.explore(program, executions=2, seed=1, races="off")
    assert result.ok, result.report()


def test_an_http_server_thread_and_a_urllib_client():
    import urllib.request
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Hello(BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"hello"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    def program():
        server = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
        serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        serving.start()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}/") as answer:
                assert answer.read() == b"hello"
        finally:
            server.shutdown()
            server.server_close()
            serving.join()

    result = interlace.explore(program, executions=3, seed=2, races="off", stuck_timeout=20)
    assert result.ok, result.report()


def _two_timed_receives():
    to_server, server_end = socket.socketpair()
    quiet, _unused = socket.socketpair()
    got = []

    def server():
        server_end.settimeout(5)
        got.append(server_end.recv(16))

    t = threading.Thread(target=server)
    t.start()
    quiet.settimeout(0.1)
    try:
        quiet.recv(16)
        timed_out = False
    except TimeoutError:
        timed_out = True
    to_server.sendall(b"after")
    t.join()
    assert timed_out and got == [b"after"]


def test_the_soonest_timeout_of_two_waiting_receives_expires_first():
    # both threads wait in recv with nothing in flight: the one that waited on the wall clock used its own
    # timeout (boltons' netstring server timed out after 10 s while the client's 0.1 s read waited behind it)
    started = time.monotonic()
    for seed in range(4):
        result = interlace.explore(_two_timed_receives, executions=4, seed=seed, races="off")
        assert result.ok, result.report()
    assert time.monotonic() - started < 10
