"""The report's tune page from a stored result: a clip removed from the library since (retention,
quarantine) is shown as gone, not as a broken thumbnail or a dead link."""

from __future__ import annotations

from inspector.report.tune_page import TuneResult, tune_html


def clip(key: str, label: str, kept: bool) -> dict[str, object]:
    return {"clip": key, "label": label, "kept": kept, "recorded": kept, "delay_s": 0.0 if kept else None}


def test_a_clip_removed_since_tuning_is_shown_as_gone() -> None:
    here, gone = "pi1/cam1_20260101T120000Z_0001", "pi1/cam1_20260101T120100Z_0002"
    doc = {"camera": "cam1", "verdict": "Keep the current settings", "recommended": "current",
           "candidates": [{"name": "current", "changes": {}, "real_kept": 1, "false_dropped": [gone],
                           "cost_ms_per_frame": 1.5,
                           "clips": [clip(here, "real", True), clip(gone, "false-alarm", False)]}],
           "thumbs": {here: "clips/pi1/cam1/here.jpg", gone: "clips/pi1/cam1/gone.jpg"}}
    result = TuneResult("tune/cam1.html", "cam1", doc["verdict"], "2026-01-01T12:05:00.000Z", doc)
    html = tune_html(result, {here: "clips/here.html"}, "../", lambda title, body: body)
    assert '<img class="thumb" src="../clips/pi1/cam1/here.jpg"' in html
    assert '<a href="../clips/here.html">' in html
    assert "gone.jpg" not in html and "no longer in the library" in html
    assert html.count("<a href=") == 2  # the index and the clip still there: no dead link
