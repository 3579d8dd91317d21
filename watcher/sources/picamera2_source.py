"""Raspberry Pi camera source: picamera2 with the Pi's hardware H.264 encoder.

One camera configuration carries two streams of the same sensor frames:

* ``main`` (YUV420, full size) goes to picamera2's hardware ``H264Encoder``; its output arrives
  as ready-made H.264 access units on :attr:`Frame.packets` (``SourceInfo.encoded`` is True).
* ``lores`` (YUV420, small) is read per request on the ``frames()`` thread; its Y plane,
  with the row padding (stride) cut off, is :attr:`Frame.luma` for the motion detector.

picamera2 is imported only inside :meth:`Picamera2Source.open` (through
:mod:`watcher.sources.picamera2_import`, which turns every way that import fails into one line
naming the cause and the fix, and refuses releases older than the API we use), so this module
imports fine where picamera2 is missing (it is an apt package on Raspberry Pi OS).

Keyframes on demand: :mod:`watcher.sources.picamera2_keyframes` (counted per call on the Pi 4's
V4L2 encoder; a wrapped PyAV stream on the Pi 5, where picamera2's own ``force_key_frame`` breaks
the camera with PyAV >= 14).

Closing is bounded. If picamera2's event loop died (an exception on its camera thread),
``Picamera2.stop()`` waits forever unless the loop is stopped first (``stop_preview``), which
``_shutdown`` does. Whatever else may hang (a wedged driver), ``close()`` gives the shutdown
``close_timeout_s`` on a separate thread, then raises :class:`CameraHung`; the entry point then
ends the process with ``os._exit`` (picamera2's atexit handler would block the same way), so
systemd restarts it.

Timeline. picamera2's encoder stamps every frame with the request's ``SensorTimestamp``
(nanoseconds) converted to microseconds *minus the first encoded frame's value*, which it keeps
in ``encoder.firsttimestamp`` (``Encoder._timestamp`` in ``picamera2/encoders/encoder.py``); the
V4L2 encoder hands that value back with the encoded buffer (``V4L2Encoder.thread_poll``). The
lores frames come with the absolute ``SensorTimestamp``. Both are mapped to absolute sensor
microseconds and then made relative to one origin, the sensor time of the first encoded frame,
so a packet and the lores image of the same sensor frame get the same ``t``, starting at 0.

Reading lores. ``capture_request(wait=False)`` returns a job; we wait on *that same job* with a
timeout, so a slow or stalled camera never leaves orphan jobs behind (with ``wait=<seconds>``
picamera2 leaves a timed-out job queued; it later takes a request that nobody releases, and
after a few of those the camera runs out of buffers). When the pipeline is slower than the
camera, capture_request simply returns a later frame: the detector sees fewer frames while the
encoder still gets every one. ``capture_array("lores")`` would give no timestamp, and a
``post_callback`` would copy every frame on the camera thread whether anyone wants it or not.

Note: the first frames after start are badly exposed while auto-exposure and white balance
settle; that is the motion detector's warm-up to handle, not ours.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from concurrent.futures import TimeoutError as FutureTimeoutError
from fractions import Fraction
from typing import Any

import numpy as np

from watcher.frames import EncodedPacket, Frame
from watcher.sources.base import CameraHung, SourceError, SourceInfo
from watcher.sources.picamera2_import import Picamera2Unavailable, import_picamera2
from watcher.sources.picamera2_keyframes import KeyframeRequester

logger = logging.getLogger(__name__)

TIME_BASE = Fraction(1, 1_000_000)  # packet pts/dts are microseconds


_POLL_S = 0.25  # how often a waiting frames() re-checks close() if picamera2 cannot cancel its job


# Which thread touches what
# -------------------------
# * encoder thread (picamera2's V4L2 poll thread) calls PacketQueueOutput.outputframe: it only
#   puts (bytes, keyframe, timestamp_us) tuples on the bounded queue and updates the drop
#   counters under _PacketSink._lock. It never blocks: a full queue drops and counts.
# * frames() thread: owns the capture job, copies the lores plane, drains the queue, and owns the
#   _Timeline (origin, last pts). It holds Picamera2Source._lock only while it queues a capture
#   job or copies and releases a request, never while it waits for a frame.
# * any thread calling close(): sets _closed, then under _lock cancels the pending job (which
#   wakes frames()), stops the camera and the encoder and closes the camera. Because capture
#   jobs are queued and requests released under the same lock, no request is touched after
#   close() except one that completed in the instant before it (released best effort).
# * request_keyframe() comes from the pipeline thread; see picamera2_keyframes for what it touches.
# * close() runs picamera2's shutdown on a short-lived "picamera2-close" thread and waits for it
#   at most close_timeout_s; that thread touches only the Picamera2 and encoder objects, which
#   nobody else uses once close() has taken them out from under _lock.


class _PacketSink:
    """Bounded hand-over of encoded frames from the encoder thread to the frames() thread.

    Mixed into picamera2's ``Output`` at open() (the encoder insists on an ``Output`` instance);
    on its own it is plain Python, which is what the unit tests use.
    """

    def __init__(self, capacity: int) -> None:
        super().__init__()  # picamera2's Output.__init__(pts=None) when mixed in
        self._queue: queue.Queue[tuple[bytes, bool, int | None]] = queue.Queue(maxsize=capacity)
        self._lock = threading.Lock()
        self._dropped = 0
        self._resync = False  # after a drop, skip until a keyframe: a GOP with a hole doesn't decode

    # Called by picamera2 on the encoder's thread. Current picamera2 passes
    # (frame, keyframe, timestamp, packet, audio) positionally (Encoder.outputframe); releases
    # before the audio support pass only (frame, keyframe, timestamp). timestamp is in µs.
    def outputframe(
        self,
        frame: Any,
        keyframe: bool = True,
        timestamp: int | None = None,
        packet: Any = None,
        audio: bool = False,
    ) -> None:
        if audio or frame is None:
            return  # we never enable audio; ignore anything that isn't video
        data = bytes(frame)
        with self._lock:
            if self._resync and not keyframe:
                self._dropped += 1
                return
            try:
                self._queue.put_nowait((data, bool(keyframe), timestamp))
            except queue.Full:
                self._dropped += 1
                if not self._resync:
                    logger.warning("encoded packet queue full: dropping packets until the next keyframe")
                self._resync = True
                return
            self._resync = False

    def drain(self) -> list[tuple[bytes, bool, int | None]]:
        items = []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                return items

    @property
    def dropped(self) -> int:
        with self._lock:
            return self._dropped


def _make_output(output_base: type, capacity: int) -> _PacketSink:
    """An instance of picamera2's ``Output`` that behaves as a :class:`_PacketSink`."""
    cls = type("PacketQueueOutput", (_PacketSink, output_base), {"__module__": __name__})
    sink: _PacketSink = cls(capacity)
    return sink


