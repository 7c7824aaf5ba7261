"""A local Kubernetes API emulator: real Kubernetes JSON over real HTTP(S), for tests and the drill.

No API server can be installed on these machines, so this serves the subset OpsAgent uses from
an in-memory cluster built from a compact YAML scenario::

    from opsagent_sim.k8s import KubeEmulator

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
  :class:`~opsagent_sim.k8s.model.store.ClusterState`: ``replicas(ns, name)``, ``deployment(ns, name)``,
  ``pods(ns, deployment=None)``, ``get(resource, ns, name)``, ``scale_history``), ``requests``
  (list of :class:`~opsagent_sim.k8s.server.RecordedRequest`: method, path, query, headers with
  Authorization redacted, body, status), ``requests_matching(method, path_regex)``, ``clear_requests()``.
* ``inject(method, path_regex, status=500, times=1, delay=0.0, body=None, message=None)`` ->
  :class:`~opsagent_sim.k8s.faults.Fault` (``.hits``): the next ``times`` matching requests
  (``times=None``: all) wait ``delay`` seconds and then answer ``status`` with a Status object;
  ``status=None`` only delays; ``status=0`` drops the connection without answering. ``clear_faults()``.
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

Scenarios: :mod:`opsagent_sim.k8s.model.scenario` (format) and ``opsagent_sim/k8s/scenarios/*.yaml``.
Serve one from a shell: ``python -m opsagent_sim.k8s [scenario] [--port N] [--tls] [--token T]``.

Layout: ``model/`` is the cluster (``objects`` vocabulary, ``store``, ``scenario`` expansion, ``pods``,
``events``, ``controllers`` that reconcile after writes, synthesized ``logs``); ``api/`` answers
requests (``routes`` dispatch, ``auth``, ``selectors``, ``patch``, ``errors`` and one handler module
per kind of request: ``reads``, ``pod_logs``, ``deployments``); ``server`` is the HTTP(S) server and
the test controls; ``faults`` the injected failures; ``tls`` the throwaway CA.
"""

from __future__ import annotations

from opsagent_sim.k8s.api.errors import ApiError, status_object
from opsagent_sim.k8s.faults import Fault
from opsagent_sim.k8s.model import ClusterState, ScenarioError, bundled_scenarios, load_scenario
from opsagent_sim.k8s.server import KubeEmulator, RecordedRequest

__all__ = [
    "ApiError",
    "ClusterState",
    "Fault",
    "KubeEmulator",
    "RecordedRequest",
    "ScenarioError",
    "bundled_scenarios",
    "load_scenario",
    "status_object",
]
