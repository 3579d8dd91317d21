"""The recorder asks for a keyframe once per need, whatever the encoder's latency."""

from __future__ import annotations

from fractions import Fraction

from shared.trigger import Action
from watcher.frames import EncodedPacket
from watcher.preroll import PreRollBuffer
from watcher.publish import ClipMeta
from watcher.recorder import Recorder

TB = Fraction(1, 1000)


class Sink:
    def __init__(self) -> None:
        self.opened: list[ClipMeta] = []
        self.written: list[EncodedPacket] = []

    def open_clip(self, meta: ClipMeta) -> None:
        self.opened.append(meta)

    def write(self, packet: EncodedPacket) -> None:
        self.written.append(packet)

    def close_clip(self, meta: ClipMeta) -> None:
        pass


def pkt(i: int, key: bool) -> EncodedPacket:
    return EncodedPacket(b"k" if key else b"p", i * 100, i * 100, TB, key, i / 10)


def recorder(sink: Sink) -> Recorder:
    ids = iter(range(1, 100))
    template = ClipMeta(id="", camera="cam", codec="h264", width=64, height=48, fps=10.0, media_start_s=0.0,
                        wall_epoch0=0.0)
    return Recorder(sink, PreRollBuffer(1.0), template=template, pre_roll_s=0.5,
                    new_id=lambda started: f"cam_{next(ids)}")


def test_a_start_with_no_keyframe_in_the_pre_roll_asks_once_while_the_encoder_is_late() -> None:
    sink = Sink()
    rec = recorder(sink)
    asks = []
    for i in range(8):
        if i == 1:
            rec.apply([Action.START], motion_start=0.1)  # the pre-roll is empty: a keyframe is needed
        asks.append(rec.take_keyframe_request())
        key = i == 5  # the encoder delivers the forced keyframe four frames later
        rec.add([pkt(i, key)], i / 10, True, 1.0, ())
    assert asks == [False, True, False, False, False, False, False, False]
    assert len(sink.opened) == 1 and sink.written[0].keyframe


def test_each_rollover_is_a_new_need() -> None:
    sink = Sink()
    rec = recorder(sink)
    rec.add([pkt(0, True)], 0.0, True, 1.0, ())
    rec.apply([Action.START], motion_start=0.0)
    asks = []
    for i in range(1, 12):
        if i in (2, 7):
            rec.apply([Action.ROLLOVER], motion_start=0.0)
        asks.append(rec.take_keyframe_request())
        rec.add([pkt(i, i in (4, 9))], i / 10, True, 1.0, ())
    assert [i + 1 for i, asked in enumerate(asks) if asked] == [2, 7]
    assert [m.continuation_of for m in sink.opened] == [None, "cam_1", "cam_2"]


def test_a_rollover_right_after_a_keyframe_arrived_is_asked_for_again() -> None:
    sink = Sink()
    rec = recorder(sink)
    rec.add([pkt(0, True)], 0.0, True, 1.0, ())
    rec.apply([Action.START], motion_start=0.0)
    rec.apply([Action.ROLLOVER], motion_start=0.0)
    assert rec.take_keyframe_request()
    rec.add([pkt(1, True)], 0.1, True, 1.0, ())  # need met ...
    rec.apply([Action.ROLLOVER], motion_start=0.0)  # ... and a new one on the very next frame
    assert rec.take_keyframe_request() and not rec.take_keyframe_request()
