"""The Docker deployment (docker/): Compose file, Dockerfile, Grafana provisioning and
dashboards.

Compose itself validates docker/compose.yaml: ``docker compose config`` where the Docker
CLI has its Compose plugin, else Debian's ``docker-compose`` (1.29, which validates
against the Compose specification); with neither, the tests fail and say to install
docker-compose. The rest is checked by reading the files: ports on loopback, no default
secret, a non-root image, dashboards that query only what the engine writes.

No Docker engine runs on the development machine: the image is not built and the stack
is not started here (no ``docker build``, no ``docker compose up``), and the dashboards'
Flux is not run against an InfluxDB server.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from gtb.archive import EVENT_MEASUREMENTS, SAMPLE_MEASUREMENTS
from gtb.influx import InfluxSettings

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / ".env.example"
DOCKERFILE = DOCKER / "Dockerfile"
GRAFANA = DOCKER / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))

MEASUREMENTS = {*SAMPLE_MEASUREMENTS, *EVENT_MEASUREMENTS}
"""What the engine writes to InfluxDB (gtb/archive.py): the only measurements to query."""

SECRET = re.compile(r"TOKEN|PASSWORD|SECRET")
REQUIRED_SECRETS = (
    "GTB_INFLUX_TOKEN", "INFLUXDB_PASSWORD", "INFLUXDB_ADMIN_TOKEN",
    "GRAFANA_ADMIN_PASSWORD", "GRAFANA_INFLUX_TOKEN",
)
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}
REFERENCE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")

yaml = YAML(typ="safe")


def load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"))


def env_example() -> dict[str, str]:
    """The assignments of docker/.env.example."""
    pairs = (line.split("=", 1) for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.lstrip().startswith("#"))
    return {name.strip(): value for name, value in pairs}


def references(text: str) -> Iterator[re.Match[str]]:
    return REFERENCE.finditer(text)


# -- Compose's own verdict -----------------------------------------------------------------

def compose_command() -> list[str]:
    """``docker compose`` if the plugin answers, else Debian's ``docker-compose``."""
    if shutil.which("docker"):
        try:
            probe = subprocess.run(["docker", "compose", "version"], capture_output=True,
                                   timeout=30, check=False)
        except subprocess.TimeoutExpired:
            probe = None
        if probe is not None and probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("neither `docker compose` nor `docker-compose` is installed: install Debian's "
                "docker-compose (apt-get install docker-compose) to validate docker/compose.yaml")


