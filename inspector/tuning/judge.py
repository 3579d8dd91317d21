"""What each candidate keeps and drops, how far the replay can be trusted, and which candidate to take. Pure.

A **real** clip is kept *from its start* when one of the events the candidate's trigger starts covers the
moment the Pi saw motion begin (the manifest's ``motion_start_s``): the event's clip begins ``pre_roll_s``
before its first motion frame and lasts until the trigger finishes it, so it still holds that moment. The
delay reported is that event's first motion frame minus the Pi's (negative: seen earlier); for a real
event seen only later, the delay of the first event after the Pi's start. A **false alarm** is dropped
when the candidate's trigger starts no event in the clip.

Clips the replay cannot judge are said and left out: a continuation (a long event's later clip: it has no
pre-roll; the event is judged by the clip that started it), a clip without the Pi's motion times, and a
clip whose motion began before the replay's warm-up ended (the replay learns the scene from the clip's
first ``warmup_s`` seconds and judges nothing meanwhile, so it would miss a real event and "drop" a false
alarm for no merit of the settings).

**Agreement**: on the judged clips recorded with exactly the current settings (the manifest's
``settings``), the replay of the current settings should decide what the Pi decided: record the clip from
the moment the Pi saw motion begin (the rule above, whatever the label). The share that does is the
agreement; below :data:`MIN_AGREEMENT` no
candidate is recommended, since the replay is then not a fair stand-in for the Pi. How far the replay's
event start lies from the Pi's is reported beside it (the replay sees re-encoded frames and a scene
learned for seconds, not hours, so a nuisance at the edge of the settings may start a little later).

**Recommendation**: among the candidates that keep every judged real event from its start, the one that
drops the most false alarms; ties go to the fewest changed keys, then the lowest cost per frame. A false
alarm that none of those candidates drops is named: no settings among the candidates can drop it without
losing a real event (a mask over where it happens may).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from inspector.tuning.candidates import Candidate
from inspector.tuning.labelled_set import TuneClip
from inspector.tuning.replayer import ClipReplay, Event, Outcome
from shared.replay import Detection
from shared.validation import Problem

MIN_AGREEMENT = 0.8


@dataclass(frozen=True)
class Verdict:
    clip: str  # watcher/clip_id
    label: str
    recorded: bool
    delay_s: float | None  # real: the candidate's event start minus the Pi's
    kept: bool  # real: kept from its start; false alarm: still recorded


@dataclass
class CandidateResult:
    name: str
    changes: dict[str, Any]
    detection: Detection
    verdicts: list[Verdict] = field(default_factory=list)
    cpu_s: float = 0.0
    frames: int = 0

    @property
    def real_kept(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.label == "real" and v.kept]

    @property
    def real_lost(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.label == "real" and not v.kept]

    @property
    def false_dropped(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.label == "false-alarm" and not v.recorded]

    @property
    def false_kept(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.label == "false-alarm" and v.recorded]

    @property
    def keeps_every_real(self) -> bool:
        return not self.real_lost

    @property
    def cost_ms(self) -> float:
        return 1000.0 * self.cpu_s / self.frames if self.frames else 0.0


@dataclass(frozen=True)
class Comparison:
    clip: str
    pi_start_s: float
    replay_start_s: float | None
    agrees: bool


@dataclass(frozen=True)
class Agreement:
    compared: tuple[Comparison, ...]
    not_comparable: int  # judged clips recorded with other (or unknown) settings

    @property
    def ratio(self) -> float | None:
        return sum(c.agrees for c in self.compared) / len(self.compared) if self.compared else None

    @property
    def offsets(self) -> list[float]:
        """|replay start - Pi start| of the compared clips the replay recorded, sorted."""
        return sorted(abs(c.replay_start_s - c.pi_start_s) for c in self.compared if c.replay_start_s is not None)

    @property
    def poor(self) -> bool:
        return self.ratio is not None and self.ratio < MIN_AGREEMENT


@dataclass(frozen=True)
class Skipped:
    clip: str
    label: str
    why: str


@dataclass(frozen=True)
class Judgement:
    results: list[CandidateResult]
    agreement: Agreement
    skipped: list[Skipped]
    recommended: CandidateResult | None
    verdict: str  # the recommendation (or why there is none) in a sentence
    undroppable: list[str]  # false alarms no candidate keeping every real event drops


def pi_start(clip: TuneClip) -> float | None:
    """Seconds into the clip at which the Pi saw the event's motion begin, or None if not known."""
    m = clip.manifest
    if m is None or m.motion_start_s is None:
        return None
    return round(m.motion_start_s - m.media_start_s, 3)


def _why_not_judged(clip: TuneClip, current: Outcome | None, replay: ClipReplay | None) -> str | None:
    if clip.problem is not None:
        return clip.problem
    if replay is None or replay.error is not None:
        return f"the clip cannot be replayed: {replay.error if replay else 'not replayed'}"
    m = clip.manifest
    assert m is not None
    if m.continuation_of is not None:
        return f"a continuation of {m.continuation_of}: the event is judged by the clip that started it"
    start = pi_start(clip)
    if start is None:
        return "its manifest has no motion times"
    if start < 0:
        return "the Pi saw its motion begin before the clip's first frame"
    warm = current.judged_from_s if current is not None else None
    if warm is None or start < warm:
        return (f"the Pi saw motion from {start:.1f} s, inside the replay's warm-up "
                f"({'the whole clip' if warm is None else f'{warm:.1f} s'})")
    return None


