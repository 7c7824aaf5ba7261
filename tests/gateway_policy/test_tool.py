"""``python -m tools.gateway_policy``: the bundle for an environment, from its YAML."""

from __future__ import annotations

import json

import cedarpy

from tools import gateway_policy


def test_json_bundle_for_dev_validates(capsys) -> None:
    assert gateway_policy.main(["--env", "dev", "--json", "--gateway-arn", "arn:aws:x:gateway/g"]) == 0
    bundle = json.loads(capsys.readouterr().out)
    assert bundle["mode"] == "LOG_ONLY"
    text = "\n".join(p["statement"] for p in bundle["policies"])
    assert cedarpy.validate_policies(text, bundle["cedar_schema"]).validation_passed
    assert {p["name"] for p in bundle["policies"]} >= {"opsagent_dev_read_tools", "opsagent_dev_scale_range"}


def test_policy_mode_comes_from_the_environment_file(tmp_path, monkeypatch) -> None:
    (tmp_path / "infra" / "environments").mkdir(parents=True)
    (tmp_path / "infra" / "environments" / "x.yaml").write_text(
        "name_prefix: opsagent-x\n"
        "scaling_policy: {allowed_namespaces: [shop]}\n"
        "gateway: {policy_mode: ENFORCE}\n"
    )
    monkeypatch.setattr(gateway_policy, "ROOT", tmp_path)
    bundle = gateway_policy.bundle_for("x")
    assert bundle.mode == "ENFORCE"
    assert '["shop"].contains' in bundle.text()
