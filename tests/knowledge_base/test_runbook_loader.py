"""Loading runbooks: clear errors naming the file and field, hostile YAML, caching, metadata."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from opsagent.runbooks import RunbookError, load_runbooks, parse_runbook, runbooks_dir, validate_metadata

GOOD = """\
---
id: {id}
title: A test runbook
severity: sev3
summary: Something is wrong with a workload and this says what to do.
matches:
  alarm_names: ["*-test-*"]
steps:
  - operation: listPods
    params:
      namespace: "{{namespace}}"
      workload: "{{workload}}"
    why: Pod health.
  - operation: getPodLogs
    params:
      namespace: "{{namespace}}"
      pod: "{{pod}}"
      lines: 50
      previous: true
    why: Logs.
---
# A test runbook

## Confirm
text
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def problems_of(folder: Path) -> list[str]:
    with pytest.raises(RunbookError) as info:
        load_runbooks(folder)
    return info.value.problems


def test_good_runbook_and_yaml_scalars_become_strings(tmp_path):
    write(tmp_path, "t1.md", GOOD.format(id="t1"))
    [book] = load_runbooks(tmp_path)
    assert book.id == "t1" and book.body.startswith("# A test runbook")
    assert book.steps[1].params == {
        "namespace": "{namespace}",
        "pod": "{pod}",
        "lines": "50",
        "previous": "true",
    }
    assert book.steps[1].placeholders == {"namespace", "pod"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# no front matter\n", "t1.md: must start with a '---' line"),
        ("---\nid: t1\n", "t1.md: front matter is not closed"),
        ("---\nid: [t1\n---\nbody\n", "t1.md: YAML (front matter line"),
        ("---\n- a list\n---\nbody\n", "t1.md: front matter must be a YAML mapping"),
        (GOOD.format(id="t1").replace("severity: sev3", "severity: sev5"), "t1.md: severity:"),
        (GOOD.format(id="t1").replace("severity: sev3", "sevrity: sev3"), "t1.md: sevrity: Extra inputs"),
        (
            GOOD.format(id="t1").replace("{workload}", "{secret_key}"),
            "t1.md: steps[0]: params.workload: unknown placeholder {secret_key}",
        ),
        (
            GOOD.format(id="t1").replace('"{workload}"', "[a, b]"),
            "t1.md: steps[0].params: workload: must be a string",
        ),
        (
            GOOD.format(id="t1").replace("operation: listPods", "operation: scaleDeployment"),
            "t1.md: front matter: steps[0]: scaleDeployment changes state",
        ),
        (
            GOOD.format(id="t1").replace("operation: listPods", "operation: 'rm -rf /'"),
            "t1.md: steps[0].operation: not an operationId",
        ),
        (GOOD.format(id="other"), "t1.md: id: 'other' must equal the file name (t1)"),
        (
            GOOD.format(id="t1").split("# A test runbook")[0],
            "t1.md: body: the Markdown after the front matter is empty",
        ),
        (
            GOOD.format(id="t1").replace("title: A test runbook", "title: x\nrelated: [nope]"),
            "t1.md: title: String should have at least 3",
        ),
        (
            GOOD.format(id="t1").replace('matches:\n  alarm_names: ["*-test-*"]', "matches: {}"),
            "t1.md: matches: needs at least one",
        ),
        (GOOD.format(id="t1").replace("id: t1", "id: t1\nbody: injected"), "t1.md: body: reserved field"),
    ],
    ids=lambda v: v[:30] if isinstance(v, str) else v,
)
def test_errors_name_the_file_and_the_field(tmp_path, text, expected):
    write(tmp_path, "t1.md", text)
    problems = problems_of(tmp_path)
    assert any(p.startswith(expected) or expected in p for p in problems), problems


def test_mutation_as_step_is_refused_with_the_reason(tmp_path):
    write(
        tmp_path, "t1.md", GOOD.format(id="t1").replace("operation: listPods", "operation: scaleDeployment")
    )
    [problem] = problems_of(tmp_path)
    assert "scaleDeployment changes state; put it under proposals" in problem


def test_read_operation_as_proposal_is_refused(tmp_path):
    text = GOOD.format(id="t1").replace("---\n# A", "proposals:\n  - {operation: listPods, why: x}\n---\n# A")
    write(tmp_path, "t1.md", text)
    assert any("listPods is read-only" in p for p in problems_of(tmp_path))


def test_all_problems_of_all_files_at_once(tmp_path):
    write(tmp_path, "a.md", GOOD.format(id="a").replace("severity: sev3", "severity: high"))
    write(tmp_path, "b.md", "no front matter")
    write(
        tmp_path,
        "c.md",
        GOOD.format(id="c").replace("title: A test runbook", "title: ok title\nrelated: [zzz]"),
    )
    problems = problems_of(tmp_path)
    assert any(p.startswith("a.md: severity") for p in problems)
    assert any(p.startswith("b.md: ") for p in problems)
    assert any(p == "c.md: related: unknown runbook 'zzz'" for p in problems)
    assert "a.md" in str(RunbookError(problems))


