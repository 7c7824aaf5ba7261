"""Write ``schemas/<group>.json`` from the action groups' resolver apps (routes registered from the
catalogue), reduced to Bedrock's subset; ``schemas/mcp/<group>.json`` (Gateway target tool lists) and
``schemas/converse/tools.json`` (Converse toolSpecs) from the catalogue.

``make schemas`` runs this; ``--check`` exits 1 when a committed file differs from what the code
generates (the drift test does the same in-process). Nobody edits the files by hand.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from opsagent import catalogue
from tools import mcp_schema
from tools.bedrock_openapi import iter_operations, to_bedrock, violations

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_DIR = ROOT / "schemas"
API_VERSION = "1.0.0"

# Action group -> the description Bedrock shows the model (1-200 characters): the catalogue's.
GROUPS: dict[str, str] = catalogue.GROUPS
MCP_DIR = SCHEMA_DIR / "mcp"
CONVERSE_FILE = SCHEMA_DIR / "converse" / "tools.json"


def generate(group: str, operations: set[str] | None = None) -> dict:
    """The Bedrock OpenAPI document of ``group``; with ``operations`` (e.g. the names of
    ``catalogue.classic_subset(config)``) only those operations are kept."""
    module = importlib.import_module(f"opsagent.handlers.{group}")
    raw = json.loads(
        module.app.get_openapi_json_schema(
            title=f"opsagent-{group}", version=API_VERSION, description=GROUPS[group]
        )
    )
    doc = to_bedrock(raw, description=GROUPS[group])
    if operations is not None:
        for path, method, op in list(iter_operations(doc)):
            if op["operationId"] not in operations:
                del doc["paths"][path][method]
        doc["paths"] = {p: ops for p, ops in doc["paths"].items() if ops}
    return doc


def generated_files() -> dict[Path, str]:
    """Every generated file and its text: Bedrock OpenAPI, MCP tool lists, Converse toolSpecs."""
    files = {SCHEMA_DIR / f"{group}.json": render(generate(group)) for group in GROUPS}
    files |= {MCP_DIR / f"{group}.json": render(catalogue.mcp_tools(group)) for group in GROUPS}
    files[CONVERSE_FILE] = render(catalogue.converse_tool_specs())
    return files


def render(doc: dict) -> str:
    return json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if schemas/ is out of date")
    args = parser.parse_args(argv)
    failed = False
    for group in GROUPS:
        problems = violations(generate(group))
        problems += mcp_schema.violations(catalogue.mcp_tools(group), target=group)
        if problems:
            failed = True
            print(
                f"{group}: outside the Bedrock or Gateway subset:\n  " + "\n  ".join(problems),
                file=sys.stderr,
            )
    if failed:
        return 1
    for path, text in generated_files().items():
        if args.check:
            if not path.exists() or path.read_text() != text:
                failed = True
                print(f"{path.relative_to(ROOT)} is out of date: run `make schemas`", file=sys.stderr)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
