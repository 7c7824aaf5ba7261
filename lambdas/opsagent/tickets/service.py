"""The tickets domain API: what the action group, the alarm trigger, the drill and the CLI call.

    from opsagent.context import CallContext
    from opsagent.tickets.service import create_ticket, add_comment, search, get_backend
    from opsagent.tickets.models import TicketRequest

    ctx = CallContext(incident_id="checkout-high-cpu@2026-11-20T14:05:40.989+0000",
                      session_id="trigger-1", trigger="alarm")
    result = create_ticket(ctx, TicketRequest(title="checkout p99 > 2s", description=rca_text,
                                              severity="sev2", service="checkout",
                                              fingerprint="checkout-high-cpu"))
    # -> TicketResult(id="OPS-7KQ2MX", url="", status="open", deduplicated=False, backend="dynamodb", ...)
    #    a second call with the same fingerprint while OPS-7KQ2MX is open comments on it instead:
    #    TicketResult(id="OPS-7KQ2MX", deduplicated=True, ...)
    add_comment(ctx, "OPS-7KQ2MX", "Scaled checkout 3 -> 6; p99 back under 300 ms")   # -> CommentResult
    search(ctx, service="checkout")                  # open tickets, newest first, at most 10 -> SearchResult
    search(ctx, fingerprint="checkout-high-cpu", include_closed=True, limit=25)

* ``create_ticket(ctx, request)`` accepts a :class:`TicketRequest` or a plain dict; invalid input
  raises ``InvalidInput`` (HTTP 400) naming each problem and limit (title <= 200 characters,
  description/comment <= 16 KB, severity sev1..sev4, service ``[a-z0-9._-]``).
* The backend comes from ``get_backend()``: ``OPSAGENT_TICKETS`` (JSON, see
  :mod:`opsagent.tickets.config`) + ``OPSAGENT_TICKETS_TABLE``; built once per container and
  rebuilt when those variables change. Pass ``backend=`` to use another one (tests, drill).
* Every call is recorded in the audit trail (``OPSAGENT_AUDIT_TABLE``; ``audit=`` to inject one):
  createTicket ``applied`` / ``deduplicated`` / ``failed``, addTicketComment ``applied`` / ``failed``,
  searchTickets ``recorded`` / ``failed``. Auditing is best-effort *after* the ticket write: a
  failed audit write is logged, never turned into a failed call (the model would retry and
  duplicate the ticket).
* Errors are opsagent.errors (400/403/404/409/503/504 bodies the model can act on); a create whose
  outcome is unknown (timeout after sending) is reconciled by fingerprint, see
  :mod:`opsagent.tickets.base`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from typing import Any

from opsagent.context import CallContext
from opsagent.errors import InvalidInput, OpsAgentError
from opsagent.tickets.base import TicketBackend
from opsagent.tickets.models import (
    MAX_TEXT_BYTES,
    CommentResult,
    SearchQuery,
    SearchResult,
    Ticket,
    TicketRequest,
    TicketResult,
    clip_bytes,
    clip_chars,
    normalize_ticket_id,
    parse,
    utf8_len,
    validate_comment,
)

log = logging.getLogger("opsagent.tickets")

#: searchTickets body budget (the action-group target is 8 KB; leave room for the envelope).
SEARCH_BODY_BYTES = 7 * 1024
SHORT_TITLE_CHARS = 60

_lock = threading.Lock()
_backends: dict[tuple[str, str], TicketBackend] = {}
_NO_AUDIT = object()


# --- backend selection ------------------------------------------------------------------------------


def get_backend(environ: Mapping[str, str] | None = None) -> TicketBackend:
    """The configured backend, cached per container (keyed by the configuration itself)."""
    env = os.environ if environ is None else environ
    key = (env.get("OPSAGENT_TICKETS", ""), env.get("OPSAGENT_TICKETS_TABLE", ""))
    with _lock:
        backend = _backends.get(key)
    if backend is None:
        backend = build_backend(env)
        with _lock:
            _backends[key] = backend
    return backend


def build_backend(environ: Mapping[str, str] | None = None) -> TicketBackend:
    from opsagent.tickets.config import load_tickets_settings

    settings = load_tickets_settings(dict(os.environ if environ is None else environ))
    cfg = settings.tickets
    if cfg.backend == "dynamodb":
        from opsagent.tickets.dynamodb import DynamoDBBackend

        return DynamoDBBackend(
            cfg.table or settings.tickets_table or "", id_prefix=cfg.id_prefix, url_template=cfg.url_template
        )
    if cfg.backend == "jira":
        from opsagent.tickets.jira import JiraBackend

        return JiraBackend(cfg)
    if cfg.backend == "servicenow":
        from opsagent.tickets.servicenow import ServiceNowBackend

        return ServiceNowBackend(cfg)
    from opsagent.tickets.github import GitHubBackend

    return GitHubBackend(cfg)


def reset_backend() -> None:
    """Forget cached backends (and their HTTP pools); tests switch configuration between cases."""
    with _lock:
        _backends.clear()


# --- audit --------------------------------------------------------------------------------------------


def _trail(audit: Any) -> Any:
    if audit is not _NO_AUDIT:
        return audit
    if not os.environ.get("OPSAGENT_AUDIT_TABLE"):
        log.warning("OPSAGENT_AUDIT_TABLE is not set: ticket operations are not audited")
        return None
    try:
        from opsagent.audit import AuditTrail

        return AuditTrail.from_env()
    except (ImportError, OpsAgentError) as exc:
        log.warning("audit trail unavailable: %s", type(exc).__name__)
        return None


def _record(
    audit: Any, ctx: CallContext, operation: str, parameters: dict[str, Any], decision: str, **kw: Any
) -> None:
    trail = _trail(audit)
    if trail is None:
        return
    try:
        trail.record(ctx, operation, parameters, decision, **kw)
    except Exception as exc:  # best-effort: never fail (and so duplicate) a ticket write on audit
        log.warning(
            "could not write the audit record",
            extra={"operation": operation, "decision": decision, "error": type(exc).__name__},
        )


def _failure(exc: Exception) -> str:
    if isinstance(exc, OpsAgentError):
        return f"{exc.code}: {exc.message}"
    return f"internal error: {type(exc).__name__}"


# --- operations ---------------------------------------------------------------------------------------


def _footer(ctx: CallContext, request: TicketRequest) -> str:
    parts = [
        f"incident {ctx.incident_id}",
        f"trigger {ctx.trigger}",
        f"service {request.service}",
        f"severity {request.severity}",
    ]
    if request.fingerprint:
        parts.append(f"fingerprint {request.fingerprint}")
    return "\n\n---\nFiled by OpsAgent (" + ", ".join(parts) + ")."


def recurrence_comment(ctx: CallContext, request: TicketRequest) -> str:
    head = (
        f"OpsAgent saw this again (incident {ctx.incident_id}, trigger {ctx.trigger}, "
        f"severity {request.severity}).\n\n{request.title}\n\n"
    )
    return clip_bytes(head + request.description, MAX_TEXT_BYTES)


def create_ticket(
    ctx: CallContext,
    request: TicketRequest | Mapping[str, Any],
    *,
    backend: TicketBackend | None = None,
    audit: Any = _NO_AUDIT,
) -> TicketResult:
    """Open a ticket, or comment on the open ticket with the same fingerprint (``deduplicated``)."""
    params: dict[str, Any] = {}
    try:
        req: TicketRequest = parse(TicketRequest, dict(request) if isinstance(request, Mapping) else request)
        params = {
            "title": req.title,
            "severity": req.severity,
            "service": req.service,
            "fingerprint": req.fingerprint,
            "description_bytes": utf8_len(req.description),
        }
        backend = backend or get_backend()
        to_file = req.model_copy(update={"description": req.description + _footer(ctx, req)})
        with backend.deadline():
            outcome = backend.create_or_comment(to_file, recurrence_comment(ctx, req))
    except Exception as exc:
        if not params and isinstance(request, Mapping):
            params = {k: str(v)[:200] for k, v in list(request.items())[:8] if k != "description"}
        _record(audit, ctx, "createTicket", params, "failed", detail=_failure(exc))
        raise
    ticket = outcome.ticket
    if outcome.deduplicated:
        message = (
            f"An open ticket with this fingerprint already exists: added a comment to {ticket.id} "
            "instead of opening a new one."
        )
    elif outcome.reconciled:
        message = f"Opened {ticket.id} (the backend answered late; found it by fingerprint, not duplicated)."
    else:
        message = f"Opened {ticket.id}."
    result = TicketResult(
        id=ticket.id,
        url=ticket.url,
        status=ticket.status,
        deduplicated=outcome.deduplicated,
        backend=backend.name,
        message=message,
    )
    _record(
        audit,
        ctx,
        "createTicket",
        params,
        "deduplicated" if outcome.deduplicated else "applied",
        detail=message,
        after={"ticket_id": ticket.id, "url": ticket.url, "status": ticket.status, "backend": backend.name},
    )
    log.info(
        "ticket filed",
        extra={"ticket_id": ticket.id, "backend": backend.name, "deduplicated": outcome.deduplicated},
    )
    return result


def add_comment(
    ctx: CallContext,
    ticket_id: str,
    comment: str,
    *,
    backend: TicketBackend | None = None,
    audit: Any = _NO_AUDIT,
) -> CommentResult:
    """Append a comment to an existing ticket."""
    params: dict[str, Any] = {"ticket_id": str(ticket_id)[:64], "comment_bytes": utf8_len(str(comment))}
    try:
        tid = normalize_ticket_id(ticket_id)
        text = validate_comment(comment)
        backend = backend or get_backend()
        with backend.deadline():
            ticket = backend.comment(tid, text)
    except Exception as exc:
        _record(audit, ctx, "addTicketComment", params, "failed", detail=_failure(exc))
        raise
    message = f"Added a comment to {ticket.id}" + (
        " (the ticket is closed)." if ticket.status == "closed" else "."
    )
    _record(
        audit,
        ctx,
        "addTicketComment",
        params,
        "applied",
        detail=message,
        after={"ticket_id": ticket.id, "status": ticket.status, "backend": backend.name},
    )
    return CommentResult(
        ticket_id=ticket.id, url=ticket.url, status=ticket.status, backend=backend.name, message=message
    )


def _json_size(result: SearchResult) -> int:
    # What the action group sends: compact JSON with non-ASCII escaped (up to 12 bytes per character).
    return len(json.dumps(result.model_dump(), separators=(",", ":")))


def _fit(tickets: list[Ticket], more: bool, backend: str) -> SearchResult:
    """A SearchResult within SEARCH_BODY_BYTES: titles shortened first, then the oldest tickets left out
    (and said so), so 25 long or non-ASCII titles cannot blow the model's context."""
    result = SearchResult(tickets=tickets, count=len(tickets), more_available=more, backend=backend)
    if _json_size(result) > SEARCH_BODY_BYTES:
        short = [t.model_copy(update={"title": clip_chars(t.title, SHORT_TITLE_CHARS)}) for t in tickets]
        result = result.model_copy(update={"tickets": short})
        while len(result.tickets) > 1 and _json_size(result) > SEARCH_BODY_BYTES:
            result.tickets.pop()
        more = more or len(result.tickets) < len(tickets)
    result.count = len(result.tickets)
    result.more_available = more
    if more:
        result.note = (
            f"More tickets match; showing the newest {result.count}. Narrow the search (service and "
            "fingerprint)" + (" or raise limit (max 25)." if result.count == len(tickets) else ".")
        )
    return result


