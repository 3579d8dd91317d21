"""SFTP v3 framing (inspector.sftp_wire): requests laid out as the draft says, and replies parsed
totally: any bytes from a server give a reply object or a ProtocolError, never another exception,
and no length is trusted before it is checked."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspector import sftp_wire as wire
from inspector.remote import RemoteError


def s(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


def body(packet: bytes) -> bytes:
    """A whole packet without its length field, after checking that field."""
    (n,) = struct.unpack(">I", packet[:4])
    assert n == len(packet) - 4
    return packet[4:]


VALID_REPLIES = [
    bytes([wire.FXP_VERSION]) + struct.pack(">I", 3) + s(b"posix-rename@openssh.com") + s(b"1")
    + s(b"limits@openssh.com") + s(b"1"),
    bytes([wire.FXP_STATUS]) + struct.pack(">II", 7, wire.FX_NO_SUCH_FILE) + s(b"No such file") + s(b""),
    bytes([wire.FXP_HANDLE]) + struct.pack(">I", 8) + s(b"\0\0\0\1"),
    bytes([wire.FXP_DATA]) + struct.pack(">I", 9) + s(b"x" * 100),
    bytes([wire.FXP_ATTRS]) + struct.pack(">II", 10, 0x8000000F) + struct.pack(">QIIIII", 5, 0, 0, 0o100644, 1, 2)
    + struct.pack(">I", 1) + s(b"k") + s(b"v"),
    bytes([wire.FXP_NAME]) + struct.pack(">II", 11, 1) + s(b"a.mp4") + s(b"-rw") + struct.pack(">IQ", 1, 42),
    bytes([wire.FXP_EXTENDED_REPLY]) + struct.pack(">I", 12) + struct.pack(">QQQQ", 262144, 261120, 261120, 0),
]


def parse_or_protocol_error(raw: bytes) -> wire.Reply | None:
    try:
        return wire.parse_reply(raw)
    except wire.ProtocolError:
        return None


def test_requests_are_laid_out_as_the_draft_says() -> None:
    assert wire.init() == struct.pack(">IBI", 5, wire.FXP_INIT, 3)
    assert body(wire.read(7, b"HH", 2**40, 261120)) == (bytes([wire.FXP_READ]) + struct.pack(">I", 7) + s(b"HH")
                                                       + struct.pack(">QI", 2**40, 261120))
    assert body(wire.open_read(1, "/d/a.mp4")) == (bytes([wire.FXP_OPEN]) + struct.pack(">I", 1) + s(b"/d/a.mp4")
                                                  + struct.pack(">II", wire.FXF_READ, 0))
    assert body(wire.posix_rename(2, "/a", "/b")) == (bytes([wire.FXP_EXTENDED]) + struct.pack(">I", 2)
                                                     + s(b"posix-rename@openssh.com") + s(b"/a") + s(b"/b"))
    assert body(wire.limits(3)) == bytes([wire.FXP_EXTENDED]) + struct.pack(">I", 3) + s(b"limits@openssh.com")
    for encode in (wire.close, wire.fstat, wire.readdir):
        assert body(encode(4, b"H"))[5:] == s(b"H")
    for encode_path in (wire.lstat, wire.opendir, wire.remove):
        assert body(encode_path(5, "/x\udcff"))[5:] == s(b"/x\xff")  # a surrogate-escaped name goes back as it came
    assert body(wire.rename(6, "/a", "/b"))[5:] == s(b"/a") + s(b"/b")


def test_valid_replies_are_parsed() -> None:
    version, status, handle, data, attrs, name, ext = (wire.parse_reply(r) for r in VALID_REPLIES)
    assert version == wire.Version(3, {b"posix-rename@openssh.com": b"1", b"limits@openssh.com": b"1"})
    assert status == wire.Status(7, wire.FX_NO_SUCH_FILE, "No such file")
    assert handle == wire.Handle(8, b"\0\0\0\1")
    assert isinstance(data, wire.Data) and data.id == 9 and bytes(data.data) == b"x" * 100
    assert attrs == wire.Attrs(10, 5, 2.0, "file")
    assert isinstance(name, wire.Name) and [(e.name, e.size) for e in name.entries] == [("a.mp4", 42)]
    assert isinstance(ext, wire.ExtendedReply)
    assert wire.parse_limits(ext.payload) == wire.Limits(262144, 261120, 261120, 0)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_give_a_reply_or_a_protocol_error(raw: bytes) -> None:
    parse_or_protocol_error(raw)
    parse_or_protocol_error(bytes([wire.FXP_STATUS]) + raw)  # past the type byte too
    try:
        wire.parse_limits(raw)
    except wire.ProtocolError:
        pass


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(VALID_REPLIES), st.data())
def test_mutated_valid_replies_give_a_reply_or_a_protocol_error(raw: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(raw)))
    mangled = data.draw(st.sampled_from([
        raw[:cut],  # truncated
        raw[:cut] + data.draw(st.binary(max_size=64)),  # garbage after
        bytes(b ^ data.draw(st.integers(1, 255)) if i == cut else b for i, b in enumerate(raw)),  # one byte flipped
        raw[:cut] + b"\xff\xff\xff\xff" + raw[cut + 4:],  # a huge length or count
    ]))
    parse_or_protocol_error(mangled)


def test_lengths_are_checked_before_anything_is_allocated() -> None:
    wire.check_frame(wire.DEFAULT_MAX_PACKET + wire.FRAME_SLACK, wire.DEFAULT_MAX_PACKET)
    for n in (0, wire.DEFAULT_MAX_PACKET + wire.FRAME_SLACK + 1, 2**32 - 1):
        with pytest.raises(wire.ProtocolError):
            wire.check_frame(n, wire.DEFAULT_MAX_PACKET)
    with pytest.raises(wire.ProtocolError, match="at most 256"):  # a handle is at most 256 bytes
        wire.parse_reply(bytes([wire.FXP_HANDLE]) + struct.pack(">I", 1) + s(b"h" * 257))
    with pytest.raises(wire.ProtocolError, match="runs past"):  # a data length larger than the packet
        wire.parse_reply(bytes([wire.FXP_DATA]) + struct.pack(">II", 1, 2**32 - 1) + b"x" * 10)
    with pytest.raises(wire.ProtocolError, match="extended"):
        wire.parse_reply(bytes([wire.FXP_ATTRS]) + struct.pack(">III", 1, 0x80000000, 2**32 - 1) + b"\0" * 16)
    many = bytes([wire.FXP_VERSION]) + struct.pack(">I", 3) + b"".join(s(b"e%d" % i) + s(b"") for i in range(100))
    with pytest.raises(wire.ProtocolError, match="extensions"):
        wire.parse_reply(many)
    with pytest.raises(wire.ProtocolError, match="packet type"):
        wire.parse_reply(bytes([99]) + b"\0" * 8)
    assert issubclass(wire.ProtocolError, RemoteError)  # it fails the connection like any remote error
