"""GitHub Issues backend (REST API, ``X-GitHub-Api-Version: 2022-11-28``).

Checked against docs.github.com/rest/issues (issues, comments) and "Rate limits for the REST API":
* create: ``POST /repos/{owner}/{repo}/issues`` ``{"title", "body", "labels": [...]}`` -> 201 issue
  (``number``, ``html_url``, ``state``, ``labels``...). Labels are silently dropped when the token
  lacks push/triage access; we warn, because de-duplication then cannot find the issue.
* search: ``GET /repos/{owner}/{repo}/issues?labels=a,b&state=open&sort=created&direction=desc&
  per_page=N`` (labels comma-separated, all must match). Pull requests are returned too: they carry
  a ``pull_request`` key and are skipped.
* comment: ``POST /repos/{owner}/{repo}/issues/{issue_number}/comments`` ``{"body"}`` -> 201.
* headers: ``Authorization: Bearer <token>``, ``Accept: application/vnd.github+json``,
  ``X-GitHub-Api-Version``; a User-Agent is mandatory.
* rate limits: 429, or 403 with ``x-ratelimit-remaining: 0`` / ``retry-after`` -> wait
  (``retry-after`` or ``x-ratelimit-reset``) and retry; a 403 without those is a permission error.

Labels: ``opsagent``, ``fp:<key>``, ``service:<svc>``, ``severity:<sev>`` (GitHub label names are
limited to 50 characters: longer ones become a hash, see :func:`label`). ``@mentions`` in text we
post are defused (``@`` + zero-width space) so a generated ticket cannot page people or teams.
Secret: ``{"token": "..."}``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from opsagent.errors import InvalidInput
from opsagent.tickets.base import FindResult
from opsagent.tickets.config import GitHubConfig
from opsagent.tickets.models import MAX_SUMMARY_TITLE_CHARS, Ticket, TicketRequest, clip_chars
from opsagent.tickets.remote import (
    OPSAGENT_LABEL,
    RemoteBackend,
    fingerprint_label,
    label,
    label_value,
    labels_for,
)
from opsagent.tickets.secrets import require_keys

log = logging.getLogger("opsagent.tickets.github")
_MENTION = re.compile(r"@(?=[A-Za-z0-9])")


def defuse_mentions(text: str) -> str:
    return _MENTION.sub("@\u200b", text)


class GitHubBackend(RemoteBackend):
    name = "github"
    rate_limit_on_403 = True

    def __init__(self, config: GitHubConfig) -> None:
        self.cfg = config
        super().__init__(config, base_url=config.base_url)
        self.repo_path = f"/repos/{config.repo}"

    def default_headers(self) -> dict[str, str]:
        return {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": self.cfg.api_version}

    def auth_headers(self, secret: dict[str, str]) -> dict[str, Any]:
        require_keys(secret, ("token",), secret_arn=self.cfg.secret_arn)
        return {"Authorization": f"Bearer {secret['token']}"}

    def _ticket(self, issue: dict[str, Any]) -> Ticket:
        names = [str(x.get("name") if isinstance(x, dict) else x) for x in issue.get("labels") or []]
        title = re.sub(r"^\[sev[1-4]\] ", "", str(issue.get("title") or ""), flags=re.IGNORECASE)
        return Ticket(
            id=str(issue.get("number", "")),
            url=str(issue.get("html_url") or ""),
            status="open" if issue.get("state") == "open" else "closed",
            title=clip_chars(title, MAX_SUMMARY_TITLE_CHARS),
            severity=label_value(names, "severity:"),
            service=label_value(names, "service:"),
            created_at=str(issue.get("created_at") or ""),
        )

    def create(self, request: TicketRequest) -> Ticket:
        labels = labels_for(request)
        issue = (
            self.http.request(
                "POST",
                f"{self.repo_path}/issues",
                json_body={
                    "title": defuse_mentions(f"[{request.severity}] {request.title}"),
                    "body": defuse_mentions(request.description),
                    "labels": labels,
                },
                what="create issue",
            ).json()
            or {}
        )
        if not issue.get("number"):
            raise InvalidInput("GitHub created an issue but returned no number")
        got = {str(x.get("name") if isinstance(x, dict) else x) for x in issue.get("labels") or []}
        if request.fingerprint and fingerprint_label(request.fingerprint) not in got:
            log.warning(
                "GitHub dropped the issue labels (the token needs push/triage access): de-duplication by "
                "fingerprint will not find this issue",
                extra={"repo": self.cfg.repo, "issue": issue.get("number")},
            )
        return self._ticket(issue)

    def _find(
        self, *, fingerprint: str | None, service: str | None, open_only: bool, limit: int
    ) -> FindResult:
        labels = [OPSAGENT_LABEL]
        if fingerprint:
            labels.append(fingerprint_label(fingerprint))
        if service:
            labels.append(label("service:", service))
        per_page = min(100, limit + 6)  # a few extra: pull requests are skipped
        items = (
            self.http.request(
                "GET",
                f"{self.repo_path}/issues",
                params={
                    "labels": ",".join(labels),
                    "state": "open" if open_only else "all",
                    "sort": "created",
                    "direction": "desc",
                    "per_page": per_page,
                },
                what="list issues",
            ).json()
            or []
        )
        issues = [i for i in items if isinstance(i, dict) and "pull_request" not in i]
        more = len(issues) > limit or len(items) >= per_page
        return FindResult(tickets=[self._ticket(i) for i in issues[:limit]], more=more)

    def comment(self, ticket_id: str, text: str) -> Ticket:
        number = ticket_id.lstrip("#")
        if not number.isdigit() or len(number) > 10:
            raise InvalidInput("ticket_id must be a GitHub issue number (e.g. 123)", field="ticket_id")
        issue = (
            self.http.request("GET", f"{self.repo_path}/issues/{number}", what=f"read issue {number}").json()
            or {}
        )
        if "pull_request" in issue:
            raise InvalidInput(f"#{number} is a pull request, not an incident issue", field="ticket_id")
        self.http.request(
            "POST",
            f"{self.repo_path}/issues/{number}/comments",
            json_body={"body": defuse_mentions(text)},
            what=f"comment on issue {number}",
        )
        return self._ticket(issue)
