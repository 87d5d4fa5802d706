"""The ``.ilr`` recording file: writing it as a run goes, and loading it with validation.

Layout (all integers little-endian; see ``docs/recording-format.md``)::

    magic       8 bytes  b"\\x89ILR\\r\\n\\x1a\\n"
    version     u16      FORMAT_VERSION
    header_len  u32
    header      JSON (UTF-8): versions, platform, program, source hashes, strategy, seeds, argv, cwd
    header_crc  u32      CRC-32 of the header bytes
    frames      repeated: b"\\xf7", u32 length, u32 CRC-32 of the payload, payload

The payloads of all frames, concatenated, are one zlib stream (each frame ends with a sync flush, so
every complete frame decompresses to whole records). The records, tag byte first:

    0x00-0x3f  decision by thread <tag>: site id, op id (varints), enabled-set bitmask (format 1: a
               varint; format 2: a varint byte count and that many bytes, little-endian)
    0x40       decision by a thread >= 64: tid, site id, op id, bitmask
    0x41       site definition (next site id, from 1): file id, line, column, source line (string)
    0x42       file definition (next file id, from 0): string
    0x43       operation definition (next op id, from 1): string
    0x44       input: tid, kind id, length, marshal'd value
    0x45       input kind definition (next kind id, from 0): string
    0x46       thread name: tid, string
    0x47       end: length, marshal'd dict (outcome, exit code, duration, ...)
    0x48       stays: count (varint): that many more decisions for the thread of the last decision,
               taken by the scheduler's fast path (nothing changed who could run); format 2

Site id 0 and op id 0 stand for "unknown". Strings are a varint length and UTF-8 bytes.
"""

from __future__ import annotations

import json
import linecache
import marshal
import os
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

MAGIC = b"\x89ILR\r\n\x1a\n"
FORMAT_VERSION = 2
FORMAT_NAME = "interlace-recording"
FRAME = 0xF7
_FRAME_HEAD = struct.Struct("<BII")
_HEAD = struct.Struct("<HI")
_CRC = struct.Struct("<I")
MARSHAL_VERSION = 4

T_DECISION_BIG, T_SITE, T_FILE, T_OP, T_INPUT, T_KIND, T_THREAD, T_END, T_STAY = range(0x40, 0x49)

#: flush a frame when this many bytes of records are buffered, or on the next record after
#: FLUSH_SECONDS of wall-clock time (checked every few hundred records)
FLUSH_BYTES = 64 * 1024
FLUSH_SECONDS = 0.25


class RecordingError(Exception):
    """A recording that cannot be used. ``problem`` is one of: missing, unreadable, foreign, newer,
    truncated, corrupt; the message is one paragraph meant for people."""

    def __init__(self, problem: str, message: str) -> None:
        super().__init__(message)
        self.problem = problem


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _string(s: str) -> bytes:
    data = s.encode("utf-8", "surrogatepass")
    return _varint(len(data)) + data


