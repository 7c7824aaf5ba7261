"""Fill a step's parameter templates from the alarm facts, as the flat strings Bedrock would send."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field

from opsagent.errors import OpsAgentError
from opsagent.runbooks.matcher import facts_dict
from opsagent.runbooks.models import Proposal, Runbook, Step

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
MAX_VALUE_CHARS = 4096


class StepSkipped(OpsAgentError):
    """A step cannot run for this alarm: a placeholder has no value. ``missing`` names them."""

    status_code = 422
    code = "step_skipped"

    def __init__(self, operation: str, missing: list[str]) -> None:
        names = ", ".join("{" + m + "}" for m in missing)
        super().__init__(f"{operation} skipped: no value for {names} in this alarm", missing=missing)
        self.missing = missing
        self.reason = self.message


def render_step(step: Step, facts: Any) -> dict[str, str]:
    """``step.params`` with every ``{placeholder}`` replaced by the fact's value (strings only).

    ``facts``: ``dict[str, str]`` (e.g. ``AlarmFacts.template_vars()``) or an AlarmFacts-like object.
    Raises :class:`StepSkipped` (with ``.reason`` and ``.missing``) when a placeholder's fact is
    unknown or empty. Values are inserted verbatim; the operations validate their inputs."""
    values = facts_dict(facts)
    missing: list[str] = []
    out: dict[str, str] = {}
    for key, template in step.params.items():
        names = _PLACEHOLDER.findall(template)
        lacking = [n for n in names if not str(values.get(n, "")).strip()]
        if lacking:
            missing.extend(n for n in lacking if n not in missing)
            continue
        value = _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]).strip(), template)
        out[key] = value[:MAX_VALUE_CHARS]
    if missing:
        raise StepSkipped(step.operation, missing)
    return out


class RenderedStep(BaseModel):
    """A step ready to run (``status="ready"``, ``params`` filled) or skipped with the reason."""

    index: int
    kind: Literal["step", "proposal"]
    operation: str
    why: str
    status: Literal["ready", "skipped"]
    params: dict[str, str] = Field(default_factory=dict)
    reason: str | None = None
    decide: dict[str, str] = Field(default_factory=dict, description="Proposals: values a human must choose")


def render_runbook(runbook: Runbook, facts: Any) -> list[RenderedStep]:
    """Every step then every proposal of ``runbook`` rendered for these facts (nothing is run)."""
    items: list[tuple[Literal["step", "proposal"], Step]] = [("step", s) for s in runbook.steps]
    items += [("proposal", p) for p in runbook.proposals]
    out = []
    for index, (kind, step) in enumerate(items):
        decide = step.decide if isinstance(step, Proposal) else {}
        try:
            params = render_step(step, facts)
        except StepSkipped as exc:
            out.append(
                RenderedStep(
                    index=index,
                    kind=kind,
                    operation=step.operation,
                    why=step.why,
                    status="skipped",
                    reason=exc.reason,
                    decide=decide,
                )
            )
            continue
        out.append(
            RenderedStep(
                index=index,
                kind=kind,
                operation=step.operation,
                why=step.why,
                status="ready",
                params=params,
                decide=decide,
            )
        )
    return out