def run_compose(env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Compose on docker/compose.yaml with this env file, and none of the deployment's
    variables inherited from the environment of the tests."""
    names = {m["name"] for m in references(COMPOSE.read_text(encoding="utf-8"))}
    env = {k: v for k, v in os.environ.items()
           if k not in names and not k.startswith("COMPOSE_")}
    return subprocess.run([*compose_command(), "-f", str(COMPOSE), "--env-file", str(env_file),
                           *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    """docker/compose.yaml as Compose resolves it with docker/.env.example."""
    result = run_compose(ENV_EXAMPLE, "config")
    assert result.returncode == 0, result.stderr
    return dict(yaml.load(result.stdout))


def test_compose_validates_the_file_with_the_example_settings() -> None:
    result = run_compose(ENV_EXAMPLE, "config", "-q")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("secret", REQUIRED_SECRETS)
def test_compose_refuses_to_start_without_a_secret(tmp_path: Path, secret: str) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in env_example().items()
                                if name != secret), encoding="utf-8")
    result = run_compose(env_file, "config", "-q")
    assert result.returncode != 0
    assert secret in result.stderr + result.stdout


def host_ips(ports: list[Any]) -> list[str]:
    """The host address of each published port, in either syntax Compose prints."""
    ips = []
    for port in ports:
        if isinstance(port, dict):
            ips.append(str(port.get("host_ip", "")))
        else:
            parts = str(port).split(":")
            ips.append(parts[0] if len(parts) == 3 else "")
    return ips


def test_every_port_is_published_on_loopback_only(resolved: dict[str, Any]) -> None:
    for name, service in resolved["services"].items():
        assert host_ips(service.get("ports", [])) == ["127.0.0.1"] * len(
            service.get("ports", [])), name


def test_only_the_engine_port_can_be_moved_off_loopback() -> None:
    services = load_yaml(COMPOSE)["services"]
    for name, service in services.items():
        for port in service.get("ports", []):
            if name == "engine":
                assert str(port).startswith("${GTB_PANEL_ADDRESS:-127.0.0.1}:"), port
            else:
                assert str(port).startswith("127.0.0.1:"), (name, port)


# -- secrets --------------------------------------------------------------------------------

def test_no_secret_has_a_default_in_compose() -> None:
    found = {}
    for match in references(COMPOSE.read_text(encoding="utf-8")):
        if SECRET.search(match["name"]):
            found[match["name"]] = match
            # Required (:?), or empty when unset (a v1 password that v2 does not need).
            assert match["op"] in (":?", "?") or not match["arg"], match[0]
    for name in REQUIRED_SECRETS:
        assert found[name]["op"] == ":?", found[name][0]


def test_secret_settings_of_the_services_are_references_never_values() -> None:
    for name, service in load_yaml(COMPOSE)["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET.search(key):
                assert REFERENCE.fullmatch(str(value)), (name, key, value)


def test_the_example_settings_hold_placeholders_not_secrets() -> None:
    for name, value in env_example().items():
        if SECRET.search(name):
            assert value == "" or value.startswith("REPLACE"), name


def test_the_example_settings_list_and_explain_every_variable() -> None:
    used = {m["name"] for m in references(COMPOSE.read_text(encoding="utf-8"))}
    listed = env_example()
    assert used == set(listed) - {"COMPOSE_PROJECT_NAME"}
    explained = False
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            explained = False
        elif line.startswith("#"):
            explained = True
        else:
            assert explained, f"{line}: no comment above it in {ENV_EXAMPLE.name}"


# -- the engine's settings ------------------------------------------------------------------

def test_the_engine_reads_its_influxdb_settings_from_the_environment(
        resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    env = {k: str(v) for k, v in services["engine"]["environment"].items()}
    assert all(k.startswith("GTB_INFLUX_") for k in env if k != "GTB_PANEL_HOST")
    # The panel listens on the container's every address; the host publishes it on
    # loopback only (test_every_port_is_published_on_loopback_only).
    assert env["GTB_PANEL_HOST"] == "0.0.0.0"
    settings = InfluxSettings.from_env(env)
    assert settings is not None
    assert (settings.url, settings.api) == ("http://influxdb:8086", "v2")
    influxdb = services["influxdb"]["environment"]
    assert settings.org == influxdb["DOCKER_INFLUXDB_INIT_ORG"]
    assert settings.bucket == influxdb["DOCKER_INFLUXDB_INIT_BUCKET"]
    assert influxdb["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert services["engine"]["depends_on"]["influxdb"]["condition"] == "service_healthy"


def test_the_default_command_runs_the_demo_commune_shipped_in_the_image() -> None:
    command = re.sub(r"\$\{GTB_COMMAND:-(.*)\}", r"\1",
                     load_yaml(COMPOSE)["services"]["engine"]["command"]).split()
    assert command[0] == "demo"
    site = command[command.index("--site") + 1]
    assert site.startswith("/opt/gtb/sites/")
    assert (ROOT / "sites" / Path(site).name).is_file()
    assert command[command.index("--db") + 1].startswith("/var/lib/gtb/")


# -- the image -------------------------------------------------------------------------------

def final_stage() -> list[str]:
    """The Dockerfile's instructions after its last FROM, continuation lines joined."""
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    last = max(i for i, line in enumerate(lines) if line.upper().startswith("FROM "))
    return lines[last:]


def test_the_image_runs_as_an_unprivileged_user() -> None:
    users = [line.split(None, 1)[1] for line in final_stage() if line.upper().startswith("USER ")]
    assert users, "no USER in the final stage"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert any("10001" in line for line in final_stage() if "useradd" in line)


def test_the_image_is_two_stages_and_runs_gtb() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.findall(r"^FROM (\S+)", text, re.M) == ["python:3.11-slim", "python:3.11-slim"]
    stage = final_stage()
    assert 'ENTRYPOINT ["gtb"]' in stage
    assert 'VOLUME ["/var/lib/gtb"]' in stage
    assert "WORKDIR /var/lib/gtb" in stage
    cmd = json.loads(next(line for line in stage if line.startswith("CMD "))[4:])
    assert cmd[:1] == ["demo"] and "/var/lib/gtb/demo.sqlite" in cmd
    assert not any(line.upper().startswith(("RUN PIP", "COPY . ")) for line in stage)


def test_the_build_context_leaves_out_local_state() -> None:
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())
    assert {".git", ".venv", "var", "bench-out", "docker/.env"} <= ignored


# -- Grafana ---------------------------------------------------------------------------------

