"""The ``tickets`` action group: createTicket, searchTickets, addTicketComment.

Thin adapter: Bedrock parameters -> :mod:`opsagent.tickets.service` -> pydantic result. Validation
and limits live in the domain (so the alarm trigger gets the same 400s); backends load lazily.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, Field

from opsagent.context import CallContext
from opsagent.handlers.app import build_lambda_handler, build_resolver, operation
from opsagent.tickets import service
from opsagent.tickets.models import CommentResult, SearchResult, TicketResult

app = build_resolver()


class CreateTicketBody(BaseModel):
    title: str = Field(description="One-line summary of the problem, at most 200 characters.")
    description: str = Field(
        description="What is happening, evidence (metrics, pod states, log lines), impact, what was done and "
        "next steps. Plain text, at most 16 KB."
    )
    severity: str = Field(
        description="One of sev1 (critical: customer-facing outage or data loss), sev2 (major degradation, "
        "no workaround), sev3 (minor or partial, workaround exists), sev4 (low, follow-up work)."
    )
    service: str = Field(
        description="Affected service or workload, e.g. checkout: lowercase letters, digits, '.', '_' or '-'."
    )
    fingerprint: str = Field(
        default="",
        description="Optional stable key of the problem, e.g. the alarm name. When an open ticket with the "
        "same fingerprint exists, a comment is added to it instead of opening a duplicate "
        "(deduplicated=true).",
    )


class CommentBody(BaseModel):
    comment: str = Field(description="Comment text (update, finding or action taken), at most 16 KB.")


@operation(app, "createTicket")
def create_ticket(body: Annotated[CreateTicketBody, Body(embed=False)]) -> TicketResult:
    ctx = CallContext.from_bedrock_event(app.current_event.raw_event)
    return service.create_ticket(ctx, body.model_dump())


@operation(app, "searchTickets")
def search_tickets(
    service_name: Annotated[
        str,
        Query(
            alias="service",
            description="Service to search for, e.g. checkout. Optional if fingerprint is given.",
        ),
    ] = "",
    fingerprint: Annotated[
        str,
        Query(
            description="Fingerprint to search for (as given to createTicket). Optional if service is given."
        ),
    ] = "",
    include_closed: Annotated[
        bool, Query(description="true to include closed tickets; default false (open only).")
    ] = False,
    limit: Annotated[int, Query(description="Maximum number of tickets to return, 1-25 (default 10).")] = 10,
) -> SearchResult:
    ctx = CallContext.from_bedrock_event(app.current_event.raw_event)
    return service.search(
        ctx, service=service_name, fingerprint=fingerprint, include_closed=include_closed, limit=limit
    )


@operation(app, "addTicketComment")
def add_ticket_comment(
    ticket_id: Annotated[
        str,
        Path(
            description="Ticket id as returned by createTicket or searchTickets, e.g. OPS-7KQ2MX or OPS-42."
        ),
    ],
    body: Annotated[CommentBody, Body(embed=False)],
) -> CommentResult:
    ctx = CallContext.from_bedrock_event(app.current_event.raw_event)
    return service.add_comment(ctx, ticket_id, body.comment)


lambda_handler = build_lambda_handler(app, service="tickets")
