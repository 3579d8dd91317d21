from datetime import UTC, datetime, timedelta

from watcher.retention import RetentionSettings, StoredClip, plan

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
MB = 1024 * 1024


def clip(i: int, *, days_ago: float, transferred: bool, mb: int = 10) -> StoredClip:
    return StoredClip(f"cam_{i:04d}", transferred, NOW - timedelta(days=days_ago), mb * MB)


def ids(p) -> list[str]:
    return [r.clip.clip_id for r in p.removals]


def test_expired_archived_clips_go_even_with_plenty_of_space() -> None:
    clips = [clip(1, days_ago=10, transferred=True), clip(2, days_ago=1, transferred=True),
             clip(3, days_ago=30, transferred=False)]
    p = plan(clips, free_bytes=10_000 * MB, settings=RetentionSettings(keep_transferred_days=7), now=NOW)
    assert ids(p) == ["cam_0001"] and p.removals[0].reason == "expired" and p.short_bytes == 0


def test_low_space_takes_oldest_archived_first_then_untransferred() -> None:
    clips = [clip(1, days_ago=3, transferred=False), clip(2, days_ago=2, transferred=True),
             clip(3, days_ago=1, transferred=True), clip(4, days_ago=0.5, transferred=False)]
    s = RetentionSettings(min_free_mb=100, keep_transferred_days=7)
    p = plan(clips, free_bytes=85 * MB, settings=s, now=NOW)  # 15 MB short: two archived clips
    assert ids(p) == ["cam_0002", "cam_0003"] and not p.loses_untransferred
    p = plan(clips, free_bytes=65 * MB, settings=s, now=NOW)  # 35 MB short: then the oldest untransferred
    assert ids(p) == ["cam_0002", "cam_0003", "cam_0001", "cam_0004"] and p.loses_untransferred
    assert p.removals[2].reason == "space-untransferred" and p.short_bytes == 0


def test_stop_recording_never_removes_untransferred_clips() -> None:
    clips = [clip(1, days_ago=3, transferred=False), clip(2, days_ago=2, transferred=True)]
    s = RetentionSettings(min_free_mb=100, on_full="stop_recording")
    p = plan(clips, free_bytes=50 * MB, settings=s, now=NOW)
    assert ids(p) == ["cam_0002"] and p.short_bytes == 40 * MB


def test_usage_cap() -> None:
    clips = [clip(i, days_ago=5 - i, transferred=False) for i in range(5)]  # 50 MB
    p = plan(clips, free_bytes=10_000 * MB, settings=RetentionSettings(min_free_mb=0, max_usage_mb=30), now=NOW)
    assert ids(p) == ["cam_0000", "cam_0001"] and p.short_bytes == 0


def test_nothing_to_do() -> None:
    p = plan([clip(1, days_ago=1, transferred=False)], free_bytes=10_000 * MB, settings=RetentionSettings(), now=NOW)
    assert p.removals == [] and p.short_bytes == 0
