"""Ticket request/response models, their limits, and input hygiene.

Everything a caller (the model through the action group, the alarm trigger, the CLI) sends is
validated here, once, whatever the backend: sizes are bounded, control characters are removed,
and the two values that end up inside backend *queries* (``service`` and ``fingerprint``) are
either restricted to a safe alphabet or hashed, so no JQL / ServiceNow encoded query / label
list can be injected through them. Titles, descriptions and comments are only ever sent as data
(JSON string values, ADF text nodes), never spliced into a query.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from opsagent.errors import InvalidInput

SEVERITIES: tuple[str, ...] = ("sev1", "sev2", "sev3", "sev4")
SEVERITY_MEANING = {
    "sev1": "critical: customer-facing outage or data loss",
    "sev2": "major: significant degradation, no workaround",
    "sev3": "minor: partial degradation or a workaround exists",
    "sev4": "low: informational, follow-up work",
}
MAX_TITLE_CHARS = 200
MAX_TEXT_BYTES = 16 * 1024  # description and comment (the trigger writes RCAs here)
MAX_FINGERPRINT_CHARS = 256
MAX_SERVICE_CHARS = 63
DEFAULT_SEARCH_LIMIT = 10
MAX_SEARCH_LIMIT = 25
MAX_SUMMARY_TITLE_CHARS = 160  # titles in search results (keeps the tool result small)

SERVICE_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
# Ticket ids across backends: OPS-7KQ2MX (DynamoDB), OPS-42 (Jira), INC0010002 / 32-hex sys_id
# (ServiceNow), 123 or #123 (GitHub).
TICKET_ID_RE = re.compile(r"^#?[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# A fingerprint made only of these characters (and short) is used verbatim as a label /
# correlation id; anything else is replaced by a hash (see fingerprint_key).
_SAFE_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,39}$")

# Unicode bidi overrides/isolates ("Trojan Source") and other invisible format controls that
# can make stored text read differently from what it is.
_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"))


def _strip_controls(text: str, *, keep_newlines: bool) -> str:
    """Remove C0/C1 control characters (keeping \\n and \\t in multi-line text), DEL and bidi
    controls; normalise \\r\\n to \\n."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_BIDI)
    out = []
    for ch in text:
        if ch in "\n\t":
            out.append(ch if keep_newlines else " ")
        elif unicodedata.category(ch) == "Cc":
            out.append(" " if not keep_newlines else "")
        else:
            out.append(ch)
    return "".join(out)


def clean_title(value: str) -> str:
    return " ".join(_strip_controls(value, keep_newlines=False).split())


