from fractions import Fraction

from watcher.frames import EncodedPacket
from watcher.preroll import PreRollBuffer

TB = Fraction(1, 1000)


def pkt(i: int, fps: int = 10, gop: int = 10, size: int = 100) -> EncodedPacket:
    t = i / fps
    key = i % gop == 0
    return EncodedPacket(b"x" * (size * 5 if key else size), round(t * 1000), round(t * 1000), TB, key, t)


def test_starts_at_a_keyframe_and_drops_leading_non_keyframes() -> None:
    buf = PreRollBuffer(2.0)
    for i in range(5, 12):  # frames 5..9 are mid-GOP, 10 is a keyframe
        buf.append(pkt(i))
    snap = buf.snapshot(0.0)
    assert snap[0].keyframe and snap[0].t == 1.0
    assert len(buf) == 2


def test_trims_whole_gops_but_keeps_at_least_the_window() -> None:
    buf = PreRollBuffer(2.0)
    for i in range(100):  # 10 s at 10 fps, keyframe every 1 s
        buf.append(pkt(i))
        newest = i / 10
        held = list(buf.snapshot(-1e9))
        assert held[0].keyframe
        # covers the window whenever the stream is long enough ...
        if newest >= 2.0:
            assert held[0].t <= newest - 2.0 + 1e-9
        # ... and never more than window + one GOP
        assert newest - held[0].t < 2.0 + 1.0 + 1e-9


def test_memory_is_bytes_of_held_packets() -> None:
    buf = PreRollBuffer(1.0)
    for i in range(50):
        buf.append(pkt(i))
    assert buf.nbytes == sum(p.size for p in buf.snapshot(-1e9))
    assert buf.nbytes <= 2 * (500 + 9 * 100)


def test_snapshot_starts_at_latest_keyframe_before_start() -> None:
    buf = PreRollBuffer(5.0)
    for i in range(60):
        buf.append(pkt(i))
    snap = buf.snapshot(3.5)
    assert snap[0].t == 3.0 and snap[0].keyframe
    assert snap[-1].t == 5.9


def test_snapshot_avoids_repeating_the_previous_clip_when_it_can() -> None:
    buf = PreRollBuffer(5.0)
    for i in range(60):
        buf.append(pkt(i))
    # previous clip ended at 3.2: the keyframe at 4.0 is fresh and covers start 4.5
    assert buf.snapshot(4.5, after=3.2)[0].t == 4.0
    # start 3.5 would need the keyframe at 3.0, already written: repeat rather than lose pre-roll
    assert buf.snapshot(3.5, after=3.2)[0].t == 3.0


def test_empty_buffer_gives_empty_snapshot() -> None:
    assert PreRollBuffer(1.0).snapshot(0.0) == []
