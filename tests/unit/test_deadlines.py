"""The pure parts of the network deadlines: the rate floor's arithmetic and the set of open links."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from inspector.deadlines import RateFloor, TransferClock
from inspector.links import OpenLinks


def test_floor_allows_the_grace_then_the_rate() -> None:
    floor = RateFloor(bytes_per_s=100_000, grace_s=5.0)
    assert floor.time_left(0.0, 0) == 5.0
    assert floor.time_left(5.0, 0) == 0.0  # nothing in the grace: missed
    assert floor.time_left(10.0, 500_000) == 0.0  # exactly the floor's pace after the grace
    assert floor.time_left(10.0, 600_000) == 1.0


@given(rate=st.floats(1.0, 1e9), grace=st.floats(0.0, 3600.0), elapsed=st.floats(0.0, 1e6),
       done=st.integers(0, 10**12), more=st.integers(1, 10**9))
def test_more_bytes_never_shorten_the_time_left(rate: float, grace: float, elapsed: float, done: int,
                                                more: int) -> None:
    floor = RateFloor(rate, grace)
    assert floor.time_left(elapsed, done + more) >= floor.time_left(elapsed, done)
    assert floor.time_left(elapsed + 1.0, done) < floor.time_left(elapsed, done) + 1e-9


class _Link:
    def __init__(self) -> None:
        self.aborted = 0

    def abort(self) -> None:
        self.aborted += 1


def test_cut_all_aborts_open_links_once_and_any_added_later_at_once() -> None:
    links = OpenLinks()
    a, b, gone = _Link(), _Link(), _Link()
    for x in (a, b, gone):
        links.add(x)
    links.discard(gone)
    assert links.cut_all() == 2 and (a.aborted, b.aborted, gone.aborted) == (1, 1, 0)
    late = _Link()
    links.add(late)  # a connection that was being made while the stop came
    assert late.aborted == 1 and links.cut_all() == 0


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_clips_clock_starts_with_its_first_request_and_owes_its_share_of_the_floor() -> None:
    t, sharers = _Clock(), [1]
    c = TransferClock(RateFloor(bytes_per_s=100_000, grace_s=5.0), lambda: sharers[0], t)
    t.now += 60.0  # waiting for the connection's budget: not counted
    assert c.time_left() == 5.0
    c.start()
    sharers[0] = 4  # four clips in flight: each owes 25 kB/s
    c.time_left()
    t.now += 10.0
    c.done = 250_000
    assert abs(c.time_left() - 5.0) < 1e-9, "exactly its share of the floor: the grace is intact"
    sharers[0] = 1  # alone again: the whole floor from now on
    c.time_left()
    t.now += 2.0
    assert abs(c.time_left() - (5.0 - 2.0)) < 1e-9
    t.now += 3.0
    assert c.time_left() <= 0 and "shared by" not in str(c.abandoned())
    sharers[0] = 2
    c.time_left()
    assert "shared by 2 clips in flight" in str(c.abandoned())


@given(rate=st.floats(1.0, 1e9), grace=st.floats(0.0, 3600.0), steps=st.lists(st.floats(0.0, 100.0), max_size=20))
def test_alone_on_the_connection_the_clock_is_the_plain_floor(rate: float, grace: float,
                                                             steps: list[float]) -> None:
    t = _Clock()
    c = TransferClock(RateFloor(rate, grace), lambda: 1, t)
    c.start()
    elapsed = 0.0
    for dt in steps:
        t.now += dt
        elapsed += dt
        left = c.time_left()
        assert abs(left - RateFloor(rate, grace).time_left(elapsed, 0)) <= 1e-6 * max(1.0, abs(left))


def test_a_clip_queued_behind_other_replies_starts_its_clock_again_with_nothing_owed() -> None:
    t = _Clock()
    c = TransferClock(RateFloor(bytes_per_s=100_000, grace_s=5.0), lambda: 1, t)
    c.start()
    t.now += 4.0
    assert abs(c.time_left() - 1.0) < 1e-9
    assert c.restart(30.0)  # its first request still behind another clip's replies
    assert c.time_left() == 5.0
    t.now += 30.0
    assert c.restart(30.0) and c.time_left() == 5.0
    t.now += 0.1  # held back longer than allowed: the floor applies from the last restart on
    assert not c.restart(30.0) and abs(c.time_left() - 4.9) < 1e-9
