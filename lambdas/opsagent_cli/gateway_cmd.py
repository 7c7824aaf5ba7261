"""``opsagent tools`` / ``opsagent call`` / ``opsagent login`` / ``opsagent logout``: the tools for
humans, through the AgentCore Gateway (MCP streamable HTTP).

    opsagent tools [--remote] [--json]            # the catalogue (--remote: as the gateway lists it)
    opsagent call scaleDeployment namespace=shop deployment=web replicas=4 reason="load" [--yes|--no]
    opsagent login [--user NAME]                            # Cognito sign-in, token cached
    opsagent logout

Gateway: --gateway-url, else OPSAGENT_GATEWAY_URL, else --from-terraform [DIR] (output ``gateway_url``;
``gateway_authorizer_type`` and ``cognito_user_client_id`` when present). Auth: --auth jwt (Cognito
access token: OPSAGENT_GATEWAY_TOKEN, else sign-in as --user / OPSAGENT_COGNITO_USER with app client
--client-id / OPSAGENT_COGNITO_CLIENT_ID) or --auth iam (SigV4 with the caller's AWS credentials).
Region: --region, else AWS_REGION, else the one in the gateway URL.

Mutations ask first, exactly like ``opsagent ask``: ``confirm? [y/N]`` on a terminal, ``--yes`` /
``--no`` to decide without a prompt, and a denial when stdin is not a terminal.
Exit codes: 0 ok, 2 usage/configuration, 3 gateway unavailable or sign-in failed, 4 the tool
answered with an error (validation, policy refusal, 5xx), 5 not run (the change was denied).
"""

from __future__ import annotations

import getpass
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from opsagent_cli.config import ConfigError, Runner, default_stack_dir, terraform_outputs
from opsagent_cli.console import clean, one_line

EXIT_OK, EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_TOOL_ERROR, EXIT_DENIED = 0, 2, 3, 4, 5
SEPARATOR = "___"
OUTPUT_URL = "gateway_url"
OUTPUT_AUTHORIZER = "gateway_authorizer_type"
OUTPUT_CLIENT_ID = "cognito_user_client_id"
_GATEWAY_HOST = re.compile(r"^[a-z0-9-]+\.gateway\.bedrock-agentcore\.([a-z0-9-]+)\.amazonaws\.com$")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
VALUE_CHARS = 200


@dataclass(frozen=True)
class GatewayTarget:
    url: str
    auth: str  # jwt | iam
    region: str | None
    client_id: str | None
    username: str | None
    source: str


@dataclass
class GatewaySeams:
    """What tests replace: the Cognito client, AWS credentials, the prompt and the token cache."""

    cognito_factory: Callable[[str], Any] | None = None
    credentials_factory: Callable[[str | None], Any] | None = None
    prompt: Callable[[str, bool], str] | None = None
    cache_path: Path | None = None


def add_gateway_commands(sub: Any, talk_decide: Callable[[Any], None]) -> None:
    target = _target_parser()
    tools = sub.add_parser("tools", parents=[target], help="list the tools (the catalogue, or --remote)")
    tools.add_argument("--remote", action="store_true", help="ask the gateway (MCP tools/list)")
    tools.add_argument("--json", action="store_true", help="machine-readable output")
    call = sub.add_parser("call", parents=[target], help="run one tool through the gateway (MCP tools/call)")
    call.add_argument("tool", help="tool name, e.g. getDeployment or scaling___getDeployment")
    call.add_argument("arguments", nargs="*", metavar="key=value", help="tool arguments")
    call.add_argument("--json", action="store_true", help="print the raw result as JSON")
    talk_decide(call)
    sub.add_parser("login", parents=[target], help="sign in to the gateway's Cognito user pool")
    sub.add_parser("logout", parents=[target], help="forget the cached gateway token")


def _target_parser() -> Any:
    import argparse

    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("gateway")
    group.add_argument(
        "--gateway-url",
        help="MCP endpoint, https://<id>.gateway.bedrock-agentcore.<region>.amazonaws.com/mcp",
    )
    group.add_argument("--auth", choices=["jwt", "iam"], help="jwt (Cognito, default) or iam (SigV4)")
    group.add_argument("--client-id", help="Cognito app client id (else OPSAGENT_COGNITO_CLIENT_ID)")
    group.add_argument("--user", help="Cognito username (else OPSAGENT_COGNITO_USER, else asked)")
    group.add_argument(
        "--from-terraform",
        nargs="?",
        const="",
        metavar="DIR",
        help="read gateway_url etc. from terraform outputs",
    )
    group.add_argument("--env", default=os.environ.get("OPSAGENT_ENV", "dev"), help="stack environment (dev)")
    group.add_argument("--region", help="AWS region (else AWS_REGION, else the gateway URL's)")
    return parser


