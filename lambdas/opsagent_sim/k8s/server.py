"""The emulator's HTTP(S) server and its test controls (:class:`KubeEmulator`; see :mod:`opsagent_sim.k8s`).

Stopping is immediate: the serving thread waits on the listening socket and a wake-up socket pair,
not on a polling timeout (``socketserver``'s ``serve_forever`` checks for shutdown every 0.5 s, which
every test paid once per emulator).
"""

from __future__ import annotations

import contextlib
import json
import re
import selectors
import shutil
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from opsagent_sim import faults
from opsagent_sim.k8s.api.auth import authenticate, authorize
from opsagent_sim.k8s.api.errors import ApiError, status_object
from opsagent_sim.k8s.api.routes import dispatch, dumps, parse_path, verb
from opsagent_sim.k8s.faults import Fault
from opsagent_sim.k8s.model import Builder, ClusterState, ScenarioError, load_scenario

_SECRET_HEADERS = {"authorization", "cookie", "x-amz-security-token"}
_VERSION = {"major": "1", "minor": "31", "gitVersion": "v1.31.4-eks-2d5f260", "platform": "linux/amd64"}


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None
    status: int = 0
    fault: bool = False


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
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._tls_dir: str | None = None

    # ---- lifecycle ----------------------------------------------------------------------------

    def start(self) -> KubeEmulator:
        handler = _make_handler(self)
        server = _Server((self._host, self._port), handler)
        if self.tls:
            from opsagent_sim.k8s.tls import make_tls_files

            files = make_tls_files()
            self._tls_dir = files.directory
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(files.cert_file, files.key_file)
            server.socket = ctx.wrap_socket(server.socket, server_side=True)
            self.ca_file = files.ca_file
        self._server = server
        self._thread = threading.Thread(target=server.serve_until_stopped, name="kube-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (at once: no shutdown poll), close the socket and delete the TLS files."""
        if self._server is not None:
            self._server.stop_serving()
            if self._thread is not None:
                self._thread.join()
            self._server.server_close()
            self._server = None
            self._thread = None
        if self._tls_dir is not None:
            shutil.rmtree(self._tls_dir, ignore_errors=True)
            self._tls_dir = None
            self.ca_file = None

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

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, bytes]:
        """Route one request -> (status, content type, body); raises :class:`ApiError`."""
        parts = urlsplit(raw_path)
        path = unquote(parts.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if path == "/version":
            return 200, "application/json", dumps(_VERSION)
        authenticate(
            headers, token=self.token, eks_cluster=self.eks_cluster, eks_secret_key=self.eks_secret_key
        )
        route = parse_path(path)
        if route is None:
            raise ApiError(404, "the server could not find the requested resource")
        group, resource, namespace, name, sub = route
        rbac_resource = ("pods" if resource == "podmetrics" else resource) + (f"/{sub}" if sub else "")
        authorize(
            verb(method, name, query),
            rbac_resource,
            group,
            namespace,
            name,
            deny=self.deny_rules,
            allow=self.allow_rules,
            user=self.user,
        )
        return dispatch(self.state, method, route, query, headers, body)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.hits += 1
                    return fault
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def server_activate(self) -> None:
        super().server_activate()
        self._wake_r, self._wake_w = socket.socketpair()
        self._stopping = False

    def serve_until_stopped(self) -> None:
        """``serve_forever`` without its 0.5 s shutdown poll: block until a client connects or
        :meth:`stop_serving` writes to the wake-up socket."""
        with selectors.DefaultSelector() as sel:
            sel.register(self, selectors.EVENT_READ)
            sel.register(self._wake_r, selectors.EVENT_READ)
            while not self._stopping:
                for key, _ in sel.select():
                    if key.fileobj is self._wake_r:
                        return
                    self._handle_request_noblock()
                self.service_actions()

    def stop_serving(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def server_close(self) -> None:
        super().server_close()
        self._wake_r.close()
        self._wake_w.close()

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
                    self._send(fault.status, "application/json", dumps(doc), record)
                    return
            try:
                status, ctype, payload = emu.handle(self.command, self.path, headers, body)
            except ApiError as err:
                status, ctype = err.code, "application/json"
                payload = dumps(status_object(err.code, err.message, err.reason, err.details))
            except ScenarioError as err:
                status, ctype, payload = 500, "application/json", dumps(status_object(500, str(err)))
            if faults.deliver(emu, self, record, status, ctype, payload):  # applied, then failed
                return
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
