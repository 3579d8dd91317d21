# Two commands do all the set-up on a fresh machine (Debian 12, Python 3.11 and make):
#   make demo   create .venv, install, run the watcher on the built-in synthetic scene (20 s of scene time),
#               then pull its clips with the inspector over a throwaway loopback sshd
#   make test   everything CI runs, one step after the other: sysdeps, lint, test-fast, test-pi-stack, test-realcam
# and each step alone (they assume the packages are there: `make sysdeps` first on a bare machine):
#   make sysdeps        the Debian packages the tests need (tests/sysdeps.sh): as root, installs what is missing;
#                       otherwise prints the command to run as root and stops
#   make lint           ruff and mypy
#   make test-fast      create .venv, install, run the main test suite (what `make test` was before)
#   make test-pi-stack  the watcher's tests on the Pi's own Python stack (Debian 12 / Raspberry Pi OS Bookworm);
#                       needs Debian's python3-numpy python3-opencv python3-av python3-venv (apt)
#   make test-realcam   build libcamera's virtual camera once, install the real picamera2, run tests/realcam
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DEMO_DIR ?= demo-data
# The Pi's stack: the system's Python and its apt packages, never a wheel from PyPI.
PI_PYTHON ?= /usr/bin/python3
PI_VENV   ?= .venv-pi
PI_PY     := $(PI_VENV)/bin/python
PIP_FLAGS := --quiet --disable-pip-version-check
# libcamera with its virtual camera is built here once (outside the tree; reused while its inputs match)
LIBCAMERA_PREFIX ?= /var/cache/motion-watcher/libcamera-0.7.2
export LIBCAMERA_PREFIX

.PHONY: demo test test-fast sysdeps lint test-pi-stack venv venv-pi bench clean footage realcam test-realcam

$(VENV)/.installed: requirements.txt requirements-watcher.txt requirements-watcher-pypi.txt requirements-inspector.txt requirements-test.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) --upgrade pip
	$(PY) -m pip install $(PIP_FLAGS) -r requirements.txt
	$(PY) -m pip install $(PIP_FLAGS) --no-deps -e .
	touch $@

venv: $(VENV)/.installed

# As on a Pi: a venv over the system's site-packages, the project without its dependencies, then what
# deploy/pi/install.sh also takes from PyPI (requirements-watcher-pypi.txt) and the pure-Python test tools.
# tests.stack fails if numpy, cv2 or av do not come from Debian. (--no-warn-conflicts: pip would call the
# apt packages, which it cannot see as wheels, "not installed".)
$(PI_VENV)/.installed: requirements-test.txt requirements-watcher-pypi.txt pyproject.toml
	$(PI_PYTHON) -m tests.stack --system
	$(PI_PYTHON) -m venv --system-site-packages $(PI_VENV)
	$(PI_PY) -m pip install $(PIP_FLAGS) --no-deps -e .
	$(PI_PY) -m pip install $(PIP_FLAGS) --no-warn-conflicts -r requirements-watcher-pypi.txt
	$(PI_PY) -m pip install $(PIP_FLAGS) -r requirements-test.txt
	touch $@

venv-pi: $(PI_VENV)/.installed

demo: venv
	rm -rf $(DEMO_DIR)
	$(PY) -m watcher --source synthetic --duration 20 --data-dir $(DEMO_DIR)
	@echo "Watcher health: $(DEMO_DIR)/status.json. Now the inspector pulls the finished clips:"
	$(PY) -m tests.demo $(DEMO_DIR)

footage: venv
	$(PY) -m tests.footage

# One step after the other (sub-makes, so that `make -j` cannot start a suite before the packages are in).
test: sysdeps
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory test-fast
	$(MAKE) --no-print-directory test-pi-stack
	$(MAKE) --no-print-directory test-realcam

sysdeps:
	tests/sysdeps.sh

test-fast: venv footage
	$(PY) -m pytest -q

# ruff (the code and its tests) and mypy (watcher/, inspector/, shared/), set in pyproject.toml; seconds. The tools go
# into .venv only (requirements-lint.txt), not into the Pi-stack venv.
$(VENV)/.lint-installed: requirements-lint.txt $(VENV)/.installed
	$(PY) -m pip install $(PIP_FLAGS) -r requirements-lint.txt
	touch $@

.PHONY: lint
lint: $(VENV)/.lint-installed
	$(PY) -m ruff check watcher inspector shared tests
	$(PY) -m mypy

# The watcher's tests (every test but the inspector's, listed in tests/conftest.py) on the Pi's stack.
test-pi-stack: venv-pi
	$(PI_PY) -m tests.stack --system
	$(PI_PY) -m tests.footage
	$(PI_PY) -m pytest -q --watcher-only

# The real picamera2 (PyPI, pinned) on libcamera's virtual camera: as root, apt-installs the build
# dependencies; builds libcamera (~2.5 min on 2 cores; a no-op when already built) for the venv's Python.
realcam: venv
	PYTHON=$(abspath $(PY)) tests/realcam/build_libcamera.sh
	$(PY) -m pip install --quiet -r tests/realcam/requirements.txt

# Not part of `make test-fast`: tests/realcam needs the build above (pyproject's norecursedirs keeps it out).
test-realcam: realcam footage
	$(PY) -m pytest -q tests/realcam

bench: venv footage
	$(PY) -m tests.bench detector

clean:
	rm -rf $(VENV) $(PI_VENV) $(DEMO_DIR) .pytest_cache
