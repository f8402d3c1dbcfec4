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

# Tests never download: notebooks and pytest run with Hugging Face's offline switch. scripts/run-tests.sh runs the
# export check, the notebooks and pytest (two workers) with their temporary files in one folder it removes.

test: export HF_HUB_OFFLINE := 1
test: $(STAMP)
	@bash scripts/chromium.sh
	@VENV=$(VENV) bash scripts/run-tests.sh

# A user's plain install: the wheel with no extras in a new venv imports, trains and predicts, and the torch-free
# predictor predicts the exported ONNX file (about 3 minutes).
test-install: $(STAMP)
	@PYTHON=$(PYTHON) VENV=$(VENV) bash scripts/test-install.sh

test-latest: export HF_HUB_OFFLINE := 1
test-latest:
	@PYTHON=$(PYTHON) VENV=$(LATEST) LOCK= bash scripts/venv.sh
	@bash scripts/chromium.sh
	@$(LATEST)/bin/python -c "import torch, torchvision, fastai, timm, transformers; print('make test-latest:', *(f'{m.__name__} {m.__version__}' for m in (torch, torchvision, fastai, timm, transformers)))"
	@VENV=$(LATEST) bash scripts/run-tests.sh

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
