"""Infra test fixtures: build the zips once and synthesize once per session.

Loading cdktn and the AWS bindings costs ~4 s of a ~5 s dev + prod synth (and a second synth
process means a second Node of ~250 MB), so one session fixture synthesizes both environments the
tests need as two stacks of ONE cdktn App: ``dev`` (knowledge base off; ``stack``/``resources``) and
``KB_ENV`` (``prod``: the stack creates the knowledge base; ``kb_stack``/``kb_resources``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

INFRA = Path(__file__).resolve().parents[2] / "infra"
if str(INFRA) not in sys.path:
    sys.path.insert(0, str(INFRA))

KB_ENV = "prod"  # the committed environment with knowledge_base.enabled (and no existing id)


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory) -> Path:
    from opsagent_infra.packaging import build_all

    out = tmp_path_factory.mktemp("build")
    build_all(out)
    return out


@pytest.fixture(scope="session")
def manifest(build_dir) -> dict:
    from opsagent_infra.packaging import load_manifest

    return load_manifest(build_dir / "manifest.json")


@pytest.fixture(scope="session")
def synth_results(build_dir, tmp_path_factory) -> dict:
    from opsagent_infra.synth import synth_environments

    return synth_environments(
        ["dev", KB_ENV],
        outdir=tmp_path_factory.mktemp("cdktf.out"),
        manifest_path=build_dir / "manifest.json",
        allow_missing_schemas=True,  # test_stack fails loudly on placeholders instead
    )


@pytest.fixture(scope="session")
def synth_result(synth_results):
    return synth_results["dev"]


@pytest.fixture(scope="session")
def stack(synth_result) -> dict:
    return json.loads(synth_result.tf_json.read_text())


@pytest.fixture(scope="session")
def resources(stack) -> dict:
    return stack["resource"]


@pytest.fixture(scope="session")
def kb_synth_result(synth_results):
    return synth_results[KB_ENV]


@pytest.fixture(scope="session")
def kb_stack(kb_synth_result) -> dict:
    return json.loads(kb_synth_result.tf_json.read_text())


@pytest.fixture(scope="session")
def kb_resources(kb_stack) -> dict:
    return kb_stack["resource"]
