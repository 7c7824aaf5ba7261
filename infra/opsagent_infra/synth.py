"""Synthesize one environment (shared by ``infra/main.py`` and the tests)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from opsagent_infra import REPO_ROOT
from opsagent_infra.config import ConfigError, load_config
from opsagent_infra.packaging import ARCHITECTURE, RUNTIME, load_manifest

DEFAULT_OUTDIR = REPO_ROOT / "cdktf.out"


class SynthError(Exception):
    pass


@dataclass
class SynthResult:
    stack_id: str
    outdir: Path
    tf_json: Path
    release: str
    operations: int
    missing_schemas: list[str]
    warnings: list[str] = field(default_factory=list)


def synth(
    env: str | None = None,
    *,
    outdir: Path = DEFAULT_OUTDIR,
    manifest_path: Path | None = None,
    allow_missing_schemas: bool = False,
) -> SynthResult:
    try:
        config = load_config(env)
    except ConfigError as exc:
        raise SynthError(str(exc)) from None
    try:
        manifest = load_manifest(manifest_path) if manifest_path else load_manifest()
    except FileNotFoundError as exc:
        raise SynthError(str(exc)) from None
    if (manifest.get("runtime"), manifest.get("architecture")) != (RUNTIME, ARCHITECTURE):
        raise SynthError(
            f"build/manifest.json was built for {manifest.get('runtime')}/{manifest.get('architecture')}, "
            f"the stack declares {RUNTIME}/{ARCHITECTURE}: run `make build`"
        )
    os.environ.setdefault("CHECKPOINT_DISABLE", "1")  # no telemetry calls from cdktf
    from cdktf import App

    from opsagent_infra.stack import API_LIMIT, OpsAgentStack

    stack_id = f"opsagent-{config.env}"
    app = App(outdir=str(outdir))
    stack = OpsAgentStack(app, stack_id, config=config, manifest=manifest)
    missing = stack.missing_schemas
    if missing and not allow_missing_schemas:
        raise SynthError(
            f"missing action-group schemas {missing}: run `make schemas` (or set "
            "OPSAGENT_ALLOW_MISSING_SCHEMAS=1 for a placeholder synth)"
        )
    if stack.total_operations > API_LIMIT:
        raise SynthError(
            f"{stack.total_operations} operations across action groups; Bedrock allows {API_LIMIT}"
        )
    app.synth()
    if config.backend.type == "local":  # the local state dir the backend path points at
        (outdir.parent / ".terraform-state").mkdir(exist_ok=True)
    from opsagent_infra.rbac import render

    rbac = outdir / "stacks" / stack_id / "k8s" / "opsagent-scaler-rbac.yaml"
    rbac.parent.mkdir(parents=True, exist_ok=True)
    rbac.write_text(render(config))
    warnings = [f"placeholder schema for {m}" for m in missing]
    return SynthResult(
        stack_id=stack_id,
        outdir=outdir,
        tf_json=outdir / "stacks" / stack_id / "cdk.tf.json",
        release=stack.agent.release or "",
        operations=stack.total_operations,
        missing_schemas=missing,
        warnings=warnings,
    )