def resolve_gateway(args: Any, environ: Mapping[str, str], runner: Runner) -> GatewayTarget:
    url, auth, client_id = args.gateway_url, args.auth, args.client_id
    sources = ["flags"] if url else []
    if not url and environ.get("OPSAGENT_GATEWAY_URL"):
        url, sources = environ["OPSAGENT_GATEWAY_URL"], ["environment"]
    if args.from_terraform is not None and (not url or not client_id):
        directory = Path(args.from_terraform) if args.from_terraform else default_stack_dir(args.env)
        outputs = terraform_outputs(directory, runner)
        if not url and not outputs.get(OUTPUT_URL):
            raise ConfigError(
                f"terraform outputs in {directory} have no {OUTPUT_URL} (is the gateway enabled?)"
            )
        url = url or str(outputs[OUTPUT_URL])
        client_id = client_id or (str(outputs[OUTPUT_CLIENT_ID]) if outputs.get(OUTPUT_CLIENT_ID) else None)
        if not auth and outputs.get(OUTPUT_AUTHORIZER):
            auth = "iam" if outputs[OUTPUT_AUTHORIZER] == "AWS_IAM" else "jwt"
        sources.append(f"terraform outputs in {directory}")
    if not url:
        raise ConfigError(
            "no gateway: pass --gateway-url, set OPSAGENT_GATEWAY_URL, or use --from-terraform [DIR]"
        )
    parts = urlsplit(url)
    loopback = parts.hostname in _LOOPBACK
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ConfigError(f"gateway URL {url!r} must be https:// (http only for 127.0.0.1/localhost)")
    match = _GATEWAY_HOST.match(parts.hostname or "")
    region = args.region or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    region = region or (match.group(1) if match else None)
    return GatewayTarget(
        url=url,
        auth=auth or environ.get("OPSAGENT_GATEWAY_AUTH") or "jwt",
        region=region,
        client_id=client_id or environ.get("OPSAGENT_COGNITO_CLIENT_ID"),
        username=args.user or environ.get("OPSAGENT_COGNITO_USER"),
        source=" + ".join(sources),
    )


# --- arguments ------------------------------------------------------------------------------------


def resolve_tool(name: str, tools: Sequence[Any]) -> Any:
    exact = [t for t in tools if t.name == name]
    if exact:
        return exact[0]
    short = [t for t in tools if t.name.split(SEPARATOR, 1)[-1] == name]
    if len(short) == 1:
        return short[0]
    names = ", ".join(sorted(t.name for t in tools)[:40])
    if short:
        raise ConfigError(f"tool {name!r} is ambiguous: {', '.join(t.name for t in short)}")
    raise ConfigError(f"the gateway has no tool {name!r}; it has: {names or 'none'}")


_TRUE, _FALSE = {"true", "yes", "1"}, {"false", "no", "0"}


def parse_arguments(pairs: Sequence[str], schema: Mapping[str, Any]) -> dict[str, Any]:
    """``key=value`` words -> the tool's arguments, typed by its input schema."""
    properties: Mapping[str, Any] = schema.get("properties") or {}
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"argument {pair!r} is not key=value")
        if key in out:
            raise ConfigError(f"argument {key!r} given twice")
        if properties and key not in properties:
            raise ConfigError(f"unknown argument {key!r}; this tool takes: {', '.join(properties)}")
        kind = (properties.get(key) or {}).get("type", "string")
        try:
            if kind == "integer":
                if not re.fullmatch(r"-?[0-9]{1,18}", raw):
                    raise ValueError
                out[key] = int(raw)
            elif kind == "number":
                out[key] = float(raw)
            elif kind == "boolean":
                if raw.lower() not in _TRUE | _FALSE:
                    raise ValueError
                out[key] = raw.lower() in _TRUE
            elif kind in ("array", "object"):
                value = json.loads(raw)
                if not isinstance(value, list if kind == "array" else dict):
                    raise ValueError
                out[key] = value
            else:
                out[key] = raw
        except ValueError:
            raise ConfigError(f"argument {key}={raw!r} is not a valid {kind}") from None
    missing = [k for k in schema.get("required") or () if k not in out]
    if missing:
        raise ConfigError(f"missing required argument(s): {', '.join(missing)}")
    return out


