# Two commands do all the set-up on a fresh machine:
#   make demo   create .venv, install, run the watcher on the built-in synthetic scene (20 s of scene time),
#               then pull its clips with the inspector over a throwaway loopback sshd
#   make test   create .venv, install, run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DEMO_DIR ?= demo-data

.PHONY: demo test venv bench clean footage

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

bench: venv footage
	$(PY) -m tests.bench detector

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