def test_the_datasource_is_influxdb_in_flux_configured_from_the_environment() -> None:
    (source,) = load_yaml(GRAFANA / "provisioning" / "datasources" / "influxdb.yaml")[
        "datasources"]
    assert source["type"] == "influxdb"
    assert source["url"] == "http://influxdb:8086"
    assert source["jsonData"]["version"] == "Flux"
    values = [source["jsonData"]["organization"], source["jsonData"]["defaultBucket"],
              source["secureJsonData"]["token"]]
    grafana_env = load_yaml(COMPOSE)["services"]["grafana"]["environment"]
    for value in values:
        match = REFERENCE.fullmatch(value)
        assert match, value
        assert match["name"] in grafana_env
    assert REFERENCE.fullmatch(grafana_env["GTB_GRAFANA_INFLUX_TOKEN"])


def test_the_dashboards_are_provisioned_from_the_mounted_directory() -> None:
    (provider,) = load_yaml(GRAFANA / "provisioning" / "dashboards" / "gtb.yaml")["providers"]
    mounts = load_yaml(COMPOSE)["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{provider['options']['path']}:ro" in mounts
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in mounts


def flux_queries(board: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, query) of every panel target and query variable."""
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            yield f"{panel['title']} {target['refId']}", target["query"]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            yield f"${variable['name']}", variable["query"]


def test_there_are_the_zones_buildings_and_public_lighting_dashboards() -> None:
    titles = {json.loads(path.read_text(encoding="utf-8"))["title"] for path in DASHBOARDS}
    assert titles == {"GTB — zones", "GTB — bâtiments", "GTB — éclairage public"}


@pytest.mark.parametrize("path", DASHBOARDS, ids=[p.stem for p in DASHBOARDS])
def test_a_dashboard_queries_only_what_the_engine_writes(path: Path) -> None:
    board = json.loads(path.read_text(encoding="utf-8"))
    assert 36 <= board["schemaVersion"] <= 41
    panels = [p for p in board["panels"] if p["type"] != "row"]
    assert panels
    assert all(p.get("targets") for p in panels)
    site = next(v for v in board["templating"]["list"] if v["name"] == "site")
    assert site["label"] == "Commune"
    for where, query in flux_queries(board):
        measurements = re.findall(r'\br\._measurement\s*==\s*"([^"]*)"', query)
        assert measurements, f"{where}: no measurement"
        assert set(measurements) <= MEASUREMENTS, where
        assert not re.search(r"_measurement\s*(=~|!=|!~)", query), where
        if "energy" in measurements and "from(bucket" in query:
            # Meters are cumulative indexes: what was used is their increase.
            assert "difference(nonNegative: true)" in query, where
    for panel in panels:
        assert panel["datasource"] == {"type": "influxdb", "uid": "gtb-influxdb"}


def test_the_zones_dashboard_shows_each_zone() -> None:
    board = json.loads((GRAFANA / "dashboards" / "gtb-zones.json").read_text(encoding="utf-8"))
    rows = [p for p in board["panels"] if p["type"] == "row"]
    assert [row.get("repeat") for row in rows] == ["zone"]
    queried = {m for _, query in flux_queries(board)
               for m in re.findall(r'_measurement\s*==\s*"([^"]*)"', query)}
    assert {"temperature", "setpoint", "occupancy", "mode_decided"} <= queried
    assert "mode_reported" not in queried, "the timeline shows one level: the engine's"


def board(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((GRAFANA / "dashboards" / name).read_text(
        encoding="utf-8"))
    return loaded


def test_the_public_lighting_dashboard_shows_relays_dimming_and_energy_per_cabinet() -> None:
    lighting = board("gtb-eclairage.json")
    assert [v["name"] for v in lighting["templating"]["list"]] == ["site", "cabinet"]
    queried = {m for _, query in flux_queries(lighting)
               for m in re.findall(r'_measurement\s*==\s*"([^"]*)"', query)}
    assert {"lighting_relay", "lighting_dimming", "energy", "command", "event"} <= queried
    for where, query in flux_queries(lighting):
        if "from(bucket" in query:
            assert 'r.site == "${site}"' in query and "${cabinet:regex}" in query, where
    [hours] = [p for p in lighting["panels"] if p["title"] == "Heures d'allumage par jour"]
    assert "fill(usePrevious: true)" in hours["targets"][0]["query"], "weighted by time"


def test_the_buildings_dashboard_sums_the_communes_meters_by_kind() -> None:
    """Buildings and cabinets together: the commune's energy is grouped by the ``meter`` tag
    alone, whatever building or cabinet a meter belongs to."""
    [commune] = [p for p in board("gtb-batiments.json")["panels"]
                 if p["title"] == "Énergie de la commune par sorte de compteur"]
    query = commune["targets"][0]["query"]
    assert 'group(columns: ["meter"])' in query
    assert "building" not in query and "cabinet" not in query