def is_mutation(tool: Any) -> bool:
    """The local catalogue decides for our tools; an unknown tool asks unless the server says read-only."""
    from opsagent.investigation.operations import OPERATIONS

    spec = OPERATIONS.get(tool.name.split(SEPARATOR, 1)[-1])
    if spec is not None:
        return spec.mutating
    return tool.read_only is not True


# --- commands -------------------------------------------------------------------------------------


class GatewayCommands:
    def __init__(
        self,
        args: Any,
        *,
        stdin: IO[str],
        stdout: IO[str],
        stderr: IO[str],
        environ: Mapping[str, str],
        runner: Runner,
        seams: GatewaySeams | None,
        isatty: Callable[[IO[str]], bool],
    ) -> None:
        self.args, self.stdin, self.stdout, self.stderr = args, stdin, stdout, stderr
        self.environ, self.runner, self.seams, self.isatty = environ, runner, seams or GatewaySeams(), isatty

    def note(self, text: str) -> None:
        self.stderr.write(text + "\n")
        self.stderr.flush()

    def run(self) -> int:
        from opsagent_cli.cognito import SignInFailed

        try:
            command = self.args.command
            if command == "tools" and not self.args.remote:
                return self.local_tools()
            from opsagent_cli.mcp_client import GatewayUnavailable

            try:
                return getattr(self, f"cmd_{command}")()
            except GatewayUnavailable as exc:
                self.note(f"gateway unavailable ({exc.reason}): {clean(exc.message)[:500]}")
                if exc.reason == "auth" and self.target().auth == "jwt":
                    self.note("  sign in again with `opsagent login` (or check OPSAGENT_GATEWAY_TOKEN)")
                return EXIT_UNAVAILABLE
        except SignInFailed as exc:
            self.note(f"sign-in failed: {clean(str(exc))}")
            return EXIT_UNAVAILABLE
        except ConfigError as exc:
            self.note(f"opsagent: {exc}")
            return EXIT_USAGE

    _target: GatewayTarget | None = None

    def target(self) -> GatewayTarget:
        if self._target is None:
            self._target = resolve_gateway(self.args, self.environ, self.runner)
        return self._target

    # -- auth
    def _prompt(self, question: str, secret: bool) -> str:
        if self.seams.prompt:
            return self.seams.prompt(question, secret)
        if not self.isatty(self.stdin):
            raise ConfigError(
                "cannot ask for Cognito credentials: stdin is not a terminal (set OPSAGENT_GATEWAY_TOKEN)"
            )
        if secret:
            return getpass.getpass(question, stream=self.stderr)
        self.stderr.write(question)
        self.stderr.flush()
        return self.stdin.readline().strip()

    def sign_in(self) -> Any:
        from opsagent_cli.cognito import CognitoSignIn, TokenCache, default_cache_path

        target = self.target()
        if not target.client_id:
            raise ConfigError(
                "no Cognito app client: pass --client-id, set OPSAGENT_COGNITO_CLIENT_ID "
                "or use --from-terraform"
            )
        if not target.region:
            raise ConfigError("no AWS region for Cognito: pass --region or set AWS_REGION")
        username = target.username or self._prompt("Cognito username: ", False)
        if not username:
            raise ConfigError("no Cognito username")
        factory = self.seams.cognito_factory or _default_cognito
        cache = TokenCache(self.seams.cache_path or default_cache_path(dict(self.environ)))
        return CognitoSignIn(
            factory(target.region), target.client_id, username, prompt=self._prompt, cache=cache
        )

    def http_auth(self) -> Any:
        from opsagent_cli.mcp_client import BearerAuth, SigV4Auth

        target = self.target()
        if target.auth == "iam":
            if not target.region:
                raise ConfigError("no AWS region for SigV4: pass --region or set AWS_REGION")
            factory = self.seams.credentials_factory or _default_credentials
            credentials = factory(target.region)
            if credentials is None:
                raise ConfigError("no AWS credentials for SigV4 (--auth iam)")
            return SigV4Auth(credentials, target.region)
        token = self.environ.get("OPSAGENT_GATEWAY_TOKEN")
        return BearerAuth(token or self.sign_in().access_token())

    def client(self) -> Any:
        from opsagent_cli.mcp_client import GatewayClient

        return GatewayClient(self.target().url, self.http_auth())

    # -- commands
    def local_tools(self) -> int:
        from opsagent.investigation.operations import OPERATIONS

        rows = [
            {
                "name": f"{spec.action_group}{SEPARATOR}{op}",
                "tool": op,
                "target": spec.action_group,
                "kind": "mutation" if spec.mutating else "read",
                "confirmation": spec.mutating,
            }
            for op, spec in OPERATIONS.items()
        ]
        if self.args.json:
            json.dump(rows, self.stdout, indent=2)
            self.stdout.write("\n")
            return EXIT_OK
        for row in rows:
            ask = "  (asks for confirmation)" if row["confirmation"] else ""
            self.stdout.write(f"{row['name']:<32} {row['kind']:<8}{ask}\n")
        self.note("the local catalogue; `opsagent tools --remote` lists what the gateway exposes")
        return EXIT_OK

    def cmd_tools(self) -> int:
        tools = self.client().list_tools()
        if self.args.json:
            rows = [
                {
                    "name": t.name,
                    "description": t.description,
                    "input_schema": t.input_schema,
                    "read_only": t.read_only,
                }
                for t in tools
            ]
            json.dump(rows, self.stdout, indent=2)
            self.stdout.write("\n")
            return EXIT_OK
        for tool in tools:
            kind = "mutation" if is_mutation(tool) else "read"
            first = clean(tool.description).strip().splitlines()[0] if tool.description.strip() else ""
            self.stdout.write(f"{clean(tool.name):<32} {kind:<8} {one_line(first, 100)}\n")
        return EXIT_OK

    def cmd_call(self) -> int:
        client = self.client()
        tool = resolve_tool(self.args.tool, client.list_tools())
        arguments = parse_arguments(self.args.arguments, tool.input_schema)
        if is_mutation(tool) and not self.confirm(tool.name, arguments):
            self.note("not run: the change was denied")
            return EXIT_DENIED
        outcome = client.call_tool(tool.name, arguments)
        body = outcome.body()
        if self.args.json or body is not None:
            printable = body if body is not None else {"text": outcome.text}
            self.stdout.write(clean(json.dumps(printable, indent=2, ensure_ascii=False)) + "\n")
        else:
            self.stdout.write(clean(outcome.text) + "\n")
        if outcome.is_error:
            detail = body if isinstance(body, dict) else {}
            what = ", ".join(str(detail[k]) for k in ("error", "status", "rule") if detail.get(k) is not None)
            message = one_line(str(detail.get("message") or outcome.text), 300)
            self.note(f"! {tool.name} answered with an error ({what or 'error'}): {message}")
            return EXIT_TOOL_ERROR
        return EXIT_OK

    def confirm(self, name: str, arguments: Mapping[str, Any]) -> bool:
        """The same decision rules as ``opsagent ask``'s confirmation."""
        self.note("")
        self.note("You are about to run a change:")
        self.note(f"  {clean(name)}")
        for key, value in arguments.items():
            self.note(f"    {clean(key)}: {one_line(str(value), VALUE_CHARS)}")
        decision = getattr(self.args, "decision", None)
        if decision == "yes":
            self.note("confirmed (--yes)")
            return True
        if decision == "no":
            self.note("denied (--no)")
            return False
        if not self.isatty(self.stdin):
            self.note("denied: stdin is not a terminal (pass --yes to confirm without a prompt)")
            return False
        self.stderr.write("confirm? [y/N] ")
        self.stderr.flush()
        confirmed = self.stdin.readline().strip().lower() in ("y", "yes")
        self.note("confirmed" if confirmed else "denied")
        return confirmed

    def cmd_login(self) -> int:
        signer = self.sign_in()
        signer.sign_in()
        self.note(f"signed in as {clean(signer.username)}; token cached in {signer.cache.path}")
        return EXIT_OK

    def cmd_logout(self) -> int:
        signer = self.sign_in() if self.target().username else None
        if signer is None:
            raise ConfigError("which user? pass --user or set OPSAGENT_COGNITO_USER")
        signer.sign_out()
        self.note(f"forgot the cached token of {clean(signer.username)}")
        return EXIT_OK


def _default_cognito(region: str) -> Any:
    import boto3

    return boto3.client("cognito-idp", region_name=region)


def _default_credentials(region: str | None) -> Any:
    import boto3

    credentials = boto3.Session(region_name=region).get_credentials()
    return credentials.get_frozen_credentials() if credentials else None
