"""Validation of the Kubernetes names and selectors that arrive from the model.

Everything here runs *before* any call to the cluster: a value that is not a well-formed
Kubernetes name never reaches a URL. Each validator returns the (stripped) value or raises
:class:`~opsagent.errors.InvalidInput` naming the field and the rule it broke, so the model can
correct itself.
"""

from __future__ import annotations

import re
from typing import Any

from opsagent.errors import InvalidInput

_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_RFC1123_LABEL = re.compile(_LABEL, re.ASCII)
_RFC1123_SUBDOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*", re.ASCII)
# Label keys: [prefix/]name; label values: empty or this shape (both at most 63 characters).
_QUALIFIED_NAME = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?", re.ASCII)
_LABEL_VALUE = re.compile(r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?", re.ASCII)
_FIELD_KEY = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)*", re.ASCII)
_FIELD_VALUE = re.compile(r"[-A-Za-z0-9_.:/]*", re.ASCII)
_INT = re.compile(r"-?[0-9]{1,18}", re.ASCII)

MAX_SELECTOR_LENGTH = 1024
MAX_SELECTOR_TERMS = 20
MAX_SET_VALUES = 50

_LABEL_RULE = (
    "a lowercase RFC 1123 label: at most 63 characters, only a-z, 0-9 and '-', "
    "starting and ending with a letter or digit"
)
_SUBDOMAIN_RULE = (
    "a lowercase RFC 1123 subdomain: at most 253 characters, dot-separated labels of a-z, 0-9 and '-', "
    "each starting and ending with a letter or digit"
)
_SELECTOR_RULE = (
    "comma-separated requirements of the form key=value, key==value, key!=value, "
    "key in (v1,v2), key notin (v1,v2), key or !key; keys are [prefix/]name, "
    "values at most 63 characters of A-Z, a-z, 0-9, '-', '_' and '.'"
)
_FIELD_SELECTOR_RULE = "comma-separated requirements of the form field=value, field==value or field!=value"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _fail(field: str, value: Any, what: str, rule: str, rule_id: str) -> InvalidInput:
    return InvalidInput(
        f"{field} {_show(value)} is not a valid {what}: it must be {rule}",
        field=field,
        rule=rule_id,
    )


def _as_str(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string, got {type(value).__name__}", field=field, rule="type")
    return value


def validate_namespace(value: Any, field: str = "namespace") -> str:
    """A namespace is an RFC 1123 label (at most 63 characters)."""
    text = _as_str(field, value).strip(" ")
    if len(text) > 63 or not _RFC1123_LABEL.fullmatch(text):
        raise _fail(field, value, "Kubernetes namespace", _LABEL_RULE, "rfc1123_label")
    return text


def validate_name(value: Any, field: str = "name") -> str:
    """Object names (pods, deployments, ...) are RFC 1123 subdomains (at most 253 characters)."""
    text = _as_str(field, value).strip(" ")
    if len(text) > 253 or not _RFC1123_SUBDOMAIN.fullmatch(text):
        raise _fail(field, value, "Kubernetes object name", _SUBDOMAIN_RULE, "rfc1123_subdomain")
    return text


def validate_container_name(value: Any, field: str = "container") -> str:
    """Container names are RFC 1123 labels (at most 63 characters)."""
    text = _as_str(field, value).strip(" ")
    if len(text) > 63 or not _RFC1123_LABEL.fullmatch(text):
        raise _fail(field, value, "container name", _LABEL_RULE, "rfc1123_label")
    return text


def _valid_key(key: str) -> bool:
    prefix, sep, name = key.rpartition("/")
    if sep and (not prefix or len(prefix) > 253 or not _RFC1123_SUBDOMAIN.fullmatch(prefix)):
        return False
    return len(name) <= 63 and bool(_QUALIFIED_NAME.fullmatch(name))


def _valid_value(value: str) -> bool:
    return len(value) <= 63 and bool(_LABEL_VALUE.fullmatch(value))


def _split_terms(text: str) -> list[str] | None:
    """Split on commas outside parentheses; None when parentheses are unbalanced or nested."""
    terms, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
            if depth > 1:
                return None
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return None
        elif ch == "," and depth == 0:
            terms.append(text[start:i])
            start = i + 1
    if depth:
        return None
    terms.append(text[start:])
    return terms


_SET_TERM = re.compile(r"(\S+?)\s+(in|notin)\s*\((.*)\)", re.ASCII | re.DOTALL)
_OP_TERM = re.compile(r"([^\s=!<>]+)\s*(==|=|!=|<|>)\s*(\S*)", re.ASCII)


def _valid_term(term: str) -> bool:
    term = term.strip(" ")
    if not term:
        return False
    if match := _SET_TERM.fullmatch(term):
        key, _, values = match.groups()
        items = [v.strip(" ") for v in values.split(",")]
        return (
            _valid_key(key)
            and 0 < len(items) <= MAX_SET_VALUES
            and all(item and _valid_value(item) for item in items)
        )
    if match := _OP_TERM.fullmatch(term):
        key, op, value = match.groups()
        if not _valid_key(key):
            return False
        if op in "<>":
            return bool(_INT.fullmatch(value))
        return _valid_value(value)
    if term.startswith("!"):
        return _valid_key(term[1:].lstrip(" "))
    return _valid_key(term)


def validate_label_selector(value: Any, field: str = "label_selector") -> str:
    """Accept the Kubernetes label-selector grammar (equality, set-based and existence
    requirements, comma separated); return the selector stripped, or "" for an empty one."""
    text = _as_str(field, value).strip(" ")
    if not text:
        return ""
    if len(text) > MAX_SELECTOR_LENGTH:
        raise InvalidInput(
            f"{field} is {len(text)} characters long; at most {MAX_SELECTOR_LENGTH} are allowed",
            field=field,
            rule="max_length",
        )
    # Only printable ASCII and plain spaces: no tabs, newlines, NULs, '&', '?', '#' or unicode.
    if any(not (" " <= ch <= "~") for ch in text) or any(ch in "&?#%;\"'`\\" for ch in text):
        raise _fail(field, value, "label selector", _SELECTOR_RULE, "label_selector")
    terms = _split_terms(text)
    if terms is None or len(terms) > MAX_SELECTOR_TERMS or not all(_valid_term(t) for t in terms):
        raise _fail(field, value, "label selector", _SELECTOR_RULE, "label_selector")
    return text


def validate_field_selector(value: Any, field: str = "field_selector") -> str:
    """Field selectors: ``field=value``, ``field==value`` or ``field!=value``, comma separated."""
    text = _as_str(field, value).strip(" ")
    if not text:
        return ""
    if len(text) > MAX_SELECTOR_LENGTH:
        raise InvalidInput(
            f"{field} is {len(text)} characters long; at most {MAX_SELECTOR_LENGTH} are allowed",
            field=field,
            rule="max_length",
        )
    terms = text.split(",")
    if len(terms) > MAX_SELECTOR_TERMS:
        raise _fail(field, value, "field selector", _FIELD_SELECTOR_RULE, "field_selector")
    for term in terms:
        match = re.fullmatch(r" *([^\s=!]+) *(==|=|!=) *(\S*) *", term, re.ASCII)
        if not (
            match
            and _FIELD_KEY.fullmatch(match.group(1))
            and len(match.group(3)) <= 253
            and _FIELD_VALUE.fullmatch(match.group(3))
        ):
            raise _fail(field, value, "field selector", _FIELD_SELECTOR_RULE, "field_selector")
    return text