def search(
    ctx: CallContext,
    query: SearchQuery | Mapping[str, Any] | None = None,
    *,
    backend: TicketBackend | None = None,
    audit: Any = _NO_AUDIT,
    **filters: Any,
) -> SearchResult:
    """Tickets by service and/or fingerprint, open only unless ``include_closed``, newest first,
    at most ``limit`` (default 10, max 25)."""
    raw = dict(query) if isinstance(query, Mapping) else (query.model_dump() if query is not None else {})
    raw.update(filters)
    params: dict[str, Any] = {k: v for k, v in raw.items() if v not in (None, "")}
    try:
        q: SearchQuery = parse(SearchQuery, raw)
        if not q.service and not q.fingerprint:
            raise InvalidInput("give a service and/or a fingerprint to search for", field="service")
        backend = backend or get_backend()
        with backend.deadline():
            found = backend.find(
                fingerprint=q.fingerprint, service=q.service, open_only=not q.include_closed, limit=q.limit
            )
    except Exception as exc:
        _record(audit, ctx, "searchTickets", params, "failed", detail=_failure(exc))
        raise
    result = _fit(found.tickets, found.more, backend.name)
    _record(
        audit,
        ctx,
        "searchTickets",
        params,
        "recorded",
        after={"count": result.count, "more": result.more_available},
    )
    return result
