"""SFTP version 3 on the wire (draft-ietf-secsh-filexfer-02, what OpenSSH speaks): requests encoded,
replies parsed totally.

Every packet is ``uint32 length, byte type, ...``; every request after INIT carries a uint32 id
that its reply repeats. :func:`parse_reply` turns any bytes from the server into a reply object
or a :class:`ProtocolError` with a reason, never another exception; :func:`check_frame` refuses a
length over the negotiated maximum before anything is allocated for it. NAME replies are parsed
by :mod:`inspector.sftp_names` (surrogate-escaped names, counts checked against the bytes).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from inspector.remote import RemoteEntry, RemoteError, kind_of
from inspector.sftp_names import (
    FLAG_ACMODTIME,
    FLAG_EXTENDED,
    FLAG_PERMISSIONS,
    FLAG_SIZE,
    FLAG_UIDGID,
    parse_name_reply,
)

VERSION = 3
FXP_INIT, FXP_VERSION, FXP_OPEN, FXP_CLOSE, FXP_READ = 1, 2, 3, 4, 5
FXP_LSTAT, FXP_FSTAT, FXP_OPENDIR, FXP_READDIR, FXP_REMOVE, FXP_RENAME = 7, 8, 11, 12, 13, 18
FXP_STATUS, FXP_HANDLE, FXP_DATA, FXP_NAME, FXP_ATTRS = 101, 102, 103, 104, 105
FXP_EXTENDED, FXP_EXTENDED_REPLY = 200, 201
FX_OK, FX_EOF, FX_NO_SUCH_FILE, FX_PERMISSION_DENIED, FX_FAILURE = 0, 1, 2, 3, 4
FXF_READ = 0x1
POSIX_RENAME = b"posix-rename@openssh.com"
LIMITS = b"limits@openssh.com"

DEFAULT_MAX_PACKET = 256 * 1024  # OpenSSH's own maximum message; also the most we ever ask for
FRAME_SLACK = 1024  # headers over the payload the negotiated maximum counts
MAX_HANDLE = 256  # the draft's bound on a handle's length
MAX_EXTENSIONS = 64  # in the VERSION reply

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_HEAD = struct.Struct(">IBI")  # length, type, request id
_READ_TAIL = struct.Struct(">QI")


class ProtocolError(RemoteError):
    """The server sent something that is not SFTP v3 as we asked for it."""


@dataclass(frozen=True)
class Version:
    version: int
    extensions: dict[bytes, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class Status:
    id: int
    code: int
    message: str


@dataclass(frozen=True)
class Handle:
    id: int
    handle: bytes


@dataclass(frozen=True)
class Data:
    id: int
    data: memoryview  # a view of the packet: no copy of the bytes read


@dataclass(frozen=True)
class Name:
    id: int
    entries: list[RemoteEntry]


@dataclass(frozen=True)
class Attrs:
    id: int
    size: int
    mtime: float
    kind: str


@dataclass(frozen=True)
class ExtendedReply:
    id: int
    payload: bytes


Reply = Version | Status | Handle | Data | Name | Attrs | ExtendedReply


@dataclass(frozen=True)
class Limits:
    max_packet: int
    max_read: int
    max_write: int
    max_open_handles: int


# --- requests ---------------------------------------------------------------------------------------

def _string(b: bytes) -> bytes:
    return _U32.pack(len(b)) + b


def _path(p: str) -> bytes:
    return _string(p.encode("utf-8", "surrogateescape"))


def _packet(kind: int, req_id: int, body: bytes = b"") -> bytes:
    return _HEAD.pack(5 + len(body), kind, req_id) + body


def init() -> bytes:
    return _U32.pack(5) + bytes([FXP_INIT]) + _U32.pack(VERSION)


def open_read(req_id: int, path: str) -> bytes:
    return _packet(FXP_OPEN, req_id, _path(path) + _U32.pack(FXF_READ) + _U32.pack(0))  # no attributes


def close(req_id: int, handle: bytes) -> bytes:
    return _packet(FXP_CLOSE, req_id, _string(handle))


def read(req_id: int, handle: bytes, offset: int, length: int) -> bytes:
    return _packet(FXP_READ, req_id, _string(handle) + _READ_TAIL.pack(offset, length))


def fstat(req_id: int, handle: bytes) -> bytes:
    return _packet(FXP_FSTAT, req_id, _string(handle))


def lstat(req_id: int, path: str) -> bytes:
    return _packet(FXP_LSTAT, req_id, _path(path))


def opendir(req_id: int, path: str) -> bytes:
    return _packet(FXP_OPENDIR, req_id, _path(path))


def readdir(req_id: int, handle: bytes) -> bytes:
    return _packet(FXP_READDIR, req_id, _string(handle))


def remove(req_id: int, path: str) -> bytes:
    return _packet(FXP_REMOVE, req_id, _path(path))


def rename(req_id: int, old: str, new: str) -> bytes:
    return _packet(FXP_RENAME, req_id, _path(old) + _path(new))


def posix_rename(req_id: int, old: str, new: str) -> bytes:
    return _packet(FXP_EXTENDED, req_id, _string(POSIX_RENAME) + _path(old) + _path(new))


def limits(req_id: int) -> bytes:
    return _packet(FXP_EXTENDED, req_id, _string(LIMITS))


# --- replies ----------------------------------------------------------------------------------------

def check_frame(length: int, max_packet: int) -> None:
    """A packet's length field, before its bytes are read: over ``max_packet`` + slack is refused."""
    if length < 1:
        raise ProtocolError("empty SFTP packet")
    if length > max_packet + FRAME_SLACK:
        raise ProtocolError(f"SFTP packet of {length} bytes is over the maximum of {max_packet + FRAME_SLACK}")


