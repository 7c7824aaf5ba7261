"""Incident tickets: create (de-duplicated by fingerprint), search, comment, on one of four backends.

Domain API (no Lambda envelope; the action group, the alarm trigger, the drill and the CLI call it):
:mod:`opsagent.tickets.service` — ``create_ticket(ctx, TicketRequest) -> TicketResult``,
``add_comment(ctx, ticket_id, text) -> CommentResult``, ``search(ctx, service=..., fingerprint=...)
-> SearchResult``, ``get_backend()``. Models and limits: :mod:`opsagent.tickets.models`.

Backends (one interface, :class:`opsagent.tickets.base.TicketBackend`: create / find / comment):
``dynamodb`` (default, needs only OPSAGENT_TICKETS_TABLE; atomic de-duplication),
``jira`` (Jira Cloud REST v3), ``servicenow`` (Table API), ``github`` (GitHub Issues). Configuration:
:mod:`opsagent.tickets.config` (OPSAGENT_TICKETS JSON); credentials only from Secrets Manager:
:mod:`opsagent.tickets.secrets`; HTTP retry/timeout rules: :mod:`opsagent.tickets.http`.

This module imports nothing heavy: backends (boto3 via opsagent.aws.client, urllib3) load lazily.
"""
