import pytest
from pydantic import BaseModel, Field

from opsagent.errors import ConfigurationError
from opsagent.settings import load_settings


class Inner(BaseModel):
    max_step: int = Field(3, ge=1)


class Example(BaseModel):
    region: str = "us-east-1"
    retries: int = 2
    policy: Inner = Inner()
    names: list[str] = []


def test_reads_prefixed_variables_and_decodes_json():
    s = load_settings(
        Example, {"OPSAGENT_RETRIES": "5", "OPSAGENT_POLICY": '{"max_step": 2}', "OPSAGENT_NAMES": '["a"]'}
    )
    assert (s.retries, s.policy.max_step, s.names, s.region) == (5, 2, ["a"], "us-east-1")


def test_blank_values_are_plain_strings_not_json():
    assert load_settings(Example, {"OPSAGENT_REGION": ""}).region == ""


def test_every_bad_variable_is_named():
    with pytest.raises(ConfigurationError) as err:
        load_settings(Example, {"OPSAGENT_RETRIES": "many", "OPSAGENT_POLICY": '{"max_step": 0}'})
    message = err.value.message
    assert "OPSAGENT_RETRIES" in message and "OPSAGENT_POLICY.max_step" in message


def test_broken_json_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="OPSAGENT_POLICY is not valid JSON"):
        load_settings(Example, {"OPSAGENT_POLICY": "{not json"})
