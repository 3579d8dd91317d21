"""The side channels' bounded queue: never blocks a producer, drops the oldest, counts every drop."""

from __future__ import annotations

import threading

from hypothesis import given
from hypothesis import strategies as st

from shared.event_queue import EventQueue


def test_a_full_queue_drops_the_oldest_and_counts_it() -> None:
    q: EventQueue[int] = EventQueue(3)
    assert all(q.put(i) for i in range(3))
    assert not q.put(3) and not q.put(4)
    assert q.dropped == 2
    assert [q.get(0), q.get(0), q.get(0), q.get(0)] == [2, 3, 4, None]


def test_an_item_given_back_goes_out_first_unless_the_queue_filled() -> None:
    q: EventQueue[str] = EventQueue(2)
    q.put("a")
    q.put("b")
    taken = q.get(0)
    q.put("c")
    q.put_front("a")  # full again: the given-back item is the oldest, so it is the one dropped
    assert (taken, q.dropped, [q.get(0), q.get(0)]) == ("a", 1, ["b", "c"])
    q.put_front("d")
    assert q.get(0) == "d"


def test_close_wakes_the_consumer_and_later_items_are_dropped() -> None:
    q: EventQueue[int] = EventQueue(4)
    got: list[int | None] = []
    consumer = threading.Thread(target=lambda: got.append(q.get()))
    consumer.start()
    q.close()
    consumer.join(10)
    assert got == [None]
    assert not q.put(1) and q.dropped == 1


@given(st.integers(1, 8), st.lists(st.one_of(st.integers(0, 100), st.none()), max_size=60))
def test_every_item_is_either_taken_or_counted_dropped(capacity: int, ops: list[int | None]) -> None:
    """None in ``ops`` is a take; an integer is a put. Nothing is lost without being counted, and what
    is taken comes out in the order it was put."""
    q: EventQueue[int] = EventQueue(capacity)
    taken: list[int] = []
    for op in ops:
        if op is None:
            item = q.get(0)
            if item is not None:
                taken.append(item)
        else:
            q.put(op)
            assert len(q) <= capacity
    rest = []
    while (item := q.get(0)) is not None:
        rest.append(item)
    puts = [op for op in ops if op is not None]
    assert len(taken) + len(rest) + q.dropped == len(puts) == q.put_count
    assert all(taken[i] in puts for i in range(len(taken)))
    out = taken + rest  # in put order: a subsequence of the puts
    it = iter(puts)
    assert all(any(x == y for y in it) for x in out)
