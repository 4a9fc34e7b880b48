"""infra/cloudrun/service.yaml: a valid Cloud Run service with an L4 GPU, sized to the service."""

from __future__ import annotations

import copy
import json
import re
from importlib import resources

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

from infra_files import CLOUDRUN, SCHEMAS, cloudrun, dockerfile_env

# Cloud Run's fixed limits (cloud.google.com/run/docs): SIGKILL 10 s after SIGTERM; a start-up
# probe may take at most 240 s; an L4 needs at least 4 CPUs and 16 GiB.
CLOUD_RUN_SIGTERM_TO_SIGKILL_S = 10
CLOUD_RUN_MAX_STARTUP_S = 240


def kubernetes_definitions() -> Resource:
    """Kubernetes' core types, from the schemas kubernetes-validate ships."""
    folder = resources.files("kubernetes_validate") / "kubernetes-json-schema" / "v1.37.0-local-strict"
    return Resource.from_contents(json.loads((folder / "_definitions.json").read_text()))


def cloudrun_errors(document: dict) -> list[str]:
    schema = json.loads((SCHEMAS / "cloudrun-service.schema.json").read_text())
    registry = Registry().with_resource("https://kubernetes.io/api/_definitions.json",
                                        kubernetes_definitions())
    validator = jsonschema.Draft202012Validator(schema, registry=registry)
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(document)]


def revision() -> dict:
    return cloudrun()["spec"]["template"]


def container() -> dict:
    (only,) = revision()["spec"]["containers"]
    return only


def env() -> dict[str, str]:
    return {v["name"]: v.get("value") for v in container()["env"]}


def test_service_yaml_validates_against_the_cloud_run_schema():
    assert cloudrun_errors(cloudrun()) == []


@pytest.mark.parametrize("breakage", [
    lambda doc: doc["spec"]["template"]["spec"].update(containerConcurency=4),
    lambda doc: doc["spec"]["template"]["spec"]["containers"][0].update(lifecycle={}),
    lambda doc: doc["spec"]["template"]["spec"]["containers"][0]["startupProbe"].update(httpGet={"path": 1}),
    lambda doc: doc["spec"]["template"]["spec"].update(timeoutSeconds=7200),
    lambda doc: doc["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"].update(gpu="1"),
], ids=["misspelt-field", "unsupported-container-field", "wrong-probe-type", "timeout-over-max",
        "unknown-resource"])
def test_the_schema_rejects_broken_services(breakage):
    broken = copy.deepcopy(cloudrun())
    breakage(broken)
    assert cloudrun_errors(broken)


def test_one_nvidia_l4_with_the_minimum_cpu_and_memory_it_needs():
    assert revision()["spec"]["nodeSelector"] == {"run.googleapis.com/accelerator": "nvidia-l4"}
    limits = container()["resources"]["limits"]
    assert limits["nvidia.com/gpu"] == "1"
    assert int(limits["cpu"]) >= 4
    memory = re.fullmatch(r"(\d+)Gi", limits["memory"])
    assert memory and int(memory.group(1)) >= 16
    assert revision()["metadata"]["annotations"]["run.googleapis.com/cpu-throttling"] == "false"


def test_scales_to_zero_with_session_affinity():
    annotations = revision()["metadata"]["annotations"]
    assert annotations["autoscaling.knative.dev/minScale"] == "0"
    assert int(annotations["autoscaling.knative.dev/maxScale"]) >= 1
    assert annotations["run.googleapis.com/sessionAffinity"] == "true"


def test_concurrency_is_the_running_jobs_plus_the_queue():
    # One open WebSocket is one request: concurrency beyond jobs + queue would only earn `busy`,
    # below it would leave queue places unused while Cloud Run starts new GPUs.
    assert revision()["spec"]["containerConcurrency"] == (
        int(env()["NST_MAX_CONCURRENT_JOBS"]) + int(env()["NST_MAX_QUEUE"]))


def test_the_service_admits_every_socket_cloud_run_sends_and_frees_idle_ones_first():
    # Below containerConcurrency the service would refuse (503) sockets Cloud Run sent it; an idle
    # tab must give its place back long before Cloud Run's request timeout would.
    assert int(env()["NST_MAX_CONNECTIONS"]) >= revision()["spec"]["containerConcurrency"]
    assert float(env()["NST_IDLE_TIMEOUT_S"]) * 10 <= revision()["spec"]["timeoutSeconds"]


def test_a_websocket_may_stay_open_for_a_queued_wait_and_a_job():
    assert 900 <= revision()["spec"]["timeoutSeconds"] <= 3600


def test_startup_waits_for_readyz_within_cloud_runs_limit():
    probe = container()["startupProbe"]
    assert probe["httpGet"]["path"] == "/readyz"
    assert probe["periodSeconds"] * probe["failureThreshold"] <= CLOUD_RUN_MAX_STARTUP_S
    assert container()["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_port_comes_from_cloud_run_and_matches_the_image():
    assert "PORT" not in env(), "Cloud Run reserves PORT and sets it from containerPort"
    (port,) = container()["ports"]
    assert str(port["containerPort"]) == dockerfile_env()["PORT"]
    assert port["name"] == "http1", "WebSockets need HTTP/1.1 end to end (h2c would break them)"


def test_the_drain_ends_before_cloud_run_kills_the_instance():
    # 3 s to store interrupted results and close the sockets after the drain.
    assert float(env()["NST_SHUTDOWN_GRACE_S"]) + 3 <= CLOUD_RUN_SIGTERM_TO_SIGKILL_S


def test_credentials_and_the_api_key_come_from_secret_manager():
    for variable in container()["env"]:
        if variable["name"] in {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "NST_API_KEY"}:
            assert "value" not in variable
            assert variable["valueFrom"]["secretKeyRef"]["key"] == "latest"


# --- the Cloud Build recipe that builds the image for it -----------------------------------------

def cloudbuild_errors(document: dict) -> list[str]:
    # The Cloud Build JSON schema as vendored by check-jsonschema (a test dependency), offline.
    vendored = resources.files("check_jsonschema.builtin_schemas.vendor") / "cloudbuild.json"
    schema = json.loads(vendored.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [error.message for error in validator.iter_errors(document)]


def cloudbuild() -> dict:
    return yaml.safe_load((CLOUDRUN.parent / "cloudbuild.yaml").read_text())


def test_cloudbuild_validates_and_a_misspelt_step_does_not():
    assert cloudbuild_errors(cloudbuild()) == []
    broken = copy.deepcopy(cloudbuild())
    broken["steps"][0]["arg"] = broken["steps"][0].pop("args")
    assert cloudbuild_errors(broken)


def test_cloudbuild_builds_dockerfile_gpu_into_the_image_the_service_runs():
    (step,) = cloudbuild()["steps"]
    args = step["args"]
    assert args[args.index("-f") + 1] == "Dockerfile.gpu"
    image = container()["image"]
    assert image.endswith("/nst/nst-gpu:latest")
    assert cloudbuild()["substitutions"]["_IMAGE"].endswith("/nst/nst-gpu:latest")
