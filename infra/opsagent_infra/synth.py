"""Synthesize one environment (shared by ``infra/main.py`` and the tests)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from opsagent_infra import REPO_ROOT
from opsagent_infra.config import ConfigError, load_config
from opsagent_infra.node import use_pinned_node
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


def new_app(outdir: Path | str):
    """A cdktn ``App`` run by the pinned Node, with the project's declared Terraform targets (every
    App of this project, the tests' included, comes from here)."""
    os.environ.setdefault("CHECKPOINT_DISABLE", "1")  # no telemetry calls from cdktn
    use_pinned_node()  # before the first cdktn import: jsii starts Node then (opsagent_infra.node)
    from cdktn import App

    from opsagent_infra.stack import APP_CONTEXT

    return App(outdir=str(outdir), context=APP_CONTEXT)


def synth(
    env: str | None = None,
    *,
    outdir: Path = DEFAULT_OUTDIR,
    manifest_path: Path | None = None,
    allow_missing_schemas: bool = False,
) -> SynthResult:
    """Synthesize one environment (``env``, else ``OPSAGENT_ENV`` / ``ENV`` / ``dev``)."""
    [result] = synth_environments(
        [env], outdir=outdir, manifest_path=manifest_path, allow_missing_schemas=allow_missing_schemas
    ).values()
    return result


def synth_environments(
    envs: Sequence[str | None],
    *,
    outdir: Path = DEFAULT_OUTDIR,
    manifest_path: Path | None = None,
    allow_missing_schemas: bool = False,
) -> dict[str, SynthResult]:
    """Synthesize several environments as stacks of one cdktn App (one ``app.synth()``, the provider
    bindings loaded once): ``cdktf.out/stacks/opsagent-<env>`` each. Returns env -> result."""
    try:
        configs = [load_config(env) for env in envs]
    except ConfigError as exc:
        raise SynthError(str(exc)) from None
    if len({c.env for c in configs}) != len(configs):
        raise SynthError(f"environments listed twice: {[c.env for c in configs]}")
    try:
        manifest = load_manifest(manifest_path) if manifest_path else load_manifest()
    except FileNotFoundError as exc:
        raise SynthError(str(exc)) from None
    if (manifest.get("runtime"), manifest.get("architecture")) != (RUNTIME, ARCHITECTURE):
        raise SynthError(
            f"build/manifest.json was built for {manifest.get('runtime')}/{manifest.get('architecture')}, "
            f"the stack declares {RUNTIME}/{ARCHITECTURE}: run `make build`"
        )
    from opsagent_infra.rbac import render
    from opsagent_infra.stack import API_LIMIT, OpsAgentStack

    app = new_app(outdir)
    stacks = {}
    for config in configs:
        stack_id = f"opsagent-{config.env}"
        try:
            stack = OpsAgentStack(app, stack_id, config=config, manifest=manifest)
        except RuntimeError as exc:  # e.g. a zip missing from the manifest
            raise SynthError(f"{stack_id}: {exc}") from None
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
        stacks[config.env] = (config, stack)
    app.synth()
    results = {}
    for env, (config, stack) in stacks.items():
        stack_id = f"opsagent-{env}"
        if config.backend.type == "local":  # the local state dir the backend path points at
            (outdir.parent / ".terraform-state").mkdir(exist_ok=True)
        rbac = outdir / "stacks" / stack_id / "k8s" / "opsagent-scaler-rbac.yaml"
        rbac.parent.mkdir(parents=True, exist_ok=True)
        rbac.write_text(render(config))
        results[env] = SynthResult(
            stack_id=stack_id,
            outdir=outdir,
            tf_json=outdir / "stacks" / stack_id / "cdk.tf.json",
            release=stack.agent.release or "",
            operations=stack.total_operations,
            missing_schemas=stack.missing_schemas,
            warnings=[f"placeholder schema for {m}" for m in stack.missing_schemas],
        )
    return results
