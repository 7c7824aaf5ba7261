"""Run checkov on the synthesized ``cdk.tf.json`` and reconcile its findings with the in-code skips.

checkov 3.3.30's ``terraform_json`` runner (the only one that reads ``*.tf.json``) ignores inline
suppressions (it scans every entity with an empty skip list), and ``--skip-check`` is global. So
skips live in code, per resource, with a reason (:func:`opsagent_infra.iam.checkov_skip` writes
``"//": {"checkov_<ID>": "checkov:skip=<ID>:<reason>"}`` into the resource), and this gate accepts a
failed check only when the failing resource carries that annotation. An annotation whose check
passes is stale and is reported as well.

checkov 3.3.30's parser also crashes on a scalar in the ``terraform`` block (``required_version``,
bridgecrewio/checkov#7454, fix pending in #7467) and then reports 0 passed / 0 failed with one parsing
error. So checkov reads a copy without those scalars (no check looks at the ``terraform`` block), and a
parsing error fails the gate instead of passing as an empty scan.

Usage: ``python infra/checkov_gate.py <path to checkov> cdktf.out/stacks/opsagent-<env>/cdk.tf.json``
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

MIN_REASON = 20


@dataclass
class GateResult:
    passed: int
    failed: list[str] = field(default_factory=list)  # unexplained failures
    suppressed: list[str] = field(default_factory=list)  # failures with a reasoned in-code skip
    stale: list[str] = field(default_factory=list)  # skip annotations whose check did not fail
    bad_reasons: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.failed or self.stale or self.bad_reasons)


class CheckovParseError(RuntimeError):
    pass


def checkov_input(tf: dict) -> dict:
    """The stack as checkov 3.3.30 can parse it: the ``terraform`` block without scalar entries
    (``required_version``; checkov#7454). Resources, data sources and providers are untouched."""
    terraform = {k: v for k, v in tf.get("terraform", {}).items() if isinstance(v, dict)}
    return {**tf, "terraform": terraform} if "terraform" in tf else dict(tf)


def run_checkov(checkov: str, tf_json: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="opsagent-checkov-") as tmp:
        scanned = Path(tmp) / tf_json.name
        scanned.write_text(json.dumps(checkov_input(json.loads(tf_json.read_text())), indent=2))
        report = _run(checkov, scanned)
    errors = int(report.get("summary", {}).get("parsing_errors", 0))
    if errors:
        raise CheckovParseError(f"checkov could not parse {tf_json} ({errors} parsing error(s))")
    return report


def _run(checkov: str, tf_json: Path) -> dict:
    proc = subprocess.run(
        [
            checkov,
            "-f",
            str(tf_json),
            "--framework",
            "terraform_json",
            "--quiet",
            "--compact",
            "-o",
            "json",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"checkov exited {proc.returncode}: {proc.stderr[-2000:]}")
    report = json.loads(proc.stdout)
    if isinstance(report, list):
        report = next(r for r in report if r.get("check_type") == "terraform_json")
    return report


def annotations(tf: dict) -> dict[tuple[str, str], str]:
    """(entity id as checkov names it, check id) -> reason."""
    out = {}
    for block_type in ("resource", "data"):
        for _type, blocks in tf.get(block_type, {}).items():
            for name, block in blocks.items():
                for key, value in (block.get("//") or {}).items():
                    if key.startswith("checkov_"):
                        check_id = key.removeprefix("checkov_")
                        prefix = f"checkov:skip={check_id}:"
                        reason = value[len(prefix) :] if value.startswith(prefix) else ""
                        out[(f"{block_type}.{name}", check_id)] = reason
    return out


def entity_id(resource: str, tf: dict) -> str:
    """checkov's name for a failing entity, as :func:`annotations` keys it.

    checkov 3.3.30 names most ``terraform_json`` entities ``resource.<name>`` but some (e.g. the
    ``aws_s3_bucket`` checks) ``<type>.<name>``. The latter is mapped to ``resource.<name>`` only when
    this stack really has a resource ``<name>`` of that ``<type>``; anything else is left as it is
    (and so cannot match a skip by accident)."""
    rtype, sep, name = resource.partition(".")
    if sep and rtype not in ("resource", "data") and name in tf.get("resource", {}).get(rtype, {}):
        return f"resource.{name}"
    return resource


def reconcile(report: dict, tf: dict) -> GateResult:
    results = report.get("results", {})
    skips = annotations(tf)
    gate = GateResult(passed=int(report.get("summary", {}).get("passed", 0)))
    used = set()
    for item in results.get("failed_checks", []):
        key = (entity_id(item["resource"], tf), item["check_id"])
        label = f"{item['check_id']} {item['resource']}: {item['check_name']}"
        if key in skips:
            used.add(key)
            gate.suppressed.append(f"{label} -- {skips[key]}")
        else:
            gate.failed.append(label)
    for key, reason in skips.items():
        if len(reason.strip()) < MIN_REASON:
            gate.bad_reasons.append(f"{key[1]} on {key[0]}: reason too short ({reason!r})")
        if key not in used:
            gate.stale.append(f"{key[1]} on {key[0]} is annotated but did not fail")
    return gate


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    tf_json = Path(argv[1])
    gate = reconcile(run_checkov(argv[0], tf_json), json.loads(tf_json.read_text()))
    for line in gate.suppressed:
        print(f"suppressed: {line}")
    for line in gate.failed + gate.stale + gate.bad_reasons:
        print(f"FAILED: {line}")
    print(
        f"checkov: {gate.passed} passed, {len(gate.failed)} failed, {len(gate.suppressed)} suppressed in code"
    )
    return 0 if gate.ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
