"""Picamera2Source against the fake picamera2 in tests/fakes (no camera, no libcamera).

The fake's camera thread runs free, as a real camera does: frames keep coming whether or not
frames() asks, so a slow reader skips lores frames while the encoder still gets every one.
Tests therefore check invariants (which frame a luma image is, that packets are consecutive),
not how many frames a reader happened to see."""

from __future__ import annotations

import importlib
import io
import itertools
import logging
import os
import subprocess
import sys
import threading
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest

from tests.conftest import drop_picamera2_modules
from watcher.avcompat import packet_for_stream
from watcher.frames import Frame
from watcher.sources.base import CameraHung, FrameSource, SourceError, SourceInfo
from watcher.sources.picamera2_source import (
    Picamera2Source,
    _make_output,
    _PacketSink,
    _Timeline,
    luma_from_yuv420,
)

REPO = Path(__file__).resolve().parents[2]
SPS_START = b"\x00\x00\x00\x01\x67"
JOIN_S = 5.0  # generous upper bound for a thread to finish; the tests never wait this long when passing


@pytest.fixture
def make_source(fake):
    made: list[Picamera2Source] = []

    def make(**overrides) -> Picamera2Source:
        params = dict(width=320, height=240, fps=25.0, bitrate=1_000_000, gop_frames=10,
                      lores_width=200, lores_height=150, packet_queue_size=100_000) | overrides
        source = Picamera2Source(**params)
        made.append(source)
        return source

    yield make
    for source in made:
        source.close()


def take(source: Picamera2Source, n: int) -> list[Frame]:
    return list(itertools.islice(source.frames(), n))


def packets_of(frames: list[Frame]):
    return [p for f in frames for p in f.packets]


def packets_until(source, n_packets: int, on_frame=None) -> list:
    """Packets from frames() until there are ``n_packets``; ``on_frame(frame_count)`` per frame."""
    packets = []
    for count, frame in enumerate(source.frames(), start=1):
        packets += frame.packets
        if on_frame is not None:
            on_frame(count)
        if len(packets) >= n_packets:
            break
    return packets


def index(t: float, fps: float = 25.0) -> int:
    """The fake's frame number shown at time ``t``."""
    n = round(t * fps)
    assert abs(n - t * fps) < 1e-6
    return n


def consecutive(packets) -> bool:
    return [index(p.t) for p in packets] == list(range(index(packets[0].t), index(packets[0].t) + len(packets)))


def only_camera(fake):
    assert len(fake.cameras) == 1
    return fake.cameras[0]


# -- configuration ---------------------------------------------------------------------------


def test_requests_main_and_lores_yuv420_at_the_frame_rate(fake, make_source):
    source = make_source()
    info = source.open()

    camera = only_camera(fake)
    (call,) = camera.video_configuration_calls
    assert call["main"] == {"size": (320, 240), "format": "YUV420"}
    assert call["lores"] == {"size": (200, 150), "format": "YUV420"}
    assert call["controls"] == {"FrameRate": 25.0}
    assert camera.camera_config["applied_controls"]["FrameDurationLimits"] == (40_000, 40_000)
    assert camera.started
    assert info == SourceInfo(320, 240, 25.0, live=True, encoded=True, codec="h264")
    assert isinstance(source, FrameSource)


def test_hardware_encoder_started_into_our_output_before_the_camera(fake, make_source):
    make_source(bitrate=2_500_000, gop_frames=12).open()

    camera = only_camera(fake)
    encoders = importlib.import_module("picamera2.encoders")
    outputs = importlib.import_module("picamera2.outputs")
    (encoder,) = camera.encoders
    assert isinstance(encoder, encoders.H264Encoder)
    assert encoder.record.kwargs["bitrate"] == 2_500_000
    assert encoder.record.kwargs["iperiod"] == 12
    assert encoder.record.kwargs["repeat"] is True
    assert encoder.running and encoder.name == "main" and encoder.format == "YUV420"
    assert (encoder.width, encoder.height) == (320, 240)
    assert isinstance(encoder.output, outputs.Output)
    assert camera.calls.index("start_encoder") < camera.calls.index("start")


def test_lores_height_follows_the_main_aspect_ratio_by_default(fake):
    source = Picamera2Source(width=1280, height=720, lores_width=320)
    try:
        source.open()
        assert only_camera(fake).video_configuration_calls[0]["lores"]["size"] == (320, 180)
    finally:
        source.close()


@pytest.mark.parametrize(
    "kwargs",
    [dict(width=321), dict(lores_width=640, width=320, height=240), dict(fps=0), dict(gop_frames=0)],
)
def test_bad_arguments_are_value_errors(kwargs):
    with pytest.raises(ValueError):
        Picamera2Source(**kwargs)


