"""The .ilr format: round trip, compactness, and validation (truncated, corrupt, foreign, newer files)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys

import pytest

from interlace.recording import FORMAT_VERSION, MAGIC, RecordingError, RecordingWriter, load

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")

pytestmark = pytest.mark.timeout(120)


def write_sample(path: str, decisions: int = 1000, end: bool = True) -> None:
    w = RecordingWriter(path, {"program": {"path": "/p/prog.py"}, "seed": 1}, root="/p")
    sites = [("/p/prog.py", 10 + i, 4) for i in range(5)]
    for i in range(decisions):
        w.decision(i % 3, sites[i % 5], "read" if i % 2 else "write", (0, 1, 2))
        if i % 100 == 0:
            w.input(i % 3, "time.time", 1.5 + i)
    w.thread(1, "Thread-1 (work)")
    if end:
        w.end({"exit_code": 1, "outcome": "exit"})
    w.close()


def test_round_trip(tmp_path) -> None:
    path = str(tmp_path / "a.ilr")
    write_sample(path)
    rec = load(path)
    assert rec.header["seed"] == 1
    assert len(rec.decisions) == 1000
    d = rec.decisions[7]
    assert (d.tid, d.site, d.op, d.enabled) == (1, ("prog.py", 12, 4), "read", (0, 1, 2))
    assert rec.inputs[:2] == [(0, "time.time", 1.5), (1, "time.time", 101.5)]
    assert rec.threads == {1: "Thread-1 (work)"}
    assert rec.end == {"exit_code": 1, "outcome": "exit"}
    assert rec.complete


def test_many_threads_and_stays_round_trip(tmp_path) -> None:
    """A decision among hundreds of threads, and the fast path's stays after it."""
    path = str(tmp_path / "many.ilr")
    w = RecordingWriter(path, {"seed": 1})
    everyone = (1 << 400) - 1
    w.decision(399, ("/p/prog.py", 3, 0), "write", everyone & ~(1 << 7))
    w.stay(5000)
    w.decision(2, ("/p/prog.py", 3, 0), "read", (2, 5))
    w.end({"exit_code": 0})
    w.close()
    assert w.decisions == 5002
    first, second = load(path).decisions
    assert first.tid == 399 and first.stays == 5000 and len(first.enabled) == 399 and 7 not in first.enabled
    assert second.enabled == (2, 5) and second.stays == 0


def test_a_decision_costs_under_ten_bytes(tmp_path) -> None:
    path = str(tmp_path / "a.ilr")
    write_sample(path, decisions=100_000)
    header = len(MAGIC) + 6 + 4
    assert (os.path.getsize(path) - header) / 100_000 < 10


def test_nothing_is_overwritten_without_force(tmp_path) -> None:
    path = str(tmp_path / "a.ilr")
    write_sample(path)
    with pytest.raises(FileExistsError):
        RecordingWriter(path, {})
    RecordingWriter(path, {}, force=True).close()


def test_a_recording_without_end_loads_as_incomplete(tmp_path) -> None:
    path = str(tmp_path / "a.ilr")
    write_sample(path, end=False)
    rec = load(path)
    assert not rec.complete
    assert len(rec.decisions) == 1000


def error(path: str) -> RecordingError:
    with pytest.raises(RecordingError) as info:
        load(path)
    return info.value


def test_truncated_file(tmp_path) -> None:
    path = str(tmp_path / "a.ilr")
    write_sample(path)
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) - 7])
    exc = error(path)
    assert exc.problem == "truncated"
    assert str(exc).startswith(f"{path!r} is truncated: it ends in the middle of a frame (byte ")
    assert str(exc).endswith("`interlace replay --salvage` replays them, or record the run again.")
    salvaged = load(path, salvage=True)
    assert salvaged.truncated_at is not None and not salvaged.complete
    assert f"(byte {salvaged.truncated_at} of {len(data) - 7})" in str(exc)
    assert f"the {len(salvaged.decisions)} decision(s) before that point are intact" in str(exc)
    open(path, "wb").write(data[:5])
    assert error(path).problem == "truncated"
    open(path, "wb").write(data[:20])
    assert str(error(path)).startswith(f"{path!r} is truncated: it ends inside its header")


def test_corrupted_file(tmp_path) -> None:
    path = str(tmp_path / "a.ilr")
    write_sample(path)
    data = bytearray(open(path, "rb").read())
    data[-20] ^= 0xFF
    open(path, "wb").write(bytes(data))
    exc = error(path)
    assert exc.problem == "corrupt"
    assert str(exc).startswith(f"{path!r} is corrupt: frame 1 (bytes ")
    assert "fails its checksum" in str(exc)


def test_random_file(tmp_path) -> None:
    path = str(tmp_path / "a.ilr")
    open(path, "wb").write(bytes(range(7, 207)))
    exc = error(path)
    assert exc.problem == "foreign"
    assert str(exc) == (f"{path!r} is not an interlace recording: it starts with the bytes 07 08 09 "
                        "0a 0b 0c 0d "
                        f"0e, but recordings start with the signature {MAGIC!r}. Pass a .ilr file written by "
                        "`interlace run`.")


def test_newer_version(tmp_path) -> None:
    path = str(tmp_path / "a.ilr")
    write_sample(path)
    data = bytearray(open(path, "rb").read())
    struct.pack_into("<H", data, len(MAGIC), FORMAT_VERSION + 1)
    open(path, "wb").write(bytes(data))
    exc = error(path)
    assert exc.problem == "newer"
    assert f"recording format version {FORMAT_VERSION + 1}" in str(exc)
    assert "Upgrade interlace to replay it." in str(exc)


def test_missing_file(tmp_path) -> None:
    assert error(str(tmp_path / "nope.ilr")).problem == "missing"


def _cli(*args: str, cwd: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=SRC)
    return subprocess.run([sys.executable, "-m", "interlace", *args], cwd=cwd, env=env, capture_output=True,
                          stdin=subprocess.DEVNULL, timeout=60)


def test_cli_gives_each_bad_file_its_own_message_and_exit_code_2(tmp_path) -> None:
    good = str(tmp_path / "good.ilr")
    write_sample(good)
    data = open(good, "rb").read()
    files = {
        "truncated.ilr": data[:-9],
        "corrupt.ilr": data[:-30] + bytes([data[-30] ^ 0x55]) + data[-29:],
        "random.ilr": os.urandom(300).replace(b"\x89", b"\x00"),
    }
    messages = set()
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
        for command in ("replay", "show"):
            done = _cli(command, name, cwd=str(tmp_path))
            err = done.stderr.decode()
            assert done.returncode == 2, err
            assert "Traceback" not in err
            assert err.count("\n") == 1 and err.startswith(f"interlace: {name!r} is ")
            messages.add(err.split(":")[1])
    assert {m.split(" is ")[1].split()[0] for m in messages} == {"truncated", "corrupt", "not"}
