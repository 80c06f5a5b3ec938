# Aftercare: set up, test and run the stack (DESIGN §2). `make` alone lists the targets.
# How the pieces work: deploy/local/README.md and deploy/gateway/README.md.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PY := .venv/bin/python
RUFF := .venv/bin/ruff
BOOTSTRAP := deploy/local/bootstrap.sh
STACK := $(PY) deploy/local/stack.py
# stop/status/clean need no .venv: stack.py is standard library only.
STACK_ANY = $(if $(wildcard $(PY)),$(PY),python3) deploy/local/stack.py

ROLE ?= agent
SUB ?= eng-1
ORG ?=
SERVICE ?=
ONLY ?=
# AFTERCARE_BOOTSTRAP=0 makes `make start` skip the bootstrap (when it is known to be done).
AFTERCARE_BOOTSTRAP ?= 1
ONLY_FLAG = $(if $(ONLY),--only $(ONLY))

.PHONY: help bootstrap up start stop status token bench replay-parked lint format migrate test clean

help: ## list the targets
	@echo "Aftercare. Targets:"
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-z-]+:[^#]*## / {printf "  make %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "Environment: AFTERCARE_PORT_OFFSET, AFTERCARE_VAR_DIR, AFTERCARE_ROLE, AFTERCARE_* (see deploy/local/README.md)"

bootstrap: ## install packages, start PostgreSQL and RabbitMQ, sync .venv, provision and migrate
	@$(BOOTSTRAP)

$(PY):
	@$(BOOTSTRAP) python

up: bootstrap ## everything, then the stack in the foreground with demo data (Ctrl-C stops)
	@$(STACK) up $(ONLY_FLAG)

start: $(if $(filter 0,$(AFTERCARE_BOOTSTRAP)),| $(PY),bootstrap) ## the stack in the background; waits until ready [ONLY=gateway,...]
	@$(STACK) start $(ONLY_FLAG)

stop: ## stop the background stack
	@$(STACK_ANY) stop $(ONLY_FLAG)

status: ## what runs and whether it is ready
	@$(STACK_ANY) status $(ONLY_FLAG)

token: | $(PY) ## print a development token: make token ROLE=agent SUB=eng-1 [ORG=uuid]
	@$(PY) -m shared.auth token --role '$(ROLE)' --sub '$(SUB)' $(if $(ORG),--org '$(ORG)')

# The suites make and migrate databases of their own, so `make test` prepares the machine and
# the Python environment but leaves the development database (`make up`'s) alone.
test: ## lint, then every test suite in its own pytest process
	@$(BOOTSTRAP) infra python
	@$(PY) deploy/local/run_tests.py

lint: | $(PY) ## ruff check and ruff format --check
	$(RUFF) check .
	$(RUFF) format --check .

format: | $(PY) ## ruff format and ruff check --fix
	$(RUFF) format .
	$(RUFF) check --fix .

migrate: | $(PY) ## run every service's migrations
	$(PY) -m shared.migrate

bench: | $(PY) ## the benchmarks (JSON to stdout and bench/results/)
	$(PY) bench/run.py

replay-parked: | $(PY) ## replay parked messages: make replay-parked SERVICE=dispatch
	@if [[ -z '$(SERVICE)' ]]; then echo "usage: make replay-parked SERVICE=intake|dispatch|sla-timer|notify|kb" >&2; exit 2; fi
	$(PY) -m shared.bus replay --service '$(SERVICE)'

clean: ## stop the stack and remove the var dir
	@$(STACK_ANY) clean
