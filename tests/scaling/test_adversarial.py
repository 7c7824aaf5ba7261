"""Adversarial review of scaleDeployment: try to make the agent do what the policy forbids, through
the real handler (Bedrock event in) against the emulator + moto.

Each test states the attack and what must hold. Everything refused must leave the cluster
untouched and the counters unchanged."""

from __future__ import annotations

import threading

import pytest

from opsagent.state import StateStore

from .conftest import STATE_TABLE, scale_direct
from .test_scale_handler import INCIDENT, call, patches, scale_event, trail, usage


def body_event(**props):
    event = scale_event()
    event["requestBody"]["content"]["application/json"]["properties"] = [
        {"name": k, "type": "string", "value": v} for k, v in props.items()
    ]
    return event


def add_hpa(kube, namespace, name, target, *, kind="Deployment", api_version="apps/v1"):
    kube.state.put(
        "horizontalpodautoscalers",
        {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "scaleTargetRef": {"apiVersion": api_version, "kind": kind, "name": target},
                "minReplicas": 2,
                "maxReplicas": 8,
            },
            "status": {"currentReplicas": 3, "desiredReplicas": 3},
        },
    )


# --- replicas: only a plain whole number -----------------------------------------------------------


@pytest.mark.parametrize(
    "replicas", ["6_0", "1_0", "-0", "+4", "4.0", "0x4", "1e1", "true", "4 5", "\u0664", "\uff14", "04 4"]
)
def test_replicas_must_be_plain_digits(stack, lambda_context, replicas):
    """pydantic's lax int took '6_0' as 60, '-0' as 0 and '4.0' as 4: a count the model did not
    write plainly must be refused, not reinterpreted."""
    status, body = call(body_event(replicas=replicas, reason="cpu high"), lambda_context)
    assert status == 400, body
    assert stack.requests == [] and usage() == (0, 0)


def test_domain_api_rejects_bool_and_float_replicas():
    """The trigger, drill and CLI build ScaleRequest directly: True must not mean 1 replica."""
    from pydantic import ValidationError

    from opsagent.scaling import ScaleRequest

    for bad in (True, False, 4.0, 4.5, "4.0", None, "", " "):
        with pytest.raises(ValidationError):
            ScaleRequest(replicas=bad, reason="cpu high")
    assert ScaleRequest(replicas=4, reason="cpu high").replicas == 4
    assert ScaleRequest(replicas="0004", reason="cpu high").replicas == 4


def test_replicas_with_surrounding_spaces_is_the_number(stack, lambda_context):
    status, body = call(body_event(replicas=" 4 ", reason="cpu high"), lambda_context)
    assert status == 200 and body["after_replicas"] == 4


# --- dry_run: never mutates, never consumes; false really applies ----------------------------------


@pytest.mark.parametrize("value", ["true", "True", "TRUE", "1", "yes"])
def test_dry_run_true_forms_change_nothing(stack, lambda_context, value):
    status, body = call(scale_event(replicas="5", dry_run=value), lambda_context)
    assert status == 200 and body["outcome"] == "dry_run"
    assert patches(stack) == [] and usage() == (0, 0)


@pytest.mark.parametrize("value", ["false", "False", "0", "no"])
def test_dry_run_false_forms_apply(stack, lambda_context, value):
    status, body = call(scale_event(replicas="5", dry_run=value), lambda_context)
    assert status == 200 and body["outcome"] == "applied"
    assert len(patches(stack)) == 1 and usage() == (1, 1)


@pytest.mark.parametrize("value", ["", "maybe", "dry", " true", "2", "null"])
def test_dry_run_unclear_is_refused(stack, lambda_context, value):
    status, _ = call(scale_event(replicas="5", dry_run=value), lambda_context)
    assert status == 400 and stack.requests == []


def test_dry_run_at_the_cooldown_limit_reports_it_without_consuming(stack, lambda_context):
    for r in ("4", "5", "6"):
        assert call(scale_event(replicas=r), lambda_context)[0] == 200
    status, body = call(scale_event(replicas="5", dry_run="true"), lambda_context)
    assert status == 403 and body["rule"] == "cooldown"
    assert usage() == (3, 3) and len(patches(stack)) == 3


# --- names: case, spaces, unicode, traversal -------------------------------------------------------


