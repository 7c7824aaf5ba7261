"""The opsagent CLI against the scripted bedrock-agent-runtime (botocore-validated requests/events)."""

from __future__ import annotations

import io
import json
import os
import stat
import sys
import types
from pathlib import Path

import pytest

from opsagent_cli.main import main
from opsagent_sim.bedrock_runtime import ScriptedAgentRuntime, ev

POD_PATH = "/namespaces/{namespace}/pods"
IDS = ["--agent-id", "AGENT12345", "--alias-id", "ALIAS12345", "--region", "eu-west-1"]


class Tty(io.StringIO):
    """Scripted keyboard input that claims to be a terminal."""

    def isatty(self) -> bool:
        return True


class Run:
    def __init__(self, fake: ScriptedAgentRuntime | None = None) -> None:
        self.fake = fake or ScriptedAgentRuntime()
        self.regions: list[str] = []
        self.out = io.StringIO()
        self.err = io.StringIO()

    def __call__(self, *argv: str, stdin: io.StringIO | None = None, environ: dict | None = None) -> int:
        def factory(region: str) -> ScriptedAgentRuntime:
            self.regions.append(region)
            return self.fake

        return main(
            list(argv),
            client_factory=factory,
            stdin=stdin if stdin is not None else io.StringIO(""),
            stdout=self.out,
            stderr=self.err,
            environ={} if environ is None else environ,
        )

    @property
    def stdout(self) -> str:
        return self.out.getvalue()

    @property
    def stderr(self) -> str:
        return self.err.getvalue()


def investigation() -> list:
    return [
        ev.rationale("Check the checkout pods first."),
        ev.tool_call("pods", POD_PATH, "GET", {"namespace": "shop", "selector": "app=checkout"}),
        ev.observation(json.dumps({"pods": [{"name": f"checkout-{i}", "restarts": i} for i in range(40)]})),
        ev.usage(1500, 90),
        ev.chunk("checkout pods are restarting; "),
        ev.chunk("CPU is at 97%."),
    ]


def test_ask_streams_the_answer_and_trace(monkeypatch):
    run = Run(ScriptedAgentRuntime(investigation()))
    assert run("ask", *IDS, "--trace", "why is checkout slow?") == 0
    assert run.stdout == "checkout pods are restarting; CPU is at 97%.\n"
    err = run.stderr
    assert "· thinking: Check the checkout pods first." in err
    assert "→ pods.listPods namespace=shop selector=app=checkout" in err
    assert "← " in err and "chars)" in err, "long observations are truncated"
    assert len([line for line in err.splitlines() if line.startswith("←")][0]) < 400
    assert "tokens: in=1500 out=90" in err
    [call] = run.fake.calls
    assert call["enableTrace"] is True and call["inputText"] == "why is checkout slow?"
    assert call["sessionState"]["sessionAttributes"] == {"trigger": "cli"}
    assert call["sessionId"].startswith("cli-")
    assert run.regions == ["eu-west-1"]


def test_ask_without_trace_is_quiet():
    run = Run(ScriptedAgentRuntime(investigation()))
    assert run("ask", *IDS, "why?") == 0
    assert run.stdout.endswith("CPU is at 97%.\n")
    assert run.stderr == ""
    assert run.fake.calls[0]["enableTrace"] is False


def scale_then(text: str) -> ScriptedAgentRuntime:
    return ScriptedAgentRuntime(
        [ev.chunk("I propose scaling checkout to 6. "), ev.scale_confirmation(6)],
        [ev.chunk(text)],
    )


def confirmation_state(run: Run) -> str:
    return run.fake.calls[1]["sessionState"]["returnControlInvocationResults"][0]["apiResult"][
        "confirmationState"
    ]


