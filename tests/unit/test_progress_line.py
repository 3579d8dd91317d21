"""The pull's terminal line with several clips and watchers in flight at once."""

from __future__ import annotations

import io

from inspector.progress_line import ProgressLine


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _last(out: io.StringIO) -> str:
    return out.getvalue().rsplit("\r", 1)[-1]


def test_one_line_sums_the_clips_in_flight_per_watcher_and_redraws_at_most_every_interval() -> None:
    out, clock = io.StringIO(), _Clock()
    line = ProgressLine(out, interval_s=0.2, clock=clock)
    line("pi1", "a", 250_000, 1_000_000)
    assert _last(out) == "[pi1] 1 in flight 25% · 0 done · 0.2 MB"
    line("pi1", "b", 750_000, 1_000_000)  # within the interval: not drawn
    assert out.getvalue().count("\r") == 1
    clock.now = 0.3
    line("pi2", "c", 0, 2_000_000)
    assert _last(out).startswith("[pi1] 2 in flight 50% · 0 done · 1.0 MB  [pi2] 1 in flight 0%")
    line("pi1", "a", 1_000_000, 1_000_000)  # a clip done: always drawn
    assert _last(out).startswith("[pi1] 1 in flight 75% · 1 done · 1.8 MB")
    line.end()
    assert out.getvalue().endswith("\n") and "\n" not in out.getvalue()[:-1]


def test_a_shorter_line_wipes_what_the_longer_one_left() -> None:
    out = io.StringIO()
    line = ProgressLine(out, interval_s=0.0)
    line("pi1", "a", 1, 10)
    line("pi1", "b", 1, 10)
    wide = len(_last(out))
    line("pi1", "a", 10, 10)
    line("pi1", "b", 10, 10)
    assert len(_last(out)) >= wide and _last(out).rstrip() == "[pi1] · 2 done · 0.0 MB"


def test_nothing_is_written_for_a_pass_with_nothing_to_pull() -> None:
    out = io.StringIO()
    ProgressLine(out).end()
    assert out.getvalue() == ""


def test_a_log_record_wipes_the_line_and_the_next_report_draws_it_again_below() -> None:
    out, clock = io.StringIO(), _Clock()
    line = ProgressLine(out, interval_s=10.0, clock=clock)
    line("pi1", "a", 5, 10)
    drawn = _last(out)
    line.write("2026-12-02 INFO stored x\n")
    assert out.getvalue().endswith("\r" + " " * len(drawn) + "\r2026-12-02 INFO stored x\n")
    line("pi1", "a", 6, 10)  # within the interval, but the line is gone: drawn again at once
    assert _last(out) == "[pi1] 1 in flight 60% · 0 done · 0.0 MB"
