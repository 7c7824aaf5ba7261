"""``opsagent``: ask the OpsAgent Bedrock Agent from a terminal.

    opsagent ask "why is checkout slow?" [--trace] [--session ID] [--incident ID] [--yes | --no]
    opsagent chat [--trace] [--session ID]          # one session until Ctrl-D
    opsagent drill [scenario] [...]                 # offline drill (opsagent_sim.drill)
    opsagent eval [...]                             # drill-based evaluation (opsagent_sim.drill)
    opsagent tools [--remote] | call TOOL k=v... | login | logout   # through the gateway (gateway_cmd)

Agent: --agent-id/--alias-id, or --from-terraform [DIR] (``terraform output -json``: agent_id,
agent_alias_id; DIR defaults to cdktf.out/stacks/opsagent-<env>), or OPSAGENT_AGENT_ID /
OPSAGENT_AGENT_ALIAS_ID. Region: --region or AWS_REGION.

Exit codes: 0 ok, 2 usage or configuration error, 3 agent unavailable (the reason is printed),
130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any

from opsagent.agent_runtime import (
    GUARDRAIL_INTERVAL_CHARS,
    AgentSession,
    AgentTurn,
    AgentUnavailable,
    ConfirmationRequest,
    new_session_id,
    session_id_for,
)
from opsagent_cli.config import ConfigError, Runner, resolve_target
from opsagent_cli.console import Console, clean, describe_invocation

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_INTERRUPTED = 130
#: Confirmations answered per question at most (a loop guard, not a policy).
MAX_CONFIRMATIONS = 5

#: The DENY body when the loop guard stops a question (the person was not asked).
CAP_DENIAL = (
    f"Not asked: the CLI allows {MAX_CONFIRMATIONS} confirmations per question, so this change was NOT "
    "made. Do not retry it; state it as a proposal (from -> to, evidence, undo) in your answer."
)

ClientFactory = Callable[[str], Any]


def build_parser() -> argparse.ArgumentParser:
    target = argparse.ArgumentParser(add_help=False)
    group = target.add_argument_group("agent")
    group.add_argument("--agent-id", help="Bedrock agent id (else OPSAGENT_AGENT_ID)")
    group.add_argument("--alias-id", help="agent alias id (else OPSAGENT_AGENT_ALIAS_ID)")
    group.add_argument(
        "--from-terraform",
        nargs="?",
        const="",
        metavar="DIR",
        help="read agent_id/agent_alias_id from `terraform output -json` in DIR "
        "(default cdktf.out/stacks/opsagent-<env>)",
    )
    group.add_argument("--env", default=os.environ.get("OPSAGENT_ENV", "dev"), help="stack environment (dev)")
    group.add_argument("--region", help="AWS region (else AWS_REGION)")

    talk = argparse.ArgumentParser(add_help=False)
    talk.add_argument("--trace", action="store_true", help="show reasoning, tool calls, observations, tokens")
    talk.add_argument(
        "--session", metavar="ID", help="continue a session (any text; made a valid session id)"
    )
    talk.add_argument("--incident", metavar="ID", help="attach to an incident (audit records group under it)")
    talk.add_argument(
        "--no-stream",
        dest="stream",
        action="store_false",
        help="print the answer only when the turn ends (no streamingConfigurations; for an agent role "
        "without bedrock:InvokeModelWithResponseStream)",
    )
    decide = talk.add_mutually_exclusive_group()
    decide.add_argument(
        "--yes", dest="decision", action="store_const", const="yes", help="confirm every change"
    )
    decide.add_argument("--no", dest="decision", action="store_const", const="no", help="deny every change")

    parser = argparse.ArgumentParser(
        prog="opsagent",
        description="Talk to the OpsAgent incident responder (Amazon Bedrock Agent).",
        epilog="Exit codes: 0 ok, 2 usage/configuration error, 3 agent unavailable.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ask = sub.add_parser("ask", parents=[target, talk], help="ask one question and stream the answer")
    ask.add_argument("question", help="what to ask, e.g. 'why is checkout slow?'")
    sub.add_parser(
        "chat", parents=[target, talk], help="interactive conversation in one session (Ctrl-D exits)"
    )
    from opsagent_cli.gateway_cmd import add_gateway_commands

    def decide_flags(p: argparse.ArgumentParser) -> None:
        flags = p.add_mutually_exclusive_group()
        flags.add_argument(
            "--yes", dest="decision", action="store_const", const="yes", help="confirm the change"
        )
        flags.add_argument("--no", dest="decision", action="store_const", const="no", help="deny the change")

    add_gateway_commands(sub, decide_flags)
    for name, text in (("drill", "run an offline incident drill"), ("eval", "evaluate the agent on drills")):
        p = sub.add_parser(name, help=f"{text} (opsagent_sim.drill)", add_help=False, prefix_chars="\0")
        p.add_argument("args", nargs=argparse.REMAINDER, help="passed to the drill")
    return parser


def _default_client_factory(region: str) -> Any:
    from opsagent.agent_runtime import default_client

    return default_client(region)


class Cli:
    def __init__(
        self,
        args: argparse.Namespace,
        *,
        client_factory: ClientFactory,
        stdin: IO[str],
        stdout: IO[str],
        stderr: IO[str],
        environ: Mapping[str, str],
        runner: Runner,
    ) -> None:
        self.args, self.stdin, self.stdout, self.stderr = args, stdin, stdout, stderr
        self.client_factory, self.environ, self.runner = client_factory, environ, runner
        self.console = Console(stdout, stderr, trace=getattr(args, "trace", False))
        self.confirmed: list[str] = []  # changes confirmed while answering the current question

    def session(self) -> AgentSession:
        a = self.args
        target = resolve_target(
            agent_id=a.agent_id,
            alias_id=a.alias_id,
            from_terraform=a.from_terraform,
            env=a.env,
            region=a.region,
            environ=self.environ,
            runner=self.runner,
        )
        session_id = session_id_for(a.session) if a.session else new_session_id()
        attributes = {"trigger": "cli"}
        if a.incident:
            attributes["incident_id"] = a.incident[:256]
        if a.trace:
            self.console.note(
                f"· agent {target.agent_id} alias {target.alias_id} in {target.region} ({target.source}); "
                f"session {session_id}"
            )
        return AgentSession(
            target.agent_id,
            target.alias_id,
            session_id,
            client=self.client_factory(target.region),
            session_attributes=attributes,
            enable_trace=a.trace,
            on_event=self.console.on_event,
            stream_final_response=a.stream,
            guardrail_interval=GUARDRAIL_INTERVAL_CHARS,
        )

    def decide(self, request: ConfirmationRequest) -> list[bool]:
        """One decision per invocation of ``request`` (a returnControl may carry 1-5)."""
        self.console.show_confirmation(request)
        count = max(1, len(request.inputs))
        decision = self.args.decision
        if decision == "yes":
            self.console.note("confirmed (--yes)")
            return [True] * count
        if decision == "no":
            self.console.note("denied (--no)")
            return [False] * count
        if not _isatty(self.stdin):
            self.console.note("denied: stdin is not a terminal (pass --yes to confirm without a prompt)")
            return [False] * count
        decisions = []
        for number in range(1, count + 1):
            self.stderr.write(
                "confirm? [y/N] " if count == 1 else f"confirm change {number} of {count}? [y/N] "
            )
            self.stderr.flush()
            answer = self.stdin.readline()
            confirmed = answer.strip().lower() in ("y", "yes")
            self.console.note("confirmed" if confirmed else "denied")
            decisions.append(confirmed)
        return decisions

    def turn(self, session: AgentSession, question: str) -> AgentTurn:
        """Ask, then answer each confirmation the agent asks for; returns the last turn."""
        self.confirmed = []
        turns = [session.ask(question)]
        for _ in range(MAX_CONFIRMATIONS):
            pending = turns[-1].pending_confirmation
            if pending is None:
                break
            decisions = self.decide(pending)
            chosen = zip(pending.inputs, decisions, strict=False)  # inputs may be empty: one decision
            self.confirmed += [describe_invocation(item) for item, ok in chosen if ok]
            turns.append(session.answer_confirmation(pending, decisions))
        pending = turns[-1].pending_confirmation
        if pending is not None:
            # Deny rather than leave the agent waiting on an unanswered returnControl.
            self.console.note(
                f"stopping: more than {MAX_CONFIRMATIONS} confirmations asked for one question; "
                "denying this one"
            )
            turns.append(session.answer_confirmation(pending, False, deny_text=CAP_DENIAL))
        self.console.end_turn(turns)
        return turns[-1]

    def report(self, exc: AgentUnavailable) -> None:
        report_unavailable(exc, self.console)
        if self.confirmed:
            self.console.note(
                "! the change(s) you confirmed may already have been applied: "
                + "; ".join(self.confirmed)
                + ". Check their state (e.g. getDeployment, the audit trail) before asking again."
            )

    def ask(self) -> int:
        self.turn(self.session(), self.args.question)
        return EXIT_OK

    def chat(self) -> int:
        session = self.session()
        interactive = _isatty(self.stdin)
        if interactive:
            self.console.note(f"session {session.session_id} — ask away; Ctrl-D (or 'exit') to leave")
        status = EXIT_OK
        while True:
            if interactive:
                self.stderr.write("you> ")
                self.stderr.flush()
            line = self.stdin.readline()
            if not line:
                break
            question = line.strip()
            if not question:
                continue
            if question in ("exit", "quit"):
                break
            try:
                self.turn(session, question)
                status = EXIT_OK
            except AgentUnavailable as exc:
                self.report(exc)
                status = EXIT_UNAVAILABLE
                if not exc.retryable:
                    break
        if interactive:
            self.stderr.write("\n")
        return status


def _isatty(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def report_unavailable(exc: AgentUnavailable, console: Console) -> None:
    hint = " (retry in a moment)" if exc.retryable else ""
    console.note(f"agent unavailable ({exc.reason}): {clean(exc.message)[:800]}{hint}")


def delegate(command: str, argv: list[str], stderr: IO[str]) -> int:
    """``drill`` -> ``opsagent_sim.drill.main(argv)``; ``eval`` -> ``opsagent_sim.drill.eval_main(argv)``
    when the drill has one, else ``main(["--eval", *argv])``. Imported lazily: the simulator lives in
    the repository (lambdas/opsagent_sim), not in Lambda zips."""
    try:
        drill = importlib.import_module("opsagent_sim.drill")
    except ImportError as exc:
        if getattr(exc, "name", None) in (
            "opsagent_sim",
            "opsagent_sim.drill",
        ) or "opsagent_sim.drill" in str(exc):
            stderr.write(
                f"opsagent {command}: the offline drill (opsagent_sim.drill) is not available here; run it "
                "from a repository checkout (`make drill`), where lambdas/opsagent_sim is on the path.\n"
            )
        else:
            stderr.write(f"opsagent {command}: opsagent_sim.drill failed to import: {exc}\n")
        return EXIT_USAGE
    entry = getattr(drill, "main", None)
    if command == "eval":
        if callable(getattr(drill, "eval_main", None)):
            entry = drill.eval_main
        else:
            argv = ["--eval", *argv]
    if not callable(entry):
        stderr.write(f"opsagent {command}: opsagent_sim.drill has no main(argv)\n")
        return EXIT_USAGE
    try:
        result = entry(argv)
    except SystemExit as exc:  # the drill's own argparse
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    return int(result or 0)


def main(
    argv: Sequence[str] | None = None,
    *,
    client_factory: ClientFactory | None = None,
    stdin: IO[str] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    environ: Mapping[str, str] | None = None,
    runner: Runner | None = None,
    gateway: Any = None,
) -> int:
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = build_parser()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # argparse: usage errors exit 2, --help exits 0
        return int(exc.code or 0)
    if args.command in ("drill", "eval"):
        return delegate(args.command, list(args.args), stderr)
    if args.command in ("tools", "call", "login", "logout"):
        from opsagent_cli.gateway_cmd import GatewayCommands

        return GatewayCommands(
            args,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            environ=os.environ if environ is None else environ,
            runner=runner or subprocess.run,
            seams=gateway,
            isatty=_isatty,
        ).run()
    cli = Cli(
        args,
        client_factory=client_factory or _default_client_factory,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        environ=os.environ if environ is None else environ,
        runner=runner or subprocess.run,
    )
    try:
        return cli.ask() if args.command == "ask" else cli.chat()
    except ConfigError as exc:
        stderr.write(f"opsagent: {exc}\n")
        return EXIT_USAGE
    except AgentUnavailable as exc:
        cli.report(exc)
        return EXIT_UNAVAILABLE
    except KeyboardInterrupt:
        stderr.write("\ninterrupted\n")
        if cli.confirmed:
            cli.console.note(
                "! the change(s) you confirmed may already have been applied: " + "; ".join(cli.confirmed)
            )
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
