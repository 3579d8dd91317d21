from shared.trigger import Action, EventTrigger, TriggerSettings


def run(trigger: EventTrigger, motion_by_frame: list[bool], fps: float = 10.0) -> list[tuple[float, Action]]:
    out = []
    for i, m in enumerate(motion_by_frame):
        t = i / fps
        out += [(round(t, 3), a) for a in trigger.update(t, m)]
    return out


def test_needs_min_consecutive_motion_frames() -> None:
    trig = EventTrigger(TriggerSettings(min_motion_frames=3, post_roll_s=1.0))
    # two isolated blips never start a clip
    assert run(trig, [True, True, False, True, False, True, True, False]) == []
    assert not trig.recording


def test_start_reports_first_motion_frame_and_finishes_after_post_roll() -> None:
    trig = EventTrigger(TriggerSettings(min_motion_frames=3, post_roll_s=1.0, max_clip_s=100))
    frames = [False] * 5 + [True] * 10 + [False] * 20
    events = run(trig, frames)
    assert events[0] == (0.7, Action.START)  # third motion frame
    assert trig.motion_start is not None and abs(trig.motion_start - 0.5) < 1e-9
    # last motion at 1.4 s; finish at the first frame more than 1.0 s later
    assert events[1] == (2.5, Action.FINISH)
    assert len(events) == 2 and not trig.recording


def test_motion_within_post_roll_extends_the_clip() -> None:
    trig = EventTrigger(TriggerSettings(min_motion_frames=1, post_roll_s=1.0, max_clip_s=100))
    frames = [True] + [False] * 8 + [True] + [False] * 15
    events = run(trig, frames)
    assert [a for _, a in events] == [Action.START, Action.FINISH]
    assert events[1][0] == 2.0  # last motion at 0.9 + 1.0 post-roll, first frame after


def test_rollover_at_max_length_and_continues() -> None:
    trig = EventTrigger(TriggerSettings(min_motion_frames=1, pre_roll_s=2.0, post_roll_s=1.0, max_clip_s=5.0))
    events = run(trig, [True] * 130)  # 13 s of continuous motion
    # the first clip counts its pre-roll (starts at -2.0), so it rolls over at 3.0; then every 5 s
    assert events == [(0.0, Action.START), (3.0, Action.ROLLOVER), (8.0, Action.ROLLOVER)]
    assert trig.recording


def test_idle_has_no_actions_without_motion() -> None:
    trig = EventTrigger()
    assert run(trig, [False] * 100) == []
