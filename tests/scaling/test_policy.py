"""The safety policy: configuration validation and every rule, in order (pure, no I/O)."""

from __future__ import annotations

import json

import pytest

from opsagent.errors import ConfigurationError, PolicyRefused
from opsagent.scaling.policy import (
    BUILTIN_PROTECTED_NAMESPACES,
    RULES,
    QuotaUsage,
    ScalingPolicy,
    WorkloadFacts,
    allowed_range,
    evaluate,
    load_policy,
)

SHOP = ScalingPolicy(allowed_namespaces=["shop", "kube-system"])
FACTS = WorkloadFacts(current_replicas=3, labels={"app": "checkout"})
FREE = QuotaUsage()


def env(policy: dict) -> dict[str, str]:
    return {"OPSAGENT_POLICY": json.dumps(policy)}


# --- configuration ------------------------------------------------------------------------------


def test_defaults_are_read_only_and_documented_values():
    p = load_policy({})
    assert p.allowed_namespaces == []
    assert (p.min_replicas, p.max_replicas, p.max_step) == (1, 10, 3)
    assert (p.cooldown_max_operations, p.cooldown_window_seconds, p.incident_budget) == (3, 3600, 10)
    assert p.allow_scale_to_zero is False
    assert (p.opt_out_label, p.opt_out_value) == ("opsagent.io/scaling", "disabled")
    d = evaluate(p, "shop", "checkout", 4, FACTS, FREE)
    assert (d.allowed, d.rule) == (False, "namespace_not_allowed")
    assert "read-only" in d.reason


def test_full_example_policy_loads():
    p = load_policy(
        env(
            {
                "allowed_namespaces": ["shop", "payments"],
                "protected_namespaces": ["payments-db"],
                "min_replicas": 2,
                "max_replicas": 20,
                "max_step": 5,
                "cooldown_max_operations": 2,
                "cooldown_window_seconds": 1800,
                "incident_budget": 5,
                "opt_out_label": "example.com/no-autoscale",
                "opt_out_value": "true",
            }
        )
    )
    assert p.allowed_namespaces == ["payments", "shop"]
    assert "payments-db" in p.protected and "kube-system" in p.protected


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ({"max_step": 0}, "OPSAGENT_POLICY.max_step"),
        ({"max_replicas": "ten"}, "OPSAGENT_POLICY.max_replicas"),
        ({"maxReplicas": 5}, "OPSAGENT_POLICY.maxReplicas"),  # typo must not silently drop a limit
        ({"allowed_namespaces": ["shop", "*"]}, "OPSAGENT_POLICY.allowed_namespaces"),
        ({"allowed_namespaces": "shop"}, "OPSAGENT_POLICY.allowed_namespaces"),
        ({"protected_namespaces": ["Bad_NS"]}, "OPSAGENT_POLICY.protected_namespaces"),
        ({"min_replicas": 0}, "allow_scale_to_zero"),
        ({"min_replicas": 5, "max_replicas": 4}, "min_replicas (5) is above max_replicas (4)"),
        ({"cooldown_window_seconds": 5}, "OPSAGENT_POLICY.cooldown_window_seconds"),
        ({"incident_budget": -1}, "OPSAGENT_POLICY.incident_budget"),
        ({"opt_out_label": "bad key with spaces"}, "OPSAGENT_POLICY.opt_out_label"),
    ],
)
def test_bad_config_names_the_field(policy, field):
    with pytest.raises(ConfigurationError) as err:
        load_policy(env(policy))
    assert field in err.value.message


def test_not_json_or_not_an_object():
    with pytest.raises(ConfigurationError) as err:
        load_policy({"OPSAGENT_POLICY": "{not json"})
    assert "OPSAGENT_POLICY" in err.value.message
    with pytest.raises(ConfigurationError) as err:
        load_policy({"OPSAGENT_POLICY": "allowed_namespaces=shop"})
    assert "OPSAGENT_POLICY" in err.value.message


def test_scale_to_zero_only_when_explicit():
    p = load_policy(env({"allowed_namespaces": ["shop"], "min_replicas": 0, "allow_scale_to_zero": True}))
    assert evaluate(p, "shop", "checkout", 0, WorkloadFacts(current_replicas=1), FREE).allowed
    d = evaluate(SHOP, "shop", "checkout", 0, WorkloadFacts(current_replicas=1), FREE)
    assert (d.rule, d.limit) == ("replica_floor", 1)
    assert "allow_scale_to_zero" in d.reason


def test_builtin_protected_namespaces_cannot_be_removed():
    p = load_policy(env({"allowed_namespaces": ["kube-system"], "protected_namespaces": []}))
    assert set(BUILTIN_PROTECTED_NAMESPACES) <= p.protected
    assert evaluate(p, "kube-system", "coredns", 2).rule == "protected_namespace"