class RecordingWriter:
    """Streams records to ``path``; ``force`` allows overwriting an existing file."""

    def __init__(self, path: str, header: dict[str, Any], force: bool = False, root: str | None = None,
                 clock: Any = None) -> None:
        import time

        self.path = path
        self.root = root
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        # private (0600): a recording holds what the program read (environment, files, network)
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL) | getattr(os, "O_BINARY", 0)
        fd = os.open(path, flags, 0o600)
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)  # an existing file replaced with --force keeps its mode otherwise
        self._file = os.fdopen(fd, "wb")
        doc = {"format": FORMAT_NAME, **header}
        body = json.dumps(doc, sort_keys=True).encode("utf-8")
        self._file.write(MAGIC + _HEAD.pack(FORMAT_VERSION, len(body)) + body + _CRC.pack(zlib.crc32(body)))
        self._file.flush()
        self._zip = zlib.compressobj(6)
        self._buf = bytearray()
        self._sites: dict[Any, int] = {None: 0}
        self._files: dict[str, int] = {}
        self._ops: dict[Any, int] = {None: 0}
        self._kinds: dict[str, int] = {}
        self._prefixes: dict[tuple[int, str], bytes] = {}
        self._clock = clock or time.monotonic
        self._last_flush = self._clock()
        self._countdown = 256
        self.decisions = 0
        self.inputs = 0
        self.closed = False
        self.bytes_written = self._file.tell()

    # -- tables ------------------------------------------------------------------------------------

    def _site(self, site: Any) -> int:
        sid = self._sites.get(site)
        if sid is None:
            filename, line, col = site[0], site[1], site[2]
            fid = self._files.get(filename)
            if fid is None:
                fid = self._files[filename] = len(self._files)
                self._buf.append(T_FILE)
                self._buf += _string(self._relative(filename))
            sid = self._sites[site] = len(self._sites)
            self._buf.append(T_SITE)
            self._buf += _varint(fid) + _varint(max(line or 0, 0)) + _varint(max(col or 0, 0))
            self._buf += _string(linecache.getline(filename, line or 0).strip()[:120])
        return sid

    def _relative(self, filename: str) -> str:
        root = self.root
        if root and filename.startswith(root + os.sep):
            return os.path.relpath(filename, root).replace(os.sep, "/")
        return filename

    def _op(self, op: Any) -> int:
        oid = self._ops.get(op)
        if oid is None:
            oid = self._ops[op] = len(self._ops)
            self._buf.append(T_OP)
            self._buf += _string(str(op))
        return oid

    # -- records -----------------------------------------------------------------------------------

    def decision(self, tid: int, site: Any, op: Any, enabled: Any) -> None:
        """One decision: ``enabled`` is the set of threads that could run, as tids or as a bit mask."""
        sid = self._sites.get(site)
        if sid is None:
            sid = self._site(site)
        oid = self._ops.get(op)
        if oid is None:
            oid = self._op(op)
        if type(enabled) is int:
            mask = enabled
        else:
            mask = 0
            for t in enabled:
                mask |= 1 << t
        buf = self._buf
        if tid < 0x40:
            buf.append(tid)
        else:
            buf.append(T_DECISION_BIG)
            buf += _varint(tid)
        width = (mask.bit_length() + 7) // 8
        if sid < 0x80 and oid < 0x80 and width < 0x80:
            buf.append(sid)
            buf.append(oid)
            buf.append(width)
        else:
            buf += _varint(sid) + _varint(oid) + _varint(width)
        buf += mask.to_bytes(width, "little")
        self.decisions += 1
        self._countdown -= 1
        if self._countdown <= 0:
            self._countdown = 256
            self.maybe_flush()

    def stay(self, n: int) -> None:
        """``n`` more decisions for the thread of the last decision (the fast path's)."""
        self._buf.append(T_STAY)
        self._buf += _varint(n)
        self.decisions += n

    def input(self, tid: int, kind: str, value: Any) -> None:
        data = marshal.dumps(value, MARSHAL_VERSION)
        prefix = self._prefixes.get((tid, kind))
        buf = self._buf
        if prefix is None:
            kid = self._kinds.get(kind)
            if kid is None:
                kid = self._kinds[kind] = len(self._kinds)
                buf.append(T_KIND)
                buf += _string(kind)
            prefix = self._prefixes[(tid, kind)] = bytes([T_INPUT]) + _varint(tid) + _varint(kid)
        buf += prefix
        n = len(data)
        if n < 0x80:
            buf.append(n)
        else:
            buf += _varint(n)
        buf += data
        self.inputs += 1
        self._countdown -= 16
        if self._countdown <= 0:
            self._countdown = 256
            self.maybe_flush()

    def thread(self, tid: int, name: str) -> None:
        self._buf.append(T_THREAD)
        self._buf += _varint(tid) + _string(name)

    def end(self, outcome: dict[str, Any]) -> None:
        data = marshal.dumps(outcome, MARSHAL_VERSION)
        self._buf.append(T_END)
        self._buf += _varint(len(data)) + data
        self.flush()

    # -- output ------------------------------------------------------------------------------------

    def maybe_flush(self) -> None:
        if len(self._buf) >= FLUSH_BYTES or self._clock() - self._last_flush >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self.closed or not self._buf:
            return
        data = self._zip.compress(bytes(self._buf)) + self._zip.flush(zlib.Z_SYNC_FLUSH)
        self._buf = bytearray()
        self._file.write(_FRAME_HEAD.pack(FRAME, len(data), zlib.crc32(data)) + data)
        self._file.flush()
        self.bytes_written = self._file.tell()
        self._last_flush = self._clock()

    def close(self) -> None:
        if not self.closed:
            self.flush()
            self._file.close()
            self.closed = True


@dataclass
class Decision:
    tid: int
    site: tuple | None  # (file as recorded, line, col)
    op: str | None
    mask: int  # the threads that could run, bit t for thread t
    stays: int = 0  # decisions after this one that kept the same thread, taken without a record each

    @property
    def enabled(self) -> tuple[int, ...]:
        """The threads that could run, ascending (decoded when asked: a run may have hundreds)."""
        mask = self.mask
        return tuple(i for i in range(mask.bit_length()) if mask >> i & 1)


