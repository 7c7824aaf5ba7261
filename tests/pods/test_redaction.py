"""Redaction of each secret kind, no false positives on ordinary log text, control characters."""

from __future__ import annotations

import time

import pytest

from opsagent.pods.operations import prepare_log_text
from opsagent.redaction import redact, sanitize, strip_control

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

# (log line, secret that must disappear, kind counted)
CASES = [
    ("using key AKIAIOSFODNN7EXAMPLE for s3", "AKIAIOSFODNN7EXAMPLE", "aws_access_key_id"),
    ("sts creds ASIAY34FZKBOKMUTVV7A expire soon", "ASIAY34FZKBOKMUTVV7A", "aws_access_key_id"),
    (f"AWS_SECRET_ACCESS_KEY={SECRET_KEY}", SECRET_KEY, "aws_secret_access_key"),
    (f'{{"SecretAccessKey": "{SECRET_KEY}"}}', SECRET_KEY, "aws_secret_access_key"),
    (f"aws_secret_access_key = {SECRET_KEY}", SECRET_KEY, "aws_secret_access_key"),
    ("GET /api/orders Authorization: Bearer sk.9f8e7d6c5b4a3", "sk.9f8e7d6c5b4a3", "authorization"),
    ("upstream call with bearer abcDEF123456ghiJKL", "abcDEF123456ghiJKL", "bearer_token"),
    ("headers={'Authorization': 'Basic dXNlcjpodW50ZXIy'}", "dXNlcjpodW50ZXIy", "authorization"),
    (f"session cookie {JWT} accepted", JWT, "jwt"),
    ("connecting to postgres://orders:S3cr3t-P4ss@db.internal:5432/orders", "S3cr3t-P4ss", "url_password"),
    ("amqp://guest:guestpw@rabbitmq:5672/", "guestpw", "url_password"),
    ("db password=hunter2 retrying", "hunter2", "credential_assignment"),
    ("DB_PASSWORD: Tr0ub4dor&3;x", "Tr0ub4dor&3;x", "credential_assignment"),
    (
        '{"level":"debug","client_secret":"c2VjcmV0LXZhbHVl","msg":"oauth"}',
        "c2VjcmV0LXZhbHVl",
        "credential_assignment",
    ),
    ("config: {'api_key': 'AIzaSyD-9tSrke72PouQMnMX'}", "AIzaSyD-9tSrke72PouQMnMX", "credential_assignment"),
    (
        "X-Api-Key: 8c6f2b1e-4d3a-4f5e-9b7c-1a2b3c4d5e6f",
        "8c6f2b1e-4d3a-4f5e-9b7c-1a2b3c4d5e6f",
        "credential_assignment",
    ),
    ("token=ghx_notknown_butassigned", "ghx_notknown_butassigned", "credential_assignment"),
    ("Server=db;User Id=app;Password=p@ss;Encrypt=true", "p@ss", "credential_assignment"),
    (
        "cloning with ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "known_token",
    ),
    (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1Yx2\nq9c0Xk8PZ==\n-----END RSA PRIVATE KEY-----",
        "MIIEowIBAAKCAQEA1Yx2",
        "private_key",
    ),
]


@pytest.mark.parametrize(("line", "secret", "kind"), CASES, ids=[c[2] + str(i) for i, c in enumerate(CASES)])
def test_each_secret_kind_is_redacted_and_counted(line, secret, kind):
    result = redact(line)
    assert secret not in result.text
    assert f"[REDACTED:{kind}]" in result.text
    assert result.counts[kind] >= 1


def test_private_key_cut_by_the_tail_window_is_still_redacted():
    # the window starts inside the key: only base64 lines, then END
    tail = (
        "MIIEowIBAAKCAQEA1Yx2abcdefgh\nq9c0Xk8PZabcdefghijklmn==\n-----END PRIVATE KEY-----\nserver started"
    )
    out = redact(tail).text
    assert "MIIEow" not in out and "q9c0Xk8" not in out and out.endswith("server started")
    # the window ends inside the key: BEGIN without END
    head = "loading key\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU="
    out = redact(head).text
    assert "b3BlbnNzaC1" not in out and out.startswith("loading key")


def test_url_keeps_user_and_host():
    out = redact("mongodb://app:pw12345@mongo-0.mongo:27017/db").text
    assert out == "mongodb://app:[REDACTED:url_password]@mongo-0.mongo:27017/db"