# -- lores -> luma ---------------------------------------------------------------------------


def test_luma_is_the_lores_y_plane_without_stride_padding(fake, make_source):
    source = make_source()
    source.open()
    frames = take(source, 6)

    stride = only_camera(fake).stream_configuration("lores")["stride"]
    assert stride > 200  # the fake really padded the rows (with 255)
    for frame in frames:
        n = index(frame.t)
        assert frame.image is None
        assert frame.luma.shape == (150, 200)
        assert frame.luma.dtype == np.uint8
        assert frame.luma.flags["C_CONTIGUOUS"]
        assert not (frame.luma == fake.PADDING_BYTE).any()
        np.testing.assert_array_equal(frame.luma, fake.render_y(n, 200, 150))


def test_luma_from_yuv420_rejects_a_short_buffer():
    with pytest.raises(SourceError):
        luma_from_yuv420(np.zeros(100, np.uint8), width=20, height=10, stride=32)


# -- timestamps and packets ------------------------------------------------------------------


def test_timeline_starts_at_zero_and_packets_match_frames(fake, make_source):
    source = make_source()
    source.open()
    frames = take(source, 25)

    times = [f.t for f in frames]
    assert times[0] >= 0.0 and all(b > a for a, b in itertools.pairwise(times))
    [index(t) for t in times]  # every lores frame is a sensor frame on the 25 fps grid
    packets = packets_of(frames)
    # Packets start at the first sensor frame (t = 0) and none is lost or repeated; the encoder
    # returns each frame at least one frame late (fake latency 1), as the real one does.
    assert packets[0].t == 0.0 and consecutive(packets)
    assert packets[-1].t < times[-1]
    for frame in frames:
        assert all(p.t <= frame.t for p in frame.packets)
    for p in packets:
        assert p.time_base == Fraction(1, 1_000_000)
        assert p.pts == p.dts == round(p.t * 1_000_000)
    assert all(b.pts > a.pts for a, b in itertools.pairwise(packets))


@pytest.mark.parametrize("latency", [0, 1, 3])
def test_a_lores_frame_and_the_packet_of_the_same_sensor_frame_have_the_same_time(fake, make_source, latency):
    fake.settings.encoder_latency_frames = latency
    source = make_source()
    source.open()
    frames = take(source, 12)
    packets = packets_of(frames)
    assert consecutive(packets)
    times = {p.t for p in packets}
    assert all(f.t in times for f in frames[:-1] if f.t <= packets[-1].t)
    for frame in frames:  # never a packet from after the frame it rides with
        assert all(p.t <= frame.t for p in frame.packets)


def test_keyframes_every_gop_with_headers_and_the_packets_decode(fake, make_source):
    source = make_source(gop_frames=10)
    source.open()
    packets = []
    for frame in source.frames():
        packets += frame.packets
        if len(packets) >= 31:
            break
    packets = packets[:31]

    assert consecutive(packets)
    assert [i for i, p in enumerate(packets) if p.keyframe] == [0, 10, 20, 30]
    assert all(SPS_START in p.data for p in packets if p.keyframe)

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("h264", rate=25)
        stream.width, stream.height = 320, 240
        for p in packets:
            container.mux(packet_for_stream(p.data, stream, keyframe=p.keyframe, pts=p.pts, dts=p.dts,
                                            time_base=p.time_base))
    buffer.seek(0)
    with av.open(buffer) as container:
        decoded = [f.to_ndarray(format="yuv420p")[:240] for f in container.decode(video=0)]  # Y plane
    assert len(decoded) == len(packets)
    for n in (0, 9, 15, 29):  # the moving square is where the fake drew it
        error = np.abs(decoded[n].astype(int) - fake.render_y(n, 320, 240).astype(int)).mean()
        assert error < 8


def test_old_three_argument_outputframe_call_works(fake, make_source):
    fake.settings.release = (0, 3, 22)  # before audio support: outputframe(frame, keyframe, timestamp)
    source = make_source()
    source.open()
    packets = packets_until(source, 12)

    assert packets[0].t == 0.0 and consecutive(packets)
    assert [i for i, p in enumerate(packets) if p.keyframe][:2] == [0, 10]


