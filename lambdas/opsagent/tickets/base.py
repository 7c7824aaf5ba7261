"""The interface every ticket backend implements, and the de-duplication every backend shares.

A backend knows how to ``create`` a ticket, ``find`` tickets by fingerprint and/or service (open
only by default) and ``comment`` on one. ``create_or_comment`` is the de-duplicating create used by
createTicket: an open ticket with the same fingerprint gets a comment instead of a twin.

The generic version below is search-then-create. Remote vendors offer no conditional create, and
their searches are eventually consistent (Jira's /search/jql says so), so two *simultaneous*
creates with the same fingerprint can both miss each other there: de-duplication against Jira /
ServiceNow / GitHub is best-effort (the alarm trigger de-duplicates alarm deliveries before it gets
here, which removes the common case). The DynamoDB backend overrides it with an atomic version
(conditional writes on a fingerprint lock item) that guarantees one open ticket per fingerprint.
"""

from __future__ import annotations

import contextlib
import logging
from abc import ABC, abstractmethod
from typing import ClassVar

from pydantic import BaseModel

from opsagent.errors import InvalidInput, OpsAgentError
from opsagent.tickets.http import AmbiguousWrite
from opsagent.tickets.models import Ticket, TicketRequest

log = logging.getLogger("opsagent.tickets")


class FindResult(BaseModel):
    tickets: list[Ticket]
    more: bool = False


class Outcome(BaseModel):
    ticket: Ticket
    deduplicated: bool
    reconciled: bool = False  # the create's outcome was unknown and we found the ticket afterwards


class TicketBackend(ABC):
    name: ClassVar[str]

    @abstractmethod
    def create(self, request: TicketRequest) -> Ticket:
        """Open a new ticket (no de-duplication)."""

    def find(
        self,
        *,
        fingerprint: str | None = None,
        service: str | None = None,
        open_only: bool = True,
        limit: int = 10,
    ) -> FindResult:
        """Tickets matching every given filter (at least one), newest first, at most ``limit``."""
        if not fingerprint and not service:
            raise InvalidInput("give a service and/or a fingerprint to search for")
        return self._find(fingerprint=fingerprint, service=service, open_only=open_only, limit=limit)

    @abstractmethod
    def _find(
        self, *, fingerprint: str | None, service: str | None, open_only: bool, limit: int
    ) -> FindResult:
        """:meth:`find` once its filters are checked."""

    @abstractmethod
    def comment(self, ticket_id: str, text: str) -> Ticket:
        """Add a comment; returns the ticket (id, url, status). NotFound for an unknown id."""

    def deadline(self) -> contextlib.AbstractContextManager[None]:
        """Context for one domain operation (remote backends bound its total time)."""
        return contextlib.nullcontext()

    def find_open(
        self, *, fingerprint: str | None = None, service: str | None = None, limit: int = 10
    ) -> list[Ticket]:
        return self.find(fingerprint=fingerprint, service=service, open_only=True, limit=limit).tickets

    def create_or_comment(self, request: TicketRequest, recurrence_comment: str) -> Outcome:
        """Comment on the open ticket with ``request.fingerprint`` if there is one, else create."""
        if request.fingerprint:
            existing = self.find_open(fingerprint=request.fingerprint, limit=1)
            if existing:
                return Outcome(ticket=self.comment(existing[0].id, recurrence_comment), deduplicated=True)
        try:
            return Outcome(ticket=self.create(request), deduplicated=False)
        except AmbiguousWrite as exc:
            # The POST may have created the issue. With a fingerprint we can look for it instead of
            # re-sending blindly (which could create a second one).
            hint = "Search for the ticket (searchTickets) before trying again"
            if request.fingerprint:
                try:
                    found = self.find_open(fingerprint=request.fingerprint, limit=1)
                except OpsAgentError as search_exc:
                    # Still unknown: a retryable "search failed" here would invite a second create.
                    log.warning(
                        "create outcome unknown and the reconciling search failed",
                        extra={"backend": self.name, "error": search_exc.code},
                    )
                    found = []
                if found:
                    log.warning(
                        "create outcome was unknown; found the ticket by fingerprint",
                        extra={"backend": self.name},
                    )
                    return Outcome(ticket=found[0], deduplicated=False, reconciled=True)
                # Vendor searches are eventually consistent: "not found yet" is not "not created".
                hint += " (it may take a minute to appear)"
            else:
                hint += "; pass a fingerprint so retries cannot duplicate it"
            raise AmbiguousWrite(f"{exc.message}. {hint}", **exc.details) from None
