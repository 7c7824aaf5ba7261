"""Fixtures of the knowledge-base tests: the repository's runbooks and the operation catalog."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from opsagent_sim.pytest_fixtures import kube, kube_factory, kube_scenario  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "knowledge_base" / "runbooks"
SCHEMAS = ROOT / "schemas"


@pytest.fixture(scope="session")
def runbooks_path() -> Path:
    return RUNBOOKS


@pytest.fixture(scope="session")
def runbooks(runbooks_path):
    from opsagent.runbooks import load_runbooks

    return load_runbooks(runbooks_path)


@pytest.fixture(scope="session")
def operation_catalog():
    """Operations from the committed ``schemas/*.json``. When they are absent: a failure in CI
    (``CI`` set; the lead generates and commits them), locally the documents generated in-process
    from the resolver apps exactly as ``make schemas`` would."""
    from opsagent.runbooks.catalog import load_operation_catalog, operations_from_document

    catalog = load_operation_catalog(SCHEMAS)
    if catalog:
        return catalog
    if os.environ.get("CI"):
        pytest.fail("schemas/*.json are missing: run `make schemas` and commit them", pytrace=False)
    from tools.gen_schemas import GROUPS, generate

    warnings.warn(
        "schemas/*.json absent: checking runbooks against in-process generated schemas", stacklevel=1
    )
    for group in GROUPS:
        catalog.update(operations_from_document(generate(group), group))
    return catalog
