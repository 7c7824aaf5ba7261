"""``opsagent tools`` / ``call`` / ``login`` against a local MCP server speaking streamable HTTP on
127.0.0.1 (tests/support/mcp_gateway.py), with Cognito from moto and SigV4 from botocore."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys

import boto3
import pytest
from botocore.credentials import Credentials
from moto import mock_aws

from opsagent.scaling.policy import ScalingPolicy
from opsagent_cli.cognito import CognitoSignIn, SignInFailed, TokenCache
from opsagent_cli.gateway_cmd import GatewaySeams
from opsagent_cli.main import main
from support.mcp_gateway import GOOD_TOKEN, local_gateway, policy_backend

POLICY = ScalingPolicy(allowed_namespaces=["shop"], max_replicas=10)


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(scope="module")
def gateway():
    with local_gateway(policy_backend(POLICY)) as gw:
        yield gw


def run(*argv: str, stdin: io.StringIO | None = None, environ: dict | None = None, seams=None):
    out, err = io.StringIO(), io.StringIO()
    code = main(
        list(argv),
        stdin=stdin if stdin is not None else io.StringIO(""),
        stdout=out,
        stderr=err,
        environ=environ if environ is not None else {},
        gateway=seams,
    )
    return code, out.getvalue(), err.getvalue()


def env(gw, token: str = GOOD_TOKEN) -> dict:
    return {"OPSAGENT_GATEWAY_URL": gw.url, "OPSAGENT_GATEWAY_TOKEN": token, "AWS_REGION": "us-east-1"}


def test_tools_remote_lists_gateway_names(gateway) -> None:
    code, out, _ = run("tools", "--remote", environ=env(gateway))
    assert code == 0
    assert "scaling___scaleDeployment" in out and "mutation" in out
    assert "pods___listPods" in out
    code, out, _ = run("tools", "--remote", "--json", environ=env(gateway))
    names = {t["name"] for t in json.loads(out)}
    assert len(names) == 10 and all("___" in n for n in names)


def test_tools_local_needs_no_gateway() -> None:
    code, out, _ = run("tools")
    assert code == 0 and "scaling___scaleDeployment" in out and "confirmation" in out


def test_call_a_read_tool_sends_typed_arguments_with_the_token(gateway) -> None:
    before = len(gateway.calls)
    code, out, err = run(
        "call", "getPodLogs", "namespace=shop", "pod=web-1", "lines=20", "previous=true", environ=env(gateway)
    )
    assert code == 0, err
    assert json.loads(out)["arguments"] == {
        "namespace": "shop",
        "pod": "web-1",
        "lines": 20,
        "previous": True,
    }
    assert gateway.calls[before:] == [("pods___getPodLogs", json.loads(out)["arguments"])]
    assert gateway.headers[-1]["authorization"] == f"Bearer {GOOD_TOKEN}"
    assert "confirm" not in err  # reads never ask


def test_mutation_confirmed_with_yes_runs(gateway) -> None:
    code, out, err = run(
        "call",
        "scaleDeployment",
        "namespace=shop",
        "deployment=web",
        "replicas=4",
        "reason=load test",
        "--yes",
        environ=env(gateway),
    )
    assert code == 0, err
    assert "You are about to run a change" in err and "replicas: 4" in err
    assert json.loads(out)["outcome"] == "scaled"


def test_mutation_is_denied_without_a_terminal_and_nothing_is_called(gateway) -> None:
    before = len(gateway.calls)
    code, _, err = run(
        "call",
        "scaling___scaleDeployment",
        "namespace=shop",
        "deployment=web",
        "replicas=4",
        "reason=load",
        environ=env(gateway),
    )
    assert code == 5 and "stdin is not a terminal" in err
    assert len(gateway.calls) == before


@pytest.mark.parametrize(("answer", "code"), [("y\n", 0), ("n\n", 5), ("\n", 5)])
def test_mutation_prompt_on_a_terminal(gateway, answer, code) -> None:
    before = len(gateway.calls)
    result, _, err = run(
        "call",
        "scaleDeployment",
        "namespace=shop",
        "deployment=web",
        "replicas=3",
        "reason=load",
        stdin=Tty(answer),
        environ=env(gateway),
    )
    assert result == code and "confirm? [y/N]" in err
    assert len(gateway.calls) == before + (1 if code == 0 else 0)


def test_policy_refusal_is_a_tool_error(gateway) -> None:
    code, out, err = run(
        "call",
        "scaleDeployment",
        "namespace=shop",
        "deployment=web",
        "replicas=40",
        "reason=load",
        "--yes",
        environ=env(gateway),
    )
    assert code == 4
    assert json.loads(out)["rule"] == "replica_ceiling"
    assert "policy_refused, 403, replica_ceiling" in err


def test_5xx_tool_error(gateway) -> None:
    code, _, err = run("call", "describePod", "namespace=shop", "pod=boom", environ=env(gateway))
    assert code == 4 and "internal_error, 500" in err


def test_auth_failure(gateway) -> None:
    code, _, err = run("tools", "--remote", environ=env(gateway, token="expired"))
    assert code == 3
    assert "refused the credentials (HTTP 401)" in err and "opsagent login" in err


def test_unreachable_gateway() -> None:
    code, _, err = run(
        "tools",
        "--remote",
        environ={"OPSAGENT_GATEWAY_URL": "http://127.0.0.1:1/mcp", "OPSAGENT_GATEWAY_TOKEN": "t"},
    )
    assert code == 3 and "connect" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["call", "scaleDeployment", "namespace=shop", "deployment=web", "replicas=four", "reason=x"],
            "not a valid integer",
        ),
        (
            ["call", "scaleDeployment", "namespace=shop", "deployment=web", "replicas=4"],
            "missing required argument(s): reason",
        ),
        (
            ["call", "getDeployment", "namespace=shop", "deployment=web", "force=1"],
            "unknown argument 'force'",
        ),
        (["call", "getDeployment", "namespace=shop", "namespace=x", "deployment=web"], "given twice"),
        (["call", "deleteDeployment", "namespace=shop"], "has no tool 'deleteDeployment'"),
        (["call", "getDeployment", "namespace"], "not key=value"),
    ],
)
def test_bad_arguments_never_reach_the_tool(gateway, argv, message) -> None:
    before = len(gateway.calls)
    code, _, err = (
        run(*argv, "--yes", environ=env(gateway))
        if argv[1] == "scaleDeployment"
        else run(*argv, environ=env(gateway))
    )
    assert code == 2 and message in err
    assert len(gateway.calls) == before


def test_plain_http_only_on_loopback() -> None:
    code, _, err = run(
        "tools",
        "--remote",
        environ={"OPSAGENT_GATEWAY_URL": "http://example.com/mcp", "OPSAGENT_GATEWAY_TOKEN": "t"},
    )
    assert code == 2 and "must be https" in err


def test_sigv4_for_iam_gateways() -> None:
    seams = GatewaySeams(credentials_factory=lambda region: Credentials("AKIDEXAMPLE", "secret", "session"))
    with local_gateway(policy_backend(POLICY), auth="iam") as gw:
        code, out, err = run(
            "call",
            "getDeployment",
            "namespace=shop",
            "deployment=web",
            "--auth",
            "iam",
            environ={"OPSAGENT_GATEWAY_URL": gw.url, "AWS_REGION": "eu-west-1"},
            seams=seams,
        )
        assert code == 0, err
        signed = gw.headers[-1]
        assert signed["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
        assert "/eu-west-1/bedrock-agentcore/aws4_request" in signed["authorization"]
        assert signed["x-amz-security-token"] == "session"
        # a bearer token is no way into an IAM gateway
        code, _, err = run(
            "tools",
            "--remote",
            environ={"OPSAGENT_GATEWAY_URL": gw.url, "OPSAGENT_GATEWAY_TOKEN": GOOD_TOKEN},
        )
        assert code == 3


# --- Cognito ----------------------------------------------------------------------------------------


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.fixture
def pool():
    with mock_aws():
        idp = boto3.client("cognito-idp", region_name="us-east-1")
        pool_id = idp.create_user_pool(PoolName="opsagent")["UserPool"]["Id"]
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName="opsagent-cli",
            GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        idp.admin_create_user(UserPoolId=pool_id, Username="alice", MessageAction="SUPPRESS")
        idp.admin_set_user_password(
            UserPoolId=pool_id, Username="alice", Password="Corr3ct-horse!", Permanent=True
        )
        yield idp, client_id


def test_cognito_sign_in_gives_the_gateway_a_human_access_token(pool, tmp_path) -> None:
    idp, client_id = pool
    asked: list[str] = []

    def prompt(question: str, secret: bool) -> str:
        asked.append(question)
        return "Corr3ct-horse!"

    seams = GatewaySeams(cognito_factory=lambda region: idp, prompt=prompt, cache_path=tmp_path / "t.json")
    accept = lambda token: _claims(token).get("client_id") == client_id  # noqa: E731  (the gateway's allowed_clients)
    with local_gateway(policy_backend(POLICY), accept=accept) as gw:
        environ = {
            "OPSAGENT_GATEWAY_URL": gw.url,
            "AWS_REGION": "us-east-1",
            "OPSAGENT_COGNITO_USER": "alice",
            "OPSAGENT_COGNITO_CLIENT_ID": client_id,
        }
        code, out, err = run(
            "call", "getDeployment", "namespace=shop", "deployment=web", environ=environ, seams=seams
        )
        assert code == 0, err
        assert asked == ["Cognito password for alice: "]
        token = gw.headers[-1]["authorization"].removeprefix("Bearer ")
        assert _claims(token)["username"] == "alice" and _claims(token)["token_use"] == "access"
        # the second command reuses the cached token: no new prompt
        assert run("tools", "--remote", environ=environ, seams=seams)[0] == 0
        assert len(asked) == 1
        assert oct((tmp_path / "t.json").stat().st_mode & 0o777) == "0o600"
        code, _, err = run("logout", environ=environ, seams=seams)
        assert code == 0 and json.loads((tmp_path / "t.json").read_text()) == {}


def test_wrong_password_fails_cleanly(pool, tmp_path) -> None:
    idp, client_id = pool
    seams = GatewaySeams(
        cognito_factory=lambda r: idp, prompt=lambda q, s: "wrong", cache_path=tmp_path / "t.json"
    )
    environ = {
        "OPSAGENT_GATEWAY_URL": "http://127.0.0.1:1/mcp",
        "AWS_REGION": "us-east-1",
        "OPSAGENT_COGNITO_USER": "alice",
        "OPSAGENT_COGNITO_CLIENT_ID": client_id,
    }
    code, _, err = run("login", environ=environ, seams=seams)
    assert code == 3 and "sign-in failed" in err and "NotAuthorizedException" in err


def test_expired_access_token_is_refreshed_without_a_prompt(pool, tmp_path) -> None:
    idp, client_id = pool
    now = [1_000_000.0]
    cache = TokenCache(tmp_path / "t.json")
    asked: list[str] = []
    signer = CognitoSignIn(
        idp,
        client_id,
        "alice",
        prompt=lambda q, s: asked.append(q) or "Corr3ct-horse!",
        cache=cache,
        clock=lambda: now[0],
    )
    first = signer.access_token()
    now[0] += 7200  # past ExpiresIn
    second = signer.access_token()
    assert asked == ["Cognito password for alice: "]  # the refresh token did it
    assert _claims(second)["username"] == "alice"
    assert cache.get(f"{client_id}/alice")["expires_at"] > now[0]
    assert first  # both real tokens


def test_the_cli_does_not_import_mcp_for_ask() -> None:
    code = (
        "import sys, opsagent_cli.main; print(any(m.split('.')[0] in ('mcp', 'httpx2') for m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": "lambdas", "PATH": "/usr/bin:/bin"},
    )
    assert done.stdout.strip() == "False"


def test_sign_in_failed_is_the_seams_error(pool) -> None:
    idp, client_id = pool
    with pytest.raises(SignInFailed):
        CognitoSignIn(idp, "nope", "alice", prompt=lambda q, s: "x").sign_in()
