"""Input hygiene as properties: whatever text arrives, what we store is bounded and clean, and what
reaches a backend query (fingerprint key, labels) is from a safe alphabet."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsagent.errors import InvalidInput
from opsagent.tickets.models import (
    MAX_TEXT_BYTES,
    TicketRequest,
    clip_bytes,
    fingerprint_key,
    normalize_ticket_id,
    parse,
    utf8_len,
)
from opsagent.tickets.remote import fingerprint_label, label

SAFE = re.compile(r"^[A-Za-z0-9._:/@+-]+$")


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=400))
def test_fingerprint_key_is_deterministic_short_and_query_safe(fp):
    key = fingerprint_key(fp)
    assert key == fingerprint_key(fp)
    assert SAFE.match(key) and len(key) <= 40
    assert not set(key) & set(" \"'\\,^=\n\t")
    assert len(fingerprint_label(fp)) <= 50


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.text(max_size=3000))
def test_any_title_and_description_is_either_clean_or_a_400(title, description):
    data = {"title": title, "description": description, "severity": "sev3", "service": "checkout"}
    try:
        req = parse(TicketRequest, data)
    except InvalidInput as exc:
        assert exc.status_code == 400 and exc.details["problems"]
        return
    assert 0 < len(req.title) <= 200
    for text, allowed in ((req.title, ""), (req.description, "\n\t")):
        assert not any(unicodedata.category(c) == "Cc" and c not in allowed for c in text)
        assert not any(c in text for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c")
    assert utf8_len(req.description) <= MAX_TEXT_BYTES


def test_a_trailing_newline_is_not_a_safe_key():
    # "$" also matches before a final "\n": such keys would reach JQL / labels / encoded queries
    for fp in ("0\n", "checkout\n"):
        assert "\n" not in fingerprint_key(fp) and fingerprint_key(fp).startswith("sha-")


def test_distinct_fingerprints_get_distinct_keys():
    assert fingerprint_key("checkout-high-cpu") == "checkout-high-cpu"
    assert fingerprint_key("a b") != fingerprint_key("a  b")
    assert fingerprint_key("x" * 41).startswith("sha-")
    assert label("service:", "s" * 63).startswith("service:sha-") and len(label("service:", "s" * 63)) <= 50


def test_clip_bytes_respects_multibyte_characters():
    text = "é" * 100  # 200 bytes
    clipped = clip_bytes(text, 51, marker="~")
    assert utf8_len(clipped) <= 51 and clipped.endswith("~") and clipped[:-1] == "é" * 25


@pytest.mark.parametrize(
    "good", ["OPS-7KQ2MX", "OPS-42", "INC0010002", "ef43c6d40a0a0b5700c77f9bf387afe3", "#12", "12"]
)
def test_ticket_ids_accepted(good):
    assert normalize_ticket_id(f" {good} ") == good


@pytest.mark.parametrize(
    "bad", ["", "../x", "a b", "OPS-1;rm", "x" * 65, "OPS-1#C000001", "INC1^ORactive=false"]
)
def test_ticket_ids_rejected(bad):
    with pytest.raises(InvalidInput):
        normalize_ticket_id(bad)


def test_severity_and_service_are_normalised():
    req = TicketRequest(title="t", description="d", severity=" Sev-2 ", service=" Checkout ")
    assert (req.severity, req.service, req.fingerprint) == ("sev2", "checkout", None)
