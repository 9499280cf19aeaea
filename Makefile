# The two entry points named in README.md: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.cpv-installed

.PHONY: install demo test test-rgw lint bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev,all]'
	$(PY) -m compileall -q cpv >/dev/null  # bytecode now: each cpv child process starts faster
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash scripts/demo.sh

test: $(STAMP)
	$(PY) -m pytest -q

# The S3 tests again, against a real Ceph RADOS Gateway on loopback (slower; needs root and apt
# on first use). RGW_KEEP=1 leaves the gateway running for the next run.
test-rgw: $(STAMP)
	bash scripts/with-rgw.sh $(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check cpv tests benchmarks
	$(VENV)/bin/ruff format --check cpv tests benchmarks
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) benchmarks/bench_tag_push.py

clean:
	rm -rf $(VENV) demo-work
