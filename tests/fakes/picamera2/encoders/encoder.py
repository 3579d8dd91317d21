"""Fake of picamera2/encoders/encoder.py."""

import threading
from enum import Enum

from .. import _fake
from ..outputs import Output


# Real: picamera2/encoders/encoder.py, class Quality(Enum).
class Quality(Enum):
    VERY_LOW = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    VERY_HIGH = 4


# Real: picamera2/encoders/encoder.py, class Encoder.
class Encoder:
    # Real: Encoder.__init__(self); firsttimestamp starts as None.
    def __init__(self):
        self.width = 0
        self.height = 0
        self.stride = 0
        self.format = None
        self.name = None
        self._output = []
        self._running = False
        self._lock = threading.Lock()
        self.firsttimestamp = None

    # Real: Encoder.running (property).
    @property
    def running(self):
        return self._running

    # Real: Encoder.output (property); the setter raises RuntimeError("Must pass Output") unless
    # given an Output instance or a list of them.
    @property
    def output(self):
        return self._output[0] if len(self._output) == 1 else self._output

    @output.setter
    def output(self, value):
        if isinstance(value, list):
            if not all(isinstance(out, Output) for out in value):
                raise RuntimeError("Must pass Output")
        elif isinstance(value, Output):
            value = [value]
        else:
            raise RuntimeError("Must pass Output")
        self._output = value

    # Real: Encoder.encode(self, stream, request), called by Picamera2.process_requests on the
    # camera thread with the encode stream's name and every completed request.
    def encode(self, stream, request):
        with self._lock:
            self._encode(stream, request)

    def _encode(self, stream, request):
        raise NotImplementedError

    # Real: Encoder.start(self, quality=None); raises RuntimeError("Encoder already running");
    # resets firsttimestamp, starts the outputs, then calls _start().
    def start(self, quality=None):
        with self._lock:
            if self._running:
                raise RuntimeError("Encoder already running")
            self._setup(quality)
            self._running = True
            self.firsttimestamp = None
            for out in self._output:
                out.start()
            self._start()

    def _start(self):
        pass

    # Real: Encoder.stop(self); raises RuntimeError("Encoder already stopped"); calls _stop()
    # (which returns the frames still in the codec), then stops the outputs.
    def stop(self):
        with self._lock:
            if not self._running:
                raise RuntimeError("Encoder already stopped")
            self._running = False
            self._stop()
            for out in self._output:
                out.stop()

    def _stop(self):
        pass

    def _setup(self, quality):
        pass

    # Real: Encoder.outputframe(self, frame, keyframe=True, timestamp=None, packet=None, audio=False)
    # calls out.outputframe(frame, keyframe, timestamp, packet, audio) positionally from 0.3.23;
    # releases before that (no audio support) called out.outputframe(frame, keyframe, timestamp).
    def outputframe(self, frame, keyframe=True, timestamp=None, packet=None, audio=False):
        for out in self._output:
            if not _fake.settings.has((0, 3, 23)):
                out.outputframe(frame, keyframe, timestamp)
            else:
                out.outputframe(frame, keyframe, timestamp, packet, audio)

    # Real: Encoder._timestamp(self, request): SensorTimestamp (ns) -> int(ns / 1000) µs, minus the
    # first encoded frame's value, which is kept in self.firsttimestamp.
    def _timestamp(self, request):
        ts = int(request.request.metadata["SensorTimestamp"] / 1000)
        if self.firsttimestamp is None:
            self.firsttimestamp = ts
            return 0
        return ts - self.firsttimestamp
