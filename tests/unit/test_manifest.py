import json

import pytest

from shared.manifest import MAX_MANIFEST_BYTES, InvalidManifest, Manifest, parse_manifest

GOOD = Manifest(
    id="cam1_20261122T051825Z_0001", camera="cam1", file="cam1_20261122T051825Z_0001.mp4", size=1234,
    sha256="a" * 64, codec="h264", width=640, height=360, fps=15.0, frames=150,
    started_at="2026-11-22T05:18:25.000Z", ended_at="2026-11-22T05:18:34.933Z", media_start_s=1.0,
    media_end_s=10.933, motion_start_s=4.0, motion_end_s=6.0, peak_motion=0.02, salvaged=False, duration_s=10.0,
    motion_boxes=((0.1, 0.2, 0.3, 0.4),),
)


def test_round_trip() -> None:
    assert parse_manifest(GOOD.to_json(), expected_id=GOOD.id) == GOOD


def test_has_the_keys_other_tools_depend_on() -> None:
    d = json.loads(GOOD.to_json())
    for key in ("schema", "id", "file", "size", "sha256", "codec", "width", "height", "fps", "frames", "started_at",
                "ended_at", "media_start_s", "media_end_s", "motion_start_s", "motion_end_s", "peak_motion", "salvaged"):
        assert key in d
    assert d["schema"] == 1


def mutate(**changes: object) -> bytes:
    d = json.loads(GOOD.to_json())
    for k, v in changes.items():
        if v is KeyError:
            del d[k]
        else:
            d[k] = v
    return json.dumps(d).encode()


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"{", "not JSON"),
        (b"[]", "not a JSON object"),
        (mutate(schema=2), "unsupported schema"),
        (mutate(id="../../etc/passwd"), "not a clip id"),
        (mutate(file="../x.mp4"), "'file'"),
        (mutate(size=-1), "'size'"),
        (mutate(size="12"), "wrong type"),
        (mutate(size=True), "wrong type"),
        (mutate(sha256="z" * 64), "sha256"),
        (mutate(frames=KeyError), "missing key 'frames'"),
        (mutate(started_at="yesterday"), "ISO 8601"),
        (mutate(camera="other"), "camera"),
        (b" " * (MAX_MANIFEST_BYTES + 1), "cap"),
    ],
)
def test_rejects_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidManifest, match=reason):
        parse_manifest(raw)


def test_rejects_id_that_does_not_match_its_file_name() -> None:
    with pytest.raises(InvalidManifest, match="does not match"):
        parse_manifest(GOOD.to_json(), expected_id="cam1_20261122T051825Z_0002")
