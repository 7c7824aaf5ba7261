"""Load and validate ``<id>.md`` runbooks (YAML front matter + Markdown) and their metadata files.

Where the files are (first that exists): the ``path`` argument; ``OPSAGENT_RUNBOOKS_DIR``; the
repository's ``knowledge_base/runbooks``; ``opsagent/runbooks/data`` inside a Lambda zip (infra copies
the files there). Parsed runbooks are cached per directory and invalidated when a file changes.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from opsagent.errors import ConfigurationError
from opsagent.runbooks.models import SEVERITY_RANK, Runbook

FRONT_MATTER = "---"
METADATA_SUFFIX = ".metadata.json"
METADATA_MAX_BYTES = 10 * 1024  # Bedrock's quota for one metadata file
_PACKAGE_DATA = Path(__file__).resolve().parent / "data"
_REPO_RUNBOOKS = Path(__file__).resolve().parents[3] / "knowledge_base" / "runbooks"


class RunbookError(ConfigurationError):
    """One or more runbook files are invalid. ``problems`` lists ``<file>: <field>: <message>``."""

    code = "runbook_invalid"

    def __init__(self, problems: list[str]) -> None:
        shown = "; ".join(problems[:10]) + (f"; (+{len(problems) - 10} more)" if len(problems) > 10 else "")
        super().__init__(f"invalid runbooks: {shown}", problems=problems)
        self.problems = problems


class _Settings(BaseModel):
    runbooks_dir: str | None = None


def runbooks_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The directory :func:`load_runbooks` reads (see module docstring for the order)."""
    if path is not None:
        return Path(path)
    from opsagent.settings import load_settings

    configured = load_settings(_Settings).runbooks_dir
    if configured:
        return Path(configured)
    if _REPO_RUNBOOKS.is_dir():
        return _REPO_RUNBOOKS
    return _PACKAGE_DATA


def load_runbooks(path: str | os.PathLike[str] | None = None) -> list[Runbook]:
    """Every ``*.md`` runbook in the directory, validated, sorted by severity then id.

    Raises :class:`RunbookError` naming each bad file and field (all problems at once), or when the
    directory is missing or empty."""
    directory = runbooks_dir(path).resolve()
    if not directory.is_dir():
        raise RunbookError([f"{directory}: runbook directory does not exist"])
    files = sorted(directory.glob("*.md"))
    signature = tuple((f.name, *_stat(f)) for f in files)
    return list(_load_cached(str(directory), signature))


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size


@lru_cache(maxsize=8)
def _load_cached(directory: str, signature: tuple) -> tuple[Runbook, ...]:
    problems: list[str] = []
    books: list[Runbook] = []
    for name, *_ in signature:
        try:
            books.append(parse_runbook(Path(directory) / name))
        except RunbookError as exc:
            problems.extend(exc.problems)
    if not signature:
        problems.append(f"{directory}: no *.md runbooks found")
    seen: dict[str, str] = {}
    for book in books:
        if book.id in seen:
            problems.append(f"{Path(book.source).name}: id: {book.id!r} is also used by {seen[book.id]}")
        seen[book.id] = Path(book.source).name
    known = set(seen)
    for book in books:
        for rel in book.related:
            if rel not in known:
                problems.append(f"{Path(book.source).name}: related: unknown runbook {rel!r}")
    if problems:
        raise RunbookError(problems)
    return tuple(sorted(books, key=lambda b: (SEVERITY_RANK[b.severity], b.id)))


def split_front_matter(text: str) -> tuple[str, str]:
    """(front matter YAML, Markdown body). The file must start with a ``---`` line and the front
    matter end with the next ``---`` line."""
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].strip() != FRONT_MATTER:
        raise ValueError("must start with a '---' line (YAML front matter)")
    for index in range(1, len(lines)):
        if lines[index].strip() == FRONT_MATTER:
            return "".join(lines[1:index]), "".join(lines[index + 1 :])
    raise ValueError("front matter is not closed by a '---' line")


