"""Fake of picamera2/request.py (CompletedRequest only)."""

import threading
from types import SimpleNamespace

import numpy as np


# Real: picamera2/request.py, class CompletedRequest: wraps a libcamera request; ref-counted,
# the last release() recycles it to the camera (only while the camera is still running).
class CompletedRequest:
    def __init__(self, picam2, buffers, metadata):
        # Real code reads libcamera's request.metadata / request.buffers; the encoder reads
        # request.request.metadata[SensorTimestamp] directly.
        self.request = SimpleNamespace(metadata=dict(metadata), buffers=buffers)
        self.picam2 = picam2
        self.ref_count = 1
        self.lock = threading.Lock()
        self.config = picam2.camera_config
        self.stream_map = {name: name for name in buffers}
        picam2._outstanding.add(self)

    # Real: CompletedRequest.acquire(self); RuntimeError when the count is already 0.
    def acquire(self):
        with self.lock:
            if self.ref_count == 0:
                raise RuntimeError("CompletedRequest: acquiring lock with ref_count 0")
            self.ref_count += 1

    # Real: CompletedRequest.release(self); RuntimeError when the count goes negative.
    def release(self):
        with self.lock:
            self.ref_count -= 1
            if self.ref_count < 0:
                raise RuntimeError("CompletedRequest: lock now has negative ref_count")
            if self.ref_count == 0:
                self.picam2._outstanding.discard(self)
                self.request = None

    # Real: CompletedRequest.make_buffer(self, name): a 1-D uint8 copy of the stream's buffer
    # (rows at the stream's stride); RuntimeError for an undefined stream.
    def make_buffer(self, name):
        if self.request is None:
            raise RuntimeError("fake: request used after its last release()")
        if name not in self.request.buffers:
            raise RuntimeError(f"Stream {name!r} is not defined")
        return np.array(self.request.buffers[name], dtype=np.uint8)

    # Real: CompletedRequest.get_metadata(self): a dict of control names to Python values,
    # including "SensorTimestamp" in nanoseconds.
    def get_metadata(self):
        if self.request is None:
            raise RuntimeError("fake: request used after its last release()")
        return dict(self.request.metadata)
