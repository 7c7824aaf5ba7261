"""Name and selector validation: every hostile value is refused with InvalidInput before any call."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsagent.errors import InvalidInput
from opsagent.k8s.names import (
    validate_container_name,
    validate_field_selector,
    validate_label_selector,
    validate_name,
    validate_namespace,
)
from opsagent_sim.k8s.api.errors import ApiError
from opsagent_sim.k8s.api.selectors import parse_label_selector

HOSTILE = [
    "",
    " ",
    "Shop",
    "shop/../kube-system",
    "../secrets",
    "shop?watch=true",
    "shop#x",
    "shop%2Fpods",
    "-shop",
    "shop-",
    "shop\n",
    "shop\x00",
    "ѕhop",  # Cyrillic s
    "a" * 64,
    "shop pods",
    "shop;rm -rf /",
    "$(id)",
    "sh\u200bop",
]


@pytest.mark.parametrize("value", ["shop", "kube-system", "a", "a" * 63, "team-1", "0abc"])
def test_valid_namespaces(value):
    assert validate_namespace(value) == value


@pytest.mark.parametrize("value", [*HOSTILE, "a.b"])
def test_hostile_namespaces_are_refused(value):
    with pytest.raises(InvalidInput) as err:
        validate_namespace(value)
    assert err.value.details == {"field": "namespace", "rule": "rfc1123_label"}
    assert "RFC 1123 label" in err.value.message


def test_namespace_is_stripped_and_error_names_field():
    assert validate_namespace("  shop ") == "shop"
    with pytest.raises(InvalidInput, match="^ns 'Bad' is not a valid Kubernetes namespace"):
        validate_namespace("Bad", field="ns")


@pytest.mark.parametrize("value", [None, 5, ["shop"], {"a": 1}, b"shop"])
def test_non_strings_are_refused(value):
    with pytest.raises(InvalidInput, match="must be a string") as err:
        validate_name(value, field="pod")
    assert err.value.details["rule"] == "type"


@pytest.mark.parametrize(
    "value", ["checkout-7d9f8b6c5d-x2k4q", "a.b.c", "web", "a" * 253, "x-1.y-2", "coredns-5d78c9869d-abcde"]
)
def test_valid_object_names(value):
    assert validate_name(value) == value


@pytest.mark.parametrize(
    "value", [*[h for h in HOSTILE if h != "a" * 64], "a" * 254, "a..b", ".a", "a.", "a_b"]
)
def test_hostile_object_names_are_refused(value):
    with pytest.raises(InvalidInput) as err:
        validate_name(value, field="pod")
    assert err.value.details == {"field": "pod", "rule": "rfc1123_subdomain"}


def test_long_values_are_shortened_in_the_message():
    with pytest.raises(InvalidInput) as err:
        validate_name("A" * 10_000)
    assert len(err.value.message) < 500


@pytest.mark.parametrize("value", ["app", "istio-proxy", "a" * 63])
def test_container_names(value):
    assert validate_container_name(value) == value


@pytest.mark.parametrize("value", ["a.b", "App", "a" * 64, "x/y", ""])
def test_bad_container_names(value):
    with pytest.raises(InvalidInput) as err:
        validate_container_name(value)
    assert err.value.details["field"] == "container"


VALID_SELECTORS = [
    "app=checkout",
    "app==checkout",
    "app!=checkout",
    "app=checkout,tier=web",
    "app = checkout , tier != db",
    "tier in (web, api)",
    "tier notin (db)",
    "app",
    "!canary",
    "! canary",
    "app.kubernetes.io/name=checkout",
    "opsagent.io/scaling!=disabled",
    "app=",
    "app==",
    "release in (v1.2.3,v1.2.4),environment notin (dev),!legacy",
    "priority>5",
    "priority<10",
    "A_b.c-d=E_f.g-h",
]


@pytest.mark.parametrize("value", VALID_SELECTORS)
def test_valid_label_selectors(value):
    assert validate_label_selector(value) == value.strip()
    parse_label_selector(value)  # the emulator (apiserver grammar) accepts it too


@pytest.mark.parametrize(
    "value",
    [
        "app=checkout&watch=true",
        "app=check out",
        "app=a=b",
        "=x",
        "app in ()",
        "app in (a,(b))",
        "app in (a",
        "app)",
        "app in a,b",
        "app=checkout,",
        ",app",
        "a" * 64 + "=x",
        "app=" + "x" * 64,
        "Bad.Prefix/name=x",
        "/name=x",
        "app=-x",
        "app=x-",
        "app\n=x",
        "app=x\tz",
        "app=\u00e9",
        "app>x",
        "app>=5",
        "app=x;id",
        "app='x'",
        "app=x%00",
        ",".join(["a=b"] * 21),
        "app in (" + ",".join(["v"] * 51) + ")",
    ],
)
def test_hostile_label_selectors_are_refused(value):
    with pytest.raises(InvalidInput) as err:
        validate_label_selector(value)
    assert err.value.details["field"] == "label_selector"
    assert err.value.details["rule"] == "label_selector"


def test_label_selector_length_bound():
    with pytest.raises(InvalidInput, match="at most 1024") as err:
        validate_label_selector("a=" + "b" * 2000)
    assert err.value.details["rule"] == "max_length"


def test_empty_selector_means_everything():
    assert validate_label_selector("   ") == ""
    assert validate_field_selector("") == ""


@pytest.mark.parametrize("value", ["status.phase=Running", "status.phase!=Running,spec.nodeName=ip-10-0-1-2"])
def test_field_selectors(value):
    assert validate_field_selector(value) == value


@pytest.mark.parametrize(
    "value", ["status.phase", "status.phase=Run ning", "=x", "a=b&c=d", "status.phase=x\n"]
)
def test_bad_field_selectors(value):
    with pytest.raises(InvalidInput):
        validate_field_selector(value)


VALIDATORS = [validate_namespace, validate_name, validate_container_name, validate_label_selector,
              validate_field_selector]  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.one_of(st.text(max_size=300), st.text(alphabet="abc-=!,() in/.xyz09\n\t", max_size=60)))
def test_arbitrary_text_only_ever_raises_invalid_input(value):
    for validator in VALIDATORS:
        try:
            out = validator(value)
        except InvalidInput:
            continue
        # Whatever is accepted is plain printable ASCII without URL-significant characters.
        assert all(" " <= ch <= "~" for ch in out)
        assert not set(out) & set("?#&%\\\"'`;\n\r\t")


@settings(max_examples=400, deadline=None)
@given(value=st.text(alphabet="abcxyz019-_./=!,() intoAB", max_size=50))
def test_selectors_we_accept_are_accepted_by_the_apiserver_grammar(value):
    try:
        accepted = validate_label_selector(value)
    except InvalidInput:
        return
    try:
        parse_label_selector(accepted)
    except ApiError as exc:  # pragma: no cover - a failure here is the bug
        raise AssertionError(
            f"validator accepted {accepted!r} but the apiserver grammar refuses it: {exc}"
        ) from None


@settings(max_examples=200, deadline=None)
@given(value=st.from_regex(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", fullmatch=True))
def test_every_rfc1123_label_is_accepted(value):
    assert validate_namespace(value) == value
    assert validate_name(value) == value