@pytest.mark.parametrize(
    "namespace",
    [
        "Kube-system",
        "kube\u2010system",
        "kube\u2011system",
        "kubе-system",
        "shop/../kube-system",
        "kube-system\t",
    ],
)
def test_namespace_tricks_are_invalid(stack, lambda_context, namespace):
    status, body = call(scale_event("coredns", "3", namespace), lambda_context)
    assert status == 400 and body["error"] == "invalid_input"
    assert stack.requests == []


@pytest.mark.parametrize("namespace", ["kube-system ", " kube-system"])
def test_padded_protected_namespace_is_still_protected(stack, lambda_context, namespace, policy_env):
    policy_env({"allowed_namespaces": ["shop", "kube-system"]})
    status, body = call(scale_event("coredns", "3", namespace), lambda_context)
    assert status == 403 and body["rule"] == "protected_namespace"
    assert stack.requests == [] and stack.state.replicas("kube-system", "coredns") == 2


# --- incident ids are chosen by the caller ---------------------------------------------------------


def test_new_incident_id_every_call_does_not_escape_the_cooldown(stack, lambda_context):
    """sessionAttributes come from the InvokeAgent caller: a fresh incident_id per call resets the
    incident budget, but the per-Deployment cooldown and step still hold."""
    for i, r in enumerate(("4", "5", "6")):
        assert call(scale_event(replicas=r, incident=f"fresh-{i}"), lambda_context)[0] == 200
    status, body = call(scale_event(replicas="7", incident="fresh-3"), lambda_context)
    assert status == 403 and body["rule"] == "cooldown"
    status, body = call(scale_event("cart", "9", incident="fresh-4"), lambda_context)
    assert status == 403 and body["rule"] == "max_step"
    assert stack.state.replicas("shop", "checkout") == 6 and stack.state.replicas("shop", "cart") == 2


def test_incident_ids_do_not_share_idempotency_records(stack, lambda_context):
    assert call(scale_event(replicas="5", incident="a"), lambda_context)[1]["outcome"] == "applied"
    assert call(scale_event(replicas="3", incident="b", reason="undo"), lambda_context)[0] == 200
    # incident a's record for "5" does not hold any more; b asking for 5 is a new change
    status, body = call(scale_event(replicas="5", incident="b"), lambda_context)
    assert status == 200 and body["replayed"] is False and body["outcome"] == "applied"


# --- HPA detection -----------------------------------------------------------------------------------


def test_hpa_in_another_namespace_does_not_count(stack, lambda_context):
    add_hpa(stack, "payments", "checkout", "checkout")
    status, body = call(scale_event(replicas="4"), lambda_context)
    assert status == 200 and body["outcome"] == "applied"


def test_hpa_with_another_name_targeting_it_counts(stack, lambda_context):
    add_hpa(stack, "shop", "keda-hpa-checkout", "checkout")
    status, body = call(scale_event(replicas="4"), lambda_context)
    assert status == 403 and body["rule"] == "hpa_managed"
    assert patches(stack) == [] and usage() == (0, 0)


def test_hpa_of_another_kind_with_the_same_name_does_not_count(stack, lambda_context):
    add_hpa(stack, "shop", "checkout-sts", "checkout", kind="StatefulSet")
    status, body = call(scale_event(replicas="4"), lambda_context)
    assert status == 200 and body["outcome"] == "applied", body


def test_hpa_beyond_the_first_page_of_many_still_counts(stack, lambda_context):
    """The HPA scan stopped after 500 items: the 501st HPA (ours) was never seen and the scale went
    through."""
    for i in range(520):
        add_hpa(stack, "shop", f"a{i:04d}", f"other-{i}")
    add_hpa(stack, "shop", "zz-checkout", "checkout")  # listed last
    status, body = call(scale_event(replicas="4"), lambda_context)
    assert status == 403 and body["rule"] == "hpa_managed", body
    assert patches(stack) == [] and usage() == (0, 0)


def test_too_many_hpas_to_check_fails_closed(stack, lambda_context, monkeypatch):
    from opsagent.scaling import workload

    monkeypatch.setattr(workload, "MAX_HPAS_SCANNED", 50)
    for i in range(60):
        add_hpa(stack, "shop", f"a{i:04d}", f"other-{i}")
    status, body = call(scale_event(replicas="4"), lambda_context)
    assert status == 403 and body["rule"] == "hpa_managed", body
    assert patches(stack) == [] and usage() == (0, 0)
    assert (trail()[-1].decision, trail()[-1].rule) == ("refused", "hpa_managed")
    status, body = call(scale_event(replicas="4", dry_run="true"), lambda_context)
    assert status == 403 and body["rule"] == "hpa_managed"
    from .test_get_deployment import get

    status, info = get("shop", "checkout", lambda_context)
    assert status == 200 and info["scaling"]["allowed"] is False and info["scaling"]["rule"] == "hpa_managed"
    assert "50" in info["hpa_note"]


