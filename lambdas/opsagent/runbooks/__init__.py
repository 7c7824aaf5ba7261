"""Runbooks: load, validate, match and render the knowledge base's front-matter steps.

One source of truth: ``knowledge_base/runbooks/<id>.md`` is ingested by the Bedrock knowledge base
for the model, and its front matter drives the no-model fallback and the offline drill::

    from opsagent.runbooks import load_runbooks, match_runbooks, render_step, StepSkipped

    ranked = match_runbooks(load_runbooks(), facts)          # best first, with .score and .reasons
    for step in ranked[0].runbook.steps:                      # read-only calls
        try:
            params = render_step(step, facts.template_vars())  # {"namespace": "shop", ...}
        except StepSkipped as exc:
            print(exc.reason)                                 # "getPodLogs skipped: no value for {pod} ..."
    # ranked[0].runbook.proposals: mutations for a human; never executed automatically.

Environment: ``OPSAGENT_RUNBOOKS_DIR`` (optional) overrides where the files are read from.
"""

from opsagent.runbooks.loader import (
    RunbookError,
    load_runbooks,
    metadata_for,
    metadata_path,
    parse_runbook,
    runbooks_dir,
    validate_metadata,
)
from opsagent.runbooks.matcher import RunbookMatch, facts_dict, match_runbooks, score_runbook
from opsagent.runbooks.models import (
    FACT_PLACEHOLDERS,
    MUTATING_OPERATIONS,
    Matches,
    MetricMatch,
    Proposal,
    Runbook,
    Step,
)
from opsagent.runbooks.render import RenderedStep, StepSkipped, render_runbook, render_step

__all__ = [
    "FACT_PLACEHOLDERS",
    "MUTATING_OPERATIONS",
    "Matches",
    "MetricMatch",
    "Proposal",
    "RenderedStep",
    "Runbook",
    "RunbookError",
    "RunbookMatch",
    "Step",
    "StepSkipped",
    "facts_dict",
    "load_runbooks",
    "match_runbooks",
    "metadata_for",
    "metadata_path",
    "parse_runbook",
    "render_runbook",
    "render_step",
    "runbooks_dir",
    "score_runbook",
    "validate_metadata",
]
