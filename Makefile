# Two entry points: `make demo` and `make test`. Both install into .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: install browser demo test ui clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# This machine's pip serves torch 2.14.1 + torchvision 0.29.1 from local files; elsewhere
	# (a Mac: MPS wheels) pip resolves torch from PyPI through pyproject's ranges.
	if [ "$$(uname -sm)" = "Linux x86_64" ]; then \
	  $(BIN)/python -m pip install -q torch==2.14.1 torchvision==0.29.1 || \
	  $(BIN)/python -m pip install -q "torch>=2.4" "torchvision>=0.19"; fi
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

demo: install
	HOTELCAP_PROFILE=demo $(BIN)/hotelcap materialize

# Debian's chromium for the real-browser UI test, when this is a Debian machine and we are root;
# elsewhere the browser test is skipped with its reason.
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null) || \
	  echo "chromium could not be installed: the browser test will be skipped"; fi

test: install browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

ui: install
	$(BIN)/dagster dev -w workspace.yaml

clean:
	rm -rf data_store/tables data_store/images data_store/edits data_store/report data_store/raw data_store/models
