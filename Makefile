# The lab's entry points. `make bench` runs the lab on its defaults; `make test` runs every test.
# Both set up what they need on a fresh Debian/Ubuntu host (as root).
SHELL := /bin/bash
PYTHON ?= /usr/bin/python3
VENV := .venv
BIN := $(VENV)/bin
PLAYBOOK := $(BIN)/ansible-playbook
LAB := $(BIN)/lab
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: bench verify images smoke aa calibrate latency test lint unit molecule perf lock clean-venv bootstrap host browser lab-up lab-tests side-tests fleet-hosts
# What the tests need on the host besides the venv (Debian packages); dockerd started when none answers.
HOST_PACKAGES := make python3-venv python3-pip docker.io debootstrap iproute2 procps chromium

bench: $(VENV)/.installed ## Run the default campaign end to end (provision .. report)
	$(LAB) bench $(ARGS)

verify: $(VENV)/.installed ## Bring every mode up and check equivalence; record no timings
	$(LAB) verify $(ARGS)

images: $(VENV)/.installed ## Wheelhouse -> base image -> service image, each skipped when current
	$(PLAYBOOK) playbooks/provision.yml playbooks/build.yml

smoke: $(VENV)/.installed ## One short round over every mode
	$(LAB) bench --profile smoke $(ARGS)

aa: $(VENV)/.installed ## A/A control: two identical native deployments, the gap must be 0 within its CI
	$(LAB) bench --profile aa $(ARGS)

calibrate: $(VENV)/.installed ## Known-effect controls: native's twin, ~3% of busy work, 3.03% known by count
	$(LAB) bench --profile calibrate $(ARGS)

latency: $(VENV)/.installed ## Latency at a fixed offered load below capacity, every mode at once
	$(LAB) bench --profile latency $(ARGS)

test: host $(VENV)/.installed ## Every test: lint and the fast tests while the lab comes up from nothing, then the lab's tests beside the rest
	$(MAKE) --no-print-directory -j3 --output-sync=target lint unit lab-up
	$(MAKE) --no-print-directory -j2 --output-sync=line lab-tests side-tests

# The tests that drive this machine's lab run one campaign at a time. Beside them, under
# SIDE_LOCK, run those that leave it alone (pytest -m side: Molecule's container, preflight-only
# refusals, the roles' specs), then the fleet's container hosts are provisioned for
# tests/test_multihost.py, all at the lowest CPU priority: the lab's tests are the longer line.
# A lab test that counts concurrent rounds, or needs the fleet, waits for SIDE_LOCK
# (tests/labrun.py); test_faults.py's sequential campaigns run first meanwhile.
SIDE_LOCK := /var/lib/container-cost-lab/side-tests.lock
export SIDE_LOCK

lab-tests: $(VENV)/.installed ## The tests that drive this machine's lab (pytest -m 'not side' on tests/)
	$(BIN)/pytest tests --ignore=tests/unit -m 'not side' --durations=30 $(PYTEST_ARGS)

side-tests: $(VENV)/.installed ## The tests that leave the lab alone, then the fleet's hosts, holding SIDE_LOCK
	@mkdir -p $(dir $(SIDE_LOCK))
	flock $(SIDE_LOCK) nice -n 19 sh -c '$(BIN)/pytest tests --ignore=tests/unit -m side --durations=10 $(PYTEST_ARGS) && $(MAKE) --no-print-directory fleet-hosts'

fleet-hosts: $(VENV)/.installed ## The fleet's container hosts (inventory/fleet.yml) started and provisioned; the target left alone
	$(PLAYBOOK) -i inventory/fleet.yml playbooks/hosts.yml
	$(PLAYBOOK) -i inventory/fleet.yml playbooks/provision.yml playbooks/database.yml --limit 'loadgen:db'

lab-up: $(VENV)/.installed ## The lab brought up from nothing and every mode verified (lab verify)
	$(LAB) verify

host: ## The Debian packages the tests use, and a running Docker engine (as root)
	@missing=$$(for p in $(HOST_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi
	@docker info >/dev/null 2>&1 || { mkdir -p /var/log/container-cost-lab; \
	  nohup dockerd >/var/log/container-cost-lab/dockerd.log 2>&1 & \
	  for _ in $$(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done; docker info >/dev/null; }

browser: ## Chromium for the HTML report's tests
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy service/app service/labdata analysis labcli
	$(BIN)/yamllint --strict .
	$(BIN)/ansible-lint --offline
	$(PLAYBOOK) --syntax-check bench.yml

unit: browser $(VENV)/.installed ## The fast tests only (service against nx-27017, report, the run plugin, the CI method)
	$(BIN)/pytest -n auto service/tests analysis/tests labcli/tests tests/unit

molecule: $(VENV)/.installed
	$(BIN)/molecule test

perf: $(VENV)/.installed ## Report speed and memory on a synthetic campaign of >= 2M NDJSON lines
	$(BIN)/python -m analysis.bench_parse

bootstrap:
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip; }

$(VENV)/.installed: requirements.txt pyproject.toml | bootstrap
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps --editable .  # the `lab` command, on the venv's PATH
	touch $@

lock: ## Re-pin requirements.txt files from the .in files
	rm -rf /tmp/lab-lock && $(PYTHON) -m venv /tmp/lab-lock && /tmp/lab-lock/bin/pip install -q -r service/requirements.in
	{ echo "# Pinned closure of requirements.in (make lock). Feeds the wheelhouse: native venv and image alike."; /tmp/lab-lock/bin/pip freeze; } > service/requirements.txt
	rm -rf /tmp/lab-lock && $(PYTHON) -m venv /tmp/lab-lock && /tmp/lab-lock/bin/pip install -q -r requirements.in
	{ echo "# Pinned closure of requirements.in for the control node and the tests (make lock)."; /tmp/lab-lock/bin/pip freeze; } > requirements.txt

clean-venv:
	rm -rf $(VENV)
