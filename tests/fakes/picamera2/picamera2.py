"""Fake of picamera2/picamera2.py (class Picamera2), for the calls this project makes.

The real class runs an event loop thread that takes completed requests from libcamera and, in
``process_requests``, first runs the queued jobs (capture_request & co.), then hands each request
to the running encoders. Here there is no loop: ``capture_request`` makes the next frame on the
caller's thread and does the same two steps in the same order. When the camera is set to stall
(``_fake.settings.stall_after_frames``), the job stays pending, as with a real stalled camera.
"""

import threading

from . import _fake
from .encoders import Encoder
from .job import Job
from .request import CompletedRequest


# Real: picamera2/picamera2.py, class Picamera2.
class Picamera2:
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
        infos = [{"Model": "imx708", "Id": f"/base/fake/imx708@{i}", "Num": i} for i in range(settings.num_cameras)]
        self.camera_idx = infos[camera_num]["Num"]
        self.is_open = True
        self.started = False
        self.camera_config = None
        self.lock = threading.Lock()  # real: protects _job_list and completed_requests
        self._job_list = []
        self._encoders = set()
        self._outstanding = set()  # requests not yet fully released (fake bookkeeping)
        self.frame_count = 0
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
        for name, stream in (("main", main), ("lores", lores)):
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
    # starts the NullPreview event loop thread, then the camera.
    def start(self, config=None, show_preview=False):
        self.calls.append("start")
        if config is not None:
            self.configure(config)
        if self.camera_config is None:
            raise RuntimeError("Camera has not been configured")
        self.started = True

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
                self._encoders.remove(encoder)

    # Real: Picamera2.encoders (property) -> the set of running encoders.
    @property
    def encoders(self):
        return self._encoders

    # Real: Picamera2.capture_request(self, wait=None, signal_function=None, flush=None), through
    # dispatch_functions: wait=None means wait unless a signal_function is given, False returns
    # the Job, a number waits that long (TimeoutError, and the job STAYS queued).
    def capture_request(self, wait=None, signal_function=None, flush=None):
        job = Job([], signal_function)
        with self.lock:
            self._job_list.append(job)
        self._process_requests()
        if wait is None:
            wait = signal_function is None
        if wait is False:
            return job
        return job.get_result(timeout=None if wait is True else wait)

    # Real: Picamera2.wait(self, job, timeout=None) -> job.get_result(timeout=timeout)
    def wait(self, job, timeout=None):
        return job.get_result(timeout=timeout)

    # Real: Picamera2.cancel_all_and_flush(self): cancels every queued job and empties the list.
    def cancel_all_and_flush(self):
        self.calls.append("cancel_all_and_flush")
        with self.lock:
            for job in self._job_list:
                job.cancel()
            self._job_list = []

    # Real: Picamera2.stop(self). With the event loop running it does
    # dispatch_functions([self.stop_], wait=True, immediate=True): the stop job queues BEHIND any
    # pending job, so it waits for those first (forever if the camera has stalled). The fake
    # refuses instead of hanging.
    def stop(self):
        self.calls.append("stop")
        if not self.started:
            return
        with self.lock:
            if self._job_list:
                raise AssertionError("fake picamera2: stop() with a capture job pending would block "
                                     "(forever if the camera stalled); cancel_all_and_flush() first")
        self.started = False

    # Real: Picamera2.close(self): stops the preview, stop(), releases the camera; idempotent.
    def close(self):
        self.calls.append("close")
        if not self.is_open:
            return
        self.stop()
        self.is_open = False

    # -- fake event loop -------------------------------------------------------------------

    def _process_requests(self):
        # Real: Picamera2.process_requests: run queued jobs, then encoder.encode(name, request)
        # for every running encoder, then drop the loop's own reference to the request.
        if not self.started:
            return
        settings = _fake.settings
        if settings.stall_after_frames is not None and self.frame_count >= settings.stall_after_frames:
            _fake.stalled.set()
            return
        request = self._make_request(self.frame_count)
        self.frame_count += 1
        request.acquire()  # the completed_requests list's reference, handed to a capture job
        with self.lock:
            while self._job_list:
                job = self._job_list.pop(0)
                job._finish(request)
                break
            else:
                request.release()
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
