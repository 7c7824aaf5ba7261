"""Jira Cloud backend (REST API v3, basic auth with an Atlassian API token).

Checked against Atlassian's documentation (developer.atlassian.com/cloud/jira/platform/rest/v3):
* create: ``POST /rest/api/3/issue`` with ``{"fields": {"project": {"key"}, "summary",
  "issuetype": {"name"}, "description": <ADF>, "labels": [...]}}`` -> 201 ``{"id", "key", "self"}``
  (CreatedIssue). In v3 rich-text fields (description, comment body) are Atlassian Document Format:
  ``{"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text",
  "text": ...}]}]}``.
* comment: ``POST /rest/api/3/issue/{issueIdOrKey}/comment`` with ``{"body": <ADF>}`` -> 201.
* search: ``GET /rest/api/3/search/jql?jql=...&fields=...&maxResults=N`` -> ``{"issues": [...],
  "isLast", "nextPageToken"}``. The old ``/rest/api/3/search`` was deprecated (CHANGE-2046) and now
  answers 410 Gone; the new endpoint is eventually consistent (a just-created issue may be missing).
* Labels cannot contain spaces; we write ``opsagent``, ``fp:<key>``, ``service:<svc>``,
  ``severity:<sev>`` and match with JQL ``labels = "..."`` built only from validated values.

Secret: ``{"email": "...", "api_token": "..."}``. Tickets are restricted to ``project_key``:
comments are only posted on ``<project_key>-<n>`` issues.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from opsagent.errors import InvalidInput
from opsagent.tickets.base import FindResult
from opsagent.tickets.config import JiraConfig
from opsagent.tickets.models import MAX_SUMMARY_TITLE_CHARS, Ticket, TicketRequest, clip_chars
from opsagent.tickets.remote import (
    OPSAGENT_LABEL,
    RemoteBackend,
    fingerprint_label,
    label,
    label_value,
    labels_for,
)
from opsagent.tickets.secrets import basic_auth, require_keys

SEARCH_FIELDS = "summary,status,labels,created"


def adf(text: str) -> dict[str, Any]:
    """Plain text as an ADF document: blank lines separate paragraphs, single newlines become
    hardBreaks. Text nodes are data, never markup, so nothing in the text can inject formatting."""
    content: list[dict[str, Any]] = []
    for para in re.split(r"\n\s*\n", text):
        nodes: list[dict[str, Any]] = []
        for line in para.split("\n"):
            if not line.strip():
                continue
            if nodes:
                nodes.append({"type": "hardBreak"})
            nodes.append({"type": "text", "text": line})
        if nodes:
            content.append({"type": "paragraph", "content": nodes})
    return {"type": "doc", "version": 1, "content": content or [{"type": "paragraph", "content": []}]}


class JiraBackend(RemoteBackend):
    name = "jira"

    def __init__(self, config: JiraConfig) -> None:
        super().__init__(config, base_url=config.base_url)
        self.cfg = config

    def auth_headers(self, secret: dict[str, str]) -> dict[str, Any]:
        require_keys(secret, ("email", "api_token"), secret_arn=self.cfg.secret_arn)
        return {"Authorization": basic_auth(secret["email"], secret["api_token"])}

    def browse_url(self, key: str) -> str:
        return f"{self.cfg.base_url}/browse/{key}"

    def create(self, request: TicketRequest) -> Ticket:
        fields: dict[str, Any] = {
            "project": {"key": self.cfg.project_key},
            "summary": f"[{request.severity.upper()}] {request.title}"[:255],
            "issuetype": {"name": self.cfg.issue_type},
            "description": adf(request.description),
            "labels": labels_for(request),
        }
        priority = (self.cfg.priorities or {}).get(request.severity)
        if priority:
            fields["priority"] = {"name": priority}
        created = self.http.request(
            "POST", "/rest/api/3/issue", json_body={"fields": fields}, what="create issue"
        ).json()
        key = str((created or {}).get("key") or "")
        if not key:
            raise InvalidInput("Jira created an issue but returned no key")
        return Ticket.opened(key, self.browse_url(key), request)

    def _find(
        self, *, fingerprint: str | None, service: str | None, open_only: bool, limit: int
    ) -> FindResult:
        # Every interpolated value is validated: project key [A-Z][A-Z0-9_]*, labels built from the
        # service pattern / fingerprint_key alphabet (no quotes, spaces or backslashes).
        clauses = [f'project = "{self.cfg.project_key}"', f'labels = "{OPSAGENT_LABEL}"']
        if fingerprint:
            clauses.append(f'labels = "{fingerprint_label(fingerprint)}"')
        if service:
            clauses.append(f'labels = "{label("service:", service)}"')
        if open_only:
            clauses.append("statusCategory != Done")
        jql = " AND ".join(clauses) + " ORDER BY created DESC"
        doc = (
            self.http.request(
                "GET",
                "/rest/api/3/search/jql",
                params={"jql": jql, "fields": SEARCH_FIELDS, "maxResults": limit + 1},
                what="search issues",
            ).json()
            or {}
        )
        issues = doc.get("issues") or []
        tickets = [self._ticket(issue) for issue in issues[:limit]]
        more = len(issues) > limit or (doc.get("isLast") is False and bool(doc.get("nextPageToken")))
        return FindResult(tickets=tickets, more=more)

    def _ticket(self, issue: dict[str, Any]) -> Ticket:
        fields = issue.get("fields") or {}
        labels = [str(x) for x in fields.get("labels") or []]
        category = ((fields.get("status") or {}).get("statusCategory") or {}).get("key")
        key = str(issue.get("key", ""))
        return Ticket(
            id=key,
            url=self.browse_url(key),
            status="closed" if category == "done" else "open",
            title=clip_chars(str(fields.get("summary") or ""), MAX_SUMMARY_TITLE_CHARS),
            severity=label_value(labels, "severity:"),
            service=label_value(labels, "service:"),
            created_at=str(fields.get("created") or ""),
        )

    def comment(self, ticket_id: str, text: str) -> Ticket:
        key = ticket_id.upper()
        if not re.fullmatch(rf"{re.escape(self.cfg.project_key)}-\d{{1,9}}", key):
            raise InvalidInput(
                f"ticket_id must be a Jira issue key of project {self.cfg.project_key} "
                f"(e.g. {self.cfg.project_key}-42)",
                field="ticket_id",
            )
        issue = (
            self.http.request(
                "GET", f"/rest/api/3/issue/{quote(key)}", params={"fields": SEARCH_FIELDS}, what=f"read {key}"
            ).json()
            or {}
        )
        self.http.request(
            "POST",
            f"/rest/api/3/issue/{quote(key)}/comment",
            json_body={"body": adf(text)},
            what=f"comment on {key}",
        )
        issue.setdefault("key", key)
        return self._ticket(issue)