def clean_text(value: str) -> str:
    return _strip_controls(value, keep_newlines=True).strip()


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def clip_bytes(text: str, limit: int, marker: str = "\n…(truncated)") -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes (on a character boundary), ending with a
    marker when cut."""
    if utf8_len(text) <= limit:
        return text
    room = max(0, limit - utf8_len(marker))
    return text.encode("utf-8")[:room].decode("utf-8", errors="ignore") + marker


def clip_chars(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def _bounded_text(value: str, field: str) -> str:
    text = clean_text(value)
    size = utf8_len(text)
    if size > MAX_TEXT_BYTES:
        raise ValueError(
            f"{field} is {size} bytes; the limit is {MAX_TEXT_BYTES} bytes (16 KB): "
            "summarise it or split it into several comments"
        )
    return text


def normalize_severity(value: str) -> str:
    sev = str(value).strip().lower().replace("-", "").replace(" ", "")
    if sev not in SEVERITIES:
        raise ValueError(
            "severity must be one of sev1, sev2, sev3, sev4 (sev1 critical, sev2 major, sev3 minor, sev4 low)"
        )
    return sev


def normalize_service(value: str) -> str:
    svc = str(value).strip().lower()
    if not SERVICE_RE.fullmatch(svc):
        raise ValueError(
            "service must be 1-63 characters: lowercase letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (e.g. checkout)"
        )
    return svc


def normalize_fingerprint(value: str) -> str:
    fp = _strip_controls(str(value), keep_newlines=False).strip()
    if not fp:
        raise ValueError("fingerprint is empty")
    if len(fp) > MAX_FINGERPRINT_CHARS:
        raise ValueError(f"fingerprint is {len(fp)} characters; the limit is {MAX_FINGERPRINT_CHARS}")
    return fp


def normalize_ticket_id(value: str) -> str:
    tid = str(value).strip()
    if not TICKET_ID_RE.fullmatch(tid):
        raise InvalidInput(
            "ticket_id must be a ticket id as returned by createTicket or searchTickets "
            "(letters, digits, '.', '_' or '-', at most 64 characters)",
            field="ticket_id",
        )
    return tid


def fingerprint_key(fingerprint: str) -> str:
    """What remote backends store as the fingerprint (Jira/GitHub label suffix, ServiceNow
    correlation_id): the fingerprint itself when short and made of label-safe characters,
    else ``sha-`` + 32 hex chars of its SHA-256. Deterministic, so a search finds what a create
    wrote; never contains spaces, quotes, commas, ``^`` or ``=``."""
    if _SAFE_KEY_RE.fullmatch(fingerprint):
        return fingerprint
    return "sha-" + hashlib.sha256(fingerprint.encode("utf-8")).hexdigest()[:32]


# --- requests -----------------------------------------------------------------------------------


class TicketRequest(BaseModel):
    """A ticket to open (or, when an open one has the same fingerprint, to comment on)."""

    title: str = Field(description=f"One-line summary, at most {MAX_TITLE_CHARS} characters")
    description: str = Field(description="Body text (RCA, evidence, next steps), at most 16 KB")
    severity: str = Field(description="sev1 | sev2 | sev3 | sev4")
    service: str = Field(description="Affected service, e.g. checkout")
    fingerprint: str | None = Field(default=None, description="Stable de-duplication key")

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        title = clean_title(value)
        if not title:
            raise ValueError("title is empty")
        if len(title) > MAX_TITLE_CHARS:
            raise ValueError(f"title is {len(title)} characters; the limit is {MAX_TITLE_CHARS}")
        return title

    @field_validator("description")
    @classmethod
    def _description(cls, value: str) -> str:
        text = _bounded_text(value, "description")
        if not text:
            raise ValueError("description is empty")
        return text

    @field_validator("severity")
    @classmethod
    def _severity(cls, value: str) -> str:
        return normalize_severity(value)

    @field_validator("service")
    @classmethod
    def _service(cls, value: str) -> str:
        return normalize_service(value)

    @field_validator("fingerprint")
    @classmethod
    def _fingerprint(cls, value: str | None) -> str | None:
        if value is None or not str(value).strip():
            return None
        return normalize_fingerprint(value)


class SearchQuery(BaseModel):
    service: str | None = None
    fingerprint: str | None = None
    include_closed: bool = False
    limit: int = DEFAULT_SEARCH_LIMIT

    @field_validator("service")
    @classmethod
    def _service(cls, value: str | None) -> str | None:
        return normalize_service(value) if value and str(value).strip() else None

    @field_validator("fingerprint")
    @classmethod
    def _fingerprint(cls, value: str | None) -> str | None:
        return normalize_fingerprint(value) if value and str(value).strip() else None

    @field_validator("limit")
    @classmethod
    def _limit(cls, value: int) -> int:
        if not 1 <= value <= MAX_SEARCH_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_SEARCH_LIMIT}")
        return value


def _problems(exc: ValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors()[:10]:
        msg = str(err.get("msg", "invalid"))
        msg = msg.removeprefix("Value error, ")
        field = ".".join(str(p) for p in err.get("loc", ())) or "request"
        out.append({"field": field, "problem": msg[:300]})
    return out


def parse(model: type[BaseModel], data: Any) -> Any:
    """``model`` validated from ``data`` (a dict or the model itself); pydantic errors become one
    InvalidInput (HTTP 400) listing every problem and the limits, never echoing the input."""
    if isinstance(data, model):
        data = data.model_dump()
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = _problems(exc)
        message = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
        raise InvalidInput(f"invalid ticket input: {message}", problems=problems) from None


def validate_comment(text: str) -> str:
    try:
        comment = _bounded_text(str(text), "comment")
    except ValueError as exc:
        raise InvalidInput(str(exc), field="comment", limit_bytes=MAX_TEXT_BYTES) from None
    if not comment:
        raise InvalidInput("comment is empty", field="comment")
    return comment


# --- results --------------------------------------------------------------------------------------


class Ticket(BaseModel):
    """A ticket as a backend reports it (also one row of a search result)."""

    id: str = Field(
        description="Ticket id to use with addTicketComment (e.g. OPS-7KQ2MX, OPS-42, INC0010002)"
    )
    url: str = Field(default="", description="Link a human can open (empty when the backend has no web UI)")
    status: str = Field(description="open or closed")
    title: str = Field(default="", description="Title (clipped)")
    severity: str = Field(default="", description="sev1..sev4 when known")
    service: str = Field(default="", description="Service when known")
    created_at: str = Field(default="", description="Creation time (ISO-8601) when known")

    @classmethod
    def opened(cls, ticket_id: str, url: str, request: TicketRequest, created_at: str = "") -> Ticket:
        """The ticket a create just opened for ``request``."""
        return cls(
            id=ticket_id,
            url=url,
            status="open",
            title=request.title,
            severity=request.severity,
            service=request.service,
            created_at=created_at,
        )


class TicketResult(BaseModel):
    """Outcome of createTicket."""

    id: str = Field(description="The ticket id (an existing ticket's id when deduplicated)")
    url: str = Field(description="Link to the ticket (empty when the backend has no web UI)")
    status: str = Field(description="open or closed")
    deduplicated: bool = Field(
        description="true when an open ticket with the same fingerprint existed and a comment was added "
        "to it instead of opening a new ticket"
    )
    backend: str = Field(description="dynamodb, jira, servicenow or github")
    message: str = Field(description="What happened, in one sentence")


class CommentResult(BaseModel):
    """Outcome of addTicketComment."""

    ticket_id: str = Field(description="The ticket commented on")
    url: str = Field(description="Link to the ticket (empty when the backend has no web UI)")
    status: str = Field(description="open or closed")
    backend: str = Field(description="dynamodb, jira, servicenow or github")
    message: str = Field(description="What happened, in one sentence")


class SearchResult(BaseModel):
    """Outcome of searchTickets (newest first, bounded)."""

    tickets: list[Ticket] = Field(description="Matching tickets, newest first")
    count: int = Field(description="Number of tickets returned")
    more_available: bool = Field(description="true when more tickets matched than were returned")
    backend: str = Field(description="dynamodb, jira, servicenow or github")
    note: str = Field(default="", description="Hint when results were cut")
