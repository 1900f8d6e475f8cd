# The two commands of the README. Both set up everything on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Debian packages the tests start for real: InfluxDB 1.x and VictoriaMetrics (the history
# is shipped to them), docker-compose (validates docker/compose.yaml; no Docker engine needed),
# Chromium (Playwright drives /usr/bin/chromium for the panel's browser tests), curl (the
# docs' command that creates an InfluxDB database runs as written), Mosquitto (the MQTT
# driver's broker, with a password file, an ACL and TLS). Installed without their
# recommended packages, their services neither started nor enabled.
TEST_DEBS := influxdb victoria-metrics docker-compose chromium curl mosquitto
# Debian packages the demo starts: Mosquitto, the broker of the virtual commune's LoRaWAN
# devices (gtb demo starts its own on the site file's port and stops it at exit).
RUN_DEBS := mosquitto

.PHONY: run test install debs lint

run: $(STAMP)
	@bash tests/install-debs.sh $(RUN_DEBS)
	$(BIN)/gtb demo --speed 60

test: $(STAMP) debs lint
	@# pytest exits 5 when it collects no test: report it, do not count it as a failure.
	$(BIN)/pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no test"; exit 0; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	touch $(STAMP)

debs:
	@bash tests/install-debs.sh $(TEST_DEBS)
