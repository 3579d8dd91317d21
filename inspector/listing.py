"""One pass's view of a watcher's directory, in bounded memory and time, whatever the directory holds.

A watcher's ``recorded_clips/`` may hold anything: 200,000 junk names, names that are not UTF-8,
a million valid-looking ids. :func:`scan` reads the listing as a stream and keeps only what a
pass can use: the entries of at most ``max_ids`` clip ids (the smallest ids, i.e. the oldest
clips of each camera), and for everything else a count per reason and a few example names, so
the pass logs one summary line instead of one line per name. It stops early, keeping what it
has, after ``max_names`` names or ``deadline_s`` seconds (the rest is seen next pass).

Why the smallest ids: the listing comes in no useful order, and a bounded max-heap of ids keeps
the same answer whatever the order. Once the heap is full its largest id only ever shrinks, so
an id it lets go of is never admitted again: every id kept has all of its entries.
"""

from __future__ import annotations

import heapq
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field

from inspector.remote import RemoteEntry
from shared.naming import InvalidClipId, parse_clip_id

EXAMPLES_PER_REASON = 5
NOT_UTF8 = "name is not valid UTF-8"
NOT_CLIP_NAME = "not a clip or manifest name"
NOT_CLIP_ID = "name does not parse as a clip id"


@dataclass
class Candidate:
    clip_id: str
    manifest: RemoteEntry | None = None
    clip: RemoteEntry | None = None


@dataclass
class Listing:
    candidates: list[Candidate]  # ids with a manifest, smallest first
    names: int = 0  # names seen
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> names skipped for it
    examples: dict[str, list[str]] = field(default_factory=dict)  # reason -> a few of those names
    names_left_out: int = 0  # clip and manifest names beyond max_ids: seen next pass
    stopped: str | None = None  # why the listing was cut short, if it was
    seen: set[str] = field(default_factory=set)  # the ids asked about (scan's ``watch``) that have a name here

    def summary(self) -> str:
        """One line: how many names were skipped, by reason, with a few examples of each."""
        parts = [f"{n} {reason} (e.g. {', '.join(repr(x) for x in self.examples.get(reason, []))})"
                 for reason, n in self.skipped.most_common()]
        return f"skipped {sum(self.skipped.values())} of {self.names} names: " + "; ".join(parts)


class _Largest:
    """Heap item ordering ids from largest to smallest (heapq is a min-heap)."""

    __slots__ = ("clip_id",)

    def __init__(self, clip_id: str) -> None:
        self.clip_id = clip_id

    def __lt__(self, other: _Largest) -> bool:
        return self.clip_id > other.clip_id


def classify(name: str) -> tuple[str, str] | str:
    """(clip id, "json" | "mp4") for a clip or manifest name, else the reason it is skipped."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # the store decoded undecodable bytes with surrogateescape
        return NOT_UTF8
    stem, dot, ext = name.rpartition(".")
    if not dot or ext not in ("json", "mp4"):
        return NOT_CLIP_NAME
    try:
        parse_clip_id(stem)
    except InvalidClipId:
        return NOT_CLIP_ID
    return stem, ext


def scan(entries: Iterable[RemoteEntry], *, max_ids: int, max_names: int, deadline_s: float,
         watch: Collection[str] = (), clock: Callable[[], float] = time.monotonic) -> Listing:
    """``watch``: ids to look out for whatever the cap on kept ids; those found come back in ``seen``
    (memory bounded by ``watch``). When ``stopped`` is None the listing was whole: an id of ``watch``
    not in ``seen`` has no clip or manifest in the directory."""
    listing = Listing([])
    kept: dict[str, Candidate] = {}
    heap: list[_Largest] = []
    deadline = clock() + deadline_s
    it: Iterator[RemoteEntry] = iter(entries)
    try:
        for e in it:
            listing.names += 1
            what = classify(e.name)
            if isinstance(what, str):
                listing.skipped[what] += 1
                examples = listing.examples.setdefault(what, [])
                if len(examples) < EXAMPLES_PER_REASON:
                    examples.append(e.name)
            else:
                clip_id, ext = what
                if clip_id in watch:
                    listing.seen.add(clip_id)
                cand = kept.get(clip_id)
                if cand is None:
                    if len(heap) >= max_ids:
                        if clip_id > heap[0].clip_id:
                            listing.names_left_out += 1
                            cand = None
                        else:
                            gone = kept.pop(heapq.heapreplace(heap, _Largest(clip_id)).clip_id)
                            listing.names_left_out += (gone.manifest is not None) + (gone.clip is not None)
                            cand = kept[clip_id] = Candidate(clip_id)
                    else:
                        heapq.heappush(heap, _Largest(clip_id))
                        cand = kept[clip_id] = Candidate(clip_id)
                if cand is not None:
                    if ext == "json":
                        cand.manifest = e
                    else:
                        cand.clip = e
            if listing.names >= max_names:
                listing.stopped = f"listing stopped after {listing.names} names (cap {max_names}); the rest next pass"
                break
            if listing.names % 1000 == 0 and clock() > deadline:
                listing.stopped = (f"listing stopped after {deadline_s:g} s and {listing.names} names; "
                                   "the rest next pass")
                break
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            close()  # a generator over a remote handle closes it now, not when collected
    # an .mp4 without its manifest is not finished (or is being salvaged): not ours to judge
    listing.candidates = sorted((c for c in kept.values() if c.manifest is not None), key=lambda c: c.clip_id)
    return listing
