# BigStock: `make run` serves the product with demo data, `make test` runs the suite.
# Everything installs into .venv from the pinned requirements.lock.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT

.PHONY: run test install translations messages lock lint ci clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "BigStock needs Python 3.11 or newer (found " + sys.version.split()[0] + "); set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev]"
	@touch $@

install: $(VENV)/.installed

# Compiled catalogs are built here with Babel, so no system gettext is needed.
translations: install
	@$(BIN)/pybabel compile -d locale -D django >/dev/null

# Extract new strings into locale/*/LC_MESSAGES/django.po (needs GNU gettext, developers only).
messages: install
	$(BIN)/python manage.py makemessages --locale fr --locale en --ignore '.venv/*' --ignore 'var/*' --no-obsolete

# A local .env for the embedded default: DEBUG on and a secret key generated once.
.env:
	@printf 'DEBUG=1\nSECRET_KEY=%s\n' "$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" > $@
	@echo "Wrote .env (DEBUG=1, a generated SECRET_KEY)."

run: translations .env
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	-PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho -f Procfile.dev start -p $(PORT)

test: translations
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

# Re-pin every dependency after editing pyproject.toml.
lock: $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade -e ".[dev]"
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > requirements.lock

ci:
	bash .ci/run

clean:
	rm -rf $(VENV) var
