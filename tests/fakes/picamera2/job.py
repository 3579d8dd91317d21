"""Fake of picamera2/job.py."""

from concurrent.futures import CancelledError, Future


# Real: picamera2/job.py, class Job: a Future that the camera event loop completes by running
# its functions (one per trip round the loop); get_result() blocks; cancel() (used by
# Picamera2.cancel_all_and_flush) makes get_result raise CancelledError.
class Job:
    # Real: Job.__init__(self, functions, signal_function=None). Here ``kind`` is "capture" (needs
    # a completed request) or "stop" (runs without one, as Picamera2.stop_ does).
    def __init__(self, kind="capture", signal_function=None):
        self.kind = kind
        self._future = Future()
        self._future.set_running_or_notify_cancel()
        self._signal_function = signal_function

    def _finish(self, result):
        if self._future.done():
            return
        self._future.set_result(result)
        if self._signal_function:
            self._signal_function(self)

    # Real: Job.get_result(self, timeout=None) -> self._future.result(timeout=timeout)
    def get_result(self, timeout=None):
        return self._future.result(timeout=timeout)

    # Real: Job.cancel(self) -> self._future.set_exception(CancelledError)
    def cancel(self):
        if not self._future.done():
            self._future.set_exception(CancelledError())

    def done(self):
        return self._future.done()
