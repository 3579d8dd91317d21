"""``python -m tests.realcam.behaviour_probe SCENARIO``: how the real picamera2 behaves, one scenario per
process (what tests/fakes/picamera2 models). Prints ``result: {json}`` and exits; a scenario that
expects a hang bounds it itself and reports it.

Scenarios (Pi 5 path: ``H264Encoder`` is ``LibavH264Encoder``; 640x360 + 320x180 lores, 10 fps):

    free_running     frames reach the encoder and our Output while nobody asks for any
    keyframe_counter force_key_frame() counts calls: N calls give N forced keyframes (run with a
                     PictureType-correct encode, to see the counter apart from the PyAV >= 14 bug)
    wait_timeout     wait(job, timeout=) raises TimeoutError and leaves the job queued: it later
                     takes a request that nobody releases
    cancel           cancel_all_and_flush() fails a pending job with CancelledError
    stop_pending     stop() with a capture job pending, while frames flow
    thread_death     force_key_frame() on PyAV >= 14: the camera thread dies; then wait, cancel,
                     stop_encoder and stop() (bounded here: it never returns)
"""

from __future__ import annotations

import json
import sys
import threading
import time
from concurrent.futures import CancelledError
from typing import Any

FPS = 10.0


class Recorder:
    """An Output recording every outputframe call (positional arguments as given)."""

    def __init__(self, output_base: type) -> None:
        calls: list[tuple[Any, ...]] = []
        arrived = threading.Condition()

        class RecordingOutput(output_base):  # type: ignore[misc, valid-type]
            def outputframe(self, *args: Any, **kwargs: Any) -> None:
                with arrived:
                    calls.append((args, kwargs, threading.current_thread().name))
                    arrived.notify_all()

        self.output = RecordingOutput()
        self.calls = calls
        self._arrived = arrived

    def wait_for(self, n: int, timeout: float) -> bool:
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.calls) >= n, timeout)

    def keyframes(self) -> list[bool]:
        return [bool(args[1]) for args, _, _ in self.calls]


def open_camera(iperiod: int = 100) -> tuple[Any, Any, Recorder]:
    from picamera2 import Picamera2
    from picamera2.encoders import H264Encoder
    from picamera2.outputs import Output

    picam2 = Picamera2()
    config = picam2.create_video_configuration(main={"size": (640, 360), "format": "YUV420"},
                                               lores={"size": (320, 180), "format": "YUV420"},
                                               controls={"FrameRate": FPS})
    picam2.configure(config)
    encoder = H264Encoder(bitrate=1_000_000, repeat=True, iperiod=iperiod)
    rec = Recorder(Output)
    picam2.start_encoder(encoder, rec.output)
    picam2.start()
    return picam2, encoder, rec


def bounded(fn: Any, timeout: float) -> tuple[bool, str | None]:
    """Run fn in a daemon thread; (returned within timeout, exception name or None)."""
    outcome: list[str | None] = []

    def run() -> None:
        try:
            fn()
            outcome.append(None)
        except BaseException as e:  # noqa: BLE001 - reported
            outcome.append(f"{type(e).__name__}: {e}")

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    return (not t.is_alive()), (outcome[0] if outcome else None)


def free_running() -> dict[str, Any]:
    picam2, encoder, rec = open_camera()
    started = time.monotonic()
    got = rec.wait_for(20, timeout=10)  # no capture_request() at all
    args, kwargs, thread = rec.calls[0]
    result = {
        "outputframe_calls_without_asking": len(rec.calls), "reached_20": got,
        "seconds": round(time.monotonic() - started, 2),
        "outputframe_positional_types": [type(a).__name__ for a in args], "outputframe_kwargs": sorted(kwargs),
        "outputframe_thread": thread, "camera_frames_counter": picam2.frames,
        "completed_requests_held": len(picam2.completed_requests),
        "timestamps_us": [a[2] for a, _, _ in rec.calls[:5]], "encoder_class": type(encoder).__name__,
    }
    picam2.stop_encoder(encoder)
    picam2.stop()
    picam2.close()
    return result


