from support import bedrock_event, load_event


def test_sample_events_load_in_their_real_shape():
    assert load_event("bedrock-agent-post")["requestBody"]["content"]["application/json"]["properties"]
    assert load_event("alarm-composite")["detail"]["configuration"]["alarmRule"]


def test_bedrock_event_values_are_strings_like_bedrock_sends_them():
    event = bedrock_event("pods", "/namespaces/{namespace}/pods", parameters={"namespace": "shop"})
    assert event["parameters"] == [{"name": "namespace", "type": "string", "value": "shop"}]
    assert "requestBody" not in event