def test_request_keyframe_makes_exactly_one_keyframe_per_request(fake, make_source):
    source = make_source(gop_frames=100)
    source.request_keyframe()  # before open: nothing to do, no error
    source.open()
    assert source.keyframes_on_demand

    def ask_once(count: int) -> None:
        if count == 4:
            source.request_keyframe()

    packets = packets_until(source, 60, ask_once)

    (encoder,) = only_camera(fake).encoders
    assert encoder.record.forced_keyframes == 1  # the V4L2 encoder counts calls: one call, one keyframe
    keys = [i for i, p in enumerate(packets) if p.keyframe]
    assert consecutive(packets) and len(keys) == 2 and keys[0] == 0 and 3 <= keys[1] < 60


def test_where_picamera2_cannot_force_a_keyframe_it_says_what_that_costs(fake, make_source, caplog):
    fake.settings.release = (0, 3, 31)  # force_key_frame() came with 0.3.32
    source = make_source(gop_frames=10)
    with caplog.at_level(logging.INFO):
        source.open()
    assert not source.keyframes_on_demand
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("cannot force a keyframe" in m and "10 frames" in m for m in warnings)

    packets = packets_until(source, 25, lambda count: source.request_keyframe())
    assert consecutive(packets) and [i for i, p in enumerate(packets) if p.keyframe][:3] == [0, 10, 20]


@pytest.mark.parametrize("release", [(0, 3, 16), (0, 3, 12)])
def test_a_picamera2_older_than_the_api_we_use_is_refused_with_both_versions(fake, make_source, release):
    fake.settings.release = release
    with pytest.raises(SourceError) as caught:
        make_source().open()
    message = str(caught.value)
    assert fake.version() in message and "0.3.17 or newer" in message
    assert fake.cameras == []  # refused before the camera is touched


def test_an_old_picamera2_of_unknown_version_is_refused_by_its_api(fake, make_source, monkeypatch):
    fake.settings.release = (0, 3, 16)
    monkeypatch.setattr("watcher.sources.picamera2_import.installed_version", lambda: None)
    with pytest.raises(SourceError, match=r"unknown version .*0\.3\.17 or newer"):
        make_source().open()


# -- the hand-over queue and the timeline, directly ------------------------------------------


def test_packet_sink_drops_when_full_then_skips_to_the_next_keyframe():
    sink = _PacketSink(capacity=3)
    sink.outputframe(b"K0", True, 0)  # 3-argument call, as older picamera2 makes it
    sink.outputframe(b"P1", False, 1, None, False)  # 5-argument call, as current picamera2 makes it
    sink.outputframe(b"P2", False, 2, None, False)
    sink.outputframe(b"P3", False, 3, None, False)  # full: dropped
    sink.outputframe(b"P4", False, 4, None, False)  # after a drop: skipped until a keyframe
    sink.outputframe(b"K5", True, 5, None, False)  # still full: dropped
    sink.outputframe(b"A", True, 5, None, True)  # audio: ignored, not counted
    assert [d for d, _, _ in sink.drain()] == [b"K0", b"P1", b"P2"]
    sink.outputframe(b"P6", False, 6)  # still waiting for a keyframe
    sink.outputframe(b"K7", True, 7)
    sink.outputframe(b"P8", False, 8)
    assert sink.drain() == [(b"K7", True, 7), (b"P8", False, 8)]
    assert sink.dropped == 4


def test_output_is_a_picamera2_output(fake):
    outputs = importlib.import_module("picamera2.outputs")
    output = _make_output(outputs.Output, capacity=2)
    assert isinstance(output, outputs.Output)
    assert output.recording is False  # Output.__init__ ran
    output.outputframe(b"K", True, 10)
    assert output.drain() == [(b"K", True, 10)]


def test_timeline_with_absolute_encoder_timestamps():
    timeline = _Timeline(SimpleNamespace(), frame_us=40_000)  # no firsttimestamp: stamps are absolute µs
    assert timeline.frame_t(5_000_000_000) == 0.0
    assert timeline.packet(b"x", True, 5_000_000).pts == 0
    assert timeline.packet(b"x", False, 5_040_000).t == 0.04
    assert timeline.frame_t(5_040_000_000) == 0.04


def test_timeline_when_lores_is_seen_before_the_encoder_sets_its_origin():
    encoder = SimpleNamespace(firsttimestamp=None)
    timeline = _Timeline(encoder, frame_us=40_000)
    assert timeline.frame_t(9_000_000_000) == 0.0
    encoder.firsttimestamp = 9_000_000  # the same sensor frame, seen by the encoder
    assert timeline.packet(b"x", True, 0).pts == 0
    assert timeline.packet(b"x", False, 40_000).pts == 40_000


def test_timeline_without_encoder_timestamps_and_with_repeats():
    timeline = _Timeline(SimpleNamespace(firsttimestamp=1_000), frame_us=40_000)
    assert [timeline.packet(b"x", False, None).pts for _ in range(3)] == [0, 40_000, 80_000]
    assert timeline.packet(b"x", False, 80_000).pts == 80_001  # never goes backwards for the muxer


