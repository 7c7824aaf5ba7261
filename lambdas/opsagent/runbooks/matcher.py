"""Rank runbooks against an alarm's facts, explaining every point of the score.

Scoring (each runbook; the best single hit per category counts, so long lists do not inflate):

=========================  =====  ===========================================================
what matched               points notes
=========================  =====  ===========================================================
alarm name glob            40-50  40 + 1 per literal character of the glob, at most +10
triggering alarm glob      30-35  composite alarms: a child alarm's name matches (30 + up to 5)
metric namespace + name    40     the runbook names the namespace and the metric (name may glob)
metric name only           35     the runbook's metric has no namespace
keywords                   8 each at word starts in alarm name, metric name and description; max 24
=========================  =====  ===========================================================

Runbooks marked ``matches.fallback`` score 1 and are returned only when nothing else matched.
Ties: higher score, then more severe, then id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from opsagent.runbooks.models import FACT_PLACEHOLDERS, Runbook

ALARM_BASE, ALARM_SPECIFICITY_MAX = 40, 10
CHILD_BASE, CHILD_SPECIFICITY_MAX = 30, 5
METRIC_FULL, METRIC_NAME_ONLY = 40, 35
KEYWORD_POINTS, KEYWORD_MAX = 8, 24
FALLBACK_SCORE = 1
_SEPARATORS = re.compile(r"[\s\-_/.:,=]+")


@dataclass(frozen=True)
class RunbookMatch:
    runbook: Runbook
    score: int
    reasons: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.runbook.id

    def explain(self) -> str:
        return f"{self.runbook.id} score={self.score}: " + "; ".join(self.reasons)


def _dimensions_text(value: Any) -> str:
    if isinstance(value, Mapping):
        return ",".join(f"{k}={v}" for k, v in sorted(value.items()))
    return str(value) if value else ""


def facts_dict(facts: Any) -> dict[str, Any]:
    """Normalise alarm facts to a dict of strings (plus ``triggering_alarms``: list of names).

    Accepts a mapping, or an object such as ``opsagent.investigation.alarm.AlarmFacts`` (its
    ``template_vars()`` is used when present, plus ``description`` and ``triggering_alarms``).
    ``dimensions`` may be a dict or ``"K=V,K2=V2"``. Empty values are dropped."""
    if isinstance(facts, Mapping):
        raw: dict[str, Any] = dict(facts)
    else:
        raw = {}
        template_vars = getattr(facts, "template_vars", None)
        if callable(template_vars):
            raw.update(template_vars())
        for name in (*FACT_PLACEHOLDERS, "description", "reason", "triggering_alarms"):
            if name not in raw and getattr(facts, name, None) is not None:
                raw[name] = getattr(facts, name)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "triggering_alarms":
            names = [getattr(v, "name", v) for v in (value or [])]
            out[key] = [str(n) for n in names if n]
        elif key == "dimensions":
            text = _dimensions_text(value)
            if text:
                out[key] = text
        elif value is not None and not isinstance(value, Mapping | list | tuple) and str(value).strip():
            out[key] = str(value).strip()
    return out


def _glob_specificity(glob: str) -> int:
    return sum(1 for ch in glob if ch not in "*?[]")


def _words(text: str) -> str:
    return " " + _SEPARATORS.sub(" ", text.lower()).strip() + " "


def _keyword_hit(keyword: str, haystack: str) -> bool:
    needle = _words(keyword).strip()
    return bool(needle) and f" {needle}" in haystack


def score_runbook(runbook: Runbook, facts: Mapping[str, Any]) -> RunbookMatch:
    """Score one runbook (0 = no match) with the reasons. ``facts`` as returned by :func:`facts_dict`."""
    m = runbook.matches
    score, reasons = 0, []
    alarm = str(facts.get("alarm_name", ""))
    if alarm:
        hits = [g for g in m.alarm_names if fnmatchcase(alarm.lower(), g.lower())]
        if hits:
            best = max(hits, key=_glob_specificity)
            points = ALARM_BASE + min(ALARM_SPECIFICITY_MAX, _glob_specificity(best))
            score += points
            reasons.append(f"alarm name {alarm!r} matches {best!r} (+{points})")
    if not alarm or not reasons:
        best_child: tuple[int, str, str] | None = None
        for child in facts.get("triggering_alarms") or []:
            for g in m.alarm_names:
                if fnmatchcase(child.lower(), g.lower()):
                    points = CHILD_BASE + min(CHILD_SPECIFICITY_MAX, _glob_specificity(g))
                    if best_child is None or points > best_child[0]:
                        best_child = (points, child, g)
        if best_child:
            score += best_child[0]
            reasons.append(f"triggering alarm {best_child[1]!r} matches {best_child[2]!r} (+{best_child[0]})")

    metric_ns, metric_name = str(facts.get("metric_namespace", "")), str(facts.get("metric_name", ""))
    if metric_name:
        best_metric: tuple[int, str] | None = None
        for mm in m.metrics:
            if not fnmatchcase(metric_name, mm.name):
                continue
            if mm.namespace is None:
                cand = (METRIC_NAME_ONLY, f"metric {metric_name!r} matches {mm.name!r}")
            elif mm.namespace == metric_ns:
                cand = (METRIC_FULL, f"metric {metric_ns}/{metric_name} matches {mm.namespace}/{mm.name}")
            else:
                continue
            if best_metric is None or cand[0] > best_metric[0]:
                best_metric = cand
        if best_metric:
            score += best_metric[0]
            reasons.append(f"{best_metric[1]} (+{best_metric[0]})")

    haystack = _words(" ".join(str(facts.get(k, "")) for k in ("alarm_name", "metric_name", "description")))
    found = [k for k in m.keywords if _keyword_hit(k, haystack)]
    if found:
        points = min(KEYWORD_MAX, KEYWORD_POINTS * len(found))
        score += points
        reasons.append(f"keywords {', '.join(repr(k) for k in found)} (+{points})")
    return RunbookMatch(runbook=runbook, score=score, reasons=reasons)


def match_runbooks(
    runbooks: Iterable[Runbook], facts: Any, *, limit: int | None = None
) -> list[RunbookMatch]:
    """Runbooks that match the alarm, best first (see the module docstring for the score).

    ``facts``: a mapping or an AlarmFacts-like object with alarm_name, metric_namespace,
    metric_name, dimensions, description (and optionally triggering_alarms). When nothing matches,
    the runbooks marked ``fallback`` are returned with score 1; otherwise an empty list."""
    books = list(runbooks)
    normalized = facts_dict(facts)
    scored = [s for s in (score_runbook(b, normalized) for b in books) if s.score > 0]
    if not scored:
        scored = [
            RunbookMatch(b, FALLBACK_SCORE, ["fallback: no specific runbook matched (+1)"])
            for b in books
            if b.matches.fallback
        ]
    scored.sort(key=lambda s: (-s.score, s.runbook.severity_rank, s.runbook.id))
    return scored[:limit] if limit else scored
