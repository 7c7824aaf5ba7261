"""A local Kubernetes API emulator: real Kubernetes JSON over real HTTP(S), for tests and the drill.

No API server can be installed on these machines, so this serves the subset OpsAgent uses from
an in-memory cluster built from a compact YAML scenario::

    from opsagent_sim.k8s_emulator import KubeEmulator

    with KubeEmulator("cpu-saturation") as kube:          # or a path, a dict, or None (empty)
        os.environ.update(kube.env())                      # OPSAGENT_K8S_ENDPOINT/_TOKEN(/_CA_FILE)
        ...                                                # production client: opsagent.k8s.get_kube()
        kube.requests[-1].path, kube.state.replicas("shop", "checkout")

Constructor: ``KubeEmulator(scenario=None, *, tls=False, token=<scenario auth.token>, eks_cluster=None,
now=None)``. ``tls=True`` serves https with a throwaway CA (``kube.ca_file``); ``token`` requires
``Authorization: Bearer <token>``; ``eks_cluster`` accepts EKS tokens (``k8s-aws-v1.`` + presigned
STS GetCallerIdentity on a regional endpoint with ``x-k8s-aws-id`` signed, X-Amz-Date within 15
minutes) and, given ``eks_secret_key`` (the fake AWS secret of the test), also verifies the SigV4
signature with ``x-k8s-aws-id: <eks_cluster>``, as STS would for the real authenticator.
Attributes and methods:

* ``url``, ``ca_file``, ``env()`` (variables for the production client), ``state`` (a
  :class:`~opsagent_sim.k8s_model.ClusterState`: ``replicas(ns, name)``, ``deployment(ns, name)``,
  ``pods(ns, deployment=None)``, ``get(resource, ns, name)``, ``scale_history``), ``requests``
  (list of :class:`RecordedRequest`: method, path, query, headers with Authorization redacted, body,
  status), ``requests_matching(method, path_regex)``, ``clear_requests()``.
* ``inject(method, path_regex, status=500, times=1, delay=0.0, body=None, message=None)`` -> Fault
  (``.hits``): the next ``times`` matching requests (``times=None``: all) wait ``delay`` seconds and then
  answer ``status`` with a Status object; ``status=None`` only delays; ``status=0`` drops the
  connection without answering. ``clear_faults()``.
* ``deny(verb, resource, namespace=None, name=None)`` adds an RBAC denial (403 Forbidden Status).
* ``expire_continue_tokens()`` makes outstanding list ``continue`` tokens answer 410 Expired.

Served (JSON shapes as the API server sends them; list items without kind/apiVersion):
``/version``; core v1 ``namespaces``, ``nodes``, ``pods`` (also cluster-wide ``/api/v1/pods``),
``pods/{name}/log`` (container, previous, tailLines, limitBytes, timestamps), ``events``;
apps/v1 ``deployments`` (GET, PATCH merge/strategic/json) and ``deployments/{name}/scale``
(autoscaling/v1 Scale: GET, PATCH, PUT; a stale ``metadata.resourceVersion`` -> 409 Conflict),
``replicasets``; autoscaling/v2 ``horizontalpodautoscalers``; metrics.k8s.io/v1beta1 ``pods``
(PodMetrics). Lists take ``limit``/``continue`` (``metadata.continue``, ``remainingItemCount``),
``labelSelector`` (=, ==, !=, in, notin, exists, !exists) and ``fieldSelector`` (=, ==, != on
metadata.name/namespace, status.phase, spec.nodeName, involvedObject.*, reason, type, ...;
unsupported fields -> 400 like the real server).

Scenario format (YAML; ``opsagent_sim/scenarios/*.yaml``; every key optional)::

    name: cpu-saturation            # defaults to the file name
    description: ...
    cluster: prod-eks
    now: "2026-11-20T14:05:00Z"      # reference time for ages (default: wall clock)
    namespace: shop                  # default namespace of the entries below
    namespaces: [shop, payments]     # created even when empty
    nodes: 6                         # ip-10-0-16-10.ec2.internal ... (pods are spread round-robin)
    auto_events: true                # kubelet/scheduler/controller events for problem pods
    deployments:
      - name: checkout
        namespace: shop
        replicas: 3                  # spec.replicas
        image: 1234.dkr.ecr.us-east-1.amazonaws.com/checkout:1.42.0
        revision: 7                  # deployment.kubernetes.io/revision; names the ReplicaSet
        labels: {opsagent.io/scaling: disabled}   # extra metadata.labels (selector is app=<name>)
        annotations: {team: payments}
        selector: {app: checkout}    # default {app: <name>}
        requests: {cpu: 500m, memory: 512Mi}
        limits: {cpu: "1", memory: 1Gi}
        containers: [{name: app, image: ..., port: 8080}, {name: envoy}]   # default: one named <name>
        cpu: 950m                    # PodMetrics usage of running pods (memory: 400Mi)
        scale_state: running         # state of pods created by a scale-up (e.g. oomkilled)
        progress: deadline_exceeded  # Progressing=False ProgressDeadlineExceeded while not rolled out
        pods:                        # groups of pods of the current ReplicaSet (default: replicas x running)
          - {count: 2, state: running}
          - state: oomkilled         # running | notready | crashloop | oomkilled | imagepullbackoff |
            restarts: 14             #   errimagepull | containercreating | pending | evicted |
            last_exit_code: 137      #   completed | terminating
            last_reason: OOMKilled
            node: ip-10-0-16-11.ec2.internal
            reason: "0/6 nodes are available: 6 Insufficient memory."   # pending: PodScheduled message
            cpu: 990m                # PodMetrics usage
            logs: "current log text"             # or {container: text}
            previous_logs: "previous instance"   # served with previous=true
        previous:                    # an older ReplicaSet that still has pods (a rollout in progress)
          revision: 6
          image: ...:1.41.0
          replicas: 3
          pods: [{count: 3, state: running}]
    pods:                            # extra pods: standalone (name required) or joining a deployment
      - {name: debug-shell, state: running, image: busybox}
      - {deployment: checkout, state: notready}
    hpas:
      - {name: checkout, target: checkout, min: 3, max: 10, cpu_target: 70, current_cpu: 96,
         current_replicas: 3, desired_replicas: 10}
    events:                          # object: pod/<name>, pod/<deployment>[i], deployment/<name>, ...
      - {object: deployment/checkout, type: Normal, reason: ScalingReplicaSet, message: ..., age: 2m}
    generate:                        # one mapping or a list: many pods, deterministically
      {namespace: shop, count: 5000, deployment: svc, deployments: 50, problem_ratio: 0.02,
       problems: [crashloop, oomkilled], seed: 7}
    rbac:
      deny: [{verb: patch, resource: deployments/scale, namespace: shop}]   # verb/resource may be "*"
      allow: [...]                   # when present, everything not allowed is denied
    auth: {token: s3cret, user: "arn:aws:sts::123456789012:assumed-role/opsagent-pods/fn"}
    faults: [{method: GET, path: "/pods$", status: 503, times: 2, delay: 0}]
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from opsagent_sim.k8s_model import (
    RESOURCES,
    Builder,
    ClusterState,
    ScenarioError,
    api_version,
    load_scenario,
    scale_deployment,
    synth_logs,
)

__all__ = ["Fault", "KubeEmulator", "RecordedRequest", "ScenarioError", "load_scenario"]

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}
_PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/json-patch+json": "json",
}
# (group, resource) for the URL forms we serve; metrics.k8s.io "pods" are PodMetrics.
_ROUTES = {
    ("", "v1"): {"namespaces", "nodes", "pods", "events"},
    ("apps", "v1"): {"deployments", "replicasets"},
    ("autoscaling", "v2"): {"horizontalpodautoscalers"},
    ("metrics.k8s.io", "v1beta1"): {"pods"},
}
_FIELDS = {
    "pods": {
        "spec.nodeName": lambda o: o["spec"].get("nodeName", ""),
        "spec.restartPolicy": lambda o: o["spec"].get("restartPolicy", ""),
        "spec.schedulerName": lambda o: o["spec"].get("schedulerName", ""),
        "spec.serviceAccountName": lambda o: o["spec"].get("serviceAccountName", ""),
        "status.phase": lambda o: o["status"].get("phase", ""),
        "status.podIP": lambda o: o["status"].get("podIP", ""),
        "status.nominatedNodeName": lambda o: o["status"].get("nominatedNodeName", ""),
    },
    "events": {
        **{
            f"involvedObject.{k}": (lambda key: lambda o: str(o["involvedObject"].get(key, "")))(k)
            for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
        },
        "reason": lambda o: o.get("reason", ""),
        "reportingComponent": lambda o: o.get("reportingComponent", ""),
        "source": lambda o: o.get("source", {}).get("component", ""),
        "type": lambda o: o.get("type", ""),
    },
    "namespaces": {"status.phase": lambda o: o["status"].get("phase", "")},
}
_SECRET_HEADERS = {"authorization", "cookie", "x-amz-security-token"}


class ApiError(Exception):
    def __init__(
        self, code: int, message: str, details: dict[str, Any] | None = None, reason: str | None = None
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.reason = reason or _REASONS.get(code, "Unknown")


def status_object(code: int, message: str, reason: str | None = None, details: dict | None = None) -> dict:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or _REASONS.get(code, "Unknown"),
        "details": details or {},
        "code": code,
    }


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None
    status: int = 0
    fault: bool = False


@dataclass
class Fault:
    method: str
    path: str
    status: int | None = 500
    times: int | None = 1
    delay: float = 0.0
    body: Any = None
    message: str | None = None
    hits: int = 0
    _regex: re.Pattern = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._regex = re.compile(self.path)
        self.method = self.method.upper()

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        return self.method in ("*", method) and bool(self._regex.search(path))


# ---- selectors ---------------------------------------------------------------------------------

_SEL_SET = re.compile(r"\s*([^\s!=<>(),]+)\s+(in|notin)\s*\(([^()]*)\)\s*")
_SEL_OP = re.compile(r"\s*([^\s!=<>(),]+)\s*(==|=|!=|<|>)\s*([^\s,()]*)\s*")
_SEL_EXISTS = re.compile(r"\s*(!?)\s*([^\s!=<>(),]+)\s*")
_LABEL_KEY = re.compile(
    r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
)
_LABEL_VAL = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")


def parse_label_selector(text: str) -> list[Callable[[dict[str, str]], bool]]:
    """The apiserver's label selector grammar -> predicates; ApiError(400) when malformed."""
    preds: list[Callable[[dict[str, str]], bool]] = []
    if not text.strip():
        return preds
    terms, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    for term in terms:
        if m := _SEL_SET.fullmatch(term):
            key, op, raw = m.groups()
            values = {v.strip() for v in raw.split(",")}
            _check_key(key, text)
            for v in values:
                if not v or not _LABEL_VAL.fullmatch(v) or len(v) > 63:
                    raise _bad_selector(text, f"invalid label value: {v!r}")
            if op == "in":
                preds.append(lambda labels, k=key, vs=values: labels.get(k) in vs)
            else:
                preds.append(lambda labels, k=key, vs=values: labels.get(k) not in vs)
        elif m := _SEL_OP.fullmatch(term):
            key, op, value = m.groups()
            _check_key(key, text)
            if op in "<>":
                if not re.fullmatch(r"-?[0-9]+", value):
                    raise _bad_selector(
                        text, f"for 'Gt', 'Lt' operators, the value must be an integer: {value!r}"
                    )
                preds.append(_compare(key, op, int(value)))
                continue
            if not _LABEL_VAL.fullmatch(value) or len(value) > 63:
                raise _bad_selector(text, f"invalid label value: {value!r}")
            if op == "!=":
                preds.append(lambda labels, k=key, v=value: labels.get(k) != v)
            else:
                preds.append(lambda labels, k=key, v=value: labels.get(k) == v)
        elif m := _SEL_EXISTS.fullmatch(term):
            neg, key = m.groups()
            _check_key(key, text)
            if neg:
                preds.append(lambda labels, k=key: k not in labels)
            else:
                preds.append(lambda labels, k=key: k in labels)
        else:
            raise _bad_selector(text, f"unable to parse requirement: {term.strip()!r}")
    return preds


