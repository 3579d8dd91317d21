"""The READ budget of one connection: one file gets all of it, several share it, and a reader with
nothing outstanding waits until another gives a request back."""

from __future__ import annotations

import threading

from inspector.readahead import ReadBudget


def test_one_reader_gets_the_whole_budget_and_several_share_it() -> None:
    b = ReadBudget(8)
    b.join()
    mine = 0
    while b.take(mine):
        mine += 1
    assert mine == 8
    b.join()  # a second reader arrives: the first may keep what it has, but takes no more
    assert not b.take(mine)
    b.give(mine)
    first = 0
    while b.take(first):
        first += 1
    assert first == 4  # its fair share now
    second = 0
    while b.take(second):
        second += 1
    assert second == 4 and not b.take(first)
    b.give(first)
    b.leave()
    b.give(second)
    b.leave()


def test_a_reader_with_nothing_outstanding_waits_for_a_request_given_back() -> None:
    b = ReadBudget(2)
    b.join()
    assert b.take(0) and b.take(1)
    b.join()
    granted = threading.Event()
    waiting = threading.Thread(target=lambda: b.take(0) and granted.set())
    waiting.start()
    assert not granted.wait(0.2)  # all taken: the second reader waits
    b.give()
    waiting.join(10)
    assert granted.is_set()


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
    b.join()
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
    b.leave()
    clock.now += 3600.0  # idle, then a new transfer: the idle hour is not the link's rate
    b.join()
    clock.now += 0.25
    b.delivered(2560 * kib)  # 10 MiB/s: 20 requests
    assert b.total == 20
    b.leave()
