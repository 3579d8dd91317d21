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
