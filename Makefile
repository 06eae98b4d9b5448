# Quick start: `make run` distills the bundled demo runs with the embedded model; `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# llama.cpp for the embedded model is built for x86-64 with AVX2, not for this very CPU: a
# -march=native build uses AMX where the CPU reports it, and a VM that does not enable AMX
# kills the process on the first call (docs/demo.md). --no-cache-dir: never a cached native wheel.
LLAMA_CMAKE_ARGS ?= $(if $(filter x86_64,$(shell uname -m)),-DGGML_NATIVE=OFF)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	# The CPU build of torch (for the lesson embedder) first: a bare `torch` requirement pulls a multi-GB CUDA build.
	$(BIN)/python -m pip install -q torch==2.13.0
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install -q --no-cache-dir "llama-cpp-python>=0.3.0"
	$(BIN)/python -m pip install -q -e ".[test,inspect]"
	touch $@

install: $(VENV)/.installed

# 8 of the bundled airline runs (4 failures, then 4 successes) deepen the bundled skill (docs/demo.md).
DEMO := examples/demo --skill examples/skills/airline-support --recipe pipelines/demo.yaml --out out --num-cpus 2

# An interrupted `make run` (Ctrl-C, a closed laptop) continues where it stopped.
run: install
	@if $(BIN)/python -c "import sys; from pathlib import Path; from trace2skill.run.checkpoint import resumable; sys.exit(0 if resumable(Path('out/run')) else 1)"; then \
		echo "resuming the interrupted run in out/run"; \
		$(BIN)/trace2skill distill --resume out/run --num-cpus 2; \
	else \
		$(BIN)/trace2skill distill $(DEMO) --force; \
	fi
	$(BIN)/agentskills validate out/airline-support

test: install
	$(BIN)/python -m pytest -q

clean:
	rm -rf out .pytest_cache