ORDINARY = [
    "Password reset email sent to user 42",
    "invalid token: expired",
    "auth failed: token: signature mismatch",
    "token bucket refilled; max_tokens=100 token_count=5 password_reset_count=3",
    "using basic configuration with bearer authentication",
    "Authorization failed for user bob; authorization: denied",
    "GET http://checkout.shop.svc.cluster.local:8080/healthz 200",
    "fetched https://user@github.com/org/repo",
    "secretName: checkout-db mounted at /etc/secrets",
    "The secret to success is tokens and keys",
    "use_token=true enable_password_login=false",
    "2026-03-02T09:41:07Z INFO order 7d9f8b6c5d placed total=42.10 EUR sku=ABC-123",
    'level=info msg="rotated credentials for service account" sa=checkout',
    "keyspace_hits=12345 keyspace_misses=3 api_latency_ms=12",
    "sha256:ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12",
    "{{ .Values.password }} password=${DB_PASSWORD} password=***",
]


@pytest.mark.parametrize("line", ORDINARY)
def test_ordinary_text_is_untouched(line):
    result = redact(line)
    assert result.text == line
    assert result.total == 0


def test_control_characters_and_escapes_are_removed():
    raw = (
        "\x1b[31mERROR\x1b[0m boom\r\n"
        "\x1b]0;evil title\x07progress 10%\rprogress 100%\n"
        "bell\x07 null\x00 del\x7f c1\x9b2J bidi\u202eevil\u202c zero\u200bwidth\n"
        "tab\tkept"
    )
    text, removed = strip_control(raw)
    assert text == "ERROR boom\nprogress 100%\nbell null del c1 bidievil zerowidth\ntab\tkept"
    assert removed > 0
    assert all(ch in "\n\t" or ch >= " " for ch in text)


def test_sanitize_bounds_and_redacts():
    out = sanitize("\x1b[1mhello\x1b[0m token=abcdef123456 " + "z" * 500, 100)
    assert out.startswith("hello token=[REDACTED:credential_assignment]") and len(out) == 100
    assert out.endswith("…")


def test_prepare_log_text_keeps_the_newest_lines_within_the_budget():
    lines = [f"2026-03-02T09:00:{i % 60:02d}Z line {i} " + "x" * 80 for i in range(500)]
    out = prepare_log_text("\n".join(lines) + "\n", budget=6 * 1024)
    kept = out["text"].split("\n")
    assert kept[-1] == lines[-1] and kept[0] == lines[500 - len(kept)]
    assert out["lines_omitted"] == 500 - len(kept) > 0
    assert len(out["text"]) <= 6 * 1024


def test_prepare_log_text_counts_only_redactions_it_shows():
    text = "password=old1\n" + "filler\n" * 2000 + "password=new2\n"
    out = prepare_log_text(text, budget=200)
    assert "new2" not in out["text"] and "old1" not in out["text"]
    assert out["redactions"] == 1  # the first one was cut away with the old lines


def test_long_lines_are_cut_and_marked():
    out = prepare_log_text("a" * 50_000)
    assert out["text"].startswith("a" * 1000 + "…[+49000 chars]")
    assert out["cut_long_lines"]


def test_unicode_heavy_logs_are_budgeted_by_their_json_size():
    line = "日本語のログ行" * 20
    out = prepare_log_text("\n".join([line] * 300))
    import json

    assert len(json.dumps(out["text"])) <= 6 * 1024 + 2


def test_redaction_is_linear_on_hostile_input():
    hostile = ("a." * 20_000) + "password" + ("=" * 5000) + ("token:" * 5000) + "-" * 20000
    start = time.perf_counter()
    redact(hostile)
    strip_control("\x1b[" * 20_000)
    assert time.perf_counter() - start < 2.0


