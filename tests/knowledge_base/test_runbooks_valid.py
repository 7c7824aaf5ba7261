"""Every runbook in knowledge_base/runbooks is valid: front matter, operations, metadata files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opsagent import catalogue
from opsagent.runbooks import MUTATING_OPERATIONS, metadata_path, validate_metadata
from opsagent.runbooks.__main__ import check
from opsagent.runbooks.catalog import check_runbook

from .conftest import RUNBOOKS

# The incidents EKS teams page on (the list); each must have a runbook.
REQUIRED = {
    "high-cpu",
    "memory-pressure-oomkilled",
    "crashloopbackoff",
    "image-pull-backoff",
    "pending-pods",
    "http-5xx-after-rollout",
    "dependency-saturation-latency",
    "node-notready-disk-pressure",
}
RUNBOOK_FILES = sorted(RUNBOOKS.glob("*.md"))


def test_required_incidents_have_runbooks(runbooks):
    assert {b.id for b in runbooks} >= REQUIRED


def test_ids_unique_and_equal_to_file_names(runbooks):
    ids = [b.id for b in runbooks]
    assert len(ids) == len(set(ids)) == len(RUNBOOK_FILES)
    for book in runbooks:
        assert Path(book.source).name == f"{book.id}.md"


def test_catalog_is_the_fixed_api(operation_catalog):
    assert set(operation_catalog) == {t.name for t in catalogue.TOOLS}
    # the runtime guard and the schemas agree with the catalogue about what mutates
    mutations = {t.name for t in catalogue.TOOLS if t.mutation}
    assert {k for k, v in operation_catalog.items() if v.mutating} == set(MUTATING_OPERATIONS) == mutations


@pytest.mark.parametrize("path", RUNBOOK_FILES, ids=lambda p: p.stem)
def test_steps_call_existing_operations_with_valid_parameters(path, runbooks, operation_catalog):
    book = next(b for b in runbooks if Path(b.source) == path.resolve())
    assert check_runbook(book, operation_catalog) == []
    for step in book.steps:
        assert not operation_catalog[step.operation].mutating
    for proposal in book.proposals:
        assert operation_catalog[proposal.operation].mutating


@pytest.mark.parametrize("path", RUNBOOK_FILES, ids=lambda p: p.stem)
def test_metadata_file_in_bedrock_format(path, runbooks):
    book = next(b for b in runbooks if Path(b.source) == path.resolve())
    meta = metadata_path(path)
    assert meta.exists(), f"{meta.name} missing: python -m opsagent.runbooks write-metadata"
    doc = json.loads(meta.read_text())
    assert list(doc) == ["metadataAttributes"]
    attrs = validate_metadata(meta, book)
    assert attrs["runbook_id"] == book.id and attrs["severity"] == book.severity
    assert all(isinstance(v, str | int | float | bool) for v in attrs.values())
    assert meta.stat().st_size <= 10 * 1024


@pytest.mark.parametrize("path", RUNBOOK_FILES, ids=lambda p: p.stem)
def test_runbook_body_is_written_for_an_engineer_and_a_model(path, runbooks):
    book = next(b for b in runbooks if Path(b.source) == path.resolve())
    for section in ("## Confirm", "## Safe remediation", "## Escalate"):
        assert section in book.body, f"{path.name}: section {section!r} missing"
    assert book.body.startswith("# "), "the body starts with a title"
    # every step's operation is explained in the text the model reads
    for step in book.steps:
        assert f"`{step.operation}`" in book.body, f"{path.name}: {step.operation} not explained"


def test_scale_proposals_are_bounded_dry_runs(runbooks):
    scaling = [(b, p) for b in runbooks for p in b.proposals if p.operation == "scaleDeployment"]
    assert scaling, "at least the CPU runbook proposes scaling"
    for book, proposal in scaling:
        assert proposal.params.get("dry_run") == "true", book.id
        assert "replicas" in proposal.decide and "replicas" not in proposal.params, book.id
        guidance = proposal.decide["replicas"].lower()
        assert "never 0" in guidance and "ceiling" in guidance and "max_step" in guidance, book.id
        body = book.body.lower().replace("**", "")
        for phrase in ("hpa", "never scale to zero", "cooldown", "ceiling", "dry run"):
            assert phrase in body, f"{book.id}: the body must state the limit {phrase!r}"


def test_no_orphan_metadata_and_cli_check_passes(runbooks_path):
    assert check(runbooks_path) == []
    metas = {p.name.removesuffix(".metadata.json") for p in runbooks_path.glob("*.metadata.json")}
    assert metas == {p.name for p in RUNBOOK_FILES}
