import pytest

from opsagent.errors import ConfigurationError, PolicyRefused
from opsagent.namespaces import allowed_namespaces, check_read_allowed, parse_allowlist


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, None),
        ("", None),
        (" , ", None),
        ("shop", {"shop"}),
        (" shop , ,payments ", {"shop", "payments"}),
        ('["shop", "payments"]', {"shop", "payments"}),
        (["shop", " "], {"shop"}),
    ],
)
def test_comma_lists_and_json_arrays(raw, expected):
    assert parse_allowlist(raw) == (frozenset(expected) if expected else None)


def test_broken_json_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="OPSAGENT_ALLOWED_NAMESPACES"):
        allowed_namespaces({"OPSAGENT_ALLOWED_NAMESPACES": '["shop"'})


def test_unset_allows_everything_and_a_list_refuses_the_rest():
    check_read_allowed("kube-system", None)
    check_read_allowed("shop", frozenset({"shop"}))
    with pytest.raises(PolicyRefused) as err:
        check_read_allowed("kube-system", frozenset({"shop"}))
    assert (err.value.rule, err.value.limit, err.value.status_code) == ("allowed_namespaces", ["shop"], 403)


def test_names_are_compared_exactly():
    with pytest.raises(PolicyRefused):
        check_read_allowed("Shop", frozenset({"shop"}))
