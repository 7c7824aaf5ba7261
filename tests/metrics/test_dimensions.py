"""The Key=Value,Key2=Value2 dimension string: strict parsing and round-trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsagent.errors import InvalidInput
from opsagent.metrics.dimensions import MAX_DIMENSIONS, format_dimensions, parse_dimensions


def test_alb_and_target_group_values_keep_slashes_and_colons():
    text = (
        "LoadBalancer=app/shop-alb/50dc6c495c0c9188,"
        "TargetGroup=targetgroup/checkout/6d0ecf831eec9f09,"
        "Queue=arn:aws:sqs:us-east-1:123456789012:orders"
    )
    assert parse_dimensions(text) == {
        "LoadBalancer": "app/shop-alb/50dc6c495c0c9188",
        "TargetGroup": "targetgroup/checkout/6d0ecf831eec9f09",
        "Queue": "arn:aws:sqs:us-east-1:123456789012:orders",
    }


def test_whitespace_is_trimmed_and_order_kept():
    assert list(parse_dimensions(" B = 2 , A=1")) == ["B", "A"]
    assert parse_dimensions(" B = 2 , A=1") == {"B": "2", "A": "1"}


def test_value_may_contain_equals_sign_split_at_first():
    assert parse_dimensions("Filter=a=b") == {"Filter": "a=b"}


@pytest.mark.parametrize("text", [None, "", "   "])
def test_empty_means_no_dimensions(text):
    assert parse_dimensions(text) == {}


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("LoadBalancer", "has no '='"),
        ("A=1,,B=2", "dimension #2 is empty"),
        ("A=1,", "dimension #2 is empty"),
        (",A=1", "dimension #1 is empty"),
        ("=x", "empty name"),
        ("A=", "empty value"),
        ("A= ", "empty value"),
        ("A=1,A=2", "given twice"),
        (":A=1", "not a CloudWatch dimension name"),
        ("Näme=1", "not a CloudWatch dimension name"),
        ("A=va\u0000lue", "printable ASCII"),
        ("A=line\nbreak", "printable ASCII"),
        ("A=" + "x" * 1025, "printable ASCII"),
        ("K" * 256 + "=1", "not a CloudWatch dimension name"),
    ],
)
def test_malformed_dimensions_are_rejected_naming_the_problem(text, needle):
    with pytest.raises(InvalidInput) as err:
        parse_dimensions(text)
    assert needle in err.value.message
    assert err.value.details["field"] == "dimensions"


def test_too_many_dimensions():
    text = ",".join(f"D{i}=v" for i in range(MAX_DIMENSIONS + 1))
    with pytest.raises(InvalidInput, match="at most 30"):
        parse_dimensions(text)
    assert len(parse_dimensions(",".join(f"D{i}=v" for i in range(MAX_DIMENSIONS)))) == MAX_DIMENSIONS


def test_huge_input_rejected_before_parsing():
    with pytest.raises(InvalidInput, match="characters"):
        parse_dimensions("A=" + "x" * 10_000)


_name = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=",=:"), min_size=1, max_size=20
)
_value = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=","), min_size=1, max_size=40
)


@given(st.dictionaries(_name, _value, max_size=MAX_DIMENSIONS))
def test_format_then_parse_round_trips(dims):
    assert parse_dimensions(format_dimensions(dims)) == dims
