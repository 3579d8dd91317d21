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
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


def parse_name_reply(data: bytes) -> list[RemoteEntry]:
    """The entries of one NAME reply (after its request id), without ``.`` and ``..``.

    Written flat, offsets in locals: a 200,000-name directory is 2,000 of these replies, and this
    runs once per name. ``unpack_from`` refuses to read past the end (struct.error); string
    lengths are checked by hand."""
    u32, u64 = _U32.unpack_from, _U64.unpack_from
    end = len(data)
    try:
        (count,) = u32(data, 0)
        pos = 4
        if count > (end - pos) // _MIN_ENTRY:
            raise ValueError(f"claims {count} names in {end - pos} bytes")
        out = []
        for _ in range(count):
            (name_len,) = u32(data, pos)
            name_at = pos + 4
            pos = name_at + name_len
            (n,) = u32(data, pos)  # longname (ls -l text): unused
            pos += 4 + n
            (flags,) = u32(data, pos)
            pos += 4
            size = mode = mtime = 0
            if flags & FLAG_SIZE:
                (size,) = u64(data, pos)
                pos += 8
            if flags & FLAG_UIDGID:
                pos += 8
            if flags & FLAG_PERMISSIONS:
                (mode,) = u32(data, pos)
                pos += 4
            if flags & FLAG_ACMODTIME:
                (mtime,) = u32(data, pos + 4)
                pos += 8
            if flags & FLAG_EXTENDED:
                (n,) = u32(data, pos)
                pos += 4
                if n > (end - pos) // _MIN_EXTENDED_PAIR:
                    raise ValueError(f"claims {n} extended attributes in {end - pos} bytes")
                for _ in range(2 * n):
                    (k,) = u32(data, pos)
                    pos += 4 + k
            if pos > end:
                raise ValueError(f"truncated entry: needs {pos} bytes, has {end}")
            name = data[name_at:name_at + name_len]
            if name not in (b".", b".."):
                out.append(RemoteEntry(name.decode("utf-8", "surrogateescape"), size, float(mtime), kind_of(mode)))
        return out
    except struct.error as e:
        raise ValueError(f"truncated reply: {e}") from None
