"""Fake of picamera2/outputs/output.py."""


# Real: raspberrypi/picamera2 picamera2/outputs/output.py, class Output.
class Output:
    # Real: Output.__init__(self, pts=None) sets recording, ptsoutput and needs_pacing.
    def __init__(self, pts=None):
        self.recording = False
        self.ptsoutput = pts
        self.needs_pacing = False

    # Real: Output.start(self) / Output.stop(self), called by Encoder.start() / Encoder.stop().
    def start(self):
        self.recording = True

    def stop(self):
        self.recording = False

    # Real: Output.outputframe(self, frame, keyframe=True, timestamp=None, packet=None, audio=False);
    # releases before audio support had outputframe(self, frame, keyframe=True, timestamp=None).
    def outputframe(self, frame, keyframe=True, timestamp=None, packet=None, audio=False):
        pass

    # Real: Output._add_stream(self, encoder_stream, *args, **kwargs), called by H264Encoder._start().
    def _add_stream(self, encoder_stream, *args, **kwargs):
        pass
