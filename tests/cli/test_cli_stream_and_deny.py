"""The CLI streams the final answer and tells the model why a change was denied (issue 10, items 8, 10)."""

from __future__ import annotations

import pytest
from tests.cli.test_cli import IDS, Run, Tty

from opsagent.agent_runtime import DENIED_BY_PERSON, GUARDRAIL_INTERVAL_CHARS
from opsagent_sim.bedrock_runtime import ScriptedAgentRuntime, ev

SCALE_PATH = "/namespaces/{namespace}/deployments/{deployment}/scale"


def api_results(call: dict) -> list[dict]:
    return [r["apiResult"] for r in call["sessionState"]["returnControlInvocationResults"]]


def test_ask_and_chat_stream_the_final_answer_with_a_guardrail_interval():
    expected = {"streamFinalResponse": True, "applyGuardrailInterval": GUARDRAIL_INTERVAL_CHARS}
    run = Run(ScriptedAgentRuntime([ev.chunk("Check"), ev.chunk("out is fine.")]))
    assert run("ask", *IDS, "how is checkout?") == 0
    assert run.fake.calls[0]["streamingConfigurations"] == expected
    assert run.stdout == "Checkout is fine.\n"
    run = Run(ScriptedAgentRuntime([ev.chunk("a")], [ev.chunk("b")]))
    assert run("chat", *IDS, stdin=Tty("one\ntwo\n")) == 0
    assert [c["streamingConfigurations"] for c in run.fake.calls] == [expected, expected]


def test_no_stream_leaves_streaming_off():
    run = Run(ScriptedAgentRuntime([ev.chunk("ok")]))
    assert run("ask", *IDS, "--no-stream", "q") == 0
    assert "streamingConfigurations" not in run.fake.calls[0]


@pytest.mark.parametrize("decide", [("--no",), ()])
def test_a_denied_change_tells_the_model_it_was_declined(decide):
    fake = ScriptedAgentRuntime([ev.scale_confirmation(6)], [ev.chunk("Not scaling; proposal: 4 -> 6.")])
    run = Run(fake)
    assert run("ask", *IDS, *decide, "fix checkout", stdin=Tty("n\n")) == 0
    [result] = api_results(fake.calls[1])
    assert result["confirmationState"] == "DENY"
    assert result["responseBody"] == {"TEXT": {"body": DENIED_BY_PERSON}}


def test_the_loop_guard_denial_says_the_person_was_not_asked():
    from opsagent_cli.main import CAP_DENIAL, MAX_CONFIRMATIONS

    scripts = [[ev.scale_confirmation(2 + i, invocation_id=f"inv-{i}")] for i in range(MAX_CONFIRMATIONS + 1)]
    fake = ScriptedAgentRuntime(*scripts, [ev.chunk("stopped")])
    assert Run(fake)("ask", *IDS, "--yes", "loop") == 0
    [last] = api_results(fake.calls[-1])
    assert last["responseBody"]["TEXT"]["body"] == CAP_DENIAL
    assert "not asked" in CAP_DENIAL.lower()


def test_the_answer_echoes_a_lowercase_http_method():
    confirmation = ev.return_control(
        "scaling",
        SCALE_PATH,
        "post",
        {"namespace": "shop", "deployment": "checkout"},
        {"replicas": 6, "reason": "4 -> 6: CPU 97%; undo: scale to 4", "dry_run": False},
    )
    fake = ScriptedAgentRuntime([confirmation], [ev.chunk("Scaled.")])
    run = Run(fake)
    assert run("ask", *IDS, "--yes", "fix checkout") == 0
    assert "scaling.scaleDeployment" in run.stderr
    [result] = api_results(fake.calls[1])
    assert (result["httpMethod"], result["confirmationState"]) == ("post", "CONFIRM")