def _pict_type_fix() -> None:
    """Scenario-local: LibavH264Encoder._encode with ``PictureType.I`` (what PyAV >= 14 accepts)."""
    import av
    from picamera2.encoders import LibavH264Encoder
    from picamera2.encoders import libav_h264_encoder as module

    def _encode(self: Any, stream: Any, request: Any) -> None:
        request.acquire()
        self._request_release_queue.append(request)
        timestamp_us = self._timestamp(request)
        with module.MappedArray(request, stream) as m:
            frame = av.VideoFrame.from_numpy_buffer(m.array, format=self._av_input_format, width=self.width)
            frame.pts = timestamp_us
            if self._key_frames_requested > self._key_frames_generated:
                self._key_frames_generated += 1
                frame.pict_type = av.video.frame.PictureType.I
            for packet in self._stream.encode(frame):
                self._lasttimestamp = (time.monotonic_ns(), packet.pts)
                self.outputframe(bytes(packet), packet.is_keyframe, timestamp=packet.pts, packet=packet)
        while len(self._request_release_queue) > self._request_release_delay:
            self._request_release_queue.popleft().release()

    LibavH264Encoder._encode = _encode


def keyframe_counter() -> dict[str, Any]:
    _pict_type_fix()
    picam2, encoder, rec = open_camera(iperiod=100)
    assert rec.wait_for(5, timeout=10)
    before = len(rec.calls)
    for _ in range(3):
        encoder.force_key_frame()
    requested = encoder._key_frames_requested
    assert rec.wait_for(before + 10, timeout=10)
    keys = rec.keyframes()
    result = {"requested_counter_after_3_calls": requested, "generated": encoder._key_frames_generated,
              "keyframes_before": keys[:before], "keyframes_after_3_calls": keys[before:before + 10]}
    picam2.stop_encoder(encoder)
    picam2.stop()
    picam2.close()
    return result


def wait_timeout() -> dict[str, Any]:
    picam2, encoder, rec = open_camera()
    assert rec.wait_for(3, timeout=10)
    request = picam2.capture_request()  # take what is there, so the next job must wait for a frame
    request.release()
    job = picam2.capture_request(wait=False)
    try:
        picam2.wait(job, timeout=0.001)
        raised = None
    except BaseException as e:  # noqa: BLE001 - reported
        raised = type(e).__module__ + "." + type(e).__name__
    still_queued = job in picam2._job_list
    later = picam2.wait(job, timeout=5)  # the same job completes at the next frame
    result = {"raised": raised, "job_still_queued_after_timeout": still_queued,
              "job_completed_later_with": type(later).__name__}
    later.release()
    picam2.stop_encoder(encoder)
    picam2.stop()
    picam2.close()
    return result


def cancel() -> dict[str, Any]:
    picam2, encoder, rec = open_camera()
    assert rec.wait_for(3, timeout=10)
    picam2.capture_request().release()
    job = picam2.capture_request(wait=False)
    picam2.cancel_all_and_flush()
    try:
        picam2.wait(job, timeout=5)
        raised = None
    except CancelledError as e:
        raised = type(e).__module__ + "." + type(e).__name__
    frames_before = len(rec.calls)
    flowing = rec.wait_for(frames_before + 5, timeout=5)
    result = {"pending_job_raised": raised, "job_list_after": len(picam2._job_list),
              "frames_keep_flowing_after_cancel": flowing}
    picam2.stop_encoder(encoder)
    picam2.stop()
    picam2.close()
    return result


def stop_pending() -> dict[str, Any]:
    picam2, encoder, rec = open_camera()
    assert rec.wait_for(3, timeout=10)
    picam2.capture_request().release()
    job = picam2.capture_request(wait=False)
    started = time.monotonic()
    returned, error = bounded(picam2.stop, 5)
    result: dict[str, Any] = {"stop_returned": returned, "stop_error": error,
                              "stop_seconds": round(time.monotonic() - started, 2)}
    try:
        outcome = type(picam2.wait(job, timeout=1)).__name__
    except BaseException as e:  # noqa: BLE001 - reported
        outcome = type(e).__name__
    result["pending_job_outcome"] = outcome
    frames = len(rec.calls)
    result["frames_after_stop"] = rec.wait_for(frames + 1, timeout=1) and len(rec.calls) - frames
    picam2.stop_encoder(encoder)
    picam2.close()
    return result