def _compare(key: str, op: str, bound: int) -> Callable[[dict[str, str]], bool]:
    def pred(labels: dict[str, str]) -> bool:
        try:
            value = int(labels[key])
        except (KeyError, ValueError):
            return False
        return value > bound if op == ">" else value < bound

    return pred


def _check_key(key: str, text: str) -> None:
    if not _LABEL_KEY.fullmatch(key) or len(key.rpartition("/")[2]) > 63:
        raise _bad_selector(text, f"invalid label key {key!r}")


def _bad_selector(text: str, why: str) -> ApiError:
    return ApiError(400, f"unable to parse requirement: {why}")


def parse_field_selector(resource: str, text: str) -> list[Callable[[dict[str, Any]], bool]]:
    preds: list[Callable[[dict[str, Any]], bool]] = []
    if not text.strip():
        return preds
    fields: dict[str, Callable[[dict[str, Any]], Any]] = {
        "metadata.name": lambda o: o["metadata"]["name"],
        "metadata.namespace": lambda o: o["metadata"].get("namespace", ""),
        **_FIELDS.get(resource, {}),
    }
    for term in text.split(","):
        m = re.fullmatch(r"\s*([^=!\s]+)\s*(==|=|!=)\s*(\S*)\s*", term)
        if not m:
            raise ApiError(400, f"invalid selector: '{text}'; can't understand '{term}'")
        key, op, value = m.groups()
        getter = fields.get(key)
        if getter is None:
            raise ApiError(400, f"field label not supported: {key}")
        if op == "!=":
            preds.append(lambda o, g=getter, v=value: str(g(o)) != v)
        else:
            preds.append(lambda o, g=getter, v=value: str(g(o)) == v)
    return preds