# ---------------------------------------------------------------------------- review: leaks found
LEAKS = [
    ("rails SECRET_KEY_BASE=0123456789abcdef0123", "0123456789abcdef0123", "credential_assignment"),
    ("django DJANGO_SECRET_KEY='k3y-v@lue-123'", "k3y-v@lue-123", "credential_assignment"),
    ("boto secret_key=zzzSecret123 region=eu-west-1", "zzzSecret123", "credential_assignment"),
    ('{"secretKey": "wJalrXUtnFEMI/K7MDENG"}', "wJalrXUtnFEMI/K7MDENG", "credential_assignment"),
    ("JWT_SIGNING_KEY=abcdefgh12345678", "abcdefgh12345678", "credential_assignment"),
    ("maps key AIzaSyD-9tSrke72PouQMnMXabcdefghijklmno loaded", "AIzaSyD-9tSrke72PouQMnMX", "known_token"),
    ("gcloud token ya29.a0AfH6SMBx3abcdefghijklmnopqrstuvwxyz0", "ya29.a0AfH6SMBx3abc", "known_token"),
    (
        "POST https://hooks.slack.com/services/T0ABCDEF1/B0ABCDEF2/Xa1b2C3d4E5f6G7h8I9j0K1l failed",
        "Xa1b2C3d4E5f6G7h8I9j0K1l",
        "known_token",
    ),
    ("slack app token xapp-1-A0ABCDEF1-1234567890123-abcdef0123456789", "xapp-1-A0ABCDEF1", "known_token"),
    ("git clone with glpat-Ab1Cd2Ef3Gh4Ij5Kl6Mn", "glpat-Ab1Cd2Ef3Gh4Ij5Kl6Mn", "known_token"),
    ("npm auth npm_abcdefghijklmnopqrstuvwxyz0123456789 ok", "npm_abcdefghij", "known_token"),
    ("llm key sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv", "sk-ant-api03-AbCd", "known_token"),
    ("> Cookie: session=9f8e7d6c5b4a39f8e7d6; theme=dark", "9f8e7d6c5b4a39f8e7d6", "cookie"),
    ("< Set-Cookie: sid=s%3Aabcdef0123456789; Path=/; HttpOnly", "s%3Aabcdef0123456789", "cookie"),
    ("running: helm repo add x --password hunter2 --username bob", "hunter2", "credential_assignment"),
    ("vault login --token s.AbCdEf123456 -method=token", "s.AbCdEf123456", "credential_assignment"),
    ("DB Password : hunter2", "hunter2", "credential_assignment"),
    (
        "GET https://b.s3.amazonaws.com/k?X-Amz-Signature=fe5f80f77d5fa3beca038a248ff027d0&X-Amz-Date=1",
        "fe5f80f77d5fa3beca038a248ff027d0",
        "credential_assignment",
    ),
    ("amqps://user:pa@ss@rabbit:5671/vhost", "ss@rabbit", "url_password"),
]


@pytest.mark.parametrize(("line", "secret", "kind"), LEAKS, ids=[f"leak{i}" for i in range(len(LEAKS))])
def test_review_leaks_are_redacted(line, secret, kind):
    result = redact(line)
    assert secret not in result.text, result.text
    assert result.counts[kind] >= 1, (result.text, result.counts)


def test_url_password_with_at_sign_keeps_the_host():
    assert redact("amqps://user:pa@ss@rabbit:5671/vhost").text == (
        "amqps://user:[REDACTED:url_password]@rabbit:5671/vhost"
    )


@pytest.mark.parametrize(
    "line",
    [
        "cookie banner dismissed; cookie: chocolate",
        "using --password-file /run/secrets/db and --token-ttl 5m",
        "secret_key_rotation_days=30 signature mismatch on upload",
        "Set-Cookie header missing",
        "email bob@example.com signed in from https://app.example.com/login",
    ],
)
def test_review_ordinary_text_is_untouched(line):
    result = redact(line)
    assert result.text == line and result.total == 0


def test_private_key_cut_by_the_window_with_a_short_last_line_is_redacted():
    # PEM lines are 64 characters except the last one, which is usually short
    tail = (
        "MIIEowIBAAKCAQEA1Yx2q9c0Xk8PZabcdefghijklmnopqrstuvwxyz0123456789AB\n"
        "q9c0Xk8PZabcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRS==\n"
        "AbC4Q==\n"
        "-----END RSA PRIVATE KEY-----\n"
        "server started"
    )
    out = redact(tail).text
    assert out == "[REDACTED:private_key]\nserver started", out


def test_only_the_showable_tail_is_redacted(monkeypatch):
    # lines=500 of 1 KB JSON lines is ~500 KB fetched for ~6 KB shown: redaction (regex work, the
    # slow part of a cold Lambda) must not run over all of it
    from opsagent.pods import operations

    seen: list[int] = []
    real = operations.redact

    def spy(text):
        seen.append(len(text))
        return real(text)

    monkeypatch.setattr(operations, "redact", spy)
    lines = [f'{{"ts":"2026-11-20T14:00:00Z","i":{i},"msg":"' + "x" * 1000 + '"}' for i in range(500)]
    lines[-1] = '{"msg":"connect","password":"hunter2"}'
    out = prepare_log_text("\n".join(lines) + "\n")
    assert sum(seen) <= 64 * 1024, seen  # ~8x the budget, not the ~500 KB fetched
    assert "hunter2" not in out["text"] and out["redactions"] == 1
    assert out["lines_returned"] + out["lines_omitted"] == 500
    assert out["text"].endswith('"password":"[REDACTED:credential_assignment]"}')
