"""Test helpers that check published clips with real decoders (FFmpeg via PyAV, and OpenCV)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import av
import cv2

from shared.manifest import Manifest, parse_manifest


def decode_frame_count(path: Path) -> int:
    """Frames FFmpeg (PyAV) decodes from the file, failing on any decode error."""
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def opencv_frame_count(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def is_standard_mp4(path: Path) -> bool:
    """Not fragmented, index (moov) before the media data (faststart): what browsers and VLC like best."""
    data = path.read_bytes()
    moov, mdat = data.find(b"moov"), data.find(b"mdat")
    return data[4:8] == b"ftyp" and 0 < moov < mdat and b"moof" not in data


def verify_recorded(recorded: Path, *, decode: bool = True) -> list[Manifest]:
    """Every clip in recorded_clips/ has a manifest whose size and sha256 match, decodes to the
    manifest's frame count, and nothing else (no partial or temp file) is there."""
    manifests = []
    names = sorted(p.name for p in recorded.iterdir())
    for name in names:
        assert name.endswith((".mp4", ".json")), f"unexpected file in recorded_clips: {name}"
    for mp4 in sorted(recorded.glob("*.mp4")):
        mpath = mp4.with_suffix(".json")
        assert mpath.exists(), f"{mp4.name} has no manifest"
        m = parse_manifest(mpath.read_bytes(), expected_id=mp4.stem)
        data = mp4.read_bytes()
        assert len(data) == m.size, f"{mp4.name}: size {len(data)} != manifest {m.size}"
        assert hashlib.sha256(data).hexdigest() == m.sha256, f"{mp4.name}: sha256 mismatch"
        if decode:
            assert decode_frame_count(mp4) == m.frames, f"{mp4.name}: decoded frames != manifest"
        manifests.append(m)
    for j in recorded.glob("*.json"):
        assert j.with_suffix(".mp4").exists(), f"manifest {j.name} without its clip"
    return manifests


def write_video(path: Path, frames: list, fps: float, *, crf: int = 20) -> Path:
    """Write BGR frames as an H.264 MP4 (a real camera file stand-in for file: sources)."""
    from fractions import Fraction

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        st.options = {"crf": str(crf), "preset": "veryfast"}
        for img in frames:
            for p in st.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(p)
        for p in st.encode(None):
            out.mux(p)
    return path