def test_confirm_path_with_keyboard_yes():
    fake = ScriptedAgentRuntime(
        [ev.chunk("I propose scaling checkout to 6. "), ev.usage(1000, 10), ev.scale_confirmation(6)],
        [ev.usage(500, 20), ev.chunk("Scaled checkout to 6 replicas.")],
    )
    run = Run(fake)
    assert run("ask", *IDS, "--trace", "--session", "inc-42", "fix checkout", stdin=Tty("y\n")) == 0
    assert "tokens: in=1500 out=30" in run.stderr, "usage adds up over the confirmation round trip"
    err = run.stderr
    assert "The agent wants to run a change:" in err
    assert "scaling.scaleDeployment  POST /namespaces/{namespace}/deployments/{deployment}/scale" in err
    for line in ("namespace: shop", "deployment: checkout", "replicas: 6", "dry_run: false"):
        assert line in err
    assert "confirm? [y/N] " in err and "confirmed" in err
    assert confirmation_state(run) == "CONFIRM"
    assert run.fake.calls[1]["sessionState"]["invocationId"] == "inv-0001"
    assert {c["sessionId"] for c in run.fake.calls} == {"inc-42"}
    assert run.stdout == "I propose scaling checkout to 6. \nScaled checkout to 6 replicas.\n"


@pytest.mark.parametrize("answer", ["n\n", "\n", "maybe\n", ""])
def test_deny_path_with_keyboard(answer):
    run = Run(scale_then("OK, not scaling."))
    assert run("ask", *IDS, "fix checkout", stdin=Tty(answer)) == 0
    assert confirmation_state(run) == "DENY"
    assert "denied" in run.stderr and run.stdout.endswith("OK, not scaling.\n")


def test_non_interactive_stdin_denies_without_prompt():
    run = Run(scale_then("OK, not scaling."))
    assert run("ask", *IDS, "fix checkout", stdin=io.StringIO("y\n")) == 0
    assert confirmation_state(run) == "DENY"
    assert "stdin is not a terminal" in run.stderr and "confirm? [y/N]" not in run.stderr


@pytest.mark.parametrize(("flag", "state"), [("--yes", "CONFIRM"), ("--no", "DENY")])
def test_yes_and_no_flags(flag, state):
    run = Run(scale_then("done"))
    stdin = Tty("this must not be read\n")
    assert run("ask", *IDS, flag, "fix checkout", stdin=stdin) == 0
    assert confirmation_state(run) == state
    assert stdin.read() == "this must not be read\n"


def test_yes_and_no_are_exclusive():
    run = Run()
    assert run("ask", *IDS, "--yes", "--no", "q") == 2


def test_chat_keeps_one_session_and_exits_on_eof():
    run = Run(ScriptedAgentRuntime([ev.chunk("first answer")], [ev.chunk("second answer")]))
    assert run("chat", *IDS, stdin=io.StringIO("how is checkout?\n\nand cart?\n")) == 0
    assert [c["inputText"] for c in run.fake.calls] == ["how is checkout?", "and cart?"]
    assert len({c["sessionId"] for c in run.fake.calls}) == 1
    assert run.stdout == "first answer\nsecond answer\n"


def test_chat_interactive_prompt_and_exit_word():
    run = Run(ScriptedAgentRuntime([ev.chunk("hi")]))
    assert run("chat", *IDS, "--session", "INC 42: checkout", stdin=Tty("hello\nexit\nnot sent\n")) == 0
    assert len(run.fake.calls) == 1
    assert "you> " in run.stderr and "Ctrl-D" in run.stderr
    sid = run.fake.calls[0]["sessionId"]
    assert sid.startswith("INC-42:-checkout-")


def test_chat_survives_throttling_and_reports_it():
    run = Run(
        ScriptedAgentRuntime(
            [ev.chunk("partial"), ev.stream_error("throttlingException", "Rate exceeded")],
            [ev.chunk("second try worked")],
        )
    )
    assert run("chat", *IDS, stdin=io.StringIO("q1\nq2\n")) == 0
    assert (
        "agent unavailable (throttling): throttlingException: Rate exceeded (retry in a moment)" in run.stderr
    )
    assert run.stdout.endswith("second try worked\n")


