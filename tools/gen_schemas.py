"""Write ``schemas/<group>.json`` from the action groups' resolver apps, reduced to Bedrock's subset.

``make schemas`` runs this; ``--check`` exits 1 when a committed file differs from what the code
generates (the drift test does the same in-process). Nobody edits the files by hand.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from tools.bedrock_openapi import to_bedrock, violations

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_DIR = ROOT / "schemas"
API_VERSION = "1.0.0"

# Action group -> the description Bedrock shows the model (1-200 characters).
GROUPS: dict[str, str] = {
    "pods": "Read-only Kubernetes pod status for EKS workloads: list pods with problem reasons, "
    "describe a pod "
    "with its events, tail a pod's logs (redacted, untrusted text).",
    "metrics": "Read CloudWatch: query one metric (summary + downsampled series) and list alarms currently "
    "in ALARM.",
    "scaling": "Read a Kubernetes Deployment's rollout, HPA and scaling policy, and scale it within the "
    "safety policy (needs confirmation).",
    "tickets": "Create, search and comment on incident tickets (duplicates by fingerprint become comments).",
}


def generate(group: str) -> dict:
    module = importlib.import_module(f"opsagent.handlers.{group}")
    raw = json.loads(
        module.app.get_openapi_json_schema(
            title=f"opsagent-{group}", version=API_VERSION, description=GROUPS[group]
        )
    )
    return to_bedrock(raw, description=GROUPS[group])


def render(doc: dict) -> str:
    return json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if schemas/ is out of date")
    args = parser.parse_args(argv)
    failed = False
    for group in GROUPS:
        doc = generate(group)
        problems = violations(doc)
        if problems:
            failed = True
            print(f"{group}: not in Bedrock's subset:\n  " + "\n  ".join(problems), file=sys.stderr)
            continue
        path = SCHEMA_DIR / f"{group}.json"
        text = render(doc)
        if args.check:
            if not path.exists() or path.read_text() != text:
                failed = True
                print(f"{path.relative_to(ROOT)} is out of date: run `make schemas`", file=sys.stderr)
        else:
            SCHEMA_DIR.mkdir(exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