# ---- JSON patches --------------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (strategic merge is treated the same for the maps we serve)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902 (add, remove, replace, test, copy, move)."""
    if not isinstance(ops, list):
        raise ApiError(400, "json patch must be a list of operations")
    doc = copy.deepcopy(doc)

    def walk(path: str) -> tuple[Any, str]:
        if not path.startswith("/"):
            raise ApiError(422, f"invalid JSON pointer {path!r}")
        parts = [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]
        node = doc
        for part in parts[:-1]:
            try:
                node = node[int(part)] if isinstance(node, list) else node[part]
            except (KeyError, IndexError, ValueError, TypeError):
                raise ApiError(422, f"path {path!r} does not exist") from None
        return node, parts[-1]

    def get(path: str) -> Any:
        parent, last = walk(path)
        try:
            return parent[int(last)] if isinstance(parent, list) else parent[last]
        except (KeyError, IndexError, ValueError, TypeError):
            raise ApiError(422, f"path {path!r} does not exist") from None

    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise ApiError(400, "each json patch operation needs op and path")
        kind, path = op["op"], op["path"]
        if kind == "test":
            if get(path) != op.get("value"):
                raise ApiError(422, f"the test operation on {path} failed: value mismatch")
            continue
        if kind in ("copy", "move"):
            value = copy.deepcopy(get(op["from"]))
            if kind == "move":
                parent, last = walk(op["from"])
                parent.pop(int(last) if isinstance(parent, list) else last)
            kind, op = "add", {"value": value}
        parent, last = walk(path)
        if kind == "remove":
            try:
                parent.pop(int(last) if isinstance(parent, list) else last)
            except (KeyError, IndexError, ValueError):
                raise ApiError(422, f"path {path!r} does not exist") from None
        elif kind in ("add", "replace"):
            if isinstance(parent, list):
                idx = len(parent) if last == "-" else int(last)
                if kind == "add":
                    parent.insert(idx, op.get("value"))
                else:
                    parent[idx] = op.get("value")
            elif isinstance(parent, dict):
                if kind == "replace" and last not in parent:
                    raise ApiError(422, f"path {path!r} does not exist")
                parent[last] = op.get("value")
            else:
                raise ApiError(422, f"path {path!r} does not exist")
        else:
            raise ApiError(400, f"unknown json patch operation {kind!r}")
    return doc


