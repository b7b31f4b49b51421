# The two set-up commands of the README, `make demo` and `make test`. Each installs what it needs into a virtual
# environment and runs from it: the active one when there is one ($VIRTUAL_ENV), else ./.venv, created here.
# Nothing is installed into the machine's own Python (Debian's is "externally managed" and refuses anyway).
#
#   TORCH=torch==2.13.0     the PyTorch requirement, installed first (any pip requirement: TORCH="torch==2.5.1")
#   TORCH_INDEX_URL=URL     where that PyTorch comes from; https://download.pytorch.org/whl/cpu is PyTorch's
#                           CPU-only build (a plain Linux install from PyPI pulls several GB of CUDA libraries)
#   VENV=DIR                the environment to create and use when none is active (default .venv)

PYTHON ?= python3
TORCH ?= torch==2.13.0
TORCH_INDEX_URL ?=
ifdef VIRTUAL_ENV
VENV ?= $(VIRTUAL_ENV)
else
VENV ?= .venv
endif
BIN := $(VENV)/bin
# Installing again only when pyproject.toml or this Makefile changes: a second `make test` starts the tests at once.
STAMP := $(VENV)/.alexgen-install.stamp

.PHONY: install demo test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml Makefile | $(BIN)/python
	$(BIN)/python -m pip install --quiet "$(TORCH)" $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL))
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@echo "$(TORCH) $(TORCH_INDEX_URL)" > $@

install: $(STAMP)

demo: install
	$(BIN)/alexgen analyze
	$(BIN)/alexgen render --target all --out generated

test: install
	$(BIN)/python -m pytest -q
