"""inspector.listing.scan: what a pass keeps from a listing, whatever its order and size."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from inspector.listing import scan
from inspector.remote import RemoteEntry

IDS = [f"cam1_20261201T0000{i:02d}Z_{i + 1:04d}" for i in range(12)]
names = st.lists(st.one_of(st.sampled_from(IDS).flatmap(lambda i: st.sampled_from([f"{i}.mp4", f"{i}.json"])),
                           st.sampled_from(["notes.txt", "x.mp4", "cam1_.json", "\udcff.mp4"])), max_size=40)


def _entries(listed: list[str]) -> list[RemoteEntry]:
    return [RemoteEntry(n, 1, 0.0, "file") for n in listed]


@given(names, st.sets(st.sampled_from(IDS)), st.integers(1, 12), st.randoms())
def test_seen_is_every_watched_id_with_a_name_whatever_the_cap_and_order(listed: list[str], watch: set[str],
                                                                           max_ids: int, rnd) -> None:
    rnd.shuffle(listed)
    listing = scan(_entries(listed), max_ids=max_ids, max_names=1000, deadline_s=60.0, watch=watch)
    assert listing.stopped is None
    assert listing.seen == {n.rsplit(".", 1)[0] for n in listed} & watch
    kept = {c.clip_id for c in listing.candidates}
    with_manifest = sorted({n[:-5] for n in listed if n.endswith(".json") and n[:-5] in IDS})
    assert sorted(kept) == with_manifest[:len(kept)], "the smallest ids with a manifest"


def test_a_listing_cut_short_says_so() -> None:
    listed = [f"{i}.json" for i in IDS]
    listing = scan(_entries(listed), max_ids=100, max_names=3, deadline_s=60.0, watch=set(IDS))
    assert listing.stopped is not None and "cap 3" in listing.stopped
    assert listing.seen == set(IDS[:3])
