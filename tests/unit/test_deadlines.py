"""The pure parts of the network deadlines: the rate floor's arithmetic and the set of open links."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from inspector.deadlines import RateFloor
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
