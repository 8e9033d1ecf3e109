"""deploy/kubernetes: valid for the Kubernetes API (offline, against the JSON schemas that
kubernetes-validate bundles) and consistent with the app it runs: probe paths are routes of
service.app.create_app(), the port is the start script's, every env var is read by
service.settings.Settings or docker/start-service.sh, the HPA's metric is one the service
exports, and the selectors, volume and limits fit together.
"""

from __future__ import annotations

import copy
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

from tests.support.api import IsolatedSettings
from tests.support.deploy import (
    ROOT,
    app_route_paths,
    exported_metric_names,
    image_env,
    start_script_defaults,
    status_before_models_load,
    unknown_env_names,
)

K8S = ROOT / "deploy" / "kubernetes"
ADAPTER = K8S / "prometheus-adapter"
# The oldest Kubernetes these manifests claim (autoscaling/v2, policy/v1 long GA) and the newest bundled.
VERSIONS = ("1.29.0", latest_version())
# Custom resources (no schema in the bundle) and kustomize's own file: checked by the tests below.
NOT_CORE = {("monitoring.coreos.com/v1", "PodMonitor"), ("kustomize.config.k8s.io/v1beta1", "Kustomization")}
HELM_VALUES = {ADAPTER / "values.yaml"}


def _manifests() -> list[tuple[Path, dict]]:
    found = []
    for path in sorted(K8S.rglob("*.yaml")):
        if path not in HELM_VALUES:
            found += [(path, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


def _one(kind: str) -> dict:
    matches = [doc for _, doc in _manifests() if doc["kind"] == kind]
    assert len(matches) == 1, f"expected one {kind}, found {len(matches)}"
    return matches[0]


def _container() -> dict:
    (container,) = _one("Deployment")["spec"]["template"]["spec"]["containers"]
    return container


def _env() -> dict[str, dict]:
    return {item["name"]: item for item in _container()["env"]}


CORE = [(p, d) for p, d in _manifests() if (d["apiVersion"], d["kind"]) not in NOT_CORE]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("manifest", [d for _, d in CORE], ids=[f"{p.relative_to(K8S)}:{d['kind']}" for p, d in CORE])
def test_manifest_validates_against_the_kubernetes_schema(manifest: dict, version: str) -> None:
    kubernetes_validate.validate(manifest, version, strict=True)


def test_every_manifest_is_a_known_kind() -> None:
    kinds = {(d["apiVersion"], d["kind"]) for _, d in _manifests()}
    assert {"Deployment", "Service", "PersistentVolumeClaim", "PodDisruptionBudget", "HorizontalPodAutoscaler"} <= {
        kind for _, kind in kinds
    }
    assert len(CORE) + sum(1 for _, d in _manifests() if (d["apiVersion"], d["kind"]) in NOT_CORE) == len(_manifests())


def test_the_validator_rejects_a_broken_deployment() -> None:
    """The schema check really checks (so the test above can fail): strict mode refuses
    an unknown field and a wrongly typed one."""
    for mutate in (
        lambda c: c.update(livenessProbe={"httpGet": {"path": "/health", "port": "http"}, "periodSecond": 10}),
        lambda c: c["ports"][0].update(containerPort="eight thousand"),
    ):
        broken = copy.deepcopy(_one("Deployment"))
        mutate(broken["spec"]["template"]["spec"]["containers"][0])
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)


def test_kustomization_lists_every_manifest_of_the_app() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    assert [image["name"] for image in kustomization["images"]] == [_container()["image"].split(":")[0]]


def test_probes_are_routes_of_the_app_and_answer_as_probes_expect() -> None:
    container = _container()
    paths = {name: container[name]["httpGet"]["path"] for name in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert paths == {"startupProbe": "/health", "livenessProbe": "/health", "readinessProbe": "/ready"}
    assert set(paths.values()) <= app_route_paths()
    # Before the models load: alive (so liveness never kills a loading pod), not ready (no traffic yet).
    assert status_before_models_load("/health") == 200
    assert status_before_models_load("/ready") == 503
    for probe in paths:
        assert container[probe]["httpGet"]["port"] == container["ports"][0]["name"]


def test_container_port_is_what_the_start_script_listens_on() -> None:
    container = _container()
    port = container["ports"][0]["containerPort"]
    assert port == int(start_script_defaults()["PORT"]) == int(image_env()["PORT"])
    assert "PORT" not in _env(), "the port is the image's; change it there and here together"
    annotations = _one("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(port)
    assert annotations["prometheus.io/path"] in app_route_paths()
    assert _one("Service")["spec"]["ports"][0]["targetPort"] == container["ports"][0]["name"]


def test_every_env_var_is_read_by_the_settings_or_the_start_script() -> None:
    assert unknown_env_names(set(_env())) == []


def test_env_values_are_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The literal INTROVAC_* values pass the app's own validation (a typo'd number or enum
    would stop every pod at start-up)."""
    values = {name: item["value"] for name, item in _env().items() if name.startswith("INTROVAC_") and "value" in item}
    assert values, "no INTROVAC_* value to check"
    settings = IsolatedSettings(**{name.removeprefix("INTROVAC_").lower(): value for name, value in values.items()})
    assert settings.max_queue_depth == int(values["INTROVAC_MAX_QUEUE_DEPTH"])


def test_one_gpu_per_pod_and_the_models_volume_read_only_beside_the_shipped_model() -> None:
    container = _container()
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert container["resources"]["requests"]["nvidia.com/gpu"] == 1
    assert _env()["WORKERS"]["value"] == "1"
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "models"]
    assert mount["readOnly"] is True
    assert mount["mountPath"] == _env()["EXTRA_MODELS_DIR"]["value"]
    shipped = image_env()["INTROVAC_MODELS_DIR"]
    assert "INTROVAC_MODELS_DIR" not in _env()
    assert all(m["mountPath"].rstrip("/") != shipped for m in container["volumeMounts"]), "would hide the shipped model"
    (volume,) = [v for v in _one("Deployment")["spec"]["template"]["spec"]["volumes"] if v["name"] == "models"]
    assert volume["persistentVolumeClaim"] == {
        "claimName": _one("PersistentVolumeClaim")["metadata"]["name"],
        "readOnly": True,
    }
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert any(m["mountPath"] == start_script_defaults()["TMPDIR"] for m in container["volumeMounts"]), (
        "the start script writes the merged models folder under TMPDIR: it needs a writable mount"
    )


def test_selectors_pick_the_api_pods() -> None:
    deployment = _one("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    selectors = [
        deployment["spec"]["selector"]["matchLabels"],
        _one("Service")["spec"]["selector"],
        _one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
        _one("PodMonitor")["spec"]["selector"]["matchLabels"],
    ]
    for selector in selectors:
        assert selector.items() <= labels.items()
    target = _one("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"


def test_pdb_hpa_and_shutdown_fit_together() -> None:
    hpa = _one("HorizontalPodAutoscaler")["spec"]
    assert hpa["minReplicas"] > _one("PodDisruptionBudget")["spec"]["maxUnavailable"], "a drain would take it all"
    pod = _one("Deployment")["spec"]["template"]["spec"]
    pause = int(_container()["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pod["terminationGracePeriodSeconds"] > pause + int(_env()["TIMEOUT_GRACEFUL_SHUTDOWN"]["value"])
    assert int(_env()["TIMEOUT_KEEP_ALIVE"]["value"]) > 60, "above the load balancers' idle timeout (ALB: 60 s)"


def _adapter_rules() -> tuple[list[dict], list[dict]]:
    values = yaml.safe_load((ADAPTER / "values.yaml").read_text())["rules"]["custom"]
    config = yaml.safe_load(yaml.safe_load((ADAPTER / "configmap.yaml").read_text())["data"]["config.yaml"])["rules"]
    return values, config


def test_hpa_scales_on_a_metric_the_service_exports_through_the_adapter_rule() -> None:
    (metric,) = [m for m in _one("HorizontalPodAutoscaler")["spec"]["metrics"] if m["type"] == "Pods"]
    name = metric["pods"]["metric"]["name"]
    assert name in exported_metric_names()
    values, config = _adapter_rules()
    assert values == config, "the Helm values and the plain ConfigMap must carry the same rule"
    (rule,) = [r for r in values if r["name"]["as"] == name]
    assert rule["seriesQuery"].split("{")[0] == name
    assert set(rule["resources"]["overrides"]) == {"namespace", "pod"}


def test_hpa_target_is_below_the_queue_limit() -> None:
    """Scale out long before requests are refused: the per-pod target (summed over queues)
    stays under one batcher's 503 limit and at most one batch."""
    (metric,) = [m for m in _one("HorizontalPodAutoscaler")["spec"]["metrics"] if m["type"] == "Pods"]
    target = float(metric["pods"]["target"]["averageValue"])
    env = _env()
    assert 0 < target <= int(env["INTROVAC_MAX_BATCH_SIZE"]["value"]) < int(env["INTROVAC_MAX_QUEUE_DEPTH"]["value"])
    resources = [
        m["resource"]["name"] for m in _one("HorizontalPodAutoscaler")["spec"]["metrics"] if m["type"] == "Resource"
    ]
    for name in resources:  # utilization is relative to the request: without one the HPA cannot compute it
        assert name in _container()["resources"]["requests"], name


def test_podmonitor_scrapes_the_metrics_route_on_the_api_port() -> None:
    (endpoint,) = _one("PodMonitor")["spec"]["podMetricsEndpoints"]
    assert endpoint["path"] in app_route_paths()
    assert endpoint["port"] == _container()["ports"][0]["name"]
