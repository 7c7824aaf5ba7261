"""``python -m opsagent.runbooks [check|write-metadata|match] [--dir DIR]``

* ``check`` (default): load and validate every runbook and its ``.metadata.json`` (and, when the
  repository's ``schemas/*.json`` exist or ``--schemas`` is given, every step against the operations);
  exit 1 on problems.
* ``write-metadata``: (re)write ``<id>.md.metadata.json`` from each runbook's front matter.
* ``match KEY=VALUE ...``: rank the runbooks for alarm facts, e.g.
  ``match alarm_name=checkout-high-cpu metric_namespace=ContainerInsights metric_name=pod_cpu_utilization``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from opsagent.runbooks.loader import (
    RunbookError,
    load_runbooks,
    metadata_for,
    metadata_path,
    runbooks_dir,
    validate_metadata,
)
from opsagent.runbooks.matcher import match_runbooks

REPO_SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


def check(directory: Path, schema_dir: Path | None = None) -> list[str]:
    """All problems of the runbooks in ``directory``, their metadata files and (with ``schema_dir``
    holding ``*.json``) their steps against the operations (empty = valid)."""
    try:
        books = load_runbooks(directory)
    except RunbookError as exc:
        return list(exc.problems)
    problems: list[str] = []
    for book in books:
        meta = metadata_path(Path(book.source))
        if not meta.exists():
            problems.append(f"{meta.name}: missing (python -m opsagent.runbooks write-metadata)")
            continue
        try:
            validate_metadata(meta, book)
        except RunbookError as exc:
            problems.extend(exc.problems)
    if schema_dir is not None:
        from opsagent.runbooks.catalog import check_runbook, load_operation_catalog

        catalog = load_operation_catalog(schema_dir)
        if not catalog:
            problems.append(f"{schema_dir}: no OpenAPI documents (*.json) to check the steps against")
        for book in books if catalog else []:
            problems.extend(check_runbook(book, catalog))
    expected = {metadata_path(Path(b.source)).name for b in books}
    for orphan in sorted(p.name for p in directory.glob("*.metadata.json") if p.name not in expected):
        problems.append(f"{orphan}: no runbook {orphan.removesuffix('.metadata.json')}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m opsagent.runbooks", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", default="check", choices=["check", "write-metadata", "match"])
    parser.add_argument("facts", nargs="*", help="match: KEY=VALUE alarm facts")
    parser.add_argument("--dir", type=Path, default=None, help="runbook directory")
    parser.add_argument("--schemas", type=Path, default=None, help="directory of action-group OpenAPI *.json")
    args = parser.parse_args(argv)
    directory = runbooks_dir(args.dir)
    if args.command == "check":
        schemas = args.schemas or (REPO_SCHEMAS if any(REPO_SCHEMAS.glob("*.json")) else None)
        problems = check(directory, schemas)
        for p in problems:
            print(p, file=sys.stderr)
        print(f"{directory}: {'INVALID' if problems else 'ok'}")
        return 1 if problems else 0
    try:
        books = load_runbooks(directory)
    except RunbookError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 1
    if args.command == "write-metadata":
        for book in books:
            path = metadata_path(Path(book.source))
            text = json.dumps(metadata_for(book), indent=2, ensure_ascii=False) + "\n"
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
                print(f"wrote {path.name}")
        return 0
    facts = dict(item.split("=", 1) for item in args.facts if "=" in item)
    for m in match_runbooks(books, facts):
        print(m.explain())
    return 0


if __name__ == "__main__":
    sys.exit(main())