def parse_runbook(path: Path) -> Runbook:
    """One runbook file -> :class:`Runbook`; the id must equal the file name (``<id>.md``)."""
    import yaml

    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
        header, body = split_front_matter(text)
        # libyaml's safe loader when PyYAML has it (10x faster: cold starts), same safe constructors
        data = yaml.load(header, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RunbookError([f"{name}: {exc}"]) from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (front matter line {where.line + 1})" if where is not None else ""
        raise RunbookError([f"{name}: YAML{line}: {getattr(exc, 'problem', None) or exc}"]) from None
    if not isinstance(data, dict):
        raise RunbookError([f"{name}: front matter must be a YAML mapping"])
    for reserved in ("body", "source"):
        if reserved in data:
            raise RunbookError([f"{name}: {reserved}: reserved field, not allowed in front matter"])
    try:
        book = Runbook.model_validate({**data, "body": body.strip() + "\n", "source": str(path)})
    except ValidationError as exc:
        raise RunbookError([f"{name}: {_loc(e['loc'])}: {_msg(e['msg'])}" for e in exc.errors()]) from None
    problems = []
    if book.id != path.name.removesuffix(".md"):
        problems.append(f"{name}: id: {book.id!r} must equal the file name ({path.stem})")
    if not body.strip():
        problems.append(f"{name}: body: the Markdown after the front matter is empty")
    if problems:
        raise RunbookError(problems)
    return book


def _loc(loc: tuple[Any, ...]) -> str:
    """``("steps", 0, "params")`` -> ``steps[0].params``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "front matter"


def _msg(message: str) -> str:
    return message.removeprefix("Value error, ")


# --- Bedrock metadata files --------------------------------------------------------------------


def metadata_path(runbook_path: Path) -> Path:
    return runbook_path.with_name(runbook_path.name + METADATA_SUFFIX)


def validate_metadata(path: Path, runbook: Runbook | None = None) -> dict[str, str | int | float | bool]:
    """Check a ``<file>.metadata.json`` against Bedrock's documented format
    ``{"metadataAttributes": {"key": value, ...}}`` with string/number/boolean values, at most 10 KB;
    when ``runbook`` is given, ``runbook_id`` and ``severity`` must agree with its front matter.
    Returns the attributes; raises :class:`RunbookError`."""
    name = path.name
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RunbookError([f"{name}: cannot read: {exc.strerror or exc}"]) from None
    problems: list[str] = []
    if len(raw) > METADATA_MAX_BYTES:
        problems.append(f"{name}: {len(raw)} bytes, Bedrock's limit is {METADATA_MAX_BYTES}")
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunbookError([f"{name}: not valid JSON: {exc}"]) from None
    if not isinstance(doc, dict) or set(doc) != {"metadataAttributes"}:
        keys = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
        raise RunbookError(
            [f"{name}: must be an object with exactly one key 'metadataAttributes' (got {keys})"]
        )
    attrs = doc["metadataAttributes"]
    if not isinstance(attrs, dict) or not attrs:
        raise RunbookError([f"{name}: metadataAttributes must be a non-empty object"])
    for key, value in attrs.items():
        if not key or len(key) > 256:
            problems.append(f"{name}: metadataAttributes: key {key!r} must be 1-256 characters")
        if isinstance(value, bool | int | float) or (isinstance(value, str) and 0 < len(value) <= 2048):
            continue
        problems.append(
            f"{name}: metadataAttributes.{key}: must be a string (1-2048 chars), number or boolean, "
            f"got {type(value).__name__}"
        )
    if runbook is not None:
        for key, expected in (("runbook_id", runbook.id), ("severity", runbook.severity)):
            if attrs.get(key) != expected:
                problems.append(
                    f"{name}: metadataAttributes.{key}: {attrs.get(key)!r} != front matter {expected!r}"
                )
    if problems:
        raise RunbookError(problems)
    return attrs


def metadata_for(runbook: Runbook) -> dict[str, dict[str, str | int | float | bool]]:
    """The metadata document this runbook should have (``tools/kb_sync.py --write-metadata``)."""
    return {
        "metadataAttributes": {
            "runbook_id": runbook.id,
            "severity": runbook.severity,
            "severity_rank": SEVERITY_RANK[runbook.severity],
            "title": runbook.title,
            "doc_type": "runbook",
            "operations": " ".join(sorted({s.operation for s in runbook.steps})),
            "has_proposals": bool(runbook.proposals),
        }
    }
