"""Parse an SFTP ``SSH_FXP_NAME`` reply (one READDIR batch) totally: entries, or ValueError with a reason.

Why not paramiko's own parsing: ``listdir_attr`` keeps the whole directory in memory, and both it
and ``listdir_iter`` decode every name as strict UTF-8 (one non-UTF-8 name from the server raises
``UnicodeDecodeError`` and ends the listing) and trust the counts in the packet (a count of four
billion in a short packet is read as four billion zero-padded names). Here every length is checked
against the bytes actually received, names that are not UTF-8 are kept as surrogate-escaped
strings (the caller skips them), and nothing but the batch itself is held.

Layout (draft-ietf-secsh-filexfer-02, what OpenSSH speaks): uint32 count, then per entry: string
filename, string longname, ATTRS (uint32 flags; uint64 size if SIZE; uint32 uid, gid if UIDGID;
uint32 permissions if PERMISSIONS; uint32 atime, mtime if ACMODTIME; uint32 n and n pairs of
strings if EXTENDED).
"""

from __future__ import annotations

import struct

from inspector.remote import RemoteEntry, kind_of

FLAG_SIZE = 0x1
FLAG_UIDGID = 0x2
FLAG_PERMISSIONS = 0x4
FLAG_ACMODTIME = 0x8
FLAG_EXTENDED = 0x80000000
_MIN_ENTRY = 12  # two empty strings and the flags
_MIN_EXTENDED_PAIR = 8


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.pos = 0

    def left(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> memoryview:
        if n > self.left():
            raise ValueError(f"truncated: needs {n} bytes at offset {self.pos}, {self.left()} left")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def u64(self) -> int:
        return int(struct.unpack(">Q", self.take(8))[0])

    def string(self) -> memoryview:
        return self.take(self.u32())


def parse_name_reply(data: bytes) -> list[RemoteEntry]:
    """The entries of one NAME reply (after its request id), without ``.`` and ``..``."""
    c = _Cursor(data)
    count = c.u32()
    if count > c.left() // _MIN_ENTRY:
        raise ValueError(f"claims {count} names in {c.left()} bytes")
    out = []
    for _ in range(count):
        name = bytes(c.string()).decode("utf-8", "surrogateescape")
        c.string()  # longname: ls -l text, unused
        flags = c.u32()
        size = c.u64() if flags & FLAG_SIZE else 0
        if flags & FLAG_UIDGID:
            c.take(8)
        mode = c.u32() if flags & FLAG_PERMISSIONS else 0
        mtime = 0
        if flags & FLAG_ACMODTIME:
            c.u32()
            mtime = c.u32()
        if flags & FLAG_EXTENDED:
            n = c.u32()
            if n > c.left() // _MIN_EXTENDED_PAIR:
                raise ValueError(f"claims {n} extended attributes in {c.left()} bytes")
            for _ in range(2 * n):
                c.string()
        if name not in (".", ".."):
            out.append(RemoteEntry(name, size, float(mtime), kind_of(mode)))
    return out