# --- rules ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("namespace", "target", "facts", "usage", "rule", "limit"),
    [
        ("kube-system", 2, FACTS, FREE, "protected_namespace", None),
        ("cert-manager", 2, FACTS, FREE, "protected_namespace", None),
        ("billing", 4, FACTS, FREE, "namespace_not_allowed", ["kube-system", "shop"]),
        ("shop", 0, FACTS, FREE, "replica_floor", 1),
        ("shop", 11, FACTS, FREE, "replica_ceiling", 10),
        (
            "shop",
            4,
            WorkloadFacts(current_replicas=3, labels={"opsagent.io/scaling": "disabled"}),
            FREE,
            "opt_out_label",
            "opsagent.io/scaling=disabled",
        ),
        (
            "shop",
            4,
            WorkloadFacts(current_replicas=3, hpa_name="checkout", hpa_min=2, hpa_max=8),
            FREE,
            "hpa_managed",
            "checkout",
        ),
        ("shop", 7, FACTS, FREE, "max_step", 3),
        (
            "shop",
            4,
            FACTS,
            QuotaUsage(cooldown_used=3, cooldown_next_at="2026-01-01T00:00:00Z"),
            "cooldown",
            3,
        ),
        ("shop", 4, FACTS, QuotaUsage(cooldown_used=2, budget_used=10), "incident_budget", 10),
    ],
)
def test_each_rule_refuses_with_its_name_and_limit(namespace, target, facts, usage, rule, limit):
    d = evaluate(SHOP, namespace, "checkout", target, facts, usage)
    assert not d.allowed
    assert d.rule == rule
    if limit is not None:
        assert d.limit == limit
    assert d.checked[-1] == rule
    assert d.checked == list(RULES[: RULES.index(rule) + 1])
    with pytest.raises(PolicyRefused) as err:
        d.raise_if_refused()
    body = err.value.to_body()
    assert body["error"] == "policy_refused" and body["rule"] == rule and "limit" in body
    assert err.value.status_code == 403


def test_first_rule_wins_in_documented_order():
    # Everything is wrong at once: the most fundamental rule is reported.
    bad = WorkloadFacts(current_replicas=1, labels={"opsagent.io/scaling": "disabled"}, hpa_name="h")
    busy = QuotaUsage(cooldown_used=99, budget_used=99)
    assert evaluate(SHOP, "kube-system", "x", 50, bad, busy).rule == "protected_namespace"
    assert evaluate(SHOP, "other", "x", 50, bad, busy).rule == "namespace_not_allowed"
    assert evaluate(SHOP, "shop", "x", 50, bad, busy).rule == "replica_ceiling"
    assert evaluate(SHOP, "shop", "x", 4, bad, busy).rule == "opt_out_label"
    assert evaluate(SHOP, "shop", "x", 4, bad.model_copy(update={"labels": {}}), busy).rule == "hpa_managed"
    assert evaluate(SHOP, "shop", "x", 5, WorkloadFacts(current_replicas=1), busy).rule == "max_step"
    assert evaluate(SHOP, "shop", "x", 4, WorkloadFacts(current_replicas=1), busy).rule == "cooldown"


def test_allowed_when_every_rule_passes():
    d = evaluate(SHOP, "shop", "checkout", 6, FACTS, QuotaUsage(cooldown_used=2, budget_used=9))
    assert d.allowed and d.rule is None and d.checked == list(RULES)
    # A scale-down within the step is fine too.
    assert evaluate(SHOP, "shop", "checkout", 1, FACTS, FREE).allowed


def test_opt_out_needs_the_exact_value():
    facts = WorkloadFacts(current_replicas=3, labels={"opsagent.io/scaling": "enabled"})
    assert evaluate(SHOP, "shop", "checkout", 4, facts, FREE).allowed


def test_partial_evaluation_without_io():
    assert evaluate(SHOP, "shop", "checkout", 9).allowed  # static rules only: step not known yet
    assert evaluate(SHOP, "shop", "checkout", 9, FACTS).rule == "max_step"
    assert evaluate(SHOP, "shop", "checkout", None, FACTS, FREE).allowed  # getDeployment's question


def test_allowed_range():
    assert allowed_range(SHOP, 3) == (1, 6)
    assert allowed_range(SHOP, 9) == (6, 10)
    assert allowed_range(SHOP, 20) is None  # far above the ceiling: no single call fits
    d = evaluate(SHOP, "shop", "checkout", 8, WorkloadFacts(current_replicas=3))
    assert "allowed now: 1..6" in d.reason


def test_rule_names_are_stable():
    assert RULES == (
        "protected_namespace",
        "namespace_not_allowed",
        "replica_floor",
        "replica_ceiling",
        "opt_out_label",
        "hpa_managed",
        "max_step",
        "cooldown",
        "incident_budget",
    )


def test_the_limits_themselves_are_allowed():
    p = ScalingPolicy(allowed_namespaces=["shop"], min_replicas=2, max_replicas=10, max_step=3)
    assert evaluate(p, "shop", "x", 10, WorkloadFacts(current_replicas=7), FREE).allowed
    assert evaluate(p, "shop", "x", 2, WorkloadFacts(current_replicas=5), FREE).allowed
    assert evaluate(p, "shop", "x", 11, WorkloadFacts(current_replicas=10), FREE).rule == "replica_ceiling"
    assert evaluate(p, "shop", "x", 1, WorkloadFacts(current_replicas=2), FREE).rule == "replica_floor"


@pytest.mark.parametrize(
    "namespace",
    [
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "amazon-cloudwatch",
        "amazon-guardduty",
        "aws-observability",
        "cert-manager",
        "karpenter",
        "gatekeeper-system",
        "kyverno",
        "istio-system",
        "linkerd",
    ],
)
def test_every_documented_system_namespace_is_protected_even_when_allowed(namespace):
    p = load_policy(env({"allowed_namespaces": [namespace]}))
    assert evaluate(p, namespace, "x", 2).rule == "protected_namespace"


def test_opt_out_on_the_pod_template_counts():
    facts = WorkloadFacts(current_replicas=3, template_labels={"opsagent.io/scaling": "disabled"})
    d = evaluate(SHOP, "shop", "checkout", 4, facts, FREE)
    assert d.rule == "opt_out_label" and "pod template" in d.reason
