"""tune's pure parts: candidates from --set and grid files, the settings a manifest records, and the judge's
rules at their boundaries (kept from the start, dropped, not judged, agreement, the recommendation)."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.tuning.candidates import MAX_CANDIDATES, Candidate, build, parse_set, read_grid
from inspector.tuning.judge import MIN_AGREEMENT, judge
from inspector.tuning.labelled_set import TuneClip
from inspector.tuning.output import config_tables
from inspector.tuning.replayer import ClipReplay, Event, Outcome
from shared.config import validate_config
from shared.detector import MAX_MASK_POINTS, DetectorSettings
from shared.errors import ConfigError
from shared.manifest import MAX_MANIFEST_BYTES, Manifest, parse_manifest
from shared.replay import Detection
from shared.validation import Problem

CURRENT = Detection()
PRE = CURRENT.trigger.pre_roll_s


def manifest(n: int, *, motion_at: float | None = 3.0, settings: Detection | None = CURRENT,
             continuation_of: str | None = None) -> Manifest:
    cid = f"cam1_20260101T1200{n:02d}Z_{n + 1:04d}"
    return Manifest(id=cid, camera="cam1", file=f"{cid}.mp4", size=1000, sha256="0" * 64, codec="h264", width=640,
                    height=360, fps=10.0, frames=100, started_at=f"2026-01-01T12:00:{n:02d}.000Z",
                    ended_at=f"2026-01-01T12:00:{n + 9:02d}.900Z",  # n < 50
                    media_start_s=100.0, media_end_s=109.9, duration_s=10.0,
                    motion_start_s=None if motion_at is None else 100.0 + motion_at, motion_end_s=None,
                    peak_motion=0.1, salvaged=False, continuation_of=continuation_of,
                    settings=None if settings is None else settings.to_doc())


def clip(n: int, label: str, **kw: object) -> TuneClip:
    m = manifest(n, **kw)  # type: ignore[arg-type]
    return TuneClip("pi1", m.id, "cam1", label, "", Path(f"/nonexistent/{m.id}.mp4"), m, None)


def outcome(start: float | None, *, warm: float = 2.0, cpu: float = 0.1, end: float | None = None,
            before: tuple[Event, ...] = ()) -> Outcome:
    """A candidate that starts an event at ``start`` (None: never), after the ``before`` ones."""
    return Outcome(before + (() if start is None else (Event(start, end),)), warm, 10, 100, cpu)


def replays(clips: list[TuneClip], table: list[list[Outcome]]) -> dict[str, ClipReplay]:
    """``table[i][k]``: clip i under candidate k."""
    return {c.key: ClipReplay(tuple(row), 100, 9.9, 0.1) for c, row in zip(clips, table, strict=True)}


def candidates(*changes: dict[str, object]) -> list[Candidate]:
    return build(CURRENT, list(changes), [])


# -- candidates --------------------------------------------------------------------------------------------------

def test_set_values_are_toml_values() -> None:
    assert parse_set(["detector.threshold=6", "detector.min_area=0.001", "detector.mask=[[[0,0],[1,0],[1,1]]]"]) == {
        "detector.threshold": 6, "detector.min_area": 0.001, "detector.mask": [[[0, 0], [1, 0], [1, 1]]]}
    for bad in ("threshold", "=6", "detector.threshold=six"):
        with pytest.raises(ConfigError, match="--set"):
            parse_set([bad])


def test_a_candidate_is_validated_like_the_watchers_configuration() -> None:
    (cur, one) = candidates({"detector.shake_px": 2, "trigger.min_motion_frames": 5})
    assert cur.name == "current" and cur.changes == {}
    assert one.changes == {"detector.shake_px": 2, "trigger.min_motion_frames": 5}
    assert one.detection.detector.shake_px == 2 and one.detection.trigger.min_motion_frames == 5
    for changes, message in (({"detector.shake_px": 9}, "detector.shake_px: must be <= 5"),
                             ({"detector.nope": 1}, "detector.nope: is not a setting"),
                             ({"watcher.camera": "x"}, "must be detector.KEY or trigger.KEY"),
                             ({"detector.threshold": "6"}, "detector.threshold"),
                             ({"detector.warmup_s": 5.0}, "cannot be tuned by replay")):
        with pytest.raises(ConfigError, match=message):
            candidates(changes)
    # a candidate equal to the current settings, or to an earlier one, is tried once
    assert [c.name for c in candidates({"detector.threshold": 4.0}, {"detector.shake_px": 2},
                                       {"detector.shake_px": 2})] == ["current", "set 2"]


def test_a_grid_is_every_combination(tmp_path: Path) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text("[detector]\nthreshold = [4.0, 6.0, 8.0]\nshake_px = [1, 2]\n"
                    "[trigger]\nmin_motion_frames = [3, 5]\n")
    combos = read_grid(grid)
    assert len(combos) == 12 and {"detector.threshold": 8.0, "detector.shake_px": 2,
                                  "trigger.min_motion_frames": 5} in combos
    for text, key in (("[detector]\nthreshold = 4.0\n", "detector.threshold: must be a list"),
                      ("[detector]\nthreshold = []\n", "needs at least one value"),
                      ("[source]\nspec = ['x']\n", "source: must be a table"),
                      (f"[detector]\nthreshold = {list(range(1, 18))}\nshake_px = {list(range(16))}\n",
                       f"more than {MAX_CANDIDATES}")):
        grid.write_text(text)
        with pytest.raises(ConfigError, match=key):
            read_grid(grid)


def test_the_manifest_keeps_the_settings_a_clip_was_recorded_with() -> None:
    tuned = CURRENT.with_changes({"detector.mask": [[[0.0, 0.0], [0.5, 0.0], [0.5, 0.5]]], "detector.shake_px": 2})
    m = parse_manifest(manifest(1, settings=tuned).to_json())
    assert Detection.from_doc(m.settings) == tuned
    assert tuned.changes(CURRENT) == {"detector.shake_px": 2, "detector.mask": [[[0.0, 0.0], [0.5, 0.0], [0.5, 0.5]]]}
    # a newer watcher's key does not cost the manifest; only a reader that replays refuses the settings
    doc = tuned.to_doc()
    doc["detector"]["new_key"] = 1
    m = parse_manifest(manifest(1).model_copy(update={"settings": doc}).to_json())
    with pytest.raises(Problem, match=r"detector\.new_key"):
        Detection.from_doc(m.settings)


def test_the_largest_mask_the_watcher_accepts_keeps_its_manifests_well_under_the_cap() -> None:
    # the longest floats JSON writes (~25 KB in all); a mask with more points is a configuration error naming the key
    point = [0.12345678901234568, 0.9876543210987654]
    polygons = [[point] * 4] * (MAX_MASK_POINTS // 4)
    raw = manifest(1, settings=CURRENT.with_changes({"detector.mask": polygons})).to_json()
    assert len(raw) < MAX_MANIFEST_BYTES / 2
    assert len(parse_manifest(raw).settings["detector"]["mask"]) == MAX_MASK_POINTS // 4
    with pytest.raises(ConfigError, match=rf"detector\.mask: {MAX_MASK_POINTS + 3} points in all, over the cap"):
        validate_config(DetectorSettings, {"mask": [*polygons, [point] * 3]}, "w.toml", prefix="detector")


def test_the_table_to_paste_is_what_the_watcher_reads() -> None:
    best = CURRENT.with_changes({"detector.min_area": 1e-05, "detector.threshold": 12.5, "trigger.post_roll_s": 2,
                                 "detector.mask": [[[0.0, 0.0], [0.25, 0.0], [0.25, 1.0]]]})
    text = config_tables(best, CURRENT)
    assert "min_area = 1e-05  # was 0.00015" in text and "post_roll_s = 2.0  # was 5.0" in text
    tables = tomllib.loads(text)
    assert set(tables) == {"detector", "trigger"}
    assert Detection.from_doc(tables) == best
    assert "[trigger]" not in config_tables(CURRENT.with_changes({"detector.shake_px": 2}), CURRENT)


# -- judge ------------------------------------------------------------------------------------------------------

def test_a_real_event_is_kept_when_its_start_is_still_in_the_clip() -> None:
    clips = [clip(1, "real"), clip(2, "real")]
    cands = candidates({"detector.threshold": 6.0}, {"detector.threshold": 8.0})
    j = judge(clips, cands, replays(clips, [
        [outcome(3.0), outcome(3.0 + PRE), outcome(3.0 + PRE + 0.1)],  # exactly the pre-roll late: still kept
        [outcome(3.1), outcome(1.0), outcome(None)]]))  # earlier than the Pi: kept; never: lost
    cur, six, eight = j.results
    assert [v.delay_s for v in six.verdicts] == [PRE, -2.0] and six.keeps_every_real
    assert not eight.keeps_every_real and [v.clip for v in eight.real_lost] == [c.key for c in clips]
    assert j.recommended is cur and j.verdict.startswith("Keep the current settings")


def test_an_earlier_event_that_ended_does_not_keep_the_real_one() -> None:
    clips = [clip(1, "real"), clip(2, "real")]
    noise = (Event(2.1, 2.8),)  # a blip that ended before the Pi saw motion begin at 3.0
    cands = candidates({"detector.threshold": 6.0})
    j = judge(clips, cands, replays(clips, [
        [outcome(3.0), outcome(None, before=noise)],  # the blip only: the event is lost
        [outcome(3.0), outcome(3.4, before=noise)]]))  # the blip, then the event: kept
    _, six = j.results
    assert [(v.recorded, v.kept, v.delay_s) for v in six.verdicts] == [(True, False, None), (True, True, 0.4)]
    # a candidate still recording from an early start keeps it; so does one that saw it late within the pre-roll
    j = judge(clips, cands, replays(clips, [[outcome(3.0), outcome(2.2)], [outcome(3.0), outcome(3.0 + PRE + 0.5)]]))
    assert [(v.kept, v.delay_s) for v in j.results[1].verdicts] == [(True, -0.8), (False, PRE + 0.5)]


def test_without_a_judged_real_event_nothing_is_recommended() -> None:
    clips = [clip(1, "false-alarm"), clip(2, "real", continuation_of="cam1_20260101T115950Z_0001")]
    cands = candidates({"detector.threshold": 20.0})
    j = judge(clips, cands, replays(clips, [[outcome(3.0), outcome(None)], [outcome(3.0), outcome(None)]]))
    assert j.results[1].false_dropped and j.recommended is None
    assert j.verdict.startswith("No real event could be judged")


def test_the_candidate_dropping_most_false_alarms_wins_then_the_fewest_changes() -> None:
    clips = [clip(1, "real"), clip(2, "false-alarm"), clip(3, "false-alarm")]
    cands = candidates({"detector.threshold": 6.0}, {"detector.threshold": 6.0, "detector.shake_px": 2},
                       {"detector.min_area": 0.01})
    j = judge(clips, cands, replays(clips, [
        [outcome(3.0), outcome(3.0), outcome(3.0), outcome(None)],
        [outcome(3.0), outcome(None), outcome(None), outcome(None)],
        [outcome(3.0), outcome(None), outcome(None), outcome(None)]]))
    assert j.recommended is not None and j.recommended.name == "set 1"  # as many dropped as set 2, one change
    assert "drops 1 of 2 false alarms" not in j.verdict and "drops 2 of 2 false alarms" in j.verdict
    assert j.results[3].real_lost and not j.undroppable  # set 3 drops everything, and the person too


def test_a_false_alarm_nothing_can_drop_is_named() -> None:
    clips = [clip(1, "real"), clip(2, "false-alarm"), clip(3, "false-alarm")]
    cands = candidates({"detector.threshold": 6.0}, {"detector.min_area": 0.01})
    j = judge(clips, cands, replays(clips, [
        [outcome(3.0), outcome(3.0), outcome(None)],
        [outcome(3.0), outcome(None), outcome(None)],
        [outcome(3.0), outcome(3.0), outcome(None)]]))
    assert j.recommended is not None and j.recommended.name == "set 1"
    assert j.undroppable == [clips[2].key] and "no such settings exist" in j.verdict
    # and when no candidate drops any false alarm at all, there is no recommendation
    j = judge(clips[:1] + clips[2:], cands[:2], replays(clips[:1] + clips[2:], [
        [outcome(3.0), outcome(3.0)], [outcome(3.0), outcome(3.0)]]))
    assert j.recommended is None and j.verdict.startswith("No candidate drops a false alarm")


def test_what_cannot_be_judged_is_said_and_left_out() -> None:
    clips = [clip(1, "real", continuation_of="cam1_20260101T115950Z_0001"), clip(2, "false-alarm", motion_at=None),
             clip(3, "real", motion_at=1.5), clip(4, "false-alarm", motion_at=1.0), clip(5, "real", motion_at=-0.5),
             replace(clip(6, "real"), problem="the clip file is missing"), clip(7, "real")]
    cands = candidates()
    reps = replays(clips[:5], [[outcome(3.0)]] * 5)
    reps[clips[6].key] = ClipReplay((), 3, 0.2, 0.0, error="decoding failed after 3 frame(s): EOFError")
    j = judge(clips, cands, reps)
    whys = {s.clip: s.why for s in j.skipped}
    assert len(whys) == 7 and not j.results[0].verdicts and j.recommended is None
    assert whys[clips[0].key].startswith("a continuation of")
    assert whys[clips[1].key] == "its manifest has no motion times"
    assert "inside the replay's warm-up (2.0 s)" in whys[clips[2].key]
    assert "inside the replay's warm-up" in whys[clips[3].key]  # a false alarm too: not dropped for free
    assert "before the clip's first frame" in whys[clips[4].key]
    assert whys[clips[5].key] == "the clip file is missing"
    assert whys[clips[6].key].startswith("the clip cannot be replayed: decoding failed")


def test_poor_agreement_with_the_pi_withholds_the_recommendation() -> None:
    # six clips recorded with the current settings; the replay of the current settings loses one real event:
    # 5 of 6 still decided as the Pi did
    clips = [clip(i, "real") for i in range(5)] + [clip(9, "false-alarm")]
    cands = candidates({"detector.threshold": 6.0})
    table = [[outcome(3.0), outcome(3.0)]] * 4 + [[outcome(None), outcome(3.0)], [outcome(3.0), outcome(None)]]
    j = judge(clips, cands, replays(clips, table))
    assert j.agreement.ratio == pytest.approx(5 / 6) and not j.agreement.poor
    assert j.recommended is not None and j.recommended.name == "set 1"
    # one more miss: 4 of 6 < MIN_AGREEMENT
    table[0] = [outcome(None), outcome(3.0)]
    j = judge(clips, cands, replays(clips, table))
    assert j.agreement.ratio == pytest.approx(4 / 6) and MIN_AGREEMENT > 4 / 6 and j.agreement.poor
    assert j.recommended is None and "agrees with the Pi on only 67%" in j.verdict
    # clips recorded with other settings are judged but not compared
    others = [replace(c, manifest=manifest(i, settings=CURRENT.with_changes({"detector.threshold": 5.0})))
              for i, c in enumerate(clips)]
    j = judge(others, cands, replays(others, table))
    assert j.agreement.ratio is None and j.agreement.not_comparable == 6
    assert j.recommended is not None and "could not be measured" in j.verdict


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.booleans(), st.lists(st.one_of(st.none(), st.floats(2.0, 9.0)), min_size=4,
                                                 max_size=4)), min_size=1, max_size=8))
def test_the_recommendation_keeps_every_real_event_and_no_such_candidate_drops_more(
        rows: list[tuple[bool, list[float | None]]]) -> None:
    clips = [clip(i, "real" if real else "false-alarm", motion_at=2.5) for i, (real, _) in enumerate(rows)]
    clips.append(clip(20, "real", motion_at=2.5))  # always one real event the candidates all keep
    cands = candidates({"detector.threshold": 5.0}, {"detector.threshold": 6.0}, {"detector.threshold": 7.0})
    j = judge(clips, cands, replays(clips, [[outcome(s) for s in starts] for _, starts in rows]
                                    + [[outcome(2.5)] * 4]))
    viable = [r for r in j.results if r.keeps_every_real]
    if j.recommended is None:
        assert j.agreement.poor or not viable or not any(r.false_dropped for r in viable)
    else:
        assert j.recommended.keeps_every_real
        assert all(len(r.false_dropped) <= len(j.recommended.false_dropped) for r in viable)
    assert all(any(v.clip == u for v in j.results[0].verdicts) for u in j.undroppable)