def test_throttling_mid_stream_exits_3_after_partial_output():
    run = Run(
        ScriptedAgentRuntime([ev.chunk("partial "), ev.stream_error("throttlingException", "Rate exceeded")])
    )
    assert run("ask", *IDS, "q") == 3
    assert run.stdout.startswith("partial ")
    assert "agent unavailable (throttling)" in run.stderr


@pytest.mark.parametrize(
    ("code", "status", "reason"),
    [("AccessDeniedException", 403, "access_denied"), ("ResourceNotFoundException", 404, "not_configured")],
)
def test_client_error_at_start_exits_3_with_reason(code, status, reason):
    run = Run(ScriptedAgentRuntime(ev.client_error(code, "not for you", status)))
    assert run("ask", *IDS, "q") == 3
    assert f"agent unavailable ({reason}): {code}: not for you" in run.stderr
    assert run.stdout == ""


def test_terminal_escapes_from_the_model_are_stripped():
    run = Run(
        ScriptedAgentRuntime(
            [ev.chunk("ok\x1b[2J\x1b]0;pwned\x07 done\r"), ev.scale_confirmation(6), ev.chunk("x")],
            [ev.chunk("y")],
        )
    )
    assert run("ask", *IDS, "--no", "q") == 0
    assert "\x1b" not in run.stdout + run.stderr and "\x07" not in run.stdout and "\r" not in run.stdout
    assert "ok[2J]0;pwned done" in run.stdout


# -- configuration: flags, environment, terraform outputs


def test_ids_and_region_from_environment():
    run = Run(ScriptedAgentRuntime([ev.chunk("hi")]))
    env = {
        "OPSAGENT_AGENT_ID": "ENVAGENT1",
        "OPSAGENT_AGENT_ALIAS_ID": "ENVALIAS1",
        "AWS_REGION": "us-west-2",
    }
    assert run("ask", "q", environ=env) == 0
    assert run.fake.calls[0]["agentId"] == "ENVAGENT1" and run.fake.calls[0]["agentAliasId"] == "ENVALIAS1"
    assert run.regions == ["us-west-2"]


@pytest.mark.parametrize(
    ("argv", "env", "needle"),
    [
        (["ask", "q"], {"AWS_REGION": "us-east-1"}, "no agent id and alias id"),
        (["ask", "--agent-id", "AGENT12345", "q"], {"AWS_REGION": "us-east-1"}, "no alias id"),
        (["ask", "--agent-id", "AGENT12345", "--alias-id", "ALIAS12345", "q"], {}, "no AWS region"),
        (
            ["ask", "--agent-id", "agent-123!", "--alias-id", "ALIAS12345", "q"],
            {"AWS_REGION": "x"},
            "letters",
        ),
        (["ask", "--agent-id", "AGENT1\n", "--alias-id", "ALIAS12345", "q"], {"AWS_REGION": "x"}, "letters"),
    ],
)
def test_configuration_errors_exit_2(argv, env, needle):
    run = Run()
    assert run(*argv, environ=env) == 2
    assert needle in run.stderr
    assert run.fake.calls == []


def test_usage_errors_exit_2():
    run = Run()
    assert run("ask") == 2
    assert "the following arguments are required: question" in run.stderr
    assert run("frobnicate") == 2
    assert run() == 2
    assert run("--help") == 0 and "ask" in run.stdout and "chat" in run.stdout


