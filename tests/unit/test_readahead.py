"""The READ budget of one connection: one file gets all of it; several are served in the order they
joined (a small read first); a reader with nothing outstanding waits until it is its turn and a
request is given back."""

from __future__ import annotations

import threading

from inspector.readahead import ReadBudget


def _take_all(b: ReadBudget, ticket: int, mine: int = 0) -> int:
    while b.take(mine, ticket):
        mine += 1
    return mine


def test_one_reader_gets_the_whole_budget_and_the_oldest_asking_reader_comes_first() -> None:
    b = ReadBudget(8)
    first = b.join()
    assert _take_all(b, first) == 8
    second = b.join()  # a second reader arrives: the first still asks, so it waits its turn
    b.give(8)
    assert _take_all(b, first) == 8, "the first takes all it can use again"
    b.sated(first)  # the first has asked for all of its bytes
    b.give(3)  # three of its replies consumed
    assert _take_all(b, second) == 3, "the second gets what is given back"
    b.give(5)
    b.leave(first)
    assert _take_all(b, second, 3) == 8
    b.give(8)
    b.leave(second)


def test_a_small_read_goes_before_the_readers_already_asking() -> None:
    b = ReadBudget(4)
    big = b.join()
    assert _take_all(b, big) == 4
    manifest = b.join(small=True)
    b.give(1)
    assert not b.take(3, big), "the slot given back is the manifest's"
    assert b.take(0, manifest)
    b.sated(manifest)
    b.give(1)
    b.leave(manifest)
    assert b.take(3, big)
    b.give(4)
    b.leave(big)


def test_a_reader_with_nothing_outstanding_waits_until_a_request_is_given_back_and_it_is_its_turn() -> None:
    b = ReadBudget(2)
    first = b.join()
    second = b.join()
    asked = threading.Event()
    granted = threading.Event()

    def wait_for_one() -> None:
        asked.set()
        if b.take(0, second):
            granted.set()

    waiting = threading.Thread(target=wait_for_one)
    waiting.start()
    asked.wait(10)
    assert not granted.is_set(), "the first has not been granted anything yet: it comes first"
    assert b.take(0, first) and b.take(1, first), "the first takes the whole budget"
    assert not granted.is_set()
    b.give()  # one of the first's replies consumed: the first waits for its next one, so the free request is used
    waiting.join(10)
    assert granted.is_set()
    b.give(2)
    b.leave(first)
    b.leave(second)


def test_a_request_given_back_goes_to_a_younger_reader_while_the_older_ones_wait_for_replies() -> None:
    """The oldest reader blocks in its next reply, not in ``take``: the request given back meanwhile
    is not kept for it (the link would idle until that reply), a younger reader asking takes it."""
    b = ReadBudget(3)
    first, second, third = b.join(), b.join(), b.join()
    assert b.take(0, first) and b.take(1, first)
    assert b.take(0, second), "the first has requests out: the second may use the free one"
    assert not b.take(2, first), "the budget is used up"
    b.give()
    assert b.take(0, third)
    b.give(3)
    for t in (first, second, third):
        b.leave(t)


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_budget_follows_the_rate_the_link_delivers() -> None:
    clock = _Clock()
    kib = 1024
    b = ReadBudget(64, start=2, least=2, request_bytes=256 * kib, queue_s=0.5, clock=clock)
    assert b.total == 2
    t = b.join()
    clock.now += 0.25
    b.delivered(50 * 1024 * kib)  # 200 MiB/s (loopback): half a second of it is far over the most
    assert b.total == 64
    clock.now += 1.0
    b.delivered(5 * 1024 * kib)  # 5 MiB/s (a long link): 2.5 MiB outstanding, 10 requests
    assert b.total == 10
    clock.now += 2.0
    b.delivered(50 * kib)  # 25 KiB/s (a trickle): the least, so a clip joining gets its first bytes soon
    assert b.total == 2
    clock.now += 0.05
    b.delivered(10 * 1024 * kib)  # within one sample: not measured yet
    assert b.total == 2
    b.leave(t)
    clock.now += 3600.0  # idle, then a new transfer: the idle hour is not the link's rate
    t = b.join()
    clock.now += 0.25
    b.delivered(2560 * kib)  # 10 MiB/s: 20 requests
    assert b.total == 20
    b.leave(t)


def test_the_budget_covers_the_round_trip_and_no_more() -> None:
    """At 5 MiB/s: 0.1 s of it alone is 2 requests of 256 KiB; with a 200 ms round trip, two round
    trips more, 10. Every other request of the connection waits behind these, so no more."""
    clock = _Clock()
    kib = 1024
    rtt = [0.0]
    b = ReadBudget(64, start=2, least=1, request_bytes=256 * kib, queue_s=0.1, rtt=lambda: rtt[0], clock=clock)
    t = b.join()
    clock.now += 0.2
    b.delivered(1024 * kib)
    assert b.total == 2
    rtt[0] = 0.2
    clock.now += 0.2
    b.delivered(1024 * kib)
    assert b.total == 10
    b.leave(t)


def test_only_readers_granted_requests_share_the_link() -> None:
    b = ReadBudget(4)
    first, second = b.join(), b.join()
    assert b.served() == 1, "nobody served yet: one, not zero"
    assert _take_all(b, first) == 4 and b.served() == 1, "the second waits its turn: it shares nothing"
    b.sated(first)
    b.give(1)
    assert b.take(0, second) and b.served() == 2
    b.give(4)
    b.leave(first)
    assert b.served() == 1
    b.leave(second)
