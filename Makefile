# The two commands of the README: `make demo` and `make test`. Both set up .venv first, with the tested versions of
# requirements/lock.txt. `make test-latest` runs the same tests in .venv-latest with the newest versions settings.ini
# allows; `make lock` runs it and, when it passes, writes those versions to requirements/lock.txt.
PYTHON ?= python3
VENV := .venv
LATEST := .venv-latest
LOCK := requirements/lock.txt
STAMP := $(VENV)/.installed
export MPLBACKEND := Agg

.PHONY: demo test test-install test-latest lock bench export docs clean

# Reinstall only when the package metadata or the lock changed since the last install (or .venv is missing or half-built).
$(STAMP): settings.ini setup.py pyproject.toml $(LOCK)
	@PYTHON=$(PYTHON) VENV=$(VENV) LOCK=$(LOCK) bash scripts/venv.sh
	@touch $@

demo: $(STAMP)
	$(VENV)/bin/fastaudio-lite demo --out demo_out

# Tests never download: notebooks and pytest run with Hugging Face's offline switch. pytest runs two workers of one
# torch thread each (two of two threads each would fight over the cores and run slower than one worker).
define run-tests
	@echo "== 1/3 nbdev-export leaves the modules unchanged ($(1))"
	@VENV=$(1) bash scripts/check-export.sh
	@echo "== 2/3 nbdev-test: the notebooks"
	$(1)/bin/nbdev-test --n-workers 2
	@echo "== 3/3 pytest: property, parity, bad-input, packaging, browser and end-to-end tests (two workers, a file each)"
	OMP_NUM_THREADS=1 $(1)/bin/python -m pytest tests -n 2 --dist loadfile --durations=12
endef

test: export HF_HUB_OFFLINE := 1
test: $(STAMP)
	@bash scripts/chromium.sh
	$(call run-tests,$(VENV))

# A user's plain install: the wheel with no extras in a new venv imports, trains and predicts, and the torch-free
# predictor predicts the exported ONNX file (about 3 minutes).
test-install: $(STAMP)
	@PYTHON=$(PYTHON) VENV=$(VENV) bash scripts/test-install.sh

test-latest: export HF_HUB_OFFLINE := 1
test-latest:
	@PYTHON=$(PYTHON) VENV=$(LATEST) LOCK= bash scripts/venv.sh
	@bash scripts/chromium.sh
	@$(LATEST)/bin/python -c "import torch, torchvision, fastai, timm, transformers; print('make test-latest:', *(f'{m.__name__} {m.__version__}' for m in (torch, torchvision, fastai, timm, transformers)))"
	$(call run-tests,$(LATEST))

lock: test-latest
	@{ echo "# The exact versions \`make test\` installs, tested together; \`make lock\` rewrites this file after \`make test-latest\` passes."; \
	   $(LATEST)/bin/python -m pip freeze --exclude-editable; } > $(LOCK).tmp && mv $(LOCK).tmp $(LOCK)
	@echo "make lock: wrote $(LOCK)"

bench: $(STAMP)
	$(VENV)/bin/python bench/run_all.py

# The site, offline, from the notebooks as committed (with their outputs) and the source: docs/_build/html
docs: $(STAMP)
	$(VENV)/bin/python scripts/docs.py docs/_build/html

export: $(STAMP)
	$(VENV)/bin/nbdev-export

clean:
	rm -rf $(VENV) $(LATEST) demo_out bench/out .pytest_cache docs/_build docs/_src