def test_hostile_yaml_tags_are_not_executed(tmp_path):
    text = GOOD.format(id="t1").replace(
        "title: A test runbook", "title: !!python/object/apply:os.system ['touch /tmp/pwned']"
    )
    write(tmp_path, "t1.md", text)
    problems = problems_of(tmp_path)
    assert any("t1.md: YAML" in p for p in problems)
    assert not Path("/tmp/pwned").exists()


def test_yaml_bomb_is_bounded(tmp_path):
    # billion laughs: safe_load expands aliases, but the models refuse the shape long before memory matters
    bomb = (
        "---\nid: t1\na: &a [x, x, x, x, x, x, x, x, x]\n"
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b]\n---\nbody\n"
    )
    write(tmp_path, "t1.md", bomb)
    assert any("Extra inputs are not permitted" in p for p in problems_of(tmp_path))


def test_missing_or_empty_directory(tmp_path):
    assert problems_of(tmp_path / "nope") == [f"{tmp_path / 'nope'}: runbook directory does not exist"]
    assert problems_of(tmp_path) == [f"{tmp_path}: no *.md runbooks found"]


def test_cache_sees_changed_files(tmp_path):
    path = write(tmp_path, "t1.md", GOOD.format(id="t1"))
    assert load_runbooks(tmp_path)[0].title == "A test runbook"
    path.write_text(GOOD.format(id="t1").replace("A test runbook", "A changed runbook"))
    assert load_runbooks(tmp_path)[0].title == "A changed runbook"


def test_directory_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv("OPSAGENT_RUNBOOKS_DIR", raising=False)
    assert runbooks_dir() == Path(__file__).resolve().parents[2] / "knowledge_base" / "runbooks"
    monkeypatch.setenv("OPSAGENT_RUNBOOKS_DIR", str(tmp_path))
    write(tmp_path, "t1.md", GOOD.format(id="t1"))
    assert [b.id for b in load_runbooks()] == ["t1"]
    assert runbooks_dir("/x") == Path("/x")


# --- metadata files ------------------------------------------------------------------------------


@pytest.fixture
def book(tmp_path):
    return parse_runbook(write(tmp_path, "t1.md", GOOD.format(id="t1")))


def meta(tmp_path: Path, doc) -> Path:
    path = tmp_path / "t1.md.metadata.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def test_metadata_good(tmp_path, book):
    attrs = {"runbook_id": "t1", "severity": "sev3", "rank": 3, "score": 0.5, "auto": False}
    assert validate_metadata(meta(tmp_path, {"metadataAttributes": attrs}), book) == attrs


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ("{not json", "not valid JSON"),
        ([], "exactly one key 'metadataAttributes'"),
        ({"metadataAttributes": {"runbook_id": "t1"}, "extra": 1}, "exactly one key 'metadataAttributes'"),
        ({"attributes": {"runbook_id": "t1"}}, "exactly one key 'metadataAttributes'"),
        ({"metadataAttributes": {}}, "non-empty object"),
        (
            {"metadataAttributes": {"runbook_id": "t1", "severity": "sev3", "x": None}},
            "metadataAttributes.x: must be",
        ),
        ({"metadataAttributes": {"runbook_id": "t1", "severity": "sev3", "x": ["a"]}}, "got list"),
        ({"metadataAttributes": {"runbook_id": "t1", "severity": "sev3", "x": {"a": 1}}}, "got dict"),
        ({"metadataAttributes": {"runbook_id": "t1", "severity": "sev3", "x": ""}}, "metadataAttributes.x"),
        (
            {"metadataAttributes": {"runbook_id": "t2", "severity": "sev3"}},
            "runbook_id: 't2' != front matter 't1'",
        ),
        (
            {"metadataAttributes": {"runbook_id": "t1", "severity": "sev1"}},
            "severity: 'sev1' != front matter 'sev3'",
        ),
        (
            {"metadataAttributes": {"runbook_id": "t1", "severity": "sev3", "big": "x" * 2049}},
            "metadataAttributes.big",
        ),
        (
            {
                "metadataAttributes": {
                    "runbook_id": "t1",
                    "severity": "sev3",
                    **{f"k{i}": "v" * 2000 for i in range(6)},
                }
            },
            "Bedrock's limit is 10240",
        ),
    ],
)
def test_metadata_bad(tmp_path, book, doc, expected):
    with pytest.raises(RunbookError) as info:
        validate_metadata(meta(tmp_path, doc), book)
    assert any(expected in p and p.startswith("t1.md.metadata.json: ") for p in info.value.problems), (
        info.value.problems
    )