class _Cursor:
    """Reads fields off one packet; any overrun is a ProtocolError."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes | bytearray, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def u32(self) -> int:
        if self.pos + 4 > len(self.data):
            raise ProtocolError("truncated reply: a uint32 runs past its end")
        (v,) = _U32.unpack_from(self.data, self.pos)
        self.pos += 4
        return int(v)

    def u64(self) -> int:
        if self.pos + 8 > len(self.data):
            raise ProtocolError("truncated reply: a uint64 runs past its end")
        (v,) = _U64.unpack_from(self.data, self.pos)
        self.pos += 8
        return int(v)

    def string(self, limit: int | None = None) -> bytes:
        n = self.u32()
        if limit is not None and n > limit:
            raise ProtocolError(f"a string of {n} bytes where at most {limit} are allowed")
        if self.pos + n > len(self.data):
            raise ProtocolError(f"truncated reply: a string of {n} bytes runs past its end")
        v = bytes(self.data[self.pos:self.pos + n])
        self.pos += n
        return v

    def view(self) -> memoryview:
        """A string, as a view of the packet."""
        n = self.u32()
        if self.pos + n > len(self.data):
            raise ProtocolError(f"truncated reply: a string of {n} bytes runs past its end")
        v = memoryview(self.data)[self.pos:self.pos + n]
        self.pos += n
        return v

    def rest(self) -> bytes:
        v, self.pos = bytes(self.data[self.pos:]), len(self.data)
        return v

    def end(self) -> None:
        if self.pos != len(self.data):
            raise ProtocolError(f"{len(self.data) - self.pos} stray bytes after the reply")


def _attrs(c: _Cursor, req_id: int) -> Attrs:
    flags = c.u32()
    size = mode = mtime = 0
    if flags & FLAG_SIZE:
        size = c.u64()
    if flags & FLAG_UIDGID:
        c.u32(), c.u32()
    if flags & FLAG_PERMISSIONS:
        mode = c.u32()
    if flags & FLAG_ACMODTIME:
        c.u32()
        mtime = c.u32()
    if flags & FLAG_EXTENDED:
        n = c.u32()
        if n > (len(c.data) - c.pos) // 8:
            raise ProtocolError(f"claims {n} extended attributes in {len(c.data) - c.pos} bytes")
        for _ in range(2 * n):
            c.string()
    return Attrs(req_id, size, float(mtime), kind_of(mode))


def parse_reply(packet: bytes | bytearray) -> Reply:
    """One packet (after its length field): a reply object or a ProtocolError, whatever the bytes."""
    if not packet:
        raise ProtocolError("empty SFTP packet")
    kind = packet[0]
    c = _Cursor(packet, 1)
    if kind == FXP_VERSION:
        version = c.u32()
        ext: dict[bytes, bytes] = {}
        while c.pos < len(packet):
            if len(ext) >= MAX_EXTENSIONS:
                raise ProtocolError(f"more than {MAX_EXTENSIONS} extensions in VERSION")
            name = c.string()
            ext[name] = c.string()
        return Version(version, ext)
    req_id = c.u32()
    if kind == FXP_DATA:
        data = c.view()
        c.end()
        return Data(req_id, data)
    if kind == FXP_STATUS:
        code = c.u32()
        message = b""
        if c.pos < len(packet):  # the draft's message and language tag (some servers omit them)
            message = c.string()
            c.string()
        c.end()
        return Status(req_id, code, message.decode("utf-8", "replace")[:500])
    if kind == FXP_HANDLE:
        handle = c.string(MAX_HANDLE)
        c.end()
        return Handle(req_id, handle)
    if kind == FXP_NAME:
        try:
            return Name(req_id, parse_name_reply(c.rest()))
        except ValueError as e:
            raise ProtocolError(f"malformed NAME reply: {e}") from None
    if kind == FXP_ATTRS:
        attrs = _attrs(c, req_id)
        c.end()
        return attrs
    if kind == FXP_EXTENDED_REPLY:
        return ExtendedReply(req_id, c.rest())
    raise ProtocolError(f"unexpected SFTP packet type {kind}")


def parse_limits(payload: bytes) -> Limits:
    """The limits@openssh.com reply: four uint64 (0: no limit)."""
    c = _Cursor(payload)
    values = Limits(c.u64(), c.u64(), c.u64(), c.u64())
    c.end()
    return values