@pytest.fixture
def fake_terraform(tmp_path, monkeypatch):
    """A `terraform` on PATH that prints the outputs JSON from $FAKE_TF_OUTPUTS (or fails)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "terraform"
    script.write_text(
        "#!/bin/sh\n"
        'echo "$PWD $*" >> "$FAKE_TF_LOG"\n'
        'if [ -n "$FAKE_TF_FAIL" ]; then echo "$FAKE_TF_FAIL" >&2; exit 1; fi\n'
        'cat "$FAKE_TF_OUTPUTS"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    log = tmp_path / "tf.log"
    monkeypatch.setenv("FAKE_TF_LOG", str(log))
    outputs = tmp_path / "outputs.json"
    outputs.write_text(
        json.dumps(
            {
                "agent_id": {"sensitive": False, "type": "string", "value": "TFAGENT01"},
                "agent_alias_id": {"sensitive": False, "type": "string", "value": "TFALIAS01"},
                "audit_table": {"sensitive": False, "type": "string", "value": "opsagent-audit"},
            }
        )
    )
    monkeypatch.setenv("FAKE_TF_OUTPUTS", str(outputs))
    return types.SimpleNamespace(log=log, outputs=outputs)


def test_ids_from_terraform_outputs_in_given_dir(tmp_path, fake_terraform):
    stack = tmp_path / "stack"
    stack.mkdir()
    run = Run(ScriptedAgentRuntime([ev.chunk("hi")]))
    env = {"OPSAGENT_AGENT_ID": "ENVAGENT1", "OPSAGENT_AGENT_ALIAS_ID": "ENVALIAS1"}
    assert (
        run("ask", "--from-terraform", str(stack), "--region", "us-east-1", "--trace", "q", environ=env) == 0
    )
    assert (run.fake.calls[0]["agentId"], run.fake.calls[0]["agentAliasId"]) == ("TFAGENT01", "TFALIAS01")
    assert fake_terraform.log.read_text().split() == [str(stack.resolve()), "output", "-json"]
    assert "terraform outputs in" in run.stderr


def test_terraform_default_dir_follows_env(tmp_path, fake_terraform, monkeypatch):
    monkeypatch.chdir(tmp_path)
    stack = Path("cdktf.out/stacks/opsagent-staging")
    stack.mkdir(parents=True)
    run = Run(ScriptedAgentRuntime([ev.chunk("hi")]))
    assert run("ask", "--from-terraform", "--env", "staging", "--region", "us-east-1", "q") == 0
    assert fake_terraform.log.read_text().split()[0] == str(stack.resolve())
    # flags still win over terraform
    run = Run(ScriptedAgentRuntime([ev.chunk("hi")]))
    assert (
        run("ask", "--from-terraform", "--env", "staging", "--agent-id", "FLAG1", "--region", "x", "q") == 0
    )
    assert run.fake.calls[0]["agentId"] == "FLAG1" and run.fake.calls[0]["agentAliasId"] == "TFALIAS01"


def test_terraform_failure_is_reported_exit_2(tmp_path, fake_terraform, monkeypatch):
    monkeypatch.setenv("FAKE_TF_FAIL", "Error: No outputs found; backend not initialized")
    run = Run()
    assert run("ask", "--from-terraform", str(tmp_path), "--region", "us-east-1", "q") == 2
    assert "`terraform output -json` failed" in run.stderr and "backend not initialized" in run.stderr


def test_terraform_outputs_missing(tmp_path, fake_terraform):
    fake_terraform.outputs.write_text("{}")
    run = Run()
    assert run("ask", "--from-terraform", str(tmp_path), "--region", "us-east-1", "q") == 2
    assert "lack agent_id, agent_alias_id" in run.stderr


def test_terraform_not_installed(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    run = Run()
    assert run("ask", "--from-terraform", str(tmp_path), "--region", "us-east-1", "q") == 2
    assert "terraform is not installed or not on PATH" in run.stderr


def test_terraform_dir_missing(tmp_path):
    run = Run()
    assert run("ask", "--from-terraform", str(tmp_path / "nope"), "--region", "us-east-1", "q") == 2
    assert "does not exist" in run.stderr


# -- drill / eval delegation


def test_drill_and_eval_delegate_to_the_simulator(monkeypatch):
    calls = []
    fake = types.ModuleType("opsagent_sim.drill")
    fake.main = lambda argv: calls.append(("main", argv)) or 0
    monkeypatch.setitem(sys.modules, "opsagent_sim.drill", fake)
    run = Run()
    assert run("drill", "cpu-saturation", "--full") == 0
    assert run("eval") == 0
    assert calls == [("main", ["cpu-saturation", "--full"]), ("main", ["--eval"])]
    fake.eval_main = lambda argv: calls.append(("eval_main", argv)) or 1
    assert run("eval", "--x") == 1
    assert calls[-1] == ("eval_main", ["--x"])


def test_drill_missing_gives_a_clear_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "opsagent_sim.drill", None)  # import fails like an absent module
    run = Run()
    assert run("drill") == 2
    assert "offline drill (opsagent_sim.drill) is not available" in run.stderr


# -- confirmations: several in a row, several at once, the cap, Ctrl-C, errors after a CONFIRM


def states(call: dict) -> list[str]:
    return [
        r["apiResult"]["confirmationState"] for r in call["sessionState"]["returnControlInvocationResults"]
    ]


def test_confirmations_in_a_row_are_each_asked_and_answered():
    fake = ScriptedAgentRuntime(
        [ev.scale_confirmation(6, invocation_id="inv-1")],
        [ev.chunk("Scaled. Also cart: "), ev.scale_confirmation(4, deployment="cart", invocation_id="inv-2")],
        [ev.chunk("cart left alone.")],
    )
    run = Run(fake)
    assert run("ask", *IDS, "fix it", stdin=Tty("y\nn\n")) == 0
    assert [c["sessionState"].get("invocationId") for c in fake.calls] == [None, "inv-1", "inv-2"]
    assert [states(c) for c in fake.calls[1:]] == [["CONFIRM"], ["DENY"]]
    assert run.stderr.count("confirm? [y/N] ") == 2 and "deployment: cart" in run.stderr
    assert run.stdout == "Scaled. Also cart: \ncart left alone.\n"


def test_beyond_the_cap_the_next_request_is_denied_not_left_pending():
    from opsagent_cli.main import MAX_CONFIRMATIONS

    scripts = [[ev.scale_confirmation(2 + i, invocation_id=f"inv-{i}")] for i in range(MAX_CONFIRMATIONS + 1)]
    fake = ScriptedAgentRuntime(*scripts, [ev.chunk("stopped")])
    run = Run(fake)
    assert run("ask", *IDS, "--yes", "loop", stdin=Tty("")) == 0
    answers = [states(c)[0] for c in fake.calls[1:]]
    assert answers == ["CONFIRM"] * MAX_CONFIRMATIONS + ["DENY"]
    assert f"more than {MAX_CONFIRMATIONS} confirmations" in run.stderr
    assert run.stdout.endswith("stopped\n")


def two_at_once() -> ScriptedAgentRuntime:
    return ScriptedAgentRuntime(
        [
            ev.return_control_many(
                ev.scale_confirmation(6, deployment="checkout"),
                ev.scale_confirmation(0, deployment="cart"),
            )
        ],
        [ev.chunk("done")],
    )


def test_several_changes_at_once_are_decided_one_by_one():
    run = Run(two_at_once())
    assert run("ask", *IDS, "fix it", stdin=Tty("y\nn\n")) == 0
    assert states(run.fake.calls[1]) == ["CONFIRM", "DENY"]
    err = run.stderr
    assert "change 1 of 2" in err and "change 2 of 2" in err
    assert err.index("deployment: checkout") < err.index("deployment: cart")


@pytest.mark.parametrize(("flag", "expected"), [("--yes", ["CONFIRM"] * 2), ("--no", ["DENY"] * 2)])
def test_flags_decide_every_change_at_once(flag, expected):
    run = Run(two_at_once())
    assert run("ask", *IDS, flag, "fix it") == 0
    assert states(run.fake.calls[1]) == expected


def test_ctrl_c_at_the_prompt_confirms_nothing():
    class CtrlC(Tty):
        def readline(self, *args):
            raise KeyboardInterrupt

    run = Run(scale_then("never"))
    assert run("ask", *IDS, "fix it", stdin=CtrlC("")) == 130
    assert len(run.fake.calls) == 1  # no CONFIRM (nor anything else) was sent
    assert "interrupted" in run.stderr


def test_error_after_a_confirm_says_the_change_may_have_been_applied():
    fake = ScriptedAgentRuntime(
        [ev.scale_confirmation(6)],
        [ev.chunk("Scaling"), ev.stream_error("internalServerException", "boom")],
    )
    run = Run(fake)
    assert run("ask", *IDS, "--yes", "fix it") == 3
    assert "agent unavailable (internal)" in run.stderr
    assert "may already have been applied" in run.stderr
    assert "scaling.scaleDeployment" in run.stderr.split("may already have been applied")[1]


def test_error_without_a_confirm_does_not_warn_about_changes():
    run = Run(ScriptedAgentRuntime([ev.chunk("x"), ev.stream_error("internalServerException", "boom")]))
    assert run("ask", *IDS, "q") == 3
    assert "may already have been applied" not in run.stderr


def test_bidi_controls_cannot_disguise_a_change():
    # U+202E would render "replicas: 05" while the value is 50
    fake = ScriptedAgentRuntime(
        [ev.chunk("ok \u202eabc\u2066"), ev.scale_confirmation("\u202e05", deployment="check\u2067out")],
        [ev.chunk("done")],
    )
    run = Run(fake)
    assert run("ask", *IDS, "--no", "q") == 0
    bidi = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    assert not bidi & set(run.stdout + run.stderr)
    assert "replicas: 05" in run.stderr and "deployment: checkout" in run.stderr


def test_ctrl_c_after_a_confirm_says_the_change_may_have_been_applied():
    class Interrupting(ScriptedAgentRuntime):
        def invoke_agent(self, **params):
            if len(self.calls) == 1:  # the CONFIRM answer: the user gives up while it streams
                self.calls.append(params)
                raise KeyboardInterrupt
            return super().invoke_agent(**params)

    run = Run(Interrupting([ev.scale_confirmation(6)]))
    assert run("ask", *IDS, "--yes", "fix it") == 130
    assert "interrupted" in run.stderr and "may already have been applied" in run.stderr


def test_incident_id_is_passed_as_a_session_attribute():
    run = Run(ScriptedAgentRuntime([ev.chunk("hi")]))
    assert run("ask", *IDS, "--incident", "INC-42", "q") == 0
    assert run.fake.calls[0]["sessionState"]["sessionAttributes"] == {
        "trigger": "cli",
        "incident_id": "INC-42",
    }


def test_trace_shows_guardrail_interventions_and_agent_failures():
    run = Run(ScriptedAgentRuntime([ev.guardrail("INTERVENED"), ev.failure("Lambda timed out")]))
    assert run("ask", *IDS, "--trace", "q") == 0
    assert "! guardrail intervened" in run.stderr and "! agent failure: Lambda timed out" in run.stderr


def test_chat_stops_on_an_error_retrying_cannot_fix():
    run = Run(ScriptedAgentRuntime(ev.client_error("AccessDeniedException", "no", 403)))
    assert run("chat", *IDS, stdin=io.StringIO("q1\nq2\n")) == 3
    assert len(run.fake.calls) == 1 and "agent unavailable (access_denied)" in run.stderr


def test_terraform_output_that_is_not_an_object_exit_2(tmp_path, fake_terraform):
    fake_terraform.outputs.write_text("[]")
    run = Run()
    assert run("ask", "--from-terraform", str(tmp_path), "--region", "us-east-1", "q") == 2
    assert "not an object" in run.stderr


def test_drill_usage_errors_keep_their_exit_code(monkeypatch):
    fake = types.ModuleType("opsagent_sim.drill")

    def main(argv):
        raise SystemExit(2)

    fake.main = main
    monkeypatch.setitem(sys.modules, "opsagent_sim.drill", fake)
    assert Run()("drill", "--bogus") == 2


def test_a_chunk_of_only_control_characters_does_not_lose_the_open_line():
    run = Run(
        ScriptedAgentRuntime(
            [ev.chunk("partial"), ev.chunk("\x1b\x07\r"), ev.stream_error("internalServerException", "boom")]
        )
    )
    assert run("ask", *IDS, "q") == 3
    assert run.stdout == "partial\n"  # the error note does not start on the answer's line