# -- close, stalls, errors -------------------------------------------------------------------


def _consume_in_thread(source, after: int | None = None):
    frames: list[Frame] = []
    errors: list[BaseException] = []
    reached = threading.Event()

    def run():
        try:
            for frame in source.frames():
                frames.append(frame)
                if after is not None and len(frames) >= after:
                    reached.set()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            errors.append(exc)
        finally:
            reached.set()

    thread = threading.Thread(target=run, name="frames-consumer")
    thread.start()
    return thread, frames, errors, reached


def test_close_from_another_thread_ends_frames_while_the_camera_stalls(fake, make_source):
    fake.settings.stall_after_frames = 3
    source = make_source(stall_timeout_s=60.0)  # only close() can end this wait
    source.open()
    thread, frames, errors, _ = _consume_in_thread(source)

    assert fake.stalled.wait(JOIN_S)  # frames() is now waiting for a frame that will not come
    source.close()
    thread.join(JOIN_S)

    assert not thread.is_alive()
    assert errors == [] and len(frames) == 3
    camera = only_camera(fake)
    assert not camera.is_open and not camera.encoders
    assert camera.calls.index("cancel_all_and_flush") < camera.calls.index("stop")
    assert not camera._outstanding  # every request went back


@pytest.mark.parametrize("release", [(0, 3, 17), (0, 3, 38)])  # the oldest supported has no cancel_all_and_flush
def test_close_from_another_thread_ends_frames_while_streaming(fake, make_source, release):
    fake.settings.release = release
    source = make_source()
    source.open()
    thread, frames, errors, reached = _consume_in_thread(source, after=5)

    assert reached.wait(JOIN_S)
    source.close()
    thread.join(JOIN_S)

    assert not thread.is_alive()
    assert errors == [] and len(frames) >= 5
    camera = only_camera(fake)
    assert not camera.is_open and not camera._outstanding  # every request went back
    assert ("cancel_all_and_flush" in camera.calls) == (release >= (0, 3, 20))


def test_stalled_camera_raises_after_the_stall_timeout(fake, make_source, caplog):
    fake.settings.stall_after_frames = 2
    source = make_source(stall_timeout_s=0.05)
    source.open()
    frames = []
    with pytest.raises(SourceError, match="no frame"):
        for frame in source.frames():
            frames.append(frame)
    assert len(frames) == 2

    with caplog.at_level(logging.ERROR):
        source.close()
    assert not only_camera(fake).is_open
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_close_is_idempotent_and_frames_after_close_is_empty(fake, make_source):
    make_source().close()  # never opened: nothing to do
    source = make_source()
    source.open()
    take(source, 2)
    source.close()
    source.close()
    assert list(source.frames()) == []
    assert only_camera(fake).calls.count("close") == 1
    with pytest.raises(SourceError):
        source.open()


def test_frames_before_open_is_an_error(fake, make_source):
    with pytest.raises(SourceError, match="open"):
        next(make_source().frames())


def test_module_imports_without_picamera2_and_does_not_import_it():
    code = (
        "import sys; sys.modules['picamera2'] = None\n"
        "import watcher.sources.picamera2_source\n"
        "assert sys.modules['picamera2'] is None\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_missing_picamera2_gives_an_actionable_error(monkeypatch):
    drop_picamera2_modules()
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import picamera2 -> ImportError
    with pytest.raises(SourceError) as caught:
        Picamera2Source().open()
    message = str(caught.value)
    assert "apt install python3-picamera2" in message
    assert "--system-site-packages" in message
    assert "\n" not in message


def _broken_picamera2(tmp_path: Path, error: str) -> Path:
    """A directory holding a picamera2 package whose import raises ``error`` (Python source)."""
    package = tmp_path / "broken" / "picamera2"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f"import numpy\nraise {error}\n")
    return package.parent


NUMPY_ABI = ('ValueError("numpy.dtype size changed, may indicate binary incompatibility. '
             'Expected 96 from C header, got 88 from PyObject")')


def test_a_numpy_that_shadows_the_systems_is_named_with_the_fix(tmp_path, monkeypatch):
    drop_picamera2_modules()
    monkeypatch.syspath_prepend(str(_broken_picamera2(tmp_path, NUMPY_ABI)))
    try:
        with pytest.raises(SourceError) as caught:
            Picamera2Source().open()
    finally:
        drop_picamera2_modules()
    message = str(caught.value)
    assert "shadows the system numpy" in message and np.__file__ in message
    assert "pip uninstall numpy opencv-python-headless av" in message and "install.sh" in message


