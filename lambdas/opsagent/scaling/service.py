"""The scaling operations as plain Python: ``Scaling.get_deployment`` and ``Scaling.scale``.

Callable from the action group, the alarm trigger, the drill and the CLI alike::

    from opsagent.scaling import Scaling, ScaleRequest
    result = Scaling.from_env().scale(ctx, "shop", "checkout", ScaleRequest(replicas=6, reason="CPU 95%"))

Order of a scale (each step only runs if the previous passed; nothing is changed before step 8):

1. validate names (InvalidInput 400, audited as refused/invalid_input)
2. read allowlist (OPSAGENT_ALLOWED_NAMESPACES) and static policy rules 1-4 (no I/O)
3. idempotency record (state table): a completed identical request whose result still holds is
   replayed; one in progress -> wait briefly, then 409 ``in_progress`` (retryable)
4. read Deployment, Scale (resourceVersion) and HPAs; workload rules 5-7
5. target == current -> ``unchanged`` (no quota, no write)
6. dry_run -> read the counters, rules 8-9 without consuming, report
7. reserve quota (one DynamoDB transaction: cooldown slot + incident budget, conditional)
8. PATCH the Scale with its resourceVersion; on 409 re-read, re-check rules 5-7 once and retry;
   a second 409 releases the quota and raises a retryable conflict
9. read back, audit (before/after/undo), complete the idempotency record
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from opsagent.context import CallContext
from opsagent.errors import (
    ConfigurationError,
    Conflict,
    InvalidInput,
    NotFound,
    OpsAgentError,
    PermissionMissing,
    PolicyRefused,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from opsagent.scaling import workload as wl
from opsagent.scaling.models import (
    DeploymentInfo,
    QuotaInfo,
    ReplicaCounts,
    ScaleRequest,
    ScaleResult,
    ScalingVerdict,
    UndoHint,
)
from opsagent.scaling.policy import (
    PolicyDecision,
    QuotaUsage,
    ScalingPolicy,
    WorkloadFacts,
    allowed_range,
    evaluate,
    load_policy,
)

log = logging.getLogger("opsagent.scaling")

OPERATION = "scaleDeployment"
IDEM_SCOPE = "scaleDeployment"
IDEM_TTL_SECONDS = 3600  # a retry within an hour replays (if the result still holds)
IDEM_LEASE_SECONDS = 60  # must exceed the scaling Lambda's timeout
IN_PROGRESS_WAIT_SECONDS = 3.0


class OperationInProgress(Conflict):
    """An identical request is being applied right now."""

    code = "in_progress"
    retryable = True


class ScaleConflict(Conflict):
    """The Deployment kept changing under us (two resourceVersion conflicts)."""

    code = "conflict"
    retryable = True


class ScalingSettings(BaseModel):
    """``OPSAGENT_ALLOWED_NAMESPACES``: comma list (or JSON array) limiting reads and writes; unset = all."""

    allowed_namespaces: str | list[str] | None = None

    def read_allowlist(self) -> frozenset[str] | None:
        from opsagent.namespaces import parse_allowlist

        return parse_allowlist(self.allowed_namespaces)


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Scaling:
    """The scaling domain with its dependencies (injected in tests, from the environment otherwise)."""

    def __init__(
        self,
        *,
        policy: ScalingPolicy,
        kube: Any = None,
        state: Any = None,
        audit: Any = None,
        read_allowlist: frozenset[str] | None = None,
        environ: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.policy = policy
        self._kube = kube
        self._state = state
        self._audit = audit
        self.read_allowlist = read_allowlist
        self._environ = environ
        self._sleep = sleep

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Scaling:
        """Policy and allowlist are validated now (ConfigurationError naming the field); the
        cluster client, state table and audit trail are built on first use."""
        from opsagent.settings import load_settings

        settings = load_settings(ScalingSettings, environ)
        return cls(policy=load_policy(environ), read_allowlist=settings.read_allowlist(), environ=environ)

    # --- lazily built dependencies ---------------------------------------------------------------

    @property
    def kube(self) -> Any:
        if self._kube is None:
            from opsagent.k8s import get_kube

            self._kube = get_kube()
        return self._kube

    @property
    def state(self) -> Any:
        if self._state is None:
            from opsagent.state import StateStore

            self._state = StateStore.from_env(self._environ)
        return self._state

    @property
    def audit(self) -> Any:
        if self._audit is None:
            from opsagent.audit import AuditTrail

            self._audit = AuditTrail.from_env(self._environ)
        return self._audit

    # --- shared checks ---------------------------------------------------------------------------

    def _names(self, namespace: str, deployment: str) -> tuple[str, str]:
        from opsagent.k8s.names import validate_name, validate_namespace

        return validate_namespace(namespace, "namespace"), validate_name(deployment, "deployment")

    def _check_read_allowlist(self, namespace: str) -> None:
        from opsagent.namespaces import check_read_allowed

        check_read_allowed(namespace, self.read_allowlist)

    def _facts(self, dep: dict[str, Any], scale: dict[str, Any] | None, hpa: Any) -> WorkloadFacts:
        current = wl.scale_replicas(scale) if scale is not None else wl.replica_counts(dep).spec
        return WorkloadFacts(
            current_replicas=current,
            labels=wl.labels(dep),
            template_labels=wl.template_labels(dep),
            hpa_name=hpa.name if hpa else None,
            hpa_min=hpa.min_replicas if hpa else None,
            hpa_max=hpa.max_replicas if hpa else None,
        )

    def _quota(self, used: Any | None, note: str | None = None) -> QuotaInfo:
        p = self.policy
        return QuotaInfo(
            cooldown_used=None if used is None else used.window_used,
            cooldown_limit=p.cooldown_max_operations,
            cooldown_window_seconds=p.cooldown_window_seconds,
            cooldown_next_slot_at=None if used is None else _iso(used.window_next_at),
            incident_budget_used=None if used is None else used.budget_used,
            incident_budget_limit=p.incident_budget,
            note=note,
        )

    @staticmethod
    def _usage(snapshot: Any) -> QuotaUsage:
        return QuotaUsage(
            cooldown_used=snapshot.window_used,
            cooldown_next_at=_iso(snapshot.window_next_at),
            budget_used=snapshot.budget_used,
        )

    @staticmethod
    def _window_scope(namespace: str, deployment: str) -> str:
        return f"scale#{namespace}/{deployment}"

    # --- getDeployment ---------------------------------------------------------------------------

    def get_deployment(self, ctx: CallContext, namespace: str, deployment: str) -> DeploymentInfo:
        namespace, deployment = self._names(namespace, deployment)
        self._check_read_allowlist(namespace)
        dep = wl.read_deployment(self.kube, namespace, deployment)
        hpa, hpa_note = None, None
        try:
            hpa = wl.find_hpa(self.kube, namespace, deployment)
        except (PermissionMissing, PolicyRefused) as exc:
            hpa_note = f"could not check HPAs ({exc.message}); scaling is refused until this is known"
        objects = [("Deployment", deployment)]
        if rs := wl.newest_replicaset(dep):
            objects.append(("ReplicaSet", rs))
        try:
            events, omitted = wl.recent_events(self.kube, namespace, objects)
        except PermissionMissing:
            events, omitted = [], 0
        counts = wl.replica_counts(dep)
        facts = self._facts(dep, None, hpa)
        verdict = self._verdict(ctx, namespace, deployment, facts, hpa_unknown=hpa_note is not None)
        return DeploymentInfo(
            namespace=namespace,
            name=deployment,
            replicas=counts,
            rollout=wl.rollout(dep),
            conditions=wl.conditions(dep),
            events=events,
            events_omitted=omitted,
            hpa=hpa,
            hpa_note=hpa_note,
            containers=wl.containers(dep),
            scaling=verdict,
        )

    def _verdict(
        self, ctx: CallContext, namespace: str, deployment: str, facts: WorkloadFacts, *, hpa_unknown: bool
    ) -> ScalingVerdict:
        window = allowed_range(self.policy, facts.current_replicas)
        decision = evaluate(self.policy, namespace, deployment, None, facts)
        quota = None
        if decision.allowed:
            try:
                snapshot = self.state.usage(
                    self._window_scope(namespace, deployment),
                    self.policy.cooldown_window_seconds,
                    ctx.incident_id,
                )
            except (ConfigurationError, UpstreamUnavailable) as exc:
                quota = self._quota(None, note=f"counters unavailable: {exc.message}")
            else:
                quota = self._quota(snapshot)
                decision = evaluate(self.policy, namespace, deployment, None, facts, self._usage(snapshot))
        if decision.allowed and hpa_unknown:
            decision = PolicyDecision(
                allowed=False, rule="hpa_managed", limit=None, reason="cannot tell whether an HPA manages it"
            )
        if decision.allowed and window is None:
            decision = PolicyDecision(
                allowed=False,
                rule="replica_ceiling"
                if facts.current_replicas > self.policy.max_replicas
                else "replica_floor",
                limit=[self.policy.min_replicas, self.policy.max_replicas],
                reason=f"{facts.current_replicas} replicas is outside the policy's range and more than "
                f"{self.policy.max_step} away from it; no single call may scale it",
            )
        return ScalingVerdict(
            allowed=decision.allowed,
            rule=decision.rule,
            limit=decision.limit,
            reason=decision.reason
            if not decision.allowed
            else "scaleDeployment is allowed within allowed_range",
            allowed_range=list(window) if (window and decision.allowed) else None,
            quota=quota,
        )

    # --- scaleDeployment -------------------------------------------------------------------------

    def scale(self, ctx: CallContext, namespace: str, deployment: str, request: ScaleRequest) -> ScaleResult:
        # No audit trail or no state table -> no mutation (ConfigurationError before anything runs).
        _ = self.audit, self.state
        params: dict[str, Any] = {
            "namespace": namespace,
            "deployment": deployment,
            "replicas": request.replicas,
            "reason": request.reason,
            "dry_run": request.dry_run,
        }
        try:
            namespace, deployment = self._names(namespace, deployment)
        except InvalidInput as exc:
            self._record(ctx, params, "refused", rule="invalid_input", detail=exc.message)
            raise
        params.update(namespace=namespace, deployment=deployment)
        target = request.replicas

        try:
            self._check_read_allowlist(namespace)
            evaluate(self.policy, namespace, deployment, target).raise_if_refused(dry_run=request.dry_run)
        except PolicyRefused as exc:
            self._record(ctx, params, "refused", rule=exc.rule, detail=exc.message)
            raise

        if request.dry_run:
            return self._dry_run(ctx, namespace, deployment, target, params)

        from opsagent.state import digest

        key = digest(ctx.incident_id, namespace, deployment, target, False)
        begun = self._begin(ctx, key, namespace, deployment, target, params)
        if isinstance(begun, ScaleResult):
            return begun  # replayed
        token, previous_intent = begun
        attempt = _Attempt(key=key, token=token)
        try:
            result = None
            if previous_intent:
                result = self._recover(ctx, namespace, deployment, target, params, previous_intent)
            if result is None:
                result = self._apply(ctx, namespace, deployment, target, params, attempt)
        except _OutcomeUnknown as unknown:
            # Keep the record and its intent, end our lease: the next identical request takes over at
            # once and finds out from the intent whether this attempt's change landed.
            try:
                self.state.idem_yield(IDEM_SCOPE, key, token)
            except OpsAgentError:
                log.exception("could not end the idempotency lease; it expires on its own")
            raise unknown.error from None
        except BaseException:
            self._abandon(key, token)
            raise
        try:
            if not self.state.idem_complete(
                IDEM_SCOPE, key, token, result.model_dump_json(), ttl_seconds=IDEM_TTL_SECONDS
            ):
                log.warning("idempotency lease lost before completion", extra={"key": key})
        except OpsAgentError as exc:
            # The change is done: report it as done. A retry is still harmless (it finds the
            # Deployment at the target and changes nothing), so this is a warning, not an error.
            log.exception("could not complete the idempotency record", extra={"key": key})
            result.warnings.append(f"the idempotency record could not be saved ({exc.message})")
        return result

    def _abandon(self, key: str, token: str) -> None:
        try:
            self.state.idem_abandon(IDEM_SCOPE, key, token)
        except OpsAgentError:
            log.exception("could not drop the idempotency record; it expires with its lease")

    def _begin(
        self, ctx: CallContext, key: str, namespace: str, deployment: str, target: int, params: dict[str, Any]
    ) -> tuple[str, str | None] | ScaleResult:
        """(our idempotency token, the intent of an earlier attempt we took over), or the replayed
        result of an identical completed request."""
        take_over: str | None = None
        waited = 0.0
        for _ in range(40):
            outcome = self.state.idem_begin(
                IDEM_SCOPE,
                key,
                lease_seconds=IDEM_LEASE_SECONDS,
                ttl_seconds=IDEM_TTL_SECONDS,
                take_over_token=take_over,
                description=f"{ctx.incident_id} {namespace}/{deployment} -> {target}",
            )
            if outcome.state == "acquired":
                return outcome.token or "", outcome.previous_intent
            if outcome.state == "in_progress":
                if waited >= IN_PROGRESS_WAIT_SECONDS:
                    self._record(ctx, params, "deduplicated", detail="an identical request is in progress")
                    raise OperationInProgress(
                        f"an identical request to scale {namespace}/{deployment} to {target} is being "
                        "applied right now; call getDeployment in a few seconds instead of repeating it",
                        namespace=namespace,
                        deployment=deployment,
                    )
                self._sleep(0.25)
                waited += 0.25
                continue
            cached = ScaleResult.model_validate_json(outcome.response or "{}")
            dep = wl.read_deployment(self.kube, namespace, deployment)
            if wl.replica_counts(dep).spec == target:
                self._record(
                    ctx,
                    params,
                    "deduplicated",
                    detail=f"identical request already done (audit {cached.audit_id}); replayed its result",
                    after={"spec_replicas": target},
                )
                return self._replay(ctx, cached, dep)
            # The earlier result no longer holds (scaled since): this is a new change; take the
            # record over, conditionally on it still being the one we just judged stale.
            take_over = outcome.token
        raise OperationInProgress(
            "another invocation keeps handling the same request; retry shortly",
            namespace=namespace,
            deployment=deployment,
        )

    def _replay(self, ctx: CallContext, cached: ScaleResult, dep: dict[str, Any]) -> ScaleResult:
        """The first answer (what was done: before, audit id, undo) with what holds now: the
        cluster as just read and the counters as they are."""
        try:
            usage = self.state.usage(
                self._window_scope(cached.namespace, cached.deployment),
                self.policy.cooldown_window_seconds,
                ctx.incident_id,
            )
        except OpsAgentError as exc:
            quota = self._quota(None, note=f"counters unavailable: {exc.message}")
        else:
            quota = self._quota(usage)
        counts = wl.replica_counts(dep)
        return cached.model_copy(
            update={
                "replayed": True,
                "after_replicas": counts.spec,
                "cluster_now": counts,
                "rollout_status": wl.rollout(dep).status,
                "quota": quota,
                "message": f"replayed: an identical request already did this (audit {cached.audit_id}); "
                f"nothing was changed again. {cached.message}",
            }
        )

    def _read_workload(self, namespace: str, deployment: str) -> tuple[dict, dict, Any, WorkloadFacts]:
        dep = wl.read_deployment(self.kube, namespace, deployment)
        scale = wl.read_scale(self.kube, namespace, deployment)
        hpa = wl.find_hpa(self.kube, namespace, deployment)
        return dep, scale, hpa, self._facts(dep, scale, hpa)

    def _dry_run(
        self, ctx: CallContext, namespace: str, deployment: str, target: int, params: dict[str, Any]
    ) -> ScaleResult:
        try:
            dep, _scale, _hpa, facts = self._read_workload(namespace, deployment)
        except OpsAgentError as exc:
            self._record_error(ctx, params, exc, "dry run: ")
            raise
        usage = self.state.usage(
            self._window_scope(namespace, deployment), self.policy.cooldown_window_seconds, ctx.incident_id
        )
        decision = evaluate(self.policy, namespace, deployment, target, facts, self._usage(usage))
        self._enforce(ctx, params, decision, facts.current_replicas, "dry run: ", dry_run=True)
        before = {"spec_replicas": facts.current_replicas}
        would = "already at the requested count" if facts.current_replicas == target else "would be applied"
        rec = self._record(
            ctx, params, "dry_run", detail=f"{facts.current_replicas} -> {target}: {would}", before=before
        )
        return ScaleResult(
            outcome="dry_run",
            namespace=namespace,
            deployment=deployment,
            before_replicas=facts.current_replicas,
            requested_replicas=target,
            after_replicas=facts.current_replicas,
            cluster_now=wl.replica_counts(dep),
            rollout_status=wl.rollout(dep).status,
            message=f"dry run: scaling {namespace}/{deployment} {facts.current_replicas} -> {target} "
            f"{would}; nothing was changed and no quota was used",
            audit_id=rec.audit_id if rec else None,
            quota=self._quota(usage),
        )

    def _apply(
        self,
        ctx: CallContext,
        namespace: str,
        deployment: str,
        target: int,
        params: dict[str, Any],
        attempt: _Attempt,
    ) -> ScaleResult:
        try:
            dep, scale, _hpa, facts = self._read_workload(namespace, deployment)
        except OpsAgentError as exc:
            self._record_error(ctx, params, exc)
            raise
        self._enforce(
            ctx, params, evaluate(self.policy, namespace, deployment, target, facts), facts.current_replicas
        )
        before = facts.current_replicas
        if before == target:
            return self._unchanged(ctx, namespace, deployment, target, dep, params)

        try:
            snapshot = self.state.reserve(
                window_scope=self._window_scope(namespace, deployment),
                window_limit=self.policy.cooldown_max_operations,
                window_seconds=self.policy.cooldown_window_seconds,
                incident_id=ctx.incident_id,
                budget_limit=self.policy.incident_budget,
                entry={
                    "operation": OPERATION,
                    "target": f"{namespace}/{deployment}",
                    "replicas": str(target),
                },
            )
        except OpsAgentError as exc:
            self._record_error(ctx, params, exc, "quota could not be reserved, nothing applied: ")
            raise
        if snapshot.reservation is None:
            decision = evaluate(self.policy, namespace, deployment, target, facts, self._usage(snapshot))
            if decision.allowed:  # counters moved between reserve's read and ours; report the reserve's view
                rule = "cooldown" if snapshot.refused == "window" else "incident_budget"
                decision = PolicyDecision(
                    allowed=False, rule=rule, reason=f"{rule} limit reached", limit=None
                )
            self._enforce(ctx, params, decision, before)
        reservation = snapshot.reservation
        assert reservation is not None

        audit_slot = self.audit.reserve_id() if hasattr(self.audit, "reserve_id") else None
        warnings: list[str] = []

        def write_intent(base: dict[str, Any]) -> None:
            """Before each PATCH: what it changes from, to, and how to undo it (and its quota)."""
            intent = {
                "before": wl.scale_replicas(base),
                "rv": (base.get("metadata") or {}).get("resourceVersion"),
                "target": target,
                "undo": self._undo(namespace, deployment, wl.scale_replicas(base)).call,
                "reservation": [reservation.reservation_id, reservation.window_pk, reservation.budget_pk],
                "audit": list(audit_slot) if audit_slot else None,
            }
            try:
                kept = self.state.idem_intent(IDEM_SCOPE, attempt.key, attempt.token, json.dumps(intent))
            except OpsAgentError as exc:
                self._record_error(
                    ctx, params, exc, "the intent record could not be written, nothing applied: "
                )
                raise
            if not kept:
                self._record(ctx, params, "failed", detail="idempotency lease lost before the change")
                raise OperationInProgress(
                    "another invocation took this request over; call getDeployment before repeating it",
                    namespace=namespace,
                    deployment=deployment,
                )

        try:
            patched, before_scale = self._patch_with_retry(
                ctx, namespace, deployment, target, scale, params, write_intent
            )
        except _OutcomeUnknown as unknown:
            patched, before_scale = self._settle(
                ctx, namespace, deployment, target, params, unknown, reservation
            )
            warnings.append(
                f"the Kubernetes API answered the change with an error ({unknown.error.code}), but reading "
                "it back shows it was applied"
            )
        except BaseException as exc:
            self._release(reservation)
            if isinstance(exc, _Unchanged):
                return self._unchanged(ctx, namespace, deployment, target, exc.dep, params)
            raise
        before = wl.scale_replicas(before_scale)

        try:
            after_dep = wl.read_deployment(self.kube, namespace, deployment)
            cluster_now: ReplicaCounts | None = wl.replica_counts(after_dep)
            rollout_status: str | None = wl.rollout(after_dep).status
            after_spec = cluster_now.spec if cluster_now else target
        except OpsAgentError as exc:
            cluster_now, rollout_status = None, None
            after_spec = wl.scale_replicas(patched) or target
            warnings.append(f"applied, but reading it back failed: {exc.message}")
        if after_spec != target:
            warnings.append(
                f"the cluster reports spec.replicas={after_spec}, not {target}: something else changed it"
            )

        undo = self._undo(namespace, deployment, before)
        rec = self._record(
            ctx,
            params,
            "applied",
            detail=f"{before} -> {target}",
            before={
                "spec_replicas": before,
                "resource_version": (before_scale.get("metadata") or {}).get("resourceVersion"),
            },
            after={"spec_replicas": after_spec, **({"ready": cluster_now.ready} if cluster_now else {})},
            undo=undo.call,
            **({"reserved": audit_slot} if audit_slot else {}),
        )
        if rec is None:
            warnings.append("the audit record could not be written; tell a human (the change is applied)")
        return ScaleResult(
            outcome="applied",
            namespace=namespace,
            deployment=deployment,
            before_replicas=before,
            requested_replicas=target,
            after_replicas=after_spec,
            cluster_now=cluster_now,
            rollout_status=rollout_status,
            message=f"scaled {namespace}/{deployment} from {before} to {target} replicas; new pods take time "
            "to become ready (check getDeployment). Undo with the 'undo' call (policy applies to it too).",
            audit_id=rec.audit_id if rec else None,
            undo=undo,
            quota=self._quota(snapshot),
            warnings=warnings,
        )

    def _patch_with_retry(
        self,
        ctx: CallContext,
        namespace: str,
        deployment: str,
        target: int,
        scale: dict[str, Any],
        params: dict[str, Any],
        before_patch: Callable[[dict[str, Any]], None],
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """PATCH with the resourceVersion we checked; after one conflict re-read and re-check rules
        5-7 once. Returns (patch response, the Scale the patch was based on)."""
        for attempt in (1, 2):
            rv = (scale.get("metadata") or {}).get("resourceVersion")
            body: dict[str, Any] = {"spec": {"replicas": target}}
            if rv:
                body["metadata"] = {"resourceVersion": rv}
            before_patch(scale)
            try:
                return self.kube.patch(wl.scale_path(namespace, deployment), body, patch_type="merge"), scale
            except (UpstreamTimeout, UpstreamUnavailable) as exc:
                raise _OutcomeUnknown(exc, scale) from exc
            except Conflict:
                if attempt == 2:
                    self._record(
                        ctx, params, "failed", detail="resourceVersion conflict twice; nothing applied"
                    )
                    raise ScaleConflict(
                        f"{namespace}/{deployment} changed twice while being scaled; nothing was applied. "
                        "Call getDeployment, then retry if still needed.",
                        namespace=namespace,
                        deployment=deployment,
                    ) from None
            except (NotFound, PermissionMissing, InvalidInput) as exc:
                self._record(
                    ctx,
                    params,
                    "failed",
                    detail=exc.message,
                    before={"spec_replicas": wl.scale_replicas(scale)},
                )
                raise
            try:  # the 409 says nothing landed: a failure here is a plain "not applied"
                dep, scale, _hpa, facts = self._read_workload(namespace, deployment)
            except OpsAgentError as exc:
                self._record_error(ctx, params, exc, "after a conflict, nothing applied: ")
                raise
            decision = evaluate(self.policy, namespace, deployment, target, facts)
            self._enforce(ctx, params, decision, facts.current_replicas, "after a conflict: ")
            if facts.current_replicas == target:
                raise _Unchanged(dep)
        raise AssertionError("unreachable")

    @staticmethod
    def _undo(namespace: str, deployment: str, before: int) -> UndoHint:
        return UndoHint(
            namespace=namespace,
            deployment=deployment,
            replicas=before,
            call=f"scaleDeployment(namespace={namespace}, deployment={deployment}, replicas={before}, "
            f"reason='undo')",
        )

    def _settle(
        self,
        ctx: CallContext,
        namespace: str,
        deployment: str,
        target: int,
        params: dict[str, Any],
        unknown: _OutcomeUnknown,
        reservation: Any,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The PATCH failed with a 429, a 5xx or a timeout: find out whether it landed.

        429: rejected before processing, nothing applied -> release the slot. Otherwise re-read the
        Scale: at the target -> it landed, (scale now, base) is returned and the caller records it
        as applied. Unchanged (same resourceVersion) -> nothing applied: release. Anything else, or
        no answer -> outcome unknown: the slot is kept (fail closed) and the intent record stays."""
        err, base = unknown.error, unknown.base
        before = {"spec_replicas": wl.scale_replicas(base)}
        if err.details.get("status") == 429:
            self._release(reservation)
            self._record(
                ctx,
                params,
                "failed",
                detail=f"throttled (429), nothing applied: {err.message}",
                before=before,
            )
            raise err
        try:
            now = wl.read_scale(self.kube, namespace, deployment)
        except OpsAgentError as exc:
            self._record(
                ctx,
                params,
                "failed",
                detail=f"outcome unknown, quota kept: {err.message}; reading it back failed: {exc.message}",
                before=before,
            )
            raise unknown from None
        if wl.scale_replicas(now) == target:
            return now, base
        base_rv = (base.get("metadata") or {}).get("resourceVersion")
        if base_rv and (now.get("metadata") or {}).get("resourceVersion") == base_rv:
            self._release(reservation)
            self._record(
                ctx, params, "failed", detail=f"{err.message}; read back: nothing applied", before=before
            )
            raise err
        self._record(
            ctx,
            params,
            "failed",
            detail=f"outcome unknown, quota kept: {err.message}; the Deployment changed meanwhile "
            f"(spec.replicas={wl.scale_replicas(now)})",
            before=before,
        )
        raise unknown from None

    def _recover(
        self,
        ctx: CallContext,
        namespace: str,
        deployment: str,
        target: int,
        params: dict[str, Any],
        previous_intent: str,
    ) -> ScaleResult | None:
        """We took over an identical request whose attempt died (or gave up) after writing its
        intent. If its change landed, record it as applied with its undo (under the audit id it had
        reserved, so never twice) and return that; if it never landed, give its slot back. None:
        go on and apply."""
        from opsagent.state import Reservation

        try:
            intent = json.loads(previous_intent)
            reservation = Reservation(*intent["reservation"])
            before, target_then = int(intent["before"]), int(intent["target"])
        except (ValueError, KeyError, TypeError):
            log.error("unreadable intent record; treating the earlier attempt as unknown")
            return None
        if target_then != target:
            return None
        try:
            scale = wl.read_scale(self.kube, namespace, deployment)
        except OpsAgentError as exc:
            self._record_error(ctx, params, exc, "an earlier attempt's outcome is still unknown: ")
            raise _OutcomeUnknown(exc, {}) from None  # keep the intent for the next one
        rv = (scale.get("metadata") or {}).get("resourceVersion")
        if wl.scale_replicas(scale) != target:
            if rv and rv == intent.get("rv"):
                self._release(reservation)  # it never landed: its slot comes back
            return None
        try:
            dep: dict[str, Any] | None = wl.read_deployment(self.kube, namespace, deployment)
        except OpsAgentError:
            dep = None
        counts = wl.replica_counts(dep) if dep else None
        undo = self._undo(namespace, deployment, before)
        reserved = tuple(intent["audit"]) if intent.get("audit") else None
        rec = self._record(
            ctx,
            params,
            "applied",
            detail=f"{before} -> {target} (by an earlier attempt that did not finish; recovered from its "
            "intent record)",
            before={"spec_replicas": before, "resource_version": intent.get("rv")},
            after={"spec_replicas": wl.scale_replicas(scale), **({"ready": counts.ready} if counts else {})},
            undo=undo.call,
            **({"reserved": reserved} if reserved else {}),
        )
        try:
            usage = self.state.usage(
                self._window_scope(namespace, deployment),
                self.policy.cooldown_window_seconds,
                ctx.incident_id,
            )
            quota = self._quota(usage)
        except OpsAgentError as exc:
            quota = self._quota(None, note=f"counters unavailable: {exc.message}")
        return ScaleResult(
            outcome="applied",
            namespace=namespace,
            deployment=deployment,
            before_replicas=before,
            requested_replicas=target,
            after_replicas=wl.scale_replicas(scale),
            cluster_now=counts,
            rollout_status=wl.rollout(dep).status if dep else None,
            message=f"scaled {namespace}/{deployment} from {before} to {target} replicas (an earlier attempt "
            "applied it and was cut off before reporting; nothing was changed again). Undo with the 'undo' "
            "call (policy applies to it too).",
            audit_id=rec.audit_id if rec else None,
            undo=undo,
            quota=quota,
            warnings=[]
            if rec
            else ["the audit record could not be written; tell a human (the change is applied)"],
        )

    def _unchanged(
        self,
        ctx: CallContext,
        namespace: str,
        deployment: str,
        target: int,
        dep: dict[str, Any],
        params: dict[str, Any],
    ) -> ScaleResult:
        rec = self._record(ctx, params, "recorded", detail=f"already at {target} replicas; nothing changed")
        return ScaleResult(
            outcome="unchanged",
            namespace=namespace,
            deployment=deployment,
            before_replicas=target,
            requested_replicas=target,
            after_replicas=target,
            cluster_now=wl.replica_counts(dep),
            rollout_status=wl.rollout(dep).status,
            message=f"{namespace}/{deployment} already has {target} replicas; nothing was changed, "
            "no quota used",
            audit_id=rec.audit_id if rec else None,
        )

    def _release(self, reservation: Any) -> None:
        try:
            self.state.release(reservation)
        except OpsAgentError:
            log.exception("could not release a quota reservation; it expires with the window")

    def _enforce(
        self,
        ctx: CallContext,
        params: dict[str, Any],
        decision: PolicyDecision,
        before: int,
        prefix: str = "",
        **details: Any,
    ) -> None:
        """Nothing when ``decision`` allows; otherwise audit the refusal (with the replica count
        before) and raise it as PolicyRefused."""
        if decision.allowed:
            return
        self._record(
            ctx,
            params,
            "refused",
            rule=decision.rule,
            detail=prefix + decision.reason,
            before={"spec_replicas": before},
        )
        decision.raise_if_refused(**details)

    def _record_error(
        self, ctx: CallContext, params: dict[str, Any], exc: OpsAgentError, prefix: str = ""
    ) -> None:
        """Audit an error that stops the call: a policy refusal as ``refused`` with its rule."""
        if isinstance(exc, PolicyRefused):
            self._record(ctx, params, "refused", rule=exc.rule, detail=prefix + exc.message)
        else:
            self._record(ctx, params, "failed", detail=prefix + exc.message)

    def _record(self, ctx: CallContext, params: dict[str, Any], decision: str, **kwargs: Any) -> Any:
        """Write an audit record; a failure to write is logged and returns None (the caller decides
        whether that changes the answer)."""
        try:
            return self.audit.record(ctx, OPERATION, params, decision, **kwargs)
        except OpsAgentError:
            log.exception("audit write failed", extra={"decision": decision})
            return None


class _OutcomeUnknown(Exception):
    """Control flow inside scale: the PATCH timed out or failed with a 5xx (``base``: the Scale it
    was based on); escaping _apply it means "still unknown" and the intent record is kept."""

    def __init__(self, error: OpsAgentError, base: dict[str, Any]) -> None:
        self.error = error
        self.base = base


@dataclass(frozen=True)
class _Attempt:
    key: str
    token: str


class _Unchanged(Exception):
    """Control flow inside _apply: the target was reached by someone else; never escapes."""

    def __init__(self, dep: dict[str, Any]) -> None:
        self.dep = dep