def _covering(o: Outcome, at: float, pre_roll_s: float) -> Event | None:
    """The event whose clip holds the moment ``at``, if any."""
    return next((e for e in o.events if e.start_s - pre_roll_s <= at and (e.end_s is None or at <= e.end_s)), None)


def _verdict(clip: TuneClip, cand: Candidate, o: Outcome) -> Verdict:
    start = pi_start(clip)
    assert start is not None
    covering = _covering(o, start, cand.detection.trigger.pre_roll_s)
    later = next((e for e in o.events if e.start_s >= start), None)
    seen = covering or later
    delay = None if seen is None else round(seen.start_s - start, 3)
    kept = covering is not None if clip.label == "real" else o.recorded
    return Verdict(clip.key, clip.label, o.recorded, delay, kept)


def recorded_with(clip: TuneClip) -> Detection | None:
    """The settings the Pi recorded the clip with, if its manifest says and this inspector understands them."""
    if clip.manifest is None or clip.manifest.settings is None:
        return None
    try:
        return Detection.from_doc(clip.manifest.settings)
    except Problem:
        return None


def judge(clips: list[TuneClip], candidates: list[Candidate], replays: dict[str, ClipReplay]) -> Judgement:
    """``replays``: clip key -> its replay (outcomes in the order of ``candidates``; the first is current)."""
    results = [CandidateResult(c.name, c.changes, c.detection) for c in candidates]
    skipped: list[Skipped] = []
    compared: list[Comparison] = []
    other_settings = 0
    current = candidates[0].detection
    for clip in clips:
        replay = replays.get(clip.key)
        first = replay.outcomes[0] if replay is not None and replay.outcomes else None
        why = _why_not_judged(clip, first, replay)
        if why is not None:
            skipped.append(Skipped(clip.key, clip.label, why))
            continue
        assert replay is not None and first is not None
        for cand, res, o in zip(candidates, results, replay.outcomes, strict=True):
            res.verdicts.append(_verdict(clip, cand, o))
            res.cpu_s += o.cpu_s
            res.frames += o.frames
        start = pi_start(clip)
        assert start is not None
        if recorded_with(clip) == current:  # (judged: its Pi start lies after the replay's warm-up)
            covering = _covering(first, start, current.trigger.pre_roll_s)
            compared.append(Comparison(clip.key, start, None if covering is None else covering.start_s,
                                       covering is not None))
        else:
            other_settings += 1
    agreement = Agreement(tuple(compared), other_settings)
    viable = [r for r in results if r.keeps_every_real]
    recommended, verdict = _recommend(results, viable, agreement)
    undroppable = [v.clip for v in results[0].verdicts if v.label == "false-alarm"
                   and not any(v.clip in {d.clip for d in r.false_dropped} for r in viable)] if viable else []
    if undroppable and recommended is not None:
        verdict += (f" No candidate that keeps every real event drops {', '.join(undroppable)}: no such settings "
                    "exist among these candidates (a mask over where it happens may).")
    return Judgement(results, agreement, skipped, recommended, verdict, undroppable)


def _recommend(results: list[CandidateResult], viable: list[CandidateResult],
               agreement: Agreement) -> tuple[CandidateResult | None, str]:
    judged = results[0].verdicts
    reals = sum(v.label == "real" for v in judged)
    falses = len(judged) - reals
    if not judged:
        return None, "No labelled clip could be judged: nothing to recommend."
    if not reals:
        return None, ("No real event could be judged: without one, the least sensitive candidate would always win. "
                      "Label some clips with real events (python -m inspector label CLIP real).")
    if agreement.poor:
        assert agreement.ratio is not None
        return None, (f"No recommendation: the replay agrees with the Pi on only {agreement.ratio:.0%} of the clips "
                      f"recorded with the current settings (needs {MIN_AGREEMENT:.0%}), so it is not a fair "
                      "stand-in for the Pi on this camera.")
    if not viable:
        return None, (f"None of the {len(results)} candidates keeps every real event from its start "
                      f"({reals} judged); try others, or label again.")
    best = max(viable, key=lambda r: (len(r.false_dropped), -len(r.changes), -r.cost_ms))
    if falses and not best.false_dropped:
        return None, (f"No candidate drops a false alarm while keeping every real event from its start "
                      f"({falses} false alarm{'s' * (falses != 1)}, {len(results)} candidates).")
    if best is results[0] or not best.changes:
        return best, (f"Keep the current settings: they keep every real event and drop {len(best.false_dropped)} "
                      f"of {falses} false alarms, and no candidate drops more.")
    caveat = "" if agreement.ratio is not None else (
        " (Agreement with the Pi could not be measured: no judged clip was recorded with the current settings.)")
    return best, (f"Take {best.name}: it keeps all {reals} real events from their start and drops "
                  f"{len(best.false_dropped)} of {falses} false alarms.{caveat}")
