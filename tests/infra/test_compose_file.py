"""infra/compose.yaml: valid against the Compose Specification, and the whole stack on one GPU host."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from importlib import resources
from urllib.parse import urlsplit

import jsonschema
import pytest

from infra_files import ROOT, VENV_BIN, compose, compose_value, duration_seconds


def compose_spec_schema() -> dict:
    # The compose-spec JSON schema as vendored by check-jsonschema (a test dependency), offline.
    vendored = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    return json.loads(vendored.read_text())


def compose_errors(document: dict) -> list[str]:
    schema = compose_spec_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [error.message for error in validator.iter_errors(document)]


def test_compose_file_validates_against_the_compose_spec():
    assert compose_errors(compose()) == []


def test_the_schema_rejects_a_misspelt_key_and_a_wrong_type():
    misspelt = copy.deepcopy(compose())
    misspelt["services"]["service"]["stop_grace"] = "35s"
    wrong_type = copy.deepcopy(compose())
    wrong_type["services"]["storage"]["healthcheck"]["test"] = {"http": "/healthz"}
    assert compose_errors(misspelt) and compose_errors(wrong_type)


def test_check_jsonschema_command_line_agrees():
    result = subprocess.run(
        [str(VENV_BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec",
         "infra/compose.yaml"], capture_output=True, text=True, timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_service_reserves_one_nvidia_gpu():
    devices = compose()["services"]["service"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]


def test_storage_is_the_tested_seaweedfs_with_a_named_volume_a_health_check_and_the_bucket():
    storage = compose()["services"]["storage"]
    weed = subprocess.run([str(VENV_BIN / "weed"), "version"], capture_output=True, text=True,
                          timeout=30).stdout
    tested = re.search(r"\b(\d+\.\d+)\b", weed).group(1)
    assert storage["image"] == f"chrislusf/seaweedfs:{tested}"
    volume_name = storage["volumes"][0].split(":")[0]
    assert volume_name in compose()["volumes"]
    assert "/healthz" in " ".join(storage["healthcheck"]["test"])
    command = [compose_value(part) for part in storage["command"]]
    service_env = {k: compose_value(str(v)) for k, v in compose()["services"]["service"]["environment"].items()}
    assert f"-bucket={service_env['NST_S3_BUCKET']}" in command


def test_the_service_reaches_storage_with_the_same_credentials_and_port():
    services = compose()["services"]
    storage_env = {k: compose_value(v) for k, v in services["storage"]["environment"].items()}
    service_env = {k: compose_value(str(v)) for k, v in services["service"]["environment"].items()}
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert service_env[key] == storage_env[key]
    s3_port = next(p.split("=")[1] for p in services["storage"]["command"] if p.startswith("-s3.port="))
    assert urlsplit(service_env["NST_S3_ENDPOINT"]).port == int(s3_port)
    assert services["service"]["depends_on"]["storage"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", ["service", "web"])
def test_app_containers_share_the_storage_namespace_whose_published_ports_they_listen_on(name):
    services = compose()["services"]
    published = {int(p.split(":")[0]) for p in services["storage"]["ports"]}
    container = services[name]
    assert container["network_mode"] == "service:storage"
    env = {k: compose_value(str(v)) for k, v in container["environment"].items()}
    port = int(env["PORT"] if name == "service" else env["WEB_PORT"])
    assert port in published


def test_the_page_connects_to_the_service_and_the_service_admits_the_page():
    services = compose()["services"]
    service_env = {k: compose_value(str(v)) for k, v in services["service"]["environment"].items()}
    web_env = {k: compose_value(str(v)) for k, v in services["web"]["environment"].items()}
    socket_url = urlsplit(web_env["NST_SERVICE_URL"])
    assert socket_url.port == int(service_env["PORT"])
    assert f"http://{socket_url.hostname}:{web_env['WEB_PORT']}" in service_env["NST_ALLOWED_ORIGINS"]


def test_docker_waits_longer_than_the_service_drains():
    service = compose()["services"]["service"]
    grace = float(service["environment"]["NST_SHUTDOWN_GRACE_S"])
    # 10 s to store the interrupted results and close the sockets after the drain.
    assert duration_seconds(service["stop_grace_period"]) >= grace + 10
