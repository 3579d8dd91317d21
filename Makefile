# Two commands do all the set-up on a fresh machine:
#   make demo   create .venv, install, run the watcher on the built-in synthetic scene (20 s of scene time),
#               then pull its clips with the inspector over a throwaway loopback sshd
#   make test   create .venv, install, run the whole test suite
# and one for CI's real-camera step (see tests/realcam/):
#   make test-realcam   build libcamera's virtual camera once, install the real picamera2, run tests/realcam
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DEMO_DIR ?= demo-data
# libcamera with its virtual camera is built here once (outside the tree; reused while its inputs match)
LIBCAMERA_PREFIX ?= /var/cache/motion-watcher/libcamera-0.7.2
export LIBCAMERA_PREFIX

.PHONY: demo test venv bench clean footage realcam test-realcam

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

venv: $(VENV)/.installed

demo: venv
	rm -rf $(DEMO_DIR)
	$(PY) -m watcher --source synthetic --duration 20 --data-dir $(DEMO_DIR)
	@echo "Watcher health: $(DEMO_DIR)/status.json. Now the inspector pulls the finished clips:"
	$(PY) -m inspector.demo $(DEMO_DIR)

footage: venv
	$(PY) -m tests.footage

test: venv footage
	$(PY) -m pytest -q

# The real picamera2 (PyPI, pinned) on libcamera's virtual camera: as root, apt-installs the build
# dependencies; builds libcamera (~2.5 min on 2 cores; a no-op when already built) for the venv's Python.
realcam: venv
	PYTHON=$(abspath $(PY)) tests/realcam/build_libcamera.sh
	$(PY) -m pip install --quiet -r tests/realcam/requirements.txt

# Not part of `make test`: tests/realcam needs the build above (pyproject's norecursedirs keeps it out).
test-realcam: realcam footage
	$(PY) -m pytest -q tests/realcam

bench: venv footage
	$(PY) -m tests.bench detector

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
