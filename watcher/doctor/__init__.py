"""``motion-watcher doctor``: is this machine ready to run the watcher?

One check per concern, each a plain function that returns a :class:`~watcher.doctor.result.CheckResult`
(ok / warn / fail / n/a, a message, a fix hint). Every external probe is a parameter: the command
runner, the paths it looks at, the subprocess that imports numpy/OpenCV/PyAV/picamera2, so the
checks are tested without root, systemd or a Raspberry Pi.

Heavy libraries (numpy, cv2, av, picamera2) are never imported by the doctor itself: they are
imported in child processes with a timeout, so the doctor runs, and says what is wrong, when they
are broken, crash the interpreter or hang.

    stack.py      Python, numpy, OpenCV, PyAV, picamera2: versions, origin, importing together
    camera.py     picamera2 camera / /dev/videoN
    encoding.py   hardware or software H.264, and its cost per frame
    data_dir.py   writable, one filesystem for temp and recorded clips, free space vs the floor
    clock.py      NTP synchronized
    service.py    watcher.service enabled, running, last exit
    cli.py        arguments, config, output (text or JSON), exit status
"""
