"""Stand-ins for libraries that cannot run on a build machine.

Each sub-directory is a top-level package of the same name as the real one: tests put this
directory first on ``sys.path`` (``monkeypatch.syspath_prepend``) and drop the cached modules
afterwards. See ``picamera2/_fake.py`` for the knobs of the fake camera.
"""