@pytest.mark.parametrize("error, words", [
    (NUMPY_ABI, "shadows the system numpy"),
    ('AttributeError("module \'libcamera\' has no attribute \'Transform\'")', "motion-watcher doctor"),
    ('OSError("libcamera.so.0.7: cannot open shared object file")', "motion-watcher doctor"),
])
def test_the_watcher_exits_69_with_one_line_when_picamera2_cannot_be_imported(tmp_path, error, words):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(_broken_picamera2(tmp_path, error)), str(REPO)]))
    result = subprocess.run([sys.executable, "-m", "watcher", "--source", "picamera2", "--data-dir",
                             str(tmp_path / "data")], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 69, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and words in errors[0], result.stderr


def test_no_camera_attached(fake, make_source):
    fake.settings.num_cameras = 0
    with pytest.raises(SourceError, match="camera 0 not found"):
        make_source().open()


def test_camera_busy(fake, make_source):
    fake.settings.open_error = RuntimeError("Camera __init__ sequence did not complete.")
    with pytest.raises(SourceError, match="did not complete"):
        make_source().open()


def test_failed_start_releases_the_camera(fake, make_source, monkeypatch):
    encoders = importlib.import_module("picamera2.encoders")

    def broken_start(self):
        raise OSError("cannot open /dev/video11")

    monkeypatch.setattr(encoders.H264Encoder, "_start", broken_start)
    with pytest.raises(SourceError, match="video11"):
        make_source().open()
    camera = only_camera(fake)
    assert not camera.is_open and not camera.started


# -- a camera whose event loop died ------------------------------------------------------------


def test_a_dead_camera_loop_ends_frames_and_close_still_releases_the_camera(fake, make_source):
    fake.settings.loop_dies_at_frame = 8  # as PyAV >= 14 kills picamera2's Pi 5 encoder thread
    source = make_source(stall_timeout_s=0.3, close_timeout_s=5.0)
    source.open()
    with pytest.raises(SourceError, match="no frame"):
        for _ in source.frames():
            pass
    assert fake.loop_died.is_set() and isinstance(only_camera(fake).loop_error, TypeError)

    source.close()  # stop() alone would wait forever for the dead loop: the loop is stopped first
    camera = only_camera(fake)
    assert camera.calls.index("stop_preview") < camera.calls.index("stop")
    assert not camera.is_open and not camera.started and not camera.encoders


def test_a_camera_that_cannot_be_stopped_is_reported_within_the_close_timeout(fake, make_source):
    fake.settings.stop_hangs = True
    source = make_source(close_timeout_s=0.3)
    source.open()
    take(source, 3)
    with pytest.raises(CameraHung, match=r"did not stop within 0\.3 s"):
        source.close()
    source.close()  # and only once


def _watcher_on_the_fake(tmp_path: Path, settings: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "tests" / "fakes"), str(REPO)]),
               PICAMERA2_FAKE_SETTINGS=settings)
    config = tmp_path / "watcher.toml"
    config.write_text('[source]\nwidth = 320\nheight = 240\nfps = 25\nlores_width = 160\n'
                      '[trigger]\npre_roll_s = 0.5\nmin_motion_frames = 2\n')
    return subprocess.run([sys.executable, "-m", "watcher", "--config", str(config), "--source", "picamera2",
                           "--data-dir", str(tmp_path / "data")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_the_watcher_publishes_then_exits_69_when_the_camera_loop_dies(tmp_path):
    """Exit 69 (not 0): systemd's Restart=on-failure starts a fresh process; the open clip is kept."""
    result = _watcher_on_the_fake(tmp_path, '{"loop_dies_at_frame": 60, "frame_interval_s": 0.01}')
    assert result.returncode == 69, result.stderr
    assert "source failed" in result.stderr and "Traceback" not in result.stderr
    assert len(list((tmp_path / "data" / "recorded_clips").glob("*.json"))) == 1, result.stderr


def test_the_watcher_exits_75_at_once_when_the_camera_cannot_be_stopped(tmp_path):
    """The fake's square moves from frame 0: one clip is open when the camera stalls; it is published,
    then stopping the camera hangs, and the process ends itself (75) instead of hanging."""
    result = _watcher_on_the_fake(tmp_path, '{"stall_after_frames": 60, "stop_hangs": true, "frame_interval_s": 0.01}')
    assert result.returncode == 75, result.stderr
    assert "did not stop within" in result.stderr and "Traceback" not in result.stderr
    assert len(list((tmp_path / "data" / "recorded_clips").glob("*.json"))) == 1, result.stderr
