# Two commands on a fresh machine: `make demo` and `make test`. Both set up .venv first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
APT_PACKAGES := libegl1 libegl-mesa0 libgl1-mesa-dri libosmesa6 libusb-1.0-0 libsdformat-dev ignition-tools
PYTEST_ARGS ?=

.PHONY: demo test lint format bench setup clean replay-bag replay-regression replay-update

setup: $(STAMP)

# With ROS 2 sourced (ROS_DISTRO set and its rclpy importable) the venv sees the system's packages and
# the PyPI ROS wheels are skipped; otherwise the Kilted wheels provide rclpy and the messages.
$(STAMP): requirements.txt requirements-ros-wheels.txt requirements-dev.txt setup.py
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then echo "apt: installing" $$missing; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi; \
	else echo "not root: skipping apt packages ($(APT_PACKAGES)); install them if tests need them"; fi
	@if [ -n "$$ROS_DISTRO" ] && python3 -c 'import rclpy' 2>/dev/null; then \
	  echo "ROS 2 $$ROS_DISTRO is sourced: using its rclpy"; \
	  [ -x $(PY) ] || python3 -m venv --system-site-packages $(VENV); \
	  $(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt; \
	else \
	  [ -x $(PY) ] || python3 -m venv $(VENV); \
	  $(PY) -m pip install -q --upgrade pip; \
	  $(PY) -m pip install -q -r requirements-ros-wheels.txt -r requirements.txt -r requirements-dev.txt; \
	fi
	$(PY) -m pip install -q --no-deps -e .
	@touch $(STAMP)

# The main job on the embedded default (the headless simulator).
demo: $(STAMP)
	$(VENV)/bin/rover-autonomy demo

# The whole test suite: unit tests of the cores, integration tests of the nodes over DDS, end to end.
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Speed and accuracy figures (see docs/benchmarks.md); each capability adds its bench/<name>.py.
bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# Replay regression (docs/replay.md). `replay-bag` records a case from a 10 s mission on mars (the goal
# only has to lead through rocks) and stores its reviewed outputs; `replay-regression` is what CI runs.
REPLAY_CASE ?= test/data/replay/mars_short
REPLAY_GOAL ?= 12 0
replay-bag: $(STAMP)
	rm -rf $(REPLAY_CASE)/input && mkdir -p $(REPLAY_CASE)
	$(VENV)/bin/rover-autonomy record $(REPLAY_CASE)/input --clock sim --sim-duration 10 & recorder=$$!; \
	  $(VENV)/bin/rover-autonomy mission --world mars --goal $(REPLAY_GOAL) --timeout 12 \
	    --report $(REPLAY_CASE)/mission; \
	  kill -INT $$recorder 2>/dev/null; wait $$recorder
	$(VENV)/bin/rover-autonomy replay $(REPLAY_CASE)/input --report $(REPLAY_CASE)/replay \
	  --expected $(REPLAY_CASE)/expected --update

replay-update: $(STAMP)
	@for case in test/data/replay/*/; do \
	  $(VENV)/bin/rover-autonomy replay $$case/input --expected $$case/expected --update --report build/replay/$$(basename $$case) \
	    || exit 1; done

replay-regression: $(STAMP)
	@for case in test/data/replay/*/; do \
	  $(VENV)/bin/rover-autonomy replay $$case/input --expected $$case/expected --report build/replay/$$(basename $$case) \
	    || exit 1; done

clean:
	rm -rf $(VENV) build install log .pytest_cache .ruff_cache *.egg-info
