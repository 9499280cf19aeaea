# The two entry points named in README.md: `make demo` and `make test`.
# CI (.ci/run) runs `make demo`, `make lint` (which builds the docs site) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.cpv-installed

.PHONY: install demo test test-rgw lint docs bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev,all]'
	$(PY) -m compileall -q cpv >/dev/null  # bytecode now: each cpv child process starts faster
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	PATH="$(abspath $(VENV))/bin:$$PATH" bash scripts/demo.sh

test: $(STAMP)
	$(PY) -m pytest -q

# The S3 tests again, against a real Ceph RADOS Gateway on loopback (slower; needs root and apt
# on first use). RGW_KEEP=1 leaves the gateway running for the next run.
test-rgw: $(STAMP)
	bash scripts/with-rgw.sh $(PY) -m pytest -q

lint: $(STAMP) docs
	$(VENV)/bin/ruff check cpv tests benchmarks
	$(VENV)/bin/ruff format --check cpv tests benchmarks
	$(VENV)/bin/mypy

# The docs site (mkdocs.yml) into site/; --strict: a broken link or docstring fails the build
# (not --quiet: mkdocs 1.6 then drops the warnings before --strict counts them).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

bench: $(STAMP)
	$(PY) benchmarks/bench_tag_push.py

clean:
	rm -rf $(VENV) site