class _Timeline:
    """Puts lores frames (SensorTimestamp, ns) and encoded frames (encoder µs) on one timeline.

    Only the frames() thread uses it. The origin is the sensor time of the first encoded frame
    (``encoder.firsttimestamp``); if the first lores frame is seen before the encoder has set
    that (both are the camera's first request, so they are equal), the lores time is used.
    """

    def __init__(self, encoder: Any, frame_us: int) -> None:
        self._encoder = encoder
        self._frame_us = frame_us
        self.origin_us: int | None = None
        self._last_pts: int | None = None
        self._warned_no_timestamp = False

    def _origin(self, fallback_abs_us: int) -> int:
        if self.origin_us is None:
            first = getattr(self._encoder, "firsttimestamp", None)
            self.origin_us = int(first) if first is not None else fallback_abs_us
        return self.origin_us

    def frame_t(self, sensor_timestamp_ns: int) -> float:
        abs_us = int(sensor_timestamp_ns / 1000)  # the same rounding as Encoder._timestamp
        return (abs_us - self._origin(abs_us)) / 1_000_000

    def packet(self, data: bytes, keyframe: bool, timestamp_us: int | None) -> EncodedPacket:
        if timestamp_us is None:
            # Very early picamera2 passed no timestamp at all: assume a steady frame rate.
            if not self._warned_no_timestamp:
                logger.warning("picamera2 encoder gives no timestamps; assuming a constant frame rate")
                self._warned_no_timestamp = True
            pts = 0 if self._last_pts is None else self._last_pts + self._frame_us
        else:
            if hasattr(self._encoder, "firsttimestamp"):
                base = self._encoder.firsttimestamp  # encoder stamps are relative to this
                abs_us = int(timestamp_us) + (int(base) if base is not None else 0)
            else:
                abs_us = int(timestamp_us)  # releases without firsttimestamp stamped absolute µs
            pts = abs_us - self._origin(abs_us)
        if self._last_pts is not None and pts <= self._last_pts:
            logger.debug("non-increasing encoder timestamp %d after %d; nudged", pts, self._last_pts)
            pts = self._last_pts + 1
        self._last_pts = pts
        return EncodedPacket(data=data, pts=pts, dts=pts, time_base=TIME_BASE, keyframe=keyframe, t=pts / 1_000_000)


