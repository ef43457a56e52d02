# Two entry points: `make demo` and `make test`. Both install into .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: install browser demo test ui clean lock

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# On Linux x86-64 torch and torchvision are pinned as a pair built for each other (mixing releases
	# breaks torchvision's import); elsewhere (a Mac: MPS wheels) pip resolves them through pyproject's ranges.
	if [ "$$(uname -sm)" = "Linux x86_64" ]; then \
	  $(BIN)/python -m pip install -q torch==2.14.1 torchvision==0.29.1 || \
	  $(BIN)/python -m pip install -q "torch>=2.4" "torchvision>=0.19"; fi
	$(BIN)/python -m pip install -q -c requirements.lock -e ".[dev]"
	touch $@

demo: install
	HOTELCAP_PROFILE=demo $(BIN)/hotelcap materialize

# Debian's chromium (the real-browser UI test) and redis-server (the broker of the Celery scale-out test),
# when this is a Debian machine and we are root; elsewhere those tests are skipped with their reason.
browser:
	@if { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/redis-server ]; } && [ "$$(id -u)" = 0 ] && \
	  command -v apt-get >/dev/null; then \
	  (apt-get update -qq && apt-get install -y -qq chromium chromium-driver redis-server >/dev/null) || \
	  echo "chromium or redis-server could not be installed: the tests that need them will be skipped"; fi

test: install browser
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

# The demo's profile, so the UI shows what `make demo` made; HOTELCAP_PROFILE=hotels50k make ui for the real data.
ui: install
	HOTELCAP_PROFILE=$${HOTELCAP_PROFILE:-demo} $(BIN)/hotelcap ui

clean:
	rm -rf data_store/tables data_store/images data_store/edits data_store/report data_store/raw data_store/models

# Re-pin requirements.lock from the current .venv (after a dependency change and a green 'make test').
lock: install
	{ sed -n '1,3p' requirements.lock; $(BIN)/python -m pip freeze --exclude-editable | \
	  grep -viE '^(torch|torchvision|triton|nvidia-|cuda-)'; } > requirements.lock.new && mv requirements.lock.new requirements.lock
