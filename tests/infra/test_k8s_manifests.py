"""infra/k8s: valid against the Kubernetes schemas, and shaped as a GPU service needs."""

from __future__ import annotations

import copy
import re

import kubernetes_validate
import pytest
import yaml

from infra_files import (K8S_DIR, SECRET_VARIABLES, k8s_containers, k8s_documents,
                         k8s_monitoring_documents, k8s_object)

# The oldest minor version still in the big providers' support windows, and the newest that
# kubernetes-validate ships schemas for (offline).
KUBERNETES_VERSIONS = ["1.30.0", "1.37.0"]
KUSTOMIZE_KIND = ("kustomize.config.k8s.io/v1beta1", "Kustomization")


def kubernetes_objects() -> list[tuple[str, dict]]:
    return [(f"{path.name}:{doc['kind']}/{doc['metadata']['name']}", doc)
            for path, doc in k8s_documents() + k8s_monitoring_documents()
            if (doc["apiVersion"], doc["kind"]) != KUSTOMIZE_KIND]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("name, manifest", kubernetes_objects(), ids=[n for n, _ in kubernetes_objects()])
def test_manifest_validates_strictly_against_the_kubernetes_schema(name, manifest, version):
    # strict: an unknown or misspelt field is an error; a kind without a schema raises too.
    kubernetes_validate.validate(manifest, version, strict=True)


def test_the_validator_rejects_a_misspelt_field_and_a_wrong_type():
    deployment = k8s_object("Deployment", "nst-service")
    misspelt = copy.deepcopy(deployment)
    misspelt["spec"]["template"]["spec"]["terminationGracePeriod"] = 45
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "8080"
    for bad in (misspelt, wrong_type):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(bad, KUBERNETES_VERSIONS[-1], strict=True)


def test_kustomization_applies_every_manifest_but_the_secret_example_and_names_the_image():
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    manifests = {p.name for p in K8S_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == manifests - {"secret.example.yaml"}
    (image,) = kustomization["images"]
    assert {c["image"] for _, c in k8s_containers()} == {image["name"]}


def test_the_service_pod_gets_one_gpu_and_probes_readyz_and_healthz():
    pod = k8s_object("Deployment", "nst-service")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert container["resources"]["requests"]["nvidia.com/gpu"] == 1
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert any(t["key"] == "nvidia.com/gpu" for t in pod["tolerations"])


def test_every_container_has_resources_and_runs_unprivileged():
    for deployment, container in k8s_containers():
        resources = container["resources"]
        assert resources["requests"]["cpu"] and resources["limits"]["memory"], deployment
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, deployment


def test_credentials_and_the_api_key_come_only_from_the_secret():
    for deployment, container in k8s_containers():
        for variable in container.get("env", []):
            if variable["name"] in SECRET_VARIABLES:
                assert variable["valueFrom"]["secretKeyRef"]["name"] == "nst-secrets", deployment
    for _, doc in k8s_documents():
        if doc["kind"] == "ConfigMap":
            assert not SECRET_VARIABLES & set(doc["data"]), "secrets do not belong in a ConfigMap"
    secret = k8s_object("Secret", "nst-secrets")
    assert set(secret["stringData"]) == SECRET_VARIABLES


def test_the_autoscaler_scales_the_gpu_deployment():
    hpa = k8s_object("HorizontalPodAutoscaler", "nst-service")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                              "name": "nst-service"}
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]


def adapter_rules() -> dict[str, dict]:
    """prometheus-adapter's rules (infra/k8s/monitoring), by the metric name each serves."""
    ((_, config_map),) = [(p, d) for p, d in k8s_monitoring_documents()
                          if d["metadata"]["name"] == "prometheus-adapter"]
    rules = yaml.safe_load(config_map["data"]["config.yaml"])["rules"]
    return {rule["name"]["as"]: rule for rule in rules}


def test_the_autoscaler_scales_on_the_queue_length_the_service_exports():
    from prometheus_client import REGISTRY

    import service.metrics  # noqa: F401 (registers the service's metrics)

    (metric,) = k8s_object("HorizontalPodAutoscaler", "nst-service")["spec"]["metrics"]
    assert metric["type"] == "Pods" and metric["pods"]["target"]["type"] == "AverageValue"
    rule = adapter_rules()[metric["pods"]["metric"]["name"]]
    series = re.match(r"(\w+)\{", rule["seriesQuery"]).group(1)
    assert REGISTRY.get_sample_value(series) is not None, f"/metrics has no {series}"
    assert "queue" in series
    # Per pod, so the HPA averages over the Deployment's pods.
    assert rule["resources"]["overrides"] == {"namespace": {"resource": "namespace"},
                                              "pod": {"resource": "pod"}}
    assert "<<.LabelMatchers>>" in rule["metricsQuery"] and "<<.GroupBy>>" in rule["metricsQuery"]


def test_ingress_routes_reach_existing_services_and_allow_long_websockets():
    ingress = k8s_object("Ingress", "nst")
    services = {doc["metadata"]["name"]: doc for _, doc in k8s_documents() if doc["kind"] == "Service"}
    routes = {}
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            port_names = {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
            assert backend["port"]["name"] in port_names
            routes[path["path"]] = backend["name"]
    assert routes == {"/ws": "nst-service", "/v1": "nst-service", "/": "nst-web"}
    annotations = ingress["metadata"]["annotations"]
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