@dataclass
class Recording:
    """A loaded recording."""

    path: str
    header: dict[str, Any]
    decisions: list[Decision] = field(default_factory=list)
    inputs: list[tuple[int, str, Any]] = field(default_factory=list)  # (tid, kind, value), file order
    threads: dict[int, str] = field(default_factory=dict)
    source_lines: dict[tuple, str] = field(default_factory=dict)  # site -> its source line when recorded
    end: dict[str, Any] | None = None
    size: int = 0
    #: loaded with ``salvage``: the byte where the intact frames end and a cut-short one begins
    truncated_at: int | None = None

    @property
    def complete(self) -> bool:
        """Whether the run ended on its own (not killed, not interrupted by Ctrl-C): only then must a
        replay make every recorded decision and read every input."""
        return self.end is not None and self.end.get("outcome") != "interrupted"


def _describe_start(data: bytes) -> str:
    if not data:
        return "it is empty"
    head = data[:8]
    if all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return f"it starts with the text {head.decode('ascii')!r}"
    return "it starts with the bytes " + " ".join(f"{b:02x}" for b in head)


def load(path: str, salvage: bool = False) -> Recording:
    """Read and validate a recording; :class:`RecordingError` says precisely what is wrong.

    ``salvage``: a file whose last frame is cut short (the writer was killed mid-frame, a copy was
    interrupted) loads as the recording of its intact frames, like a run that ended without an end
    record, with ``truncated_at`` set; without it, such a file is an error.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise RecordingError("missing", f"there is no recording at {path!r}. Check the path printed by "
                             "`interlace run`.") from None
    except OSError as exc:
        raise RecordingError("unreadable",
                             f"cannot read the recording {path!r}: {exc.strerror or exc}.") from None
    name = repr(path)
    if not data.startswith(MAGIC):
        if MAGIC.startswith(data):
            raise RecordingError("truncated", f"{name} is truncated: it is only {len(data)} byte(s) long and "
                                 "ends inside the recording signature. The file was cut short (an "
                                 "interrupted copy or download?); record the run again.")
        raise RecordingError("foreign", f"{name} is not an interlace recording: {_describe_start(data)}, "
                             f"but recordings start with the signature {MAGIC!r}. Pass a .ilr file "
                             "written by `interlace run`.")
    pos = len(MAGIC)
    if len(data) < pos + _HEAD.size:
        raise RecordingError("truncated", f"{name} is truncated: it ends inside its header ({len(data)} "
                             "bytes). The file was cut short; record the run again.")
    version, hlen = _HEAD.unpack_from(data, pos)
    pos += _HEAD.size
    if version > FORMAT_VERSION:
        who = ""
        try:
            who = " by interlace " + json.loads(data[pos:pos + hlen]).get("interlace", "?")
        except Exception:  # noqa: BLE001 - only used to improve the message
            pass
        raise RecordingError("newer", f"{name} was written in recording format version {version}{who}; this "
                             f"interlace reads format version {FORMAT_VERSION} and older. Upgrade interlace "
                             "to replay it.")
    if version < 1:
        raise RecordingError("corrupt", f"{name} is corrupt: its format version is {version}, which no "
                             "interlace ever wrote.")
    if len(data) < pos + hlen + _CRC.size:
        raise RecordingError("truncated", f"{name} is truncated: it ends inside its header (the header "
                             f"needs {hlen} bytes, the file has {len(data) - pos}). The file was cut short; "
                             "record the run again.")
    body = data[pos:pos + hlen]
    (crc,) = _CRC.unpack_from(data, pos + hlen)
    if zlib.crc32(body) != crc:
        raise RecordingError("corrupt", f"{name} is corrupt: its header fails its checksum (bytes {pos}-"
                             f"{pos + hlen}). The file was modified or damaged after it was written.")
    try:
        header = json.loads(body)
        if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
            raise ValueError("not a recording header")
    except ValueError:
        raise RecordingError("corrupt", f"{name} is corrupt: its header is not a recording header.") from None
    pos += hlen + _CRC.size
    rec = Recording(path=path, header=header, size=len(data))
    parser = _Parser(rec, name, version)
    unzip = zlib.decompressobj()
    frame_no = 0
    while pos < len(data):
        frame_no += 1
        if len(data) < pos + _FRAME_HEAD.size:
            if salvage:
                rec.truncated_at = pos
                return rec
            raise _truncated(name, pos, len(data), rec)
        marker, length, crc = _FRAME_HEAD.unpack_from(data, pos)
        if marker != FRAME:
            raise RecordingError("corrupt", f"{name} is corrupt: frame {frame_no} at byte {pos} "
                                            "does not start "
                                 f"with the frame marker (found byte {marker:#04x}). The file was "
                                 "modified or "
                                 "damaged after it was written.")
        start = pos + _FRAME_HEAD.size
        if len(data) < start + length:
            if salvage:
                rec.truncated_at = pos
                return rec
            raise _truncated(name, pos, len(data), rec)
        payload = data[start:start + length]
        if zlib.crc32(payload) != crc:
            raise RecordingError("corrupt", f"{name} is corrupt: frame {frame_no} (bytes "
                                            f"{pos}-{start + length}) "
                                 "fails its checksum. The file was modified or damaged after it was written; "
                                 f"the {len(rec.decisions)} decision(s) before it are intact.")
        try:
            records = unzip.decompress(payload)
        except zlib.error as exc:
            raise RecordingError("corrupt", f"{name} is corrupt: frame {frame_no} does not "
                                            f"decompress ({exc}).") from None
        parser.feed(records, frame_no)
        pos = start + length
    if rec.end is None and parser.pending:
        if salvage:
            rec.truncated_at = pos
            return rec
        raise _truncated(name, pos, len(data), rec)
    return rec


def _truncated(name: str, pos: int, size: int, rec: Recording) -> RecordingError:
    return RecordingError("truncated", f"{name} is truncated: it ends in the middle of a frame "
                                       f"(byte {pos} of "
                          f"{size}). The file was cut short (the run was killed while writing it, or a copy was "
                          f"interrupted); the {len(rec.decisions)} decision(s) before that point are intact: "
                          "`interlace replay --salvage` replays them, or record the run again.")


class _Parser:
    def __init__(self, rec: Recording, name: str, version: int = FORMAT_VERSION) -> None:
        self.rec = rec
        self.version = version
        self.name = name
        self.files: list[str] = []
        self.sites: list[Any] = [None]
        self.ops: list[Any] = [None]
        self.kinds: list[str] = []
        self.pending = b""

    def feed(self, data: bytes, frame_no: int) -> None:
        data = self.pending + data
        self.pending = b""
        try:
            self._parse(data)
        except (IndexError, ValueError, EOFError, TypeError, UnicodeDecodeError) as exc:
            raise RecordingError("corrupt", f"{self.name} is corrupt: the records of frame {frame_no} do not "
                                 f"parse ({exc}). The file was not written by a compatible interlace or "
                                 "was damaged.") from None

    def _parse(self, data: bytes) -> None:
        pos = 0
        n = len(data)
        rec = self.rec
        decisions = rec.decisions
        sites, ops = self.sites, self.ops

        def varint() -> int:
            nonlocal pos
            shift = result = 0
            while True:
                b = data[pos]
                pos += 1
                result |= (b & 0x7F) << shift
                if b < 0x80:
                    return result
                shift += 7

        def string() -> str:
            nonlocal pos
            length = varint()
            if pos + length > n:
                raise IndexError("string past the end")
            s = data[pos:pos + length].decode("utf-8", "surrogatepass")
            pos += length
            return s

        while pos < n:
            tag = data[pos]
            pos += 1
            if tag < 0x40 or tag == T_DECISION_BIG:
                tid = tag if tag < 0x40 else varint()
                sid, oid = varint(), varint()
                if self.version >= 2:
                    width = varint()
                    if pos + width > n:
                        raise IndexError("decision past the end")
                    mask = int.from_bytes(data[pos:pos + width], "little")
                    pos += width
                else:
                    mask = varint()
                decisions.append(Decision(tid, sites[sid], ops[oid], mask))
            elif tag == T_STAY:
                decisions[-1].stays += varint()
            elif tag == T_SITE:
                fid, line, col = varint(), varint(), varint()
                site = (self.files[fid], line, col)
                sites.append(site)
                rec.source_lines[site] = string()
            elif tag == T_FILE:
                self.files.append(string())
            elif tag == T_OP:
                ops.append(string())
            elif tag == T_KIND:
                self.kinds.append(string())
            elif tag == T_INPUT:
                tid, kid, length = varint(), varint(), varint()
                if pos + length > n:
                    raise IndexError("input past the end")
                value = marshal.loads(data[pos:pos + length])
                pos += length
                rec.inputs.append((tid, self.kinds[kid], value))
            elif tag == T_THREAD:
                tid = varint()
                rec.threads[tid] = string()
            elif tag == T_END:
                length = varint()
                if pos + length > n:
                    raise IndexError("end record past the end")
                end = marshal.loads(data[pos:pos + length])
                if not isinstance(end, dict):
                    raise ValueError("end record is not a dict")
                rec.end = end
                pos += length
            else:
                raise ValueError(f"unknown record tag {tag:#04x} at offset {pos - 1}")