def thread_death() -> dict[str, Any]:
    import av

    picam2, encoder, rec = open_camera()
    assert rec.wait_for(3, timeout=10)
    loop_thread = picam2._preview.thread
    encoder.force_key_frame()
    loop_thread.join(timeout=5)
    frames = len(rec.calls)
    result: dict[str, Any] = {"pyav": av.__version__, "camera_thread_alive": loop_thread.is_alive(),
                              "event_loop_running_flag": picam2._event_loop_running,
                              "frames_after_death": int(rec.wait_for(frames + 1, timeout=1))}
    job = picam2.capture_request(wait=False)
    try:
        picam2.wait(job, timeout=1)
        result["wait"] = "returned"
    except BaseException as e:  # noqa: BLE001 - reported
        result["wait"] = type(e).__name__
    picam2.cancel_all_and_flush()
    try:
        picam2.wait(job, timeout=1)
    except BaseException as e:  # noqa: BLE001 - reported
        result["wait_after_cancel"] = type(e).__name__
    result["stop_encoder_returned"], result["stop_encoder_error"] = bounded(lambda: picam2.stop_encoder(encoder), 5)
    result["stop_returned_within_5s"], result["stop_error"] = bounded(picam2.stop, 5)
    return result


def _shutdown_via_stop_preview(picam2: Any, encoder: Any) -> dict[str, Any]:
    """cancel_all_and_flush, stop_preview (joins the event-loop thread, detaches it), then stop(),
    which now runs stop_() on this thread, stop_encoder, close: each bounded."""
    steps: dict[str, Any] = {}
    for name, fn in (("cancel_all_and_flush", picam2.cancel_all_and_flush), ("stop_preview", picam2.stop_preview),
                     ("stop", picam2.stop), ("stop_encoder", lambda: picam2.stop_encoder(encoder)),
                     ("close", picam2.close)):
        started = time.monotonic()
        returned, error = bounded(fn, 5)
        steps[name] = {"returned": returned, "error": error, "seconds": round(time.monotonic() - started, 2)}
        if not returned:
            break
    return steps


def thread_death_recovery() -> dict[str, Any]:
    picam2, encoder, rec = open_camera()
    assert rec.wait_for(3, timeout=10)
    loop_thread = picam2._preview.thread
    encoder.force_key_frame()
    loop_thread.join(timeout=5)
    result: dict[str, Any] = {"camera_thread_alive": loop_thread.is_alive()}
    result["steps"] = _shutdown_via_stop_preview(picam2, encoder)
    return result


def healthy_stop_via_stop_preview() -> dict[str, Any]:
    picam2, encoder, rec = open_camera()
    assert rec.wait_for(3, timeout=10)
    picam2.capture_request().release()
    job = picam2.capture_request(wait=False)
    result: dict[str, Any] = {"steps": _shutdown_via_stop_preview(picam2, encoder)}
    try:
        result["pending_job"] = type(picam2.wait(job, timeout=1)).__name__
    except BaseException as e:  # noqa: BLE001 - reported
        result["pending_job"] = type(e).__name__
    return result


SCENARIOS = {f.__name__: f for f in (free_running, keyframe_counter, wait_timeout, cancel, stop_pending, thread_death,
                                     thread_death_recovery, healthy_stop_via_stop_preview)}


def main(argv: list[str]) -> int:
    from tests.realcam.shims import install

    install()
    result = SCENARIOS[argv[0]]()
    print("result: " + json.dumps(result), flush=True)
    if argv[0] == "thread_death":
        import os

        os._exit(0)  # a thread is stuck in Picamera2.stop(): a normal exit would wait for it at atexit
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
