"""Fake of picamera2/picamera2.py (class Picamera2), for the calls this project makes.

As in the real class, ``start()`` starts an event-loop thread (the real one is NullPreview's
``thread_func``) that runs whether or not anyone asks for frames: each trip round the loop the
camera completes a request (a new frame), ``process_requests`` runs the job at the head of the
queue (``capture_request`` jobs take that request; a ``stop`` job runs without one), then hands
the request to every running encoder, all on that thread. The loop also wakes at once when an
``immediate`` job is dispatched to an empty queue (``dispatch_functions``). When the camera
stalls (``_fake.settings.stall_after_frames``) no more requests complete and a capture job at the
head of the queue stays pending; when the thread dies (``loop_dies_at_frame``) nothing runs any
more, and ``stop()`` then waits forever, as the real one does.

``Picamera2`` is built per release (``_fake.settings.release``): ``wait`` takes a timeout from
0.3.17 on and ``cancel_all_and_flush`` exists from 0.3.20 on.
"""

import threading

from . import _fake
from .encoders.encoder import Encoder
from .job import Job
from .request import CompletedRequest


# Real: picamera2/picamera2.py, class Picamera2 (the parts every release since 0.3.12 has).
class _Picamera2Base:
    # Real: Picamera2.global_camera_info() (a staticmethod; raspberrypi/picamera2, picamera2/picamera2.py,
    # v0.3.36): one dict per attached camera with those of "Model", "Location", "Rotation" the camera
    # reports, plus "Id" and "Num" (libcamera's index); sorted by ("/usb" not in Id, Id), reversed,
    # so USB cameras come last. It acquires no camera. An empty list when none is attached.
    @staticmethod
    def global_camera_info():
        cameras = [{"Model": "imx708", "Id": f"/base/fake/imx708@{i}", "Num": i}
                   for i in range(_fake.settings.num_cameras)]
        return sorted(cameras, key=lambda cam: ("/usb" not in cam["Id"], cam["Id"]), reverse=True)

    # Real: Picamera2.__init__(self, camera_num=0, verbose_console=None, tuning=None, allocator=None).
    # It does camera_num = self.global_camera_info()[camera_num]['Num'] (IndexError when no camera
    # is attached) and raises RuntimeError("Camera __init__ sequence did not complete.") on failure.
    def __init__(self, camera_num=0, verbose_console=None, tuning=None, allocator=None):
        settings = _fake.settings
        if settings.open_error is not None:
            raise settings.open_error
        self.camera_idx = self.global_camera_info()[camera_num]["Num"]
        self.is_open = True
        self.started = False
        self.camera_config = None
        self.lock = threading.Lock()  # real: protects _job_list
        self._job_list = []
        self._encoders = set()
        self._outstanding = set()  # requests not yet fully released (fake bookkeeping)
        self._loop = None  # the event-loop thread (real: self._preview.thread)
        self._abort = threading.Event()  # real: NullPreview._abort
        self._prod = threading.Event()  # real: the notifyme eventfd the loop selects on
        self.frame_count = 0
        self.loop_error = None
        self.video_encoders_seen = []
        self.video_configuration_calls = []  # kwargs of every create_video_configuration call
        self.calls = []  # names of lifecycle calls, in order
        _fake.cameras.append(self)

    # Real: Picamera2.create_video_configuration(self, main={}, lores=None, raw={},
    #   transform=libcamera.Transform(), colour_space=None, buffer_count=6, controls={},
    #   display="main", encode="main", queue=True, sensor={}, use_case="video") -> dict.
    # Stream dicts accept only "format", "size", "stride", "preserve_ar" (ValueError otherwise);
    # main defaults to XBGR8888 1280x720, lores to YUV420 at the main size; the controls are
    # {"NoiseReductionMode": ..., "FrameDurationLimits": (33333, 33333)} | controls.
    def create_video_configuration(self, main={}, lores=None, raw={}, transform=None, colour_space=None,
                                   buffer_count=6, controls={}, display="main", encode="main", queue=True,
                                   sensor={}, use_case="video"):
        self.video_configuration_calls.append(dict(main=main, lores=lores, raw=raw, controls=controls,
                                                   buffer_count=buffer_count, display=display, encode=encode,
                                                   queue=queue))
        main = _stream_config({"format": "XBGR8888", "size": (1280, 720), "preserve_ar": True}, main)
        lores = _stream_config({"format": "YUV420", "size": main["size"], "preserve_ar": False}, lores)
        return {"use_case": use_case, "transform": transform, "colour_space": colour_space,
                "buffer_count": buffer_count, "queue": queue, "main": main, "lores": lores, "raw": raw,
                "controls": {"NoiseReductionMode": 1, "FrameDurationLimits": (33333, 33333)} | dict(controls),
                "sensor": sensor, "display": display, "encode": encode}

    # Real: Picamera2.configure(self, camera_config=None); RuntimeError("Camera must be stopped
    # before configuring") when started; check_camera_config raises RuntimeError("lores stream
    # dimensions may not exceed main stream") and for odd sizes; afterwards each stream dict has
    # "stride" and "framesize" filled in from libcamera.
    def configure(self, camera_config=None):
        self.calls.append("configure")
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        config = {k: (dict(v) if isinstance(v, dict) else v) for k, v in camera_config.items()}
        main, lores = config["main"], config["lores"]
        for stream in (main, lores):
            if stream is None:
                continue
            w, h = stream["size"]
            if w % 2 or h % 2:
                raise RuntimeError("width and height should be even")
            if stream["format"] == "YUV420":
                stride = _fake.align(w, _fake.settings.stride_align)
                stream["stride"], stream["framesize"] = stride, stride * h * 3 // 2
            else:
                stream["stride"], stream["framesize"] = w * 4, w * 4 * h
        if lores is not None and (lores["size"][0] > main["size"][0] or lores["size"][1] > main["size"][1]):
            raise RuntimeError("lores stream dimensions may not exceed main stream")
        # Real: Controls maps the virtual "FrameRate" onto FrameDurationLimits (µs).
        controls = dict(config["controls"])
        if "FrameRate" in controls:
            rate = controls.pop("FrameRate")
            controls["FrameDurationLimits"] = (int(1_000_000 / rate), int(1_000_000 / rate))
        config["applied_controls"] = controls  # fake-only key: what libcamera would be sent
        self.camera_config = config

    # Real: Picamera2.stream_configuration(self, name="main") -> self.camera_config[name]
    def stream_configuration(self, name="main"):
        return self.camera_config[name]

    # Real: Picamera2.camera_configuration(self) -> self.camera_config
    def camera_configuration(self):
        return self.camera_config

    # Real: Picamera2.start(self, config=None, show_preview=False); with show_preview=False it
    # starts the NullPreview event-loop thread (once), then the camera.
    def start(self, config=None, show_preview=False):
        self.calls.append("start")
        if config is not None:
            self.configure(config)
        if self.camera_config is None:
            raise RuntimeError("Camera has not been configured")
        self.started = True
        if self._loop is None:
            self._loop = threading.Thread(target=self._thread_func, name="picamera2-fake-loop", daemon=True)
            self._loop.start()

    # Real: Picamera2.start_encoder(self, encoder=None, output=None, pts=None, quality=None, name=None):
    # sets encoder.output, name (default: the config's "encode" stream), width, height, format and
    # stride from that stream's configuration, then encoder.start(quality=quality).
    def start_encoder(self, encoder=None, output=None, pts=None, quality=None, name=None):
        self.calls.append("start_encoder")
        if encoder is None:
            raise RuntimeError("No encoder specified")
        if output is not None:
            encoder.output = output
        if name is None:
            name = self.camera_config["encode"]
        stream = self.camera_config.get(name)
        if stream is None:
            raise RuntimeError(f"Encode stream {name} was not defined")
        encoder.name = name
        encoder.width, encoder.height = stream["size"]
        encoder.format = stream["format"]
        encoder.stride = stream["stride"]
        encoder.start(quality=quality)
        with self.lock:
            self._encoders.add(encoder)
        self.video_encoders_seen.append(encoder)  # fake-only record: still there after stop_encoder

    # Real: Picamera2.stop_encoder(self, encoders=None): stops the given encoder(s) (all if None).
    def stop_encoder(self, encoders=None):
        self.calls.append("stop_encoder")
        if encoders is None:
            remove = list(self._encoders)
        elif isinstance(encoders, Encoder):
            remove = [encoders]
        else:
            remove = list(encoders)
        for encoder in remove:
            encoder.stop()
        with self.lock:
            for encoder in remove:
                self._encoders.discard(encoder)

    # Real: Picamera2.encoders (property) -> the set of running encoders.
    @property
    def encoders(self):
        return self._encoders

    # Real: Picamera2.dispatch_functions(self, functions, wait, signal_function=None, immediate=False):
    # appends a Job; prods the loop at once if it is the only job and `immediate`; wait=None means
    # wait unless a signal_function is given, False returns the Job, True waits forever, a number
    # waits that long (TimeoutError, and the job STAYS queued).
    def _dispatch(self, kind, wait, signal_function=None, immediate=False):
        if wait is None:
            wait = signal_function is None
        job = Job(kind, signal_function)
        with self.lock:
            only_job = not self._job_list
            self._job_list.append(job)
        if only_job and immediate:
            self._prod.set()
        if wait is False:
            return job
        return job.get_result(timeout=None if wait is True else wait)

    # Real: Picamera2.capture_request(self, wait=None, signal_function=None, flush=None): a job that
    # the loop completes with the next request; the caller must release() it.
    def capture_request(self, wait=None, signal_function=None, flush=None):
        return self._dispatch("capture", wait, signal_function)

    # Real: Picamera2.stop(self). With the event loop running it does
    # dispatch_functions([self.stop_], wait=True, immediate=True): the stop job queues behind any
    # pending job and waits for the loop to run it: forever if the loop thread has died, or if a
    # capture job ahead of it waits for a frame from a stalled camera.
    def stop(self):
        self.calls.append("stop")
        if not self.started:
            return
        if self._loop is not None:
            self._dispatch("stop", True, immediate=True)
        else:
            self._stop_camera()

    # Real: Picamera2.stop_preview(self): RuntimeError("No preview specified.") without one; else
    # NullPreview.stop() sets its abort flag and joins the loop thread (at once if it died), and
    # detach_preview() clears _event_loop_running, so that stop() then stops the camera directly.
    def stop_preview(self):
        self.calls.append("stop_preview")
        if self._loop is None:
            raise RuntimeError("No preview specified.")
        self._stop_loop()

    # Real: Picamera2.close(self): stop_preview() if there is a preview, then stop(), then releases
    # the camera.
    def close(self):
        self.calls.append("close")
        self._stop_loop()
        if not self.is_open:
            return
        self.stop()
        self.is_open = False

    # Real: Picamera2.stop_(self): camera.stop(), then releases the requests it still holds.
    def _stop_camera(self):
        if _fake.settings.stop_hangs:
            _fake.released.wait()
        self.started = False

    # -- fake event loop -------------------------------------------------------------------

    def _stop_loop(self):
        loop, self._loop = self._loop, None
        if loop is not None:
            self._abort.set()
            self._prod.set()
            loop.join()

    def _fake_shutdown(self):
        self._stop_loop()
        with self.lock:
            jobs, self._job_list = self._job_list, []
        for job in jobs:
            job.cancel()

    def _thread_func(self):
        # Real: NullPreview.thread_func selects on the notify fd with a 0.2 s timeout;
        # NullPreview.handle_request logs an exception from process_requests and re-raises it,
        # which ends the thread.
        settings = _fake.settings
        while not self._abort.is_set():
            self._prod.wait(settings.frame_interval_s)
            self._prod.clear()
            if self._abort.is_set():
                return
            try:
                self._process_requests()
            except BaseException as exc:  # the real thread dies with a traceback
                self.loop_error = exc
                _fake.loop_died.set()
                return

    def _process_requests(self):
        # Real: Picamera2.process_requests: take the completed requests, run the job at the head of
        # the queue (one per trip), then encoder.encode(name, request) for every running encoder,
        # then drop the loop's own reference to the request.
        settings = _fake.settings
        request = None
        if self.started:
            if settings.stall_after_frames is not None and self.frame_count >= settings.stall_after_frames:
                _fake.stalled.set()
            else:
                request = self._make_request(self.frame_count)
                self.frame_count += 1
        with self.lock:
            job = self._job_list[0] if self._job_list else None
            if job is not None and (job.kind == "stop" or request is not None):
                self._job_list.pop(0)
            else:
                job = None
        if job is not None and job.kind == "stop":
            self._stop_camera()
            job._finish((True, None))
        elif job is not None:
            request.acquire()  # the job's reference, handed to the caller
            job._finish(request)
        if request is None:
            return
        n = self.frame_count - 1
        if settings.loop_dies_at_frame is not None and n >= settings.loop_dies_at_frame:
            request.release()
            raise settings.loop_error
        for encoder in list(self._encoders):
            if encoder.name in self.camera_config:
                encoder.encode(encoder.name, request)
        request.release()

    def _make_request(self, n):
        config = self.camera_config
        duration_us = config["applied_controls"]["FrameDurationLimits"][0]
        buffers = {}
        for name in ("main", "lores"):
            stream = config.get(name)
            if stream is not None:
                w, h = stream["size"]
                buffers[name] = _fake.render_yuv420(n, w, h, stream["stride"])
        metadata = {"SensorTimestamp": _fake.settings.sensor_epoch_ns + n * duration_us * 1000,
                    "FrameDuration": duration_us, "ExposureTime": duration_us // 2}
        return CompletedRequest(self, buffers, metadata)


# Real: Picamera2.wait(self, job, timeout=None) -> job.get_result(timeout=timeout), from 0.3.17.
def _wait_with_timeout(self, job, timeout=None):
    return job.get_result(timeout=timeout)


# Real, before 0.3.17: Picamera2.wait(self, job) -> job.get_result().
def _wait_without_timeout(self, job):
    return job.get_result()


# Real: Picamera2.cancel_all_and_flush(self), from 0.3.20: cancels every queued job, empties the list.
def _cancel_all_and_flush(self):
    self.calls.append("cancel_all_and_flush")
    with self.lock:
        for job in self._job_list:
            job.cancel()
        self._job_list = []


_classes = {}


def picamera2_class(release):
    """The Picamera2 class as picamera2 ``release`` (a version tuple) has it."""
    if release not in _classes:
        members = {"wait": _wait_with_timeout if release >= (0, 3, 17) else _wait_without_timeout,
                   "__module__": "picamera2.picamera2"}
        if release >= (0, 3, 20):
            members["cancel_all_and_flush"] = _cancel_all_and_flush
        _classes[release] = type("Picamera2", (_Picamera2Base,), members)
    return _classes[release]


def __getattr__(name):
    if name == "Picamera2":
        return picamera2_class(_fake.settings.release)
    raise AttributeError(name)


def _stream_config(defaults, updates):
    # Real: Picamera2._make_initial_stream_config(stream_config, updates, ignore_list=[]).
    if updates is None:
        return None
    valid = ("format", "size", "stride", "preserve_ar")
    for key, value in updates.items():
        if key not in valid:
            raise ValueError(f"Bad key {key!r}: valid stream configuration keys are {valid}")
        defaults[key] = value
    return defaults
