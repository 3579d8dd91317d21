"""Building the report and swapping it in atomically.

    <library>/report              -> symlink to .report-<generation>   (what readers open)
    <library>/.report-<gen>/      index.html, clips/<watcher>/<id>.html, tune/<camera>.html
    <library>/.report.lock        flock: one builder at a time

Generations sit beside ``report`` (not deeper), so the pages' relative links into the library
(``../cam1/...``) mean the same whether ``..`` is taken lexically (browsers) or physically.

A rebuild writes a new generation directory (every file fsynced), then flips the symlink with
``os.replace`` of a temporary symlink, which is atomic: a reader resolves ``report/`` to the old
generation or to the new one, never to a half-written one. Killing the builder at any point
leaves ``report`` pointing at the previous, complete generation; leftovers of a killed build are
removed by the next one (under the lock). The generation a flip replaces is kept until the next
build, so a reader that resolved ``report`` just before the flip still finds every page it needs.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from inspector.report.model import LibraryView, ProblemEntry, load_view
from inspector.report.pages import clip_html, index_html, problem_html, tune_page_html
from shared.atomic import fsync_dir
from shared.flock import flocked

logger = logging.getLogger(__name__)

REPORT = "report"
GENERATION_PREFIX = ".report-"

# Test hook: called with ("page", name) after each page is written and ("swap", generation) just
# before the flip. Production passes None.
Hook = Callable[[str, str], None]


@contextmanager
def _locked(library: Path) -> Iterator[None]:
    with flocked(library / ".report.lock", timeout_s=None):  # builds are short: wait for the one running
        yield


def _write(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def current_generation(library: Path) -> Path | None:
    link = library / REPORT
    if link.is_symlink():
        return (library / os.readlink(link)).resolve()
    return None


def build_report(library: Path, *, hook: Hook | None = None) -> Path:
    """Rebuild ``<library>/report`` from the catalog; return the path of its index.html."""
    library = Path(library)
    with _locked(library):
        _remove_stale(library)
        view = load_view(library)
        stamp = f"{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**9:09d}-{os.getpid()}"
        gen = library / f"{GENERATION_PREFIX}{stamp}"
        _write_generation(gen, view, hook)
        if hook:
            hook("swap", gen.name)
        _flip(library, gen)
    logger.info("report: %d clip(s) in %s", len(view.clips), library / REPORT / "index.html")
    return library / REPORT / "index.html"


def _write_generation(gen: Path, view: LibraryView, hook: Hook | None) -> None:
    """Every clip page, then the index (which lists any clip whose page could not be made)."""
    (gen / "clips").mkdir(parents=True)
    clips = view.clips
    failed: list[ProblemEntry] = []
    for i, c in enumerate(clips):
        name = c.page
        (gen / name).parent.mkdir(exist_ok=True)
        try:
            text = clip_html(c, clips[i - 1] if i > 0 else None, clips[i + 1] if i + 1 < len(clips) else None)
        except Exception as e:  # one clip's page must never cost the report: it is listed as a problem
            logger.exception("report: the page of %s/%s cannot be made", c.watcher, c.clip_id)
            failed.append(ProblemEntry(c.watcher, c.clip_id, c.camera, f"its page cannot be made: "
                                       f"{type(e).__name__}: {str(e)[:300]}", c.video))
            text = problem_html(failed[-1], name)  # the neighbours link here: keep the link alive
        _write(gen / name, text)
        logger.debug("report: wrote %s", name)
        if hook:
            hook("page", name)
    if failed:
        bad = {(p.watcher, p.clip_id) for p in failed}
        view = replace(view, clips=[c for c in clips if (c.watcher, c.clip_id) not in bad],
                       problems=view.problems + failed)
    tunes = []
    for r in view.tunes:
        try:
            text = tune_page_html(r, view)
        except Exception:  # a damaged tune result must never cost the report: it is left out, said in the log
            logger.exception("report: the tune page of %s cannot be made; it is left out", r.camera)
            continue
        (gen / r.page).parent.mkdir(exist_ok=True)
        _write(gen / r.page, text)
        tunes.append(r)
    if tunes:
        fsync_dir(gen / "tune")
    view = replace(view, tunes=tunes)
    _write(gen / "index.html", index_html(view))
    if hook:
        hook("page", "index.html")
    for d in sorted((gen / "clips").iterdir()):
        fsync_dir(d)
    fsync_dir(gen / "clips")
    fsync_dir(gen)
    fsync_dir(gen.parent)


def _flip(library: Path, gen: Path) -> None:
    """The symlink flip: not shared.atomic's save_file, since what is replaced is a symlink (made
    under a temp name, renamed over ``report``), not a file's content. The temp name needs only the
    pid: the report lock keeps one builder at a time."""
    link = library / REPORT
    tmp = library / f".{REPORT}.link.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(gen, library), tmp)
    if link.exists() and not link.is_symlink():  # a report directory from elsewhere: move it aside first
        aside = library / f"{GENERATION_PREFIX}replaced-{time.time_ns()}"
        os.replace(link, aside)
    os.replace(tmp, link)
    fsync_dir(library)


def generations(library: Path) -> list[Path]:
    return sorted(library.glob(f"{GENERATION_PREFIX}*"))


def _remove_stale(library: Path) -> None:
    """Leftovers of killed builds and the generation the last flip replaced: all but the current one."""
    current = current_generation(library)
    for d in generations(library):
        if current is not None and d.resolve() == current:
            continue
        if (d / "index.html").exists():
            logger.debug("report: removing %s (replaced by the last build)", d.name)
        else:
            logger.info("report: removing %s, left by an interrupted build", d.name)
        if d.is_dir() and not d.is_symlink():
            shutil.rmtree(d, ignore_errors=True)
        else:
            d.unlink(missing_ok=True)
    for tmp in library.glob(f".{REPORT}.link.*"):
        tmp.unlink(missing_ok=True)