def luma_from_yuv420(buffer: np.ndarray, width: int, height: int, stride: int) -> np.ndarray:
    """The Y plane of a YUV420 buffer whose rows are ``stride`` bytes, as a (height, width) array."""
    flat = np.asarray(buffer, dtype=np.uint8).reshape(-1)
    need = stride * height
    if stride < width or flat.size < need:
        raise SourceError(f"lores buffer of {flat.size} bytes does not hold {width}x{height} at stride {stride}")
    return np.array(flat[:need].reshape(height, stride)[:, :width], dtype=np.uint8, order="C", copy=True)


class Picamera2Source:
    """A Raspberry Pi camera through picamera2, H.264 from the hardware encoder.

    ``stall_timeout_s``: frames() raises :class:`SourceError` when the camera delivers no frame
    for this long (a loose ribbon cable, a crashed ISP), so a supervisor can restart the watcher.
    ``packet_queue_size``: encoded frames buffered between the encoder thread and frames()
    (default: four seconds or four GOPs, whichever is more).
    """

    def __init__(
        self,
        *,
        width: int = 1280,
        height: int = 720,
        fps: float = 30.0,
        bitrate: int = 4_000_000,
        gop_frames: int = 30,
        lores_width: int = 320,
        lores_height: int | None = None,
        camera_num: int = 0,
        stall_timeout_s: float = 5.0,
        close_timeout_s: float = 10.0,
        packet_queue_size: int | None = None,
    ) -> None:
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError(f"width and height must be positive and even, got {width}x{height}")
        if lores_height is None:
            lores_height = max(2, round(lores_width * height / width / 2) * 2)
        if lores_width <= 0 or lores_height <= 0 or lores_width % 2 or lores_height % 2:
            raise ValueError(f"lores size must be positive and even, got {lores_width}x{lores_height}")
        if lores_width > width or lores_height > height:
            raise ValueError(f"lores {lores_width}x{lores_height} may not exceed main {width}x{height}")
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if bitrate <= 0 or gop_frames < 1:
            raise ValueError(f"bitrate and gop_frames must be positive, got {bitrate}, {gop_frames}")
        if stall_timeout_s <= 0 or close_timeout_s <= 0:
            raise ValueError(f"stall and close timeouts must be positive, got {stall_timeout_s}, {close_timeout_s}")
        self._size = (width, height)
        self._lores_size = (lores_width, lores_height)
        self._fps = float(fps)
        self._bitrate = int(bitrate)
        self._gop = int(gop_frames)
        self._camera_num = camera_num
        self._stall_timeout_s = stall_timeout_s
        self._close_timeout_s = close_timeout_s
        self._queue_size = packet_queue_size or max(4 * self._gop, int(4 * self._fps))

        self._lock = threading.RLock()  # see "Which thread touches what" above
        self._closed = threading.Event()
        self._picam2: Any = None
        self._encoder: Any = None
        self._sink: _PacketSink | None = None
        self._timeline: _Timeline | None = None
        self._lores_geometry: tuple[int, int, int] | None = None  # width, height, stride
        self._info: SourceInfo | None = None
        self._keyframes: KeyframeRequester | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def open(self) -> SourceInfo:
        with self._lock:
            if self._closed.is_set():
                raise SourceError("Picamera2Source was closed; make a new one")
            if self._picam2 is not None:
                raise SourceError("Picamera2Source is already open")
            try:
                api = import_picamera2()
            except Picamera2Unavailable as exc:
                raise SourceError(str(exc)) from exc

            try:
                picam2 = api.Picamera2(camera_num=self._camera_num)
            except Exception as exc:  # IndexError when no camera is attached, RuntimeError when busy
                raise SourceError(
                    f"camera {self._camera_num} not found or not usable ({type(exc).__name__}: {exc}); "
                    "check the ribbon cable, `rpicam-hello --list-cameras`, and that no other process "
                    "holds the camera (`motion-watcher doctor` checks all of it)"
                ) from exc

            encoder = None
            try:
                config = picam2.create_video_configuration(
                    main={"size": self._size, "format": "YUV420"},  # what the V4L2 encoder takes natively
                    lores={"size": self._lores_size, "format": "YUV420"},  # must be YUV on Pi 4 and older
                    controls={"FrameRate": self._fps},  # picamera2 turns this into FrameDurationLimits
                )
                picam2.configure(config)
                main_cfg = picam2.stream_configuration("main")
                lores_cfg = picam2.stream_configuration("lores")
                lores_w, lores_h = (int(v) for v in lores_cfg["size"])
                if (lores_w, lores_h) != self._lores_size:
                    logger.info("lores stream adjusted by libcamera to %dx%d", lores_w, lores_h)
                self._lores_geometry = (lores_w, lores_h, int(lores_cfg["stride"]))

                # repeat=True: SPS/PPS precede every keyframe, so any clip cut at a keyframe decodes.
                encoder = api.H264Encoder(bitrate=self._bitrate, repeat=True, iperiod=self._gop)
                sink = _make_output(api.Output, self._queue_size)
                # Encoder first, then the camera, so the very first sensor frame is encoded (an IDR).
                picam2.start_encoder(encoder, sink)
                keyframes = KeyframeRequester(encoder, self._gop)  # before the first frame is encoded
                picam2.start()
            except Exception as exc:
                self._bounded_shutdown(picam2, encoder)
                raise SourceError(f"could not start camera {self._camera_num}: {type(exc).__name__}: {exc}") from exc

            self._picam2, self._encoder, self._sink, self._keyframes = picam2, encoder, sink, keyframes
            self._timeline = _Timeline(encoder, frame_us=round(1_000_000 / self._fps))
            main_w, main_h = (int(v) for v in main_cfg["size"])
            self._info = SourceInfo(main_w, main_h, self._fps, live=True, encoded=True, codec="h264")
            logger.info(
                "picamera2 %s camera %d open: main %dx%d H.264 (%s) %d bit/s, keyframe every %d frames, lores %dx%d",
                api.version or "(version unknown)", self._camera_num, main_w, main_h, type(encoder).__name__,
                self._bitrate, self._gop, lores_w, lores_h,
            )
            (logger.info if keyframes.on_demand else logger.warning)("%s", keyframes.describe())
            return self._info

    def close(self) -> None:
        """Stop the encoder and the camera and release it. Idempotent; safe from any thread.

        Raises :class:`CameraHung` if picamera2 has not stopped after ``close_timeout_s``.
        """
        self._closed.set()
        with self._lock:  # after this, frames() neither queues a job nor touches a request
            picam2, encoder = self._picam2, self._encoder
            self._picam2 = self._encoder = self._keyframes = None
        if picam2 is None:
            return
        self._bounded_shutdown(picam2, encoder)
        dropped = self._sink.dropped if self._sink is not None else 0
        logger.info("picamera2 camera %d closed (%d encoded packets dropped)", self._camera_num, dropped)

    def _bounded_shutdown(self, picam2: Any, encoder: Any) -> None:
        done = threading.Thread(target=self._shutdown, args=(picam2, encoder), name="picamera2-close", daemon=True)
        done.start()
        done.join(self._close_timeout_s)
        if done.is_alive():
            raise CameraHung(f"camera {self._camera_num} did not stop within {self._close_timeout_s:g} s "
                             "(the camera stack is wedged); exiting so that the service restarts")

    @staticmethod
    def _shutdown(picam2: Any, encoder: Any) -> None:
        # 1. Cancel our pending capture job: Picamera2.stop() would queue its own job behind it and
        #    wait, forever if the camera has stalled.
        # 2. Stop the event loop (stop_preview joins its thread; at once if it died). With the loop
        #    still "running", stop() sends it a job and waits, forever if its thread died (PyAV >= 14
        #    and force_key_frame on the Pi 5); with the loop gone, stop() stops the camera itself.
        #    Picamera2.close() does the same, in the same order.
        # 3. Stop the camera, then the encoder (it flushes what it holds), then release the camera.
        steps: list[tuple[str, Any]] = [("cancel_all_and_flush", getattr(picam2, "cancel_all_and_flush", None)),
                                        ("stop_preview", getattr(picam2, "stop_preview", None)
                                         if getattr(picam2, "started", False) else None),
                                        ("stop", picam2.stop)]
        if encoder is not None and getattr(encoder, "running", False):
            if encoder in getattr(picam2, "encoders", (encoder,)):
                steps.append(("stop_encoder", lambda: picam2.stop_encoder(encoder)))
            else:  # start_encoder() failed after the encoder started: picamera2 doesn't know it
                steps.append(("encoder.stop", encoder.stop))
        steps.append(("close", picam2.close))
        for name, step in steps:
            if step is None:
                continue
            try:
                step()
            except Exception:
                logger.exception("picamera2 %s() failed during shutdown", name)

    # -- frames ------------------------------------------------------------------------------

    def frames(self) -> Iterator[Frame]:
        """Yield a Frame per lores frame read, with the packets encoded since the previous one.

        The camera runs on its own thread, so by the time a lores frame is read the encoder may
        already have returned later frames: those wait for the next Frame, so a Frame never
        carries a packet from after its own time."""
        with self._lock:
            picam2, sink, timeline, geometry = self._picam2, self._sink, self._timeline, self._lores_geometry
        if picam2 is None:
            if self._closed.is_set():
                return
            raise SourceError("open() must be called before frames()")
        assert sink is not None and timeline is not None and geometry is not None
        lores_w, lores_h, stride = geometry
        early: list[EncodedPacket] = []
        while True:
            captured = self._capture_lores(picam2)
            if captured is None:
                return
            buffer, metadata = captured
            sensor_ns = metadata.get("SensorTimestamp")
            if sensor_ns is None:
                raise SourceError("camera frame without SensorTimestamp metadata")
            luma = luma_from_yuv420(buffer, lores_w, lores_h, stride)
            t = timeline.frame_t(int(sensor_ns))
            early += [timeline.packet(*item) for item in sink.drain()]
            cut = next((i for i, p in enumerate(early) if p.t > t), len(early))
            packets, early = early[:cut], early[cut:]
            yield Frame(t=t, luma=luma, image=None, packets=packets)

    def _capture_lores(self, picam2: Any) -> tuple[np.ndarray, dict[str, Any]] | None:
        """The next request's lores buffer and metadata, or None once close() was called."""
        with self._lock:
            if self._closed.is_set():
                return None
            job = picam2.capture_request(wait=False)
        deadline = time.monotonic() + self._stall_timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SourceError(f"camera {self._camera_num} delivered no frame for {self._stall_timeout_s:g} s")
            try:
                request = picam2.wait(job, timeout=min(remaining, _POLL_S))
                break
            except FutureTimeoutError:
                if self._closed.is_set():
                    return None
            except Exception as exc:  # CancelledError from close()'s cancel_all_and_flush()
                if self._closed.is_set():
                    return None
                raise SourceError(f"camera {self._camera_num} capture failed: {type(exc).__name__}: {exc}") from exc
        with self._lock:
            try:
                if self._closed.is_set():
                    return None
                return request.make_buffer("lores"), request.get_metadata()
            finally:
                try:
                    request.release()  # hand the buffers back to the camera at once
                except Exception:
                    logger.debug("releasing a request after close failed", exc_info=True)

    # -- extras ------------------------------------------------------------------------------

    def request_keyframe(self) -> None:
        """Ask the encoder for one keyframe as soon as possible. Call once per need: the V4L2
        encoder makes one keyframe per call. Where picamera2 cannot be asked (releases before
        0.3.32 on a Pi 4), the next keyframe comes with the GOP (``gop_frames``)."""
        keyframes = self._keyframes
        if keyframes is not None:
            keyframes.request()

    @property
    def keyframes_on_demand(self) -> bool:
        """Whether request_keyframe() can work (False before open())."""
        return self._keyframes is not None and self._keyframes.on_demand

    @property
    def info(self) -> SourceInfo | None:
        return self._info

    @property
    def dropped_packets(self) -> int:
        """Encoded frames dropped because frames() fell behind (including those skipped to resync)."""
        return self._sink.dropped if self._sink is not None else 0
