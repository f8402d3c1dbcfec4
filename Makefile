# The two commands of the README: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
export MPLBACKEND := Agg

.PHONY: demo test bench export clean

# Reinstall only when the package metadata changed since the last install (or .venv is missing or half-built).
$(STAMP): settings.ini setup.py pyproject.toml
	@PYTHON=$(PYTHON) bash scripts/venv.sh
	@touch $@

demo: $(STAMP)
	$(VENV)/bin/fastaudio-lite demo --out demo_out

# Tests never download: notebooks and pytest run with Hugging Face's offline switch.
test: export HF_HUB_OFFLINE := 1
test: $(STAMP)
	@echo "== 1/3 nbdev-export leaves the modules unchanged"
	@bash scripts/check-export.sh
	@echo "== 2/3 nbdev-test: the notebooks"
	$(VENV)/bin/nbdev-test --n-workers 2
	@echo "== 3/3 pytest: property, parity, bad-input and end-to-end tests"
	$(VENV)/bin/python -m pytest tests

bench: $(STAMP)
	$(VENV)/bin/python bench/run_all.py

export: $(STAMP)
	$(VENV)/bin/nbdev-export

clean:
	rm -rf $(VENV) demo_out bench/out .pytest_cache
