"""ServiceNow backend (Table API on the incident table).

Checked against ServiceNow's Table API reference (docs "Table API", release Australia):
* create: ``POST /api/now/table/{tableName}`` with field name/value pairs -> 201 ``{"result": {...}}``
  (``sys_id``, ``number``, ``active``, ``state`` ... as strings).
* search: ``GET /api/now/table/{tableName}?sysparm_query=<encoded query>&sysparm_fields=...&
  sysparm_limit=N`` -> 200 ``{"result": [...]}``. Encoded query: ``field=value`` joined by ``^``,
  ``ORDERBYDESC<field>`` to sort, ``STARTSWITH`` operator.
* update: ``PATCH /api/now/table/{tableName}/{sys_id}`` with the fields to change -> 200
  ``{"result": {...}}``. Writing ``work_notes`` (or ``comments``) appends a journal entry.
* errors: ``{"error": {"message", "detail"}, "status": "failure"}``.

Mapping: the fingerprint goes to ``correlation_id`` (as :func:`fingerprint_key`, which contains no
``^`` or ``=``), ``correlation_display`` = ``opsagent`` marks our incidents, the service prefixes
``short_description`` as ``[service] title`` (searchable with STARTSWITH), severity maps to
urgency/impact (sev1 -> 1/1 = P1 ... sev4 -> 3/2 = P4). Open = ``active=true``.

Secret: ``{"username", "password"}`` (basic auth) or ``{"token"}`` (OAuth bearer).
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import quote

from opsagent.errors import InvalidInput, NotFound, OpsAgentError
from opsagent.tickets.base import FindResult
from opsagent.tickets.config import ServiceNowConfig
from opsagent.tickets.models import (
    MAX_SUMMARY_TITLE_CHARS,
    Ticket,
    TicketRequest,
    clip_chars,
    fingerprint_key,
)
from opsagent.tickets.remote import OPSAGENT_LABEL, RemoteBackend
from opsagent.tickets.secrets import basic_auth, require_keys

log = logging.getLogger("opsagent.tickets.servicenow")
FIELDS = "sys_id,number,active,state,short_description,urgency,impact,correlation_id,sys_created_on"
URGENCY_IMPACT = {"sev1": ("1", "1"), "sev2": ("1", "2"), "sev3": ("2", "2"), "sev4": ("3", "2")}
SEVERITY_FROM = {v: k for k, v in URGENCY_IMPACT.items()}
SYS_ID_RE = re.compile(r"^[0-9a-f]{32}$")
NUMBER_RE = re.compile(r"^[A-Z]{2,8}\d{4,12}$")
SERVICE_PREFIX_RE = re.compile(r"^\[([a-z0-9._-]{1,63})\] ")


class ServiceNowBackend(RemoteBackend):
    name = "servicenow"

    def __init__(self, config: ServiceNowConfig) -> None:
        super().__init__(config, base_url=config.base_url)
        self.cfg = config
        self.path = f"/api/now/table/{config.table}"

    def auth_headers(self, secret: dict[str, str]) -> dict[str, Any]:
        keys = require_keys(secret, ("username", "password"), ("token",), secret_arn=self.cfg.secret_arn)
        if keys == ("token",):
            return {"Authorization": f"Bearer {secret['token']}"}
        return {"Authorization": basic_auth(secret["username"], secret["password"])}

    def record_url(self, sys_id: str) -> str:
        return f"{self.cfg.base_url}/nav_to.do?uri={quote(f'{self.cfg.table}.do?sys_id={sys_id}', safe='')}"

    def _ticket(self, rec: dict[str, Any]) -> Ticket:
        short = str(rec.get("short_description") or "")
        match = SERVICE_PREFIX_RE.match(short)
        return Ticket(
            id=str(rec.get("number") or rec.get("sys_id") or ""),
            url=self.record_url(str(rec.get("sys_id") or "")),
            status="open" if str(rec.get("active", "true")).lower() == "true" else "closed",
            title=clip_chars(short[match.end() :] if match else short, MAX_SUMMARY_TITLE_CHARS),
            severity=SEVERITY_FROM.get((str(rec.get("urgency", "")), str(rec.get("impact", ""))), ""),
            service=match.group(1) if match else "",
            created_at=str(rec.get("sys_created_on") or ""),
        )

    def create(self, request: TicketRequest) -> Ticket:
        urgency, impact = URGENCY_IMPACT[request.severity]
        limit = self.cfg.description_max_chars
        overflow = len(request.description) > limit
        note = f"\n…(truncated: the full text is in the first {self.cfg.comment_field} entry)"
        body: dict[str, Any] = {
            "short_description": f"[{request.service}] {request.title}"[:160],
            "description": request.description[: limit - len(note)] + note
            if overflow
            else request.description,
            "urgency": urgency,
            "impact": impact,
            "correlation_display": OPSAGENT_LABEL,
        }
        if request.fingerprint:
            body["correlation_id"] = fingerprint_key(request.fingerprint)
        for name in ("assignment_group", "caller_id", "category"):
            value = getattr(self.cfg, name)
            if value:
                body[name] = value
        doc = (
            self.http.request(
                "POST",
                self.path,
                params={"sysparm_fields": FIELDS, "sysparm_exclude_reference_link": "true"},
                json_body=body,
                what="create incident",
            ).json()
            or {}
        )
        rec = doc.get("result") or {}
        if not rec.get("sys_id"):
            raise InvalidInput("ServiceNow created a record but returned no sys_id")
        if overflow:
            try:
                self.http.request(
                    "PATCH",
                    f"{self.path}/{rec['sys_id']}",
                    params={"sysparm_fields": "sys_id"},
                    json_body={self.cfg.comment_field: request.description},
                    what="add the full description",
                )
            except OpsAgentError as exc:  # the incident exists; do not fail (and so duplicate) it
                log.warning("could not append the full description", extra={"error": exc.code})
        return self._ticket(rec)

    def _find(
        self, *, fingerprint: str | None, service: str | None, open_only: bool, limit: int
    ) -> FindResult:
        # Values are validated (service pattern, fingerprint_key alphabet): no '^' can reach the query.
        terms = [f"correlation_display={OPSAGENT_LABEL}"]
        if open_only:
            terms.insert(0, "active=true")
        if fingerprint:
            terms.append(f"correlation_id={fingerprint_key(fingerprint)}")
        if service:
            terms.append(f"short_descriptionSTARTSWITH[{service}]")
        query = "^".join(terms) + "^ORDERBYDESCsys_created_on"
        doc = (
            self.http.request(
                "GET",
                self.path,
                params={
                    "sysparm_query": query,
                    "sysparm_fields": FIELDS,
                    "sysparm_limit": limit + 1,
                    "sysparm_exclude_reference_link": "true",
                    "sysparm_no_count": "true",
                },
                what="search incidents",
            ).json()
            or {}
        )
        records = doc.get("result") or []
        return FindResult(tickets=[self._ticket(r) for r in records[:limit]], more=len(records) > limit)

    def _resolve(self, ticket_id: str) -> str:
        """sys_id for an incident number (INC0010002) or a sys_id."""
        if SYS_ID_RE.fullmatch(ticket_id):
            return ticket_id
        number = ticket_id.upper()
        if not NUMBER_RE.fullmatch(number):
            raise InvalidInput(
                "ticket_id must be a ServiceNow number (e.g. INC0010002) or a 32-character sys_id",
                field="ticket_id",
            )
        doc = (
            self.http.request(
                "GET",
                self.path,
                params={
                    "sysparm_query": f"number={number}",
                    "sysparm_fields": "sys_id,number",
                    "sysparm_limit": 1,
                },
                what=f"find {number}",
            ).json()
            or {}
        )
        records = doc.get("result") or []
        if not records or not records[0].get("sys_id"):
            raise NotFound(f"no {self.cfg.table} record {number}", ticket_id=ticket_id)
        return str(records[0]["sys_id"])

    def comment(self, ticket_id: str, text: str) -> Ticket:
        sys_id = self._resolve(ticket_id)
        doc = (
            self.http.request(
                "PATCH",
                f"{self.path}/{sys_id}",
                params={"sysparm_fields": FIELDS, "sysparm_exclude_reference_link": "true"},
                json_body={self.cfg.comment_field: text},
                what=f"add {self.cfg.comment_field} to {ticket_id}",
            ).json()
            or {}
        )
        return self._ticket(doc.get("result") or {"sys_id": sys_id, "number": ticket_id})
