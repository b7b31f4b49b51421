# The two set-up commands of the README. Both install everything they need.
PYTHON ?= python3
PIP = $(PYTHON) -m pip

.PHONY: install demo test

install:
	# torch first, pinned: a plain `torch` requirement would pull a multi-GB CUDA build.
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e ".[dev]"

demo: install
	alexgen analyze
	alexgen render --target all --out generated

test: install
	$(PYTHON) -m pytest -q
