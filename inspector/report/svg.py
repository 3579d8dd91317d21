"""Inline SVG: the motion sparkline, the timeline chart, people boxes over a still."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

MAX_BANDS = 500


def _pool(values: Sequence[float], n: int) -> list[float]:
    """At most ``n`` points, each the maximum of its share of ``values`` (peaks survive)."""
    if len(values) <= n:
        return list(values)
    k = len(values) / n
    return [max(values[int(i * k):max(int(i * k) + 1, int((i + 1) * k))]) for i in range(n)]


def sparkline(activity: Sequence[float], *, width: int = 120, height: int = 24, points: int = 60) -> str:
    vals = _pool(activity, points) or [0.0]
    top = max(*vals, 1e-9)
    n = max(len(vals) - 1, 1)
    pts = " ".join(f"{i * width / n:.1f},{height - 1 - v / top * (height - 2):.1f}" for i, v in enumerate(vals))
    return (f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
            f'preserveAspectRatio="none" role="img" aria-label="motion over the clip">'
            f'<polyline points="0,{height} {pts} {width},{height}" fill="#f5a62333" stroke="#f5a623" '
            f'stroke-width="1.2"/></svg>')


def timeline(activity: Sequence[float], bin_s: float, duration_s: float, segments: Sequence[tuple[float, float]],
             people_per_second: Sequence[int]) -> str:
    """Activity (area), motion segments (bands: (start_s, end_s)) and people per second (steps,
    right axis). Bounded output whatever the inputs' lengths: points are pooled, bands capped."""
    w, h, left, bottom, top = 800, 200, 36, 22, 8
    pw, ph = w - left - 30, h - bottom - top
    dur = max(duration_s, bin_s)
    vals = _pool(activity, 400)
    step = dur / max(len(vals), 1)
    peak = max(max(vals, default=0.0), 1e-9)

    def x(t: float) -> float:
        return left + min(max(t / dur, 0.0), 1.0) * pw

    def y(frac: float) -> float:
        return top + ph - frac * ph

    parts = [f'<svg class="timeline" viewBox="0 0 {w} {h}" role="img" aria-label="motion timeline">',
             f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#1b1f24"/>']
    for start, end in segments[:MAX_BANDS]:
        parts.append(f'<rect class="seg" x="{x(start):.1f}" y="{top}" '
                     f'width="{max(x(end) - x(start), 1):.1f}" height="{ph}" fill="#f5a62322"/>')
    area = " ".join(f"{x(i * step):.1f},{y(v / peak):.1f} {x((i + 1) * step):.1f},{y(v / peak):.1f}"
                    for i, v in enumerate(vals))
    parts.append(f'<polygon points="{x(0):.1f},{y(0):.1f} {area} {x(dur):.1f},{y(0):.1f}" fill="#f5a62399" '
                 f'stroke="#f5a623" stroke-width="1"/>')
    people = _pool(people_per_second, 400)
    most = max(max(people, default=0), 1)
    if any(people):
        k = max(len(people_per_second), 1) / max(len(people), 1)  # seconds per pooled step
        steps = " ".join(f"{x(i * k):.1f},{y(c / most):.1f} {x((i + 1) * k):.1f},{y(c / most):.1f}"
                         for i, c in enumerate(people))
        parts.append(f'<polyline points="{steps}" fill="none" stroke="#4fc3f7" stroke-width="2"/>')
        parts.extend(f'<text x="{left + pw + 6}" y="{y(c / most) + 4:.1f}" fill="#4fc3f7" font-size="11">{c}</text>'
                     for c in range(0, int(most) + 1, max(1, int(most) // 4)))
    tick = next((t for t in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200) if dur / t <= 10),
                max(dur / 10, 1.0))
    t = 0.0
    while t <= dur + 1e-9:
        parts.append(f'<line x1="{x(t):.1f}" y1="{top + ph}" x2="{x(t):.1f}" y2="{top + ph + 4}" stroke="#888"/>'
                     f'<text x="{x(t):.1f}" y="{h - 6}" fill="#aaa" font-size="11" text-anchor="middle">'
                     f'{int(t // 60)}:{int(t % 60):02d}</text>')
        t += tick
    parts.append(f'<text x="4" y="{top + 10}" fill="#f5a623" font-size="11">motion</text>'
                 f'<text x="4" y="{top + 24}" fill="#f5a623" font-size="10">{peak:.1%}</text>')
    parts.append("</svg>")
    return "".join(parts)


def boxes_over(image_href: str, width: int, height: int, boxes: Sequence[Sequence[float]], label: str) -> str:
    """The still with one rectangle per person; boxes are [x, y, w, h, score] as fractions."""
    rects = "".join(
        f'<rect x="{b[0] * width:.1f}" y="{b[1] * height:.1f}" width="{b[2] * width:.1f}" '
        f'height="{b[3] * height:.1f}" fill="none" stroke="#4fc3f7" stroke-width="{max(width / 320, 1.5):.1f}">'
        f'<title>person, score {b[4]:.2f}</title></rect>' for b in boxes)
    return (f'<svg class="people" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">'
            f'<image href="{escape(image_href)}" x="0" y="0" width="{width}" height="{height}"/>{rects}</svg>')
