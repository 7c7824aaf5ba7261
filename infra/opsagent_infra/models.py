"""Which foundation models the agent may run on: the one list, with each model's Bedrock lifecycle.

A configured ``model.id`` must name a model listed here (a geo inference profile ``us.``/``eu.``/
``apac.``/``global.`` + the model id, or the plain model id), must not have reached its Bedrock
end-of-life date, and a geo profile must belong to the stack's region. ``model.allow_unlisted: true``
is the explicit override (a model added to Bedrock after this list, a region where an old model
lives on): then only the structural checks of :class:`opsagent_infra.config.ModelConfig` apply.

Sources (read 2026-12-04; the dates are Amazon Bedrock's, not the model provider's):

* Bedrock model cards: https://docs.aws.amazon.com/bedrock/latest/userguide/model-card-anthropic-claude-haiku-4-5.html
  (launch 2025-10-16, Active, EOL no sooner than 2026-10-01; geo ids ``us.``/``eu.``, global id),
  ``model-card-anthropic-claude-3-5-haiku.html`` (launch 2024-11-04, Legacy, EOL 2026-06-19) and
  ``model-card-anthropic-claude-3-haiku.html`` (launch 2024-03-13, EOL 2026-09-10 in most Regions).
* Model lifecycle (legacy policy, models launched before 2026-09-07):
  https://docs.aws.amazon.com/bedrock/latest/userguide/model-lifecycle-legacy.html — a model stays at
  least 12 months, and is Legacy for at least 6 months before its EOL date.
* Supported Regions for Amazon Bedrock Agents ("supports all models supported by Amazon Bedrock"):
  https://docs.aws.amazon.com/bedrock/latest/userguide/agents-supported.html

The live state is ``modelLifecycle`` in ``bedrock:GetFoundationModel``; ``make verify`` cannot check it
offline, so re-read the model card when a date here has passed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

# Supported Regions for Amazon Bedrock Agents (agents-supported.html).
AGENT_REGIONS = frozenset(
    {
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-south-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ca-central-1",
        "eu-central-1",
        "eu-central-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-gov-west-1",
        "us-west-2",
    }
)
# A geo profile is called from a Region of its geography and routes inside it.
GEO_REGION_PREFIXES = {"us": ("us-",), "eu": ("eu-",), "apac": ("ap-",), "global": ("",)}
_GEO = re.compile(r"^(us|eu|apac|global)\.(.+)$")


@dataclass(frozen=True)
class ModelFacts:
    name: str
    launched: dt.date
    lifecycle: str  # Active | Legacy | EOL, as the model card said when read
    eol: dt.date | None = None  # the EOL date once Bedrock has set one
    eol_not_before: dt.date | None = None
    # geo profile -> the Regions it routes to (the agent role needs InvokeModel in each)
    profile_regions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    source: str = ""


DEFAULT_MODEL = "anthropic.claude-haiku-4-5-20251001-v1:0"
KNOWN_MODELS: dict[str, ModelFacts] = {
    DEFAULT_MODEL: ModelFacts(
        name="Claude Haiku 4.5",
        launched=dt.date(2025, 10, 16),
        lifecycle="Active",
        eol_not_before=dt.date(2026, 10, 1),
        profile_regions={
            "us": ("us-east-1", "us-east-2", "us-west-2"),
            "eu": ("eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-3"),
        },
        source="https://docs.aws.amazon.com/bedrock/latest/userguide/model-card-anthropic-claude-haiku-4-5.html",
    ),
    "anthropic.claude-3-5-haiku-20241022-v1:0": ModelFacts(
        name="Claude 3.5 Haiku",
        launched=dt.date(2024, 11, 4),
        lifecycle="Legacy",
        eol=dt.date(2026, 6, 19),
        source="https://docs.aws.amazon.com/bedrock/latest/userguide/model-card-anthropic-claude-3-5-haiku.html",
    ),
    "anthropic.claude-3-haiku-20240307-v1:0": ModelFacts(
        name="Claude 3 Haiku",
        launched=dt.date(2024, 3, 13),
        lifecycle="Legacy",
        eol=dt.date(2026, 9, 10),
        source="https://docs.aws.amazon.com/bedrock/latest/userguide/model-card-anthropic-claude-3-haiku.html",
    ),
}


def split_profile(model_id: str) -> tuple[str | None, str]:
    """``us.anthropic.x`` -> ("us", "anthropic.x"); a plain model id -> (None, id)."""
    m = _GEO.match(model_id)
    return (m.group(1), m.group(2)) if m else (None, model_id)


def model_problems(model_id: str, region: str, *, today: dt.date | None = None) -> list[str]:
    """Why ``model_id`` cannot run the agent in ``region`` (empty: it can, as far as this list knows)."""
    today = today or dt.date.today()
    problems = []
    if region not in AGENT_REGIONS:
        problems.append(
            f"region: Bedrock Agents is not offered in {region} (supported: {sorted(AGENT_REGIONS)})"
        )
    geo, base = split_profile(model_id)
    facts = KNOWN_MODELS.get(base)
    if facts is None:
        problems.append(
            f"model.id: {model_id!r} is not a known agent model ({sorted(KNOWN_MODELS)}, optionally with a "
            "us./eu./apac./global. profile prefix); check it in the Bedrock model cards and set "
            "model.allow_unlisted: true to use it anyway"
        )
        return problems
    if facts.eol is not None and today >= facts.eol:
        problems.append(
            f"model.id: {facts.name} ({base}) reached its Bedrock end of life on {facts.eol.isoformat()} "
            f"({facts.source}); use {DEFAULT_MODEL} (e.g. "
            f"{_suggest(region)}.{DEFAULT_MODEL})"
        )
    elif facts.lifecycle == "Legacy":
        eol = f" (EOL {facts.eol.isoformat()})" if facts.eol else ""
        problems.append(f"model.id: {facts.name} is Legacy on Bedrock{eol}; use {DEFAULT_MODEL}")
    if geo is not None:
        if not any(region.startswith(p) for p in GEO_REGION_PREFIXES[geo]):
            problems.append(
                f"model.id: the {geo}. inference profile cannot be called from {region}; use "
                f"{_suggest(region)}.{base}"
            )
        elif geo != "global" and geo not in facts.profile_regions:
            problems.append(f"model.id: {facts.name} has no {geo}. profile in this list")
    return problems


def _suggest(region: str) -> str:
    for geo in ("us", "eu", "apac"):
        if any(region.startswith(p) for p in GEO_REGION_PREFIXES[geo]):
            return geo
    return "global"


def profile_model_arns(model_id: str, partition: str = "aws") -> list[str]:
    """The foundation-model ARNs a known geo profile routes to ([] when this list does not know)."""
    geo, base = split_profile(model_id)
    facts = KNOWN_MODELS.get(base)
    if geo is None or facts is None or geo not in facts.profile_regions:
        return []
    return [f"arn:{partition}:bedrock:{r}::foundation-model/{base}" for r in facts.profile_regions[geo]]