@pytest.mark.parametrize("status_code", [500, 503, 404, 0])
def test_hpa_list_failure_fails_closed(stack, lambda_context, status_code):
    stack.inject("GET", r"/horizontalpodautoscalers$", status=status_code, times=None)
    status, body = call(scale_event(replicas="4"), lambda_context)
    assert status in (404, 503), body  # the listing failed: say so, never guess "no HPA"
    assert patches(stack) == [] and usage() == (0, 0)
    assert stack.state.replicas("shop", "checkout") == 3
    assert trail()[-1].decision in ("failed", "refused")


# --- concurrency at the budget edge across deployments ---------------------------------------------


def test_budget_edge_with_concurrent_deployments(stack, lambda_context, policy_env):
    policy_env({"allowed_namespaces": ["shop"], "incident_budget": 2})
    assert call(scale_event("checkout", "4"), lambda_context)[0] == 200
    stack.clear_requests()
    barrier = threading.Barrier(2)
    results = []

    def go(dep):
        barrier.wait()
        results.append(scale_direct(dep, 3, INCIDENT))

    threads = [threading.Thread(target=go, args=(d,)) for d in ("cart", "search")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(s for s, _ in results) == [200, 403], results
    [refused] = [b for s, b in results if s == 403]
    assert (refused["rule"], refused["limit"]) == ("incident_budget", 2)
    assert len(patches(stack)) == 1
    assert stack.state.replicas("shop", "cart") + stack.state.replicas("shop", "search") == 5
    assert StateStore(STATE_TABLE).usage("scale#x", 3600, INCIDENT).budget_used == 2


# --- reason ----------------------------------------------------------------------------------------


def test_bidi_and_zero_width_controls_are_removed_from_reason(stack, lambda_context):
    """The reason is shown to humans reading the audit trail: no right-to-left overrides or
    invisible characters that make it read differently from what was stored."""
    status, _ = call(
        scale_event(replicas="4", reason="cpu \u202ehgih\u202c\u200b ok\u2066\ufeff\x85"), lambda_context
    )
    assert status == 200
    reason = trail()[0].parameters["reason"]
    assert reason == "cpu hgih ok", repr(reason)


# --- opt-out --------------------------------------------------------------------------------------


def test_opt_out_label_on_the_pod_template_counts(kube_factory, ddb, policy_env, lambda_context):
    """Owners often label through the chart's pod labels (spec.template.metadata.labels). Either
    place opts the workload out; refusing one opted-out scale too many is the safe error."""
    kube = kube_factory(
        {
            "namespace": "shop",
            "deployments": [
                {"name": "checkout", "replicas": 3, "pod_labels": {"opsagent.io/scaling": "disabled"}}
            ],
        }
    )
    status, body = call(scale_event(replicas="4"), lambda_context)
    assert status == 403 and body["rule"] == "opt_out_label"
    assert kube.requests_matching("PATCH") == [] and usage() == (0, 0)
    from .test_get_deployment import get

    _, info = get("shop", "checkout", lambda_context)
    assert info["scaling"]["allowed"] is False and info["scaling"]["rule"] == "opt_out_label"


# --- failures around the patch ---------------------------------------------------------------------


def test_state_failure_after_the_patch_still_reports_the_change(stack, lambda_context):
    """The change landed, then the idempotency record could not be completed. The answer said
    503 'retryable' (inviting a second change) although the Deployment was scaled."""
    from opsagent.errors import UpstreamUnavailable

    def broken(self, *a, **kw):
        raise UpstreamUnavailable("state table down", dependency="dynamodb:state")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(StateStore, "idem_complete", broken)
        status, body = call(scale_event(replicas="5"), lambda_context)
    assert status == 200 and body["outcome"] == "applied", body
    assert any("idempotency" in w for w in body["warnings"])
    assert stack.state.replicas("shop", "checkout") == 5
    assert usage() == (1, 1) and trail()[-1].decision == "applied"
    # the retry the model may still send: no second change (the Deployment is at 5 already)
    status, body = call(scale_event(replicas="5"), lambda_context)
    assert status in (200, 409) and len(patches(stack)) == 1


def test_read_back_failure_reports_the_patch_response(stack, lambda_context, monkeypatch):
    from opsagent.errors import UpstreamUnavailable
    from opsagent.scaling import workload

    real, reads = workload.read_deployment, []

    def read_deployment(kube, namespace, name):
        reads.append(name)
        if len(reads) > 1:  # the read-back after the patch
            raise UpstreamUnavailable("read-back failed")
        return real(kube, namespace, name)

    monkeypatch.setattr(workload, "read_deployment", read_deployment)
    status, body = call(scale_event(replicas="5"), lambda_context)
    assert status == 200 and body["outcome"] == "applied" and body["after_replicas"] == 5
    assert body["cluster_now"] is None and any("reading it back failed" in w for w in body["warnings"])
    assert usage() == (1, 1)
    assert trail()[-1].decision == "applied" and trail()[-1].after["spec_replicas"] == 5


def test_quota_store_failure_is_audited_and_changes_nothing(stack, lambda_context, monkeypatch):
    from opsagent.errors import UpstreamUnavailable

    def broken(self, **kw):
        raise UpstreamUnavailable("state table down", dependency="dynamodb:state")

    monkeypatch.setattr(StateStore, "reserve", broken)
    status, body = call(scale_event(replicas="5"), lambda_context)
    assert status == 503 and body["retryable"] is True
    assert patches(stack) == [] and stack.state.replicas("shop", "checkout") == 3
    rec = trail()[-1]
    assert rec.decision == "failed" and "quota" in rec.detail


# --- replays ---------------------------------------------------------------------------------------


def test_replay_reports_the_cluster_now_not_the_first_answer(stack, lambda_context):
    """A retry replayed the first answer verbatim: readiness, rollout and quota as they were then,
    which reads like 'nothing happened since' to the model."""
    s1, first = call(scale_event(replicas="5"), lambda_context)
    assert s1 == 200
    with stack.state.lock:  # time passes: the rollout moves on, another Deployment uses budget
        dep = stack.state.deployment("shop", "checkout")
        dep["status"]["readyReplicas"] = 4
    assert call(scale_event("cart", "3"), lambda_context)[0] == 200
    status, again = call(scale_event(replicas="5"), lambda_context)
    assert status == 200 and again["replayed"] is True and again["outcome"] == "applied"
    assert again["audit_id"] == first["audit_id"] and again["undo"] == first["undo"]
    assert again["before_replicas"] == 3 and again["after_replicas"] == 5
    assert again["cluster_now"]["ready"] == 4 != first["cluster_now"]["ready"]
    assert again["quota"]["incident_budget_used"] == 2
    assert "replayed" in again["message"]
    assert len(patches(stack)) == 2


def test_replay_only_when_the_requested_count_holds(stack, lambda_context, monkeypatch):
    """Someone scales to 6 right after our 3 -> 5 lands, so our read-back says 6. Asking for 5
    again was 'replayed' (nothing done) while the Deployment stayed at 6."""
    from opsagent.k8s import get_kube
    from opsagent_sim.k8s.model import scale_deployment

    client = get_kube()
    real_patch = client.patch

    def patch_then_race(path, body, **kwargs):
        out = real_patch(path, body, **kwargs)
        if len(patches(stack)) == 1:
            with stack.state.lock:
                scale_deployment(stack.state, "shop", "checkout", 6)
        return out

    monkeypatch.setattr(client, "patch", patch_then_race)
    status, first = call(scale_event(replicas="5"), lambda_context)
    assert status == 200 and first["after_replicas"] == 6 and first["warnings"]
    status, again = call(scale_event(replicas="5"), lambda_context)
    assert status == 200 and again["replayed"] is False and again["outcome"] == "applied"
    assert stack.state.replicas("shop", "checkout") == 5


# --- scale to zero, step base --------------------------------------------------------------------


def test_scale_to_zero_needs_both_settings(stack, lambda_context, policy_env):
    policy_env({"allowed_namespaces": ["shop"], "allow_scale_to_zero": True})  # floor still 1
    status, body = call(scale_event("cart", "0"), lambda_context)
    assert status == 403 and (body["rule"], body["limit"]) == ("replica_floor", 1)
    assert "min_replicas" in body["message"]
    status, body = call(scale_event("cart", "0", dry_run="true"), lambda_context)
    assert status == 403 and body["rule"] == "replica_floor"
    assert stack.requests == [] and stack.state.replicas("shop", "cart") == 2


def test_step_is_measured_from_spec_during_a_rollout(kube_factory, ddb, policy_env, lambda_context):
    """Mid-rollout status.replicas (old + new pods) exceeds spec.replicas. The step limits how far
    one call moves the desired count, so it is measured from spec: from status, 3 -> 7 would look
    like a step of 1 when 7 pods exist."""
    kube = kube_factory(
        {
            "namespace": "shop",
            "deployments": [
                {
                    "name": "checkout",
                    "replicas": 3,
                    "revision": 8,
                    "pods": [{"count": 3, "state": "notready"}],
                    "previous": {"revision": 7, "replicas": 3, "pods": [{"count": 3, "state": "running"}]},
                }
            ],
        }
    )
    dep = kube.state.deployment("shop", "checkout")
    assert dep["status"]["replicas"] > dep["spec"]["replicas"] == 3
    status, body = call(scale_event(replicas="7"), lambda_context)
    assert status == 403 and body["rule"] == "max_step" and "3 -> 7" in body["message"]
    status, body = call(scale_event(replicas="6"), lambda_context)
    assert status == 200 and body["before_replicas"] == 3 and kube.state.replicas("shop", "checkout") == 6


def test_long_and_unicode_incident_ids_are_usable_keys(stack, lambda_context):
    incident = "\U0001f525" * 3000  # 12 KB of UTF-8; DynamoDB keys take 2 KB at most
    status, body = call(scale_event(replicas="4", incident=incident), lambda_context)
    assert status == 200 and body["quota"]["incident_budget_used"] == 1
    assert trail(incident[:256])[-1].decision == "applied"


# --- races the resourceVersion must catch ----------------------------------------------------------


def before_first_patch(monkeypatch, action):
    from opsagent.k8s import get_kube

    client = get_kube()
    real_patch, done = client.patch, []

    def patch(path, body, **kwargs):
        if not done:
            done.append(True)
            action()
        return real_patch(path, body, **kwargs)

    monkeypatch.setattr(client, "patch", patch)


def test_opt_out_added_while_we_scale_is_honoured(stack, lambda_context, monkeypatch):
    def owners_opt_out():
        with stack.state.lock:
            dep = stack.state.deployment("shop", "checkout")
            dep["metadata"]["labels"]["opsagent.io/scaling"] = "disabled"
            dep["metadata"]["resourceVersion"] = stack.state.next_rv()

    before_first_patch(monkeypatch, owners_opt_out)
    status, body = call(scale_event(replicas="5"), lambda_context)
    assert status == 403 and body["rule"] == "opt_out_label", body
    assert [r.status for r in patches(stack)] == [409]
    assert stack.state.replicas("shop", "checkout") == 3 and usage() == (0, 0)


def test_identical_requests_from_two_incidents_change_once(stack, lambda_context):
    barrier = threading.Barrier(4)
    results = []

    def go(incident):
        barrier.wait()
        results.append(scale_direct(replicas=5, incident=incident))

    threads = [threading.Thread(target=go, args=(f"inc-{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Each holds a cooldown slot until its PATCH loses the resourceVersion race, so the 4th may be
    # refused by the cooldown (3 per hour): a safe error for what would have been a no-op.
    assert all(s == 200 or (s, b["rule"]) == (403, "cooldown") for s, b in results), results
    assert [b.get("outcome") for _, b in results].count("applied") == 1
    assert stack.state.scale_history == [{"namespace": "shop", "name": "checkout", "from": 3, "to": 5}]
    assert usage(incident="inc-0")[0] == 1  # the losers released their cooldown slots


def test_failed_reread_after_a_conflict_is_not_an_unknown_outcome(stack, lambda_context, monkeypatch):
    """A 409 means the PATCH did not land. If the re-read after it fails, nothing was applied:
    the quota is released and the audit does not say 'outcome unknown'."""
    before_first_patch(
        monkeypatch,
        lambda: (
            stack.inject("PATCH", r"/deployments/checkout/scale$", status=409, times=1),
            stack.inject("GET", r"/deployments/checkout/scale$", status=503, times=None),
        ),
    )
    status, body = call(scale_event(replicas="5"), lambda_context)
    assert status == 503 and body["retryable"] is True
    assert stack.state.replicas("shop", "checkout") == 3
    assert usage() == (0, 0)
    rec = trail()[-1]
    assert rec.decision == "failed" and "unknown" not in rec.detail and "nothing applied" in rec.detail
