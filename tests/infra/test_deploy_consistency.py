"""The Dockerfile, the manifests and the processes' settings agree: same variables, same port,
health paths the app really serves, grace periods in the right order."""

from __future__ import annotations

import functools
import re
from urllib.parse import urlsplit

import pytest
from pydantic import AliasChoices
from pydantic_settings import BaseSettings
from starlette.routing import Mount, WebSocketRoute

from infra_files import (
    PLATFORM_VARIABLES, cloudrun, compose, deployed_containers, dockerfile_env,
    dockerfile_instructions, final_stage, k8s_containers, k8s_object,
)
from service.settings import Settings
from web.settings import WebSettings

SETTINGS_BY_COMMAND = {"serve": Settings, "web": WebSettings}
CONTAINER_IDS = [where for where, _, _ in deployed_containers()]


def environment_names(settings: type[BaseSettings]) -> set[str]:
    """The variables a pydantic-settings class reads: its aliases, or prefix + field name."""
    prefix = settings.model_config.get("env_prefix", "")
    names = set()
    for field_name, field in settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {choice for choice in alias.choices if isinstance(choice, str)}
        elif isinstance(alias, str):
            names.add(alias)
        else:
            names.add(prefix + field_name)
    return {name.upper() for name in names}


@functools.cache
def app_paths() -> tuple[frozenset[str], frozenset[str]]:
    """(HTTP paths, WebSocket paths) the service's app routes, Mounts flattened; its lifespan (the
    model, storage) is never started."""
    from service.app import create_app

    http, sockets = set(), set()

    def walk(routes, prefix=""):
        for route in routes:
            if isinstance(route, Mount):
                walk(route.routes, prefix + route.path)
            elif isinstance(route, WebSocketRoute):
                sockets.add(prefix + route.path)
            else:
                http.add(prefix + route.path)

    walk(create_app(Settings()).routes)
    return frozenset(http), frozenset(sockets)


def probe_paths() -> list[tuple[str, str]]:
    """(where, path) of every HTTP probe aimed at the service, on every platform."""
    found = []
    for deployment, container in k8s_containers():
        if container["command"][-1] == "serve":
            for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
                found.append((f"k8s {deployment} {kind}", container[kind]["httpGet"]["path"]))
    (container,) = cloudrun()["spec"]["template"]["spec"]["containers"]
    for kind in ("startupProbe", "livenessProbe"):
        found.append((f"cloudrun {kind}", container[kind]["httpGet"]["path"]))
    (healthcheck,) = [i.value for i in dockerfile_instructions()
                      if i.keyword == "HEALTHCHECK" and i.stage == final_stage()]
    found.append(("Dockerfile HEALTHCHECK", re.search(r"http://127\.0\.0\.1:%s(/[\w/]*)", healthcheck).group(1)))
    return found


# --- variables ----------------------------------------------------------------------------------

def test_the_settings_classes_read_the_variables_the_platforms_set():
    assert {"PORT", "NST_HOST", "NST_WEIGHTS", "NST_SHUTDOWN_GRACE_S"} <= environment_names(Settings)
    assert {"WEB_PORT", "NST_WEB_HOST", "NST_SERVICE_URL", "NST_API_KEY"} <= environment_names(WebSettings)


@pytest.mark.parametrize("where, command, env", deployed_containers(), ids=CONTAINER_IDS)
def test_every_variable_a_deployment_sets_is_one_its_process_reads(where, command, env):
    reads = environment_names(SETTINGS_BY_COMMAND[command]) | PLATFORM_VARIABLES
    unread = set(env) - reads
    assert unread == set(), f"{where} sets variables `nst {command}` never reads"


def test_every_variable_the_image_sets_is_read_by_serve_or_web():
    reads = environment_names(Settings) | environment_names(WebSettings) | PLATFORM_VARIABLES
    assert {n for n in dockerfile_env() if n.startswith("NST_")} - reads == set()


@pytest.mark.parametrize("where, command, env", deployed_containers(), ids=CONTAINER_IDS)
def test_every_value_a_deployment_sets_is_accepted_by_its_settings(where, command, env, monkeypatch):
    for name in list(environment_names(Settings) | environment_names(WebSettings)):
        monkeypatch.delenv(name, raising=False)
    for name, value in {**{"NST_WEIGHTS": dockerfile_env()["NST_WEIGHTS"]}, **env}.items():
        if value is not None:  # secret references: resolved by the platform
            monkeypatch.setenv(name, value)
    SETTINGS_BY_COMMAND[command]()  # raises pydantic's ValidationError on a bad value


# --- the port ---------------------------------------------------------------------------------

def test_one_port_variable_from_image_to_every_platform():
    image_port = int(dockerfile_env()["PORT"])
    assert "PORT" in environment_names(Settings)
    for deployment, container in k8s_containers():
        if container["command"][-1] == "serve":
            env = {v["name"]: v.get("value") for v in container["env"]}
            assert int(env["PORT"]) == container["ports"][0]["containerPort"] == image_port
    assert int(compose()["services"]["service"]["environment"]["PORT"]) == image_port
    (container,) = cloudrun()["spec"]["template"]["spec"]["containers"]
    assert container["ports"][0]["containerPort"] == image_port


