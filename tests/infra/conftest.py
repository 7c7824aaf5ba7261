"""Infra test fixtures: build the zips once and synthesize the dev stack once per session.

A provider-binding import costs 15-60 s on these machines, so every synth-level test shares one
``stack`` (the parsed ``cdk.tf.json``) and one ``built`` manifest.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

INFRA = Path(__file__).resolve().parents[2] / "infra"
if str(INFRA) not in sys.path:
    sys.path.insert(0, str(INFRA))


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
def synth_result(build_dir, tmp_path_factory):
    from opsagent_infra.synth import synth

    return synth(
        "dev",
        outdir=tmp_path_factory.mktemp("cdktf.out"),
        manifest_path=build_dir / "manifest.json",
        allow_missing_schemas=True,  # test_stack fails loudly on placeholders instead
    )


@pytest.fixture(scope="session")
def stack(synth_result) -> dict:
    return json.loads(synth_result.tf_json.read_text())


@pytest.fixture(scope="session")
def resources(stack) -> dict:
    return stack["resource"]
