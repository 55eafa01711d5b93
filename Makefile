# Two commands: `make run` and `make test`. Each does all the set-up it needs.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test setup system-deps postgres db clean bench lint constraints reset-admin-password

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[yolo,dev,ray]'
	touch $(STAMP)

setup: $(STAMP)

db: $(STAMP)
	$(BIN)/thermalstream db upgrade

run: db
	$(BIN)/thermalstream serve

# Forgot the admin's password (or lost the first-start one): prints a new one-time password.
reset-admin-password: db
	$(BIN)/thermalstream users reset-password admin --generate

system-deps:
	bash scripts/system-deps.sh

postgres:
	bash scripts/postgres.sh start

test: $(STAMP) system-deps postgres
	bash scripts/test.sh

bench: $(STAMP)
	$(BIN)/python bench/sim.py
	$(BIN)/python bench/live.py

# After changing a dependency in pyproject.toml: install it, then record the exact set again.
constraints: $(STAMP)
	{ sed -n '1,2p' constraints.txt; $(BIN)/pip freeze | grep -vE '^#|^-e |^thermalstream' | sort -f; } > constraints.tmp
	mv constraints.tmp constraints.txt
	$(BIN)/python scripts/sync_environment.py

clean:
	rm -rf $(VENV) data/runtime .pytest_cache
