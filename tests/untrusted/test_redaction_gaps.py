"""Issue 11 item 8: secrets the redactor used to let through (each case failed before the fix)."""

from __future__ import annotations

import pytest

from opsagent.redaction import redact

SECRET = "hunter2Xy9"

LEAKS = [
    pytest.param(f"DB_PASS={SECRET}", id="star_PASS_equals"),
    pytest.param(f"export MYSQL_ROOT_PASS={SECRET}", id="root_PASS_export"),
    pytest.param(f"REDIS_PASSWD: {SECRET}", id="PASSWD_colon"),
    pytest.param(
        f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={SECRET}+abc/def==;EndpointSuffix=core.windows.net",
        id="azure_AccountKey",
    ),
    pytest.param(f"SharedAccessSignature=sv=2020&sig={SECRET}", id="azure_sas_sig"),
    pytest.param(f"GET /login?user=bob&password%3D{SECRET}", id="urlencoded_password_3D"),
    pytest.param(f"body=user%3Dbob%26password%3D{SECRET}%26x%3D1", id="urlencoded_in_body"),
    pytest.param(f"password:\n  {SECRET}", id="value_on_next_line"),
    pytest.param(f"password = \\\n    {SECRET}", id="backslash_continued"),
    pytest.param(f"password: correct horse {SECRET}", id="multi_word_after_colon"),
    pytest.param(f"mysql -u root -p{SECRET} -h db", id="single_dash_p_attached"),
    pytest.param(f"mysql -u root -p {SECRET} -h db", id="single_dash_p_spaced"),
    pytest.param(f"redis-cli -a {SECRET} ping", id="redis_cli_a"),
]


@pytest.mark.parametrize("text", LEAKS)
def test_secret_is_redacted(text: str) -> None:
    out = redact(text).text
    assert SECRET not in out, out
    assert "[REDACTED:" in out


PROSE = [
    "password: required",
    "token: expired",
    "mysql -u root -h db",
    "kubectl logs -p web-1",
    "ls -a /tmp",
    "password_reset_count=3",
    "max_tokens=400",
    "the passport office",
]


@pytest.mark.parametrize("text", PROSE)
def test_prose_untouched(text: str) -> None:
    assert redact(text).text == text


def _client():
    from opsagent.k8s.client import KubeClient

    return KubeClient(endpoint="https://ABCDEF0123.gr7.eu-west-1.eks.amazonaws.com", auth=None)


TOKEN = "k8s-aws-v1.aHR0cHM6Ly9zdHMuYW1hem9uYXdzLmNvbS8_QWN0aW9uPUdldENhbGxlcklkZW50aXR5"


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422, 500, 502])
def test_kubernetes_error_echoing_bearer_token_is_redacted(status: int) -> None:
    # A proxy or admission webhook that echoes the request headers back in its error message.
    raw = (
        '{"kind":"Status","message":"webhook denied: request headers Authorization: Bearer '
        + TOKEN
        + ' \u001b[31mred\u001b[0m","reason":"Forbidden"}'
    ).encode()
    err = _client()._http_error("GET", "/api/v1/namespaces/web/pods", None, status, raw)
    body = str(err.to_body())
    assert TOKEN not in body and "k8s-aws-v1" not in body, body
    assert "\x1b" not in body and "\u001b" not in body


def test_kubernetes_plain_text_proxy_error_is_redacted() -> None:
    raw = f"502 Bad Gateway: upstream rejected token={TOKEN}".encode()
    body = str(_client()._http_error("GET", "/api/v1/pods", None, 502, raw).to_body())
    assert TOKEN not in body, body


def test_transport_errors_do_not_carry_the_cluster_endpoint() -> None:
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ReadTimeoutError, SSLError

    client = _client()
    for exc in (
        NewConnectionError(None, "refused"),
        ConnectTimeoutError(),
        ReadTimeoutError(None, "/api", "read timed out"),
        SSLError("bad cert"),
        OSError("x"),
    ):
        body = str(client._transport_error("GET", "/api/v1/pods", exc).to_body())
        assert "eks.amazonaws.com" not in body and "https://" not in body, body