def test_the_web_listens_where_its_deployments_send_traffic():
    assert "WEB_PORT" in environment_names(WebSettings)
    deployment = k8s_object("Deployment", "nst-web")["spec"]["template"]["spec"]["containers"][0]
    env = {v["name"]: v.get("value") for v in deployment["env"]}
    assert int(env["WEB_PORT"]) == deployment["ports"][0]["containerPort"]


# --- paths ----------------------------------------------------------------------------------------

def test_the_app_serves_the_health_paths_and_the_socket():
    http, sockets = app_paths()
    assert {"/healthz", "/readyz"} <= http
    assert "/ws/stylize" in sockets


@pytest.mark.parametrize("where, path", probe_paths(), ids=[where for where, _ in probe_paths()])
def test_every_probe_targets_a_path_the_app_serves(where, path):
    http, _ = app_paths()
    assert path in http, f"{where} probes {path}, which the service does not serve"


@pytest.mark.parametrize("where, command, env", [c for c in deployed_containers() if c[1] == "web"],
                         ids=[c[0] for c in deployed_containers() if c[1] == "web"])
def test_the_web_app_is_pointed_at_the_services_socket(where, command, env):
    _, sockets = app_paths()
    assert urlsplit(env["NST_SERVICE_URL"]).path in sockets


def test_the_ingress_sends_the_socket_and_the_api_to_the_service():
    http, sockets = app_paths()
    ingress = k8s_object("Ingress", "nst")
    to_service = [p["path"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]
                  if p["backend"]["service"]["name"] == "nst-service"]
    for path in ["/ws/stylize", "/v1/results", "/v1/jobs/{job_id}"]:
        assert path in sockets | http
        assert any(path.startswith(prefix) for prefix in to_service), path


# --- grace periods --------------------------------------------------------------------------------

def test_kubernetes_waits_for_the_pause_the_drain_and_the_storing():
    pod = k8s_object("Deployment", "nst-service")["spec"]["template"]["spec"]
    config = k8s_object("ConfigMap", "nst-config")["data"]
    grace = float(config.get("NST_SHUTDOWN_GRACE_S", Settings.model_fields["shutdown_grace_s"].default))
    (container,) = pod["containers"]
    pause = float(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    # 10 s after the drain to store interrupted results and close the sockets.
    assert pause + grace + 10 <= pod["terminationGracePeriodSeconds"]


# --- sockets and metrics --------------------------------------------------------------------------

def test_every_socket_a_job_needs_fits_under_the_connection_cap():
    # Below jobs + queue, a client with a place in the queue would be refused its socket (503).
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    assert defaults["max_connections"] >= defaults["max_concurrent_jobs"] + defaults["max_queue"]
    config = k8s_object("ConfigMap", "nst-config")["data"]
    assert int(config["NST_MAX_CONNECTIONS"]) >= (int(config["NST_MAX_CONCURRENT_JOBS"]) +
                                                  int(config["NST_MAX_QUEUE"]))


def test_the_service_closes_idle_sockets_before_the_ingress_would():
    config = k8s_object("ConfigMap", "nst-config")["data"]
    annotations = k8s_object("Ingress", "nst")["metadata"]["annotations"]
    read_timeout = int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"])
    assert float(config["NST_IDLE_TIMEOUT_S"]) < read_timeout


def test_prometheus_scrapes_the_metrics_path_on_the_service_port():
    http, _ = app_paths()
    deployment = k8s_object("Deployment", "nst-service")["spec"]["template"]
    annotations = deployment["metadata"]["annotations"]
    (container,) = deployment["spec"]["containers"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] in http
    assert int(annotations["prometheus.io/port"]) == container["ports"][0]["containerPort"]


def web_probe_paths() -> list[tuple[str, str]]:
    """(where, path) of every HTTP probe aimed at the web app."""
    found = []
    for deployment, container in k8s_containers():
        if container["command"][-1] == "web":
            for kind in ("livenessProbe", "readinessProbe"):
                found.append((f"k8s {deployment} {kind}", container[kind]["httpGet"]["path"]))
    test = " ".join(compose()["services"]["web"]["healthcheck"]["test"])
    found.append(("compose web healthcheck", re.search(r"http://127\.0\.0\.1:\d+(/[\w/]*)", test).group(1)))
    return found


@pytest.mark.parametrize("where, path", web_probe_paths(), ids=[where for where, _ in web_probe_paths()])
def test_every_web_probe_gets_the_rendered_page(where, path):
    # Dash serves its page on any path, so this checks that the page renders for the probe (a
    # broken layout answers 500), not that the path is special.
    from web.app import create_app

    page = create_app(WebSettings()).server.test_client().get(path)
    assert page.status_code == 200, f"{where} probes {path}: {page.status_code}"
    assert b"_dash-config" in page.data