# ---- the emulator ------------------------------------------------------------------------------


class KubeEmulator:
    def __init__(
        self,
        scenario: str | Path | dict[str, Any] | None = None,
        *,
        tls: bool = False,
        token: str | None = None,
        eks_cluster: str | None = None,
        eks_secret_key: str | None = None,
        now: datetime | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.scenario = load_scenario(scenario)
        self.state: ClusterState = Builder(self.scenario, now=now).build()
        auth = self.scenario.get("auth") or {}
        self.token = token if token is not None else auth.get("token")
        self.eks_cluster = eks_cluster or auth.get("eks_cluster")
        self.eks_secret_key = eks_secret_key
        self.user = str(auth.get("user") or "arn:aws:sts::123456789012:assumed-role/opsagent-lambda/opsagent")
        rbac = self.scenario.get("rbac") or {}
        self.deny_rules: list[dict[str, Any]] = [dict(r) for r in rbac.get("deny") or []]
        self.allow_rules: list[dict[str, Any]] | None = (
            [dict(r) for r in rbac["allow"]] if rbac.get("allow") is not None else None
        )
        self.faults: list[Fault] = [
            Fault(
                method=str(f.get("method", "*")),
                path=str(f.get("path", ".*")),
                status=f.get("status", 500),
                times=f.get("times", 1),
                delay=float(f.get("delay", 0.0)),
                message=f.get("message"),
            )
            for f in self.scenario.get("faults") or []
        ]
        self.requests: list[RecordedRequest] = []
        self.tls = tls
        self.ca_file: str | None = None
        self._host = host
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # ---- lifecycle ----------------------------------------------------------------------------

    def start(self) -> KubeEmulator:
        handler = _make_handler(self)
        server = _Server((self._host, self._port), handler)
        if self.tls:
            from opsagent_sim.tls import make_tls_files

            files = make_tls_files()
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(files.cert_file, files.key_file)
            server.socket = ctx.wrap_socket(server.socket, server_side=True)
            self.ca_file = files.ca_file
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="kube-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> KubeEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running (use it as a context manager or call start())")
        host, port = self._server.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    def env(self) -> dict[str, str]:
        """Variables that point the production client (``opsagent.k8s.get_kube``) here."""
        env = {"OPSAGENT_K8S_ENDPOINT": self.url}
        if self.ca_file:
            env["OPSAGENT_K8S_CA_FILE"] = self.ca_file
        if self.eks_cluster and not self.token:
            env["OPSAGENT_CLUSTER_NAME"] = self.eks_cluster
        else:
            env["OPSAGENT_K8S_TOKEN"] = self.token or "opsagent-emulator"
        return env

    # ---- test controls ------------------------------------------------------------------------

    def inject(
        self,
        method: str,
        path: str,
        status: int | None = 500,
        *,
        times: int | None = 1,
        delay: float = 0.0,
        body: Any = None,
        message: str | None = None,
    ) -> Fault:
        fault = Fault(
            method=method, path=path, status=status, times=times, delay=delay, body=body, message=message
        )
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def deny(self, verb: str, resource: str, namespace: str | None = None, name: str | None = None) -> None:
        rule = {"verb": verb, "resource": resource}
        if namespace:
            rule["namespace"] = namespace
        if name:
            rule["name"] = name
        with self._lock:
            self.deny_rules.append(rule)

    def expire_continue_tokens(self) -> None:
        with self.state.lock:
            self.state.compacted_rv = self.state.rv + 1
            self.state.rv += 1

    def requests_matching(self, method: str = "*", path: str = ".*") -> list[RecordedRequest]:
        rx = re.compile(path)
        return [r for r in list(self.requests) if method in ("*", r.method) and rx.search(r.path)]

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # ---- request processing (called from handler threads) -------------------------------------

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.hits += 1
                    return fault
        return None

    def _authenticate(self, headers: dict[str, str]) -> None:
        if not self.token and not self.eks_cluster:
            return
        auth = headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer" or not value:
            raise ApiError(401, "Unauthorized")
        if self.token and value == self.token:
            return
        if (
            self.eks_cluster
            and value.startswith("k8s-aws-v1.")
            and _valid_eks_token(value, self.eks_cluster, self.eks_secret_key)
        ):
            return
        raise ApiError(401, "Unauthorized")

    def _authorize(
        self, verb: str, resource: str, group: str, namespace: str | None, name: str | None
    ) -> None:
        def hit(rule: dict[str, Any]) -> bool:
            verbs = rule.get("verb", rule.get("verbs", "*"))
            verbs = [verbs] if isinstance(verbs, str) else list(verbs)
            resources = rule.get("resource", rule.get("resources", "*"))
            resources = [resources] if isinstance(resources, str) else list(resources)
            return (
                ("*" in verbs or verb in verbs)
                and ("*" in resources or resource in resources)
                and rule.get("namespace") in (None, "*", namespace)
                and rule.get("name") in (None, name)
            )

        denied = any(hit(r) for r in self.deny_rules)
        if self.allow_rules is not None and not any(hit(r) for r in self.allow_rules):
            denied = True
        if not denied:
            return
        base = resource.split("/")[0]
        qualified = f"{base}.{group}" if group else base
        subject = f'{qualified} "{name}"' if name else qualified
        where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
        raise ApiError(
            403,
            f'{subject} is forbidden: User "{self.user}" cannot {verb} resource "{resource}" '
            f'in API group "{group}"{where}',
            {"name": name, "group": group, "kind": base} if name else {"group": group, "kind": base},
        )

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, bytes]:
        """Route one request -> (status, content type, body)."""
        parts = urlsplit(raw_path)
        path = unquote(parts.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if path == "/version":
            return (
                200,
                "application/json",
                _dumps(
                    {
                        "major": "1",
                        "minor": "31",
                        "gitVersion": "v1.31.4-eks-2d5f260",
                        "platform": "linux/amd64",
                    }
                ),
            )
        self._authenticate(headers)
        route = _parse_path(path)
        if route is None:
            raise ApiError(404, "the server could not find the requested resource")
        group, resource, namespace, name, sub = route
        verb = _verb(method, name, query)
        rbac_resource = "pods" if resource == "podmetrics" else resource
        self._authorize(verb, rbac_resource + (f"/{sub}" if sub else ""), group, namespace, name)
        with self.state.lock:
            if name is None:
                if method != "GET":
                    raise ApiError(405, "the server does not allow this method on the requested resource")
                return 200, "application/json", _dumps(self._list(resource, namespace, query))
            if sub == "log" and resource == "pods":
                if method != "GET":
                    raise ApiError(405, "the server does not allow this method on the requested resource")
                return 200, "text/plain", self._logs(namespace or "", name, query).encode()
            if sub == "scale" and resource == "deployments":
                return (
                    200,
                    "application/json",
                    _dumps(self._scale(method, namespace or "", name, headers, body)),
                )
            if sub:
                raise ApiError(404, "the server could not find the requested resource")
            if method == "GET":
                return 200, "application/json", _dumps(self._get(resource, namespace, name))
            if method == "PATCH" and resource == "deployments":
                return (
                    200,
                    "application/json",
                    _dumps(self._patch_deployment(namespace or "", name, headers, body)),
                )
            raise ApiError(405, "the server does not allow this method on the requested resource")

    def _not_found(self, resource: str, name: str) -> ApiError:
        group = RESOURCES[resource][0]
        plural = "pods" if resource == "podmetrics" else resource
        qualified = f"{plural}.{group}" if group else plural
        return ApiError(
            404, f'{qualified} "{name}" not found', {"name": name, "group": group, "kind": plural}
        )

    def _get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self.state.get(resource, namespace or "", name)
        if obj is None:
            raise self._not_found(resource, name)
        return obj

    def _list(self, resource: str, namespace: str | None, query: dict[str, str]) -> dict[str, Any]:
        labels = parse_label_selector(query.get("labelSelector", ""))
        fields = parse_field_selector(resource, query.get("fieldSelector", ""))
        limit = 0
        if query.get("limit"):
            try:
                limit = max(int(query["limit"]), 0)
            except ValueError:
                raise ApiError(400, f"invalid limit {query['limit']!r}") from None
        start_after: tuple[str, str] | None = None
        list_rv = self.state.rv
        if query.get("continue"):
            start_after, list_rv = self._decode_continue(query["continue"])
        store = self.state.objects[resource]
        items: list[dict[str, Any]] = []
        next_key: tuple[str, str] | None = None
        remaining = 0
        for key in self.state.keys(resource):
            if namespace is not None and key[0] != namespace:
                continue
            if start_after is not None and key <= start_after:
                continue
            obj = store[key]
            if labels:
                obj_labels = obj["metadata"].get("labels") or {}
                if not all(p(obj_labels) for p in labels):
                    continue
            if fields and not all(p(obj) for p in fields):
                continue
            if limit and len(items) >= limit:
                remaining += 1
                continue
            items.append(obj)
            next_key = key
        metadata: dict[str, Any] = {"resourceVersion": str(list_rv)}
        if remaining and next_key is not None:
            token = {"v": "meta.k8s.io/v1", "rv": list_rv, "start": f"{next_key[0]}/{next_key[1]}\x00"}
            metadata["continue"] = base64.b64encode(json.dumps(token).encode()).decode()
            if not labels and not fields:
                metadata["remainingItemCount"] = remaining
        _, _, kind, _ = RESOURCES[resource]
        out_items = []
        for obj in items:
            item = dict(obj)
            item.pop("kind", None)
            item.pop("apiVersion", None)
            out_items.append(item)
        return {
            "kind": f"{kind}List",
            "apiVersion": api_version(resource),
            "metadata": metadata,
            "items": out_items,
        }

    def _decode_continue(self, token: str) -> tuple[tuple[str, str], int]:
        try:
            data = json.loads(base64.b64decode(token, validate=True))
            ns, _, name = str(data["start"]).rstrip("\x00").partition("/")
            rv = int(data["rv"])
        except (binascii.Error, ValueError, KeyError, TypeError):
            raise ApiError(
                400, "continue key is not valid: incorrect encoded start resourceVersion"
            ) from None
        if rv < self.state.compacted_rv:
            raise ApiError(
                410,
                "The provided continue parameter is too old to display a consistent list result. "
                "You can start "
                "a new list without the continue parameter, or use the continue token in this response to "
                "retrieve the remainder of the results.",
                reason="Expired",
            )
        return (ns, name), rv

    def _logs(self, namespace: str, name: str, query: dict[str, str]) -> str:
        pod = self.state.get("pods", namespace, name)
        if pod is None:
            raise self._not_found("pods", name)
        names = [c["name"] for c in pod["spec"]["containers"]]
        container = query.get("container")
        if not container:
            if len(names) > 1:
                raise ApiError(
                    400,
                    f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]",
                )
            container = names[0]
        if container not in names:
            raise ApiError(400, f"container {container} is not valid for pod {name}")
        previous = query.get("previous", "").lower() in ("true", "1")
        statuses = {cs["name"]: cs for cs in pod["status"].get("containerStatuses") or []}
        cs = statuses.get(container)
        if previous:
            if not cs or "terminated" not in (cs.get("lastState") or {}):
                raise ApiError(400, f'previous terminated container "{container}" in pod "{name}" not found')
        else:
            waiting = (cs or {}).get("state", {}).get("waiting") if cs else {"reason": "ContainerCreating"}
            if waiting and waiting.get("reason") != "CrashLoopBackOff":
                why = {
                    "ImagePullBackOff": "trying and failing to pull image",
                    "ErrImagePull": "trying and failing to pull image",
                }.get(waiting.get("reason", ""), waiting.get("reason", "ContainerCreating"))
                raise ApiError(400, f'container "{container}" in pod "{name}" is waiting to start: {why}')
        text = self.state.logs.get((namespace, name, container, previous))
        if text is None:
            text = synth_logs(self.state, namespace, name, container, previous)
        if query.get("timestamps", "").lower() in ("true", "1"):
            stamp = self.state.now.strftime("%Y-%m-%dT%H:%M:%S.000000000Z")
            text = "".join(f"{stamp} {line}\n" for line in text.splitlines())
        if query.get("tailLines"):
            try:
                n = int(query["tailLines"])
            except ValueError:
                raise ApiError(400, "tailLines must be an integer") from None
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-n:]) if n > 0 else ""
        if query.get("limitBytes"):
            try:
                n = int(query["limitBytes"])
            except ValueError:
                raise ApiError(400, "limitBytes must be an integer") from None
            if n <= 0:
                raise ApiError(422, "limitBytes: Invalid value: must be greater than 0")
            text = text.encode()[:n].decode("utf-8", "ignore")
        return text

    # ---- writes -----------------------------------------------------------------------------------

    def _scale_object(self, dep: dict[str, Any]) -> dict[str, Any]:
        meta = dep["metadata"]
        selector = ",".join(f"{k}={v}" for k, v in sorted(dep["spec"]["selector"]["matchLabels"].items()))
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta["uid"],
                "resourceVersion": meta["resourceVersion"],
                "creationTimestamp": meta["creationTimestamp"],
            },
            "spec": {"replicas": dep["spec"]["replicas"]},
            "status": {"replicas": dep["status"].get("replicas", 0), "selector": selector},
        }

    def _read_body(self, headers: dict[str, str], body: bytes) -> tuple[str, Any]:
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            return ctype, json.loads(body or b"null")
        except ValueError:
            raise ApiError(400, "the request body is not valid JSON") from None

    def _conflict(self, name: str) -> ApiError:
        return ApiError(
            409,
            f'Operation cannot be fulfilled on deployments.apps "{name}": the object has been modified; '
            "please apply your changes to the latest version and try again",
            {"name": name, "group": "apps", "kind": "deployments"},
        )

    def _apply_patch(self, ctype: str, current: dict[str, Any], patch: Any) -> dict[str, Any]:
        kind = _PATCH_TYPES.get(ctype)
        if kind is None:
            raise ApiError(
                415,
                f"the body of the request was in an unknown format - accepted media types include: "
                f"{', '.join(_PATCH_TYPES)}",
            )
        if kind == "json":
            return json_patch(current, patch)
        if not isinstance(patch, dict):
            raise ApiError(400, "a merge patch must be a JSON object")
        return merge_patch(current, patch)

    def _validate_replicas(self, kind: str, name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ApiError(
                422 if value is not None else 400,
                f'{kind} "{name}" is invalid: spec.replicas: Invalid value: {json.dumps(value)}: '
                "must be an integer",
            )
        if value < 0:
            raise ApiError(
                422,
                f'{kind} "{name}" is invalid: spec.replicas: Invalid value: {value}: '
                "must be greater than or equal to 0",
            )
        return value

    def _scale(
        self, method: str, namespace: str, name: str, headers: dict[str, str], body: bytes
    ) -> dict[str, Any]:
        dep = self.state.get("deployments", namespace, name)
        if dep is None:
            raise self._not_found("deployments", name)
        scale = self._scale_object(dep)
        if method == "GET":
            return scale
        ctype, doc = self._read_body(headers, body)
        if method == "PUT":
            if not isinstance(doc, dict):
                raise ApiError(400, "the body must be a Scale object")
            new = doc
        elif method == "PATCH":
            new = self._apply_patch(ctype, scale, doc)
        else:
            raise ApiError(405, "the server does not allow this method on the requested resource")
        rv = (new.get("metadata") or {}).get("resourceVersion")
        if rv not in (None, "") and str(rv) != dep["metadata"]["resourceVersion"]:
            raise self._conflict(name)
        replicas = self._validate_replicas("Scale.autoscaling", name, (new.get("spec") or {}).get("replicas"))
        if replicas != dep["spec"]["replicas"]:
            scale_deployment(self.state, namespace, name, replicas)
        return self._scale_object(self.state.deployment(namespace, name))

    def _patch_deployment(
        self, namespace: str, name: str, headers: dict[str, str], body: bytes
    ) -> dict[str, Any]:
        dep = self.state.get("deployments", namespace, name)
        if dep is None:
            raise self._not_found("deployments", name)
        ctype, doc = self._read_body(headers, body)
        new = self._apply_patch(ctype, dep, doc)
        rv = (new.get("metadata") or {}).get("resourceVersion")
        if rv not in (None, "") and str(rv) != dep["metadata"]["resourceVersion"]:
            raise self._conflict(name)
        replicas = self._validate_replicas("Deployment.apps", name, (new.get("spec") or {}).get("replicas"))
        new.pop("status", None)
        meta_changed = any(
            new.get("metadata", {}).get(k) != dep["metadata"].get(k) for k in ("labels", "annotations")
        )
        other_spec = {k: v for k, v in new.get("spec", {}).items() if k != "replicas"}
        if other_spec != {k: v for k, v in dep["spec"].items() if k != "replicas"}:
            dep["spec"].update(copy.deepcopy(other_spec))
            dep["metadata"]["generation"] = int(dep["metadata"].get("generation", 1)) + 1
            meta_changed = True
        for key in ("labels", "annotations"):
            if key in new.get("metadata", {}):
                dep["metadata"][key] = copy.deepcopy(new["metadata"][key])
        if replicas != dep["spec"]["replicas"]:
            scale_deployment(self.state, namespace, name, replicas)
        elif meta_changed:
            dep["metadata"]["resourceVersion"] = self.state.next_rv()
        return dep


def verify_sigv4_presigned_url(url: str, headers: dict[str, str], secret_key: str) -> bool:
    """Check the SigV4 query signature of a presigned GET URL (what STS does for the
    authenticator), given the values of the signed headers other than ``host``."""
    import hashlib
    import hmac
    from urllib.parse import quote

    parts = urlsplit(url)
    pairs = parse_qs(parts.query, keep_blank_values=True)
    query = {k: v[0] for k, v in pairs.items()}
    signature = query.pop("X-Amz-Signature", "")
    signed = query.get("X-Amz-SignedHeaders", "").split(";")
    all_headers = {"host": parts.netloc, **{k.lower(): v for k, v in headers.items()}}
    if any(h not in all_headers for h in signed):
        return False
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query.items())
    )
    canonical_headers = "".join(f"{h}:{all_headers[h].strip()}\n" for h in signed)
    canonical = "\n".join(
        [
            "GET",
            parts.path or "/",
            canonical_query,
            canonical_headers,
            ";".join(signed),
            hashlib.sha256(b"").hexdigest(),
        ]
    )
    try:
        _, date, region, service, _ = query["X-Amz-Credential"].split("/")
        amz_date = query["X-Amz-Date"]
    except (KeyError, ValueError):
        return False
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret_key).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def _valid_eks_token(token: str, cluster: str, secret_key: str | None) -> bool:
    from opsagent.k8s.auth import inspect_token

    try:
        info = inspect_token(token)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return False
    if secret_key is not None and not verify_sigv4_presigned_url(
        info.url, {"x-k8s-aws-id": cluster}, secret_key
    ):
        return False
    parts = urlsplit(info.url)
    query = {k.lower(): v[0] for k, v in parse_qs(parts.query).items()}
    if not (
        parts.scheme == "https"
        and re.fullmatch(r"sts\.[a-z0-9-]+\.amazonaws\.com(\.cn)?", parts.hostname or "")
    ):
        return False
    if query.get("action") != "GetCallerIdentity" or "x-k8s-aws-id" not in info.signed_headers:
        return False
    try:
        signed = datetime.strptime(info.amz_date or "", "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return False
    return abs(datetime.now(UTC) - signed) < timedelta(minutes=15)


def _parse_path(path: str) -> tuple[str, str, str | None, str | None, str | None] | None:
    segs = [s for s in path.split("/") if s]
    if segs[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", segs[2:]
    elif len(segs) >= 3 and segs[0] == "apis":
        group, version, rest = segs[1], segs[2], segs[3:]
    else:
        return None
    served = _ROUTES.get((group, version))
    if not served or not rest:
        return None
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    resource = rest[0]
    if resource not in served:
        return None
    if group == "metrics.k8s.io":
        resource = "podmetrics"
    if RESOURCES[resource][3] is False and namespace is not None:
        return None
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if len(rest) > 3:
        return None
    return group, resource, namespace, name, sub


def _verb(method: str, name: str | None, query: dict[str, str]) -> str:
    if method == "GET":
        if query.get("watch", "").lower() in ("1", "true"):
            return "watch"
        return "get" if name else "list"
    return {"PATCH": "patch", "PUT": "update", "POST": "create", "DELETE": "delete"}.get(
        method, method.lower()
    )


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet: clients time out on purpose
        pass


def _make_handler(emu: KubeEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "opsagent-kube-emulator"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            parts = urlsplit(self.path)
            record = RecordedRequest(
                method=self.command,
                path=unquote(parts.path),
                query={k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
                headers={k: (_redact(v) if k in _SECRET_HEADERS else v) for k, v in headers.items()},
            )
            if body:
                try:
                    record.body = json.loads(body)
                except ValueError:
                    record.body = body[:200].decode("utf-8", "replace")
            with emu._lock:
                emu.requests.append(record)
            fault = emu._take_fault(self.command, record.path)
            if fault is not None:
                record.fault = True
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.status == 0:
                    record.status = 0
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if fault.status is not None:
                    doc = (
                        fault.body
                        if fault.body is not None
                        else status_object(
                            fault.status, fault.message or f"injected fault: HTTP {fault.status}"
                        )
                    )
                    self._send(fault.status, "application/json", _dumps(doc), record)
                    return
            try:
                status, ctype, payload = emu.handle(self.command, self.path, headers, body)
            except ApiError as err:
                status, ctype = err.code, "application/json"
                payload = _dumps(status_object(err.code, err.message, err.reason, err.details))
            except ScenarioError as err:
                status, ctype, payload = 500, "application/json", _dumps(status_object(500, str(err)))
            self._send(status, ctype, payload, record)

        def _send(self, status: int, ctype: str, payload: bytes, record: RecordedRequest) -> None:
            record.status = status
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Audit-Id", f"emulator-{len(emu.requests)}")
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                self.close_connection = True

        do_GET = do_PATCH = do_PUT = do_POST = do_DELETE = _serve

    return Handler


def _redact(value: str) -> str:
    scheme, _, rest = value.partition(" ")
    return f"{scheme} <redacted {len(rest)} chars>" if rest else "<redacted>"


def main(argv: list[str] | None = None) -> int:
    """``python -m opsagent_sim.k8s_emulator [scenario] [--port N] [--tls] [--token T]``: serve a scenario
    until interrupted and print the environment that points OpsAgent at it."""
    import argparse
    import sys

    from opsagent_sim.k8s_model import bundled_scenarios

    parser = argparse.ArgumentParser(prog="python -m opsagent_sim.k8s_emulator", description=main.__doc__)
    parser.add_argument("scenario", nargs="?", default="cpu-saturation", help=", ".join(bundled_scenarios()))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--token")
    parser.add_argument(
        "--live-clock", action="store_true", help="ages relative to now, not the scenario's now"
    )
    args = parser.parse_args(argv)
    now = datetime.now(UTC).replace(microsecond=0) if args.live_clock else None
    with KubeEmulator(args.scenario, tls=args.tls, token=args.token, now=now, port=args.port) as kube:
        for key, value in kube.env().items():
            print(f"export {key}={value}")
        print(f"# serving {args.scenario} on {kube.url} (Ctrl-C to stop)", file=sys.stderr)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
