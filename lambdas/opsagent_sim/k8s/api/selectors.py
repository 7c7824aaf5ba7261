"""Label and field selectors of list requests."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from opsagent_sim.k8s.api.errors import ApiError

_FIELDS = {
    "pods": {
        "spec.nodeName": lambda o: o["spec"].get("nodeName", ""),
        "spec.restartPolicy": lambda o: o["spec"].get("restartPolicy", ""),
        "spec.schedulerName": lambda o: o["spec"].get("schedulerName", ""),
        "spec.serviceAccountName": lambda o: o["spec"].get("serviceAccountName", ""),
        "status.phase": lambda o: o["status"].get("phase", ""),
        "status.podIP": lambda o: o["status"].get("podIP", ""),
        "status.nominatedNodeName": lambda o: o["status"].get("nominatedNodeName", ""),
    },
    "events": {
        **{
            f"involvedObject.{k}": (lambda key: lambda o: str(o["involvedObject"].get(key, "")))(k)
            for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
        },
        "reason": lambda o: o.get("reason", ""),
        "reportingComponent": lambda o: o.get("reportingComponent", ""),
        "source": lambda o: o.get("source", {}).get("component", ""),
        "type": lambda o: o.get("type", ""),
    },
    "namespaces": {"status.phase": lambda o: o["status"].get("phase", "")},
}


_SEL_SET = re.compile(r"\s*([^\s!=<>(),]+)\s+(in|notin)\s*\(([^()]*)\)\s*")
_SEL_OP = re.compile(r"\s*([^\s!=<>(),]+)\s*(==|=|!=|<|>)\s*([^\s,()]*)\s*")
_SEL_EXISTS = re.compile(r"\s*(!?)\s*([^\s!=<>(),]+)\s*")
_LABEL_KEY = re.compile(
    r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
)
_LABEL_VAL = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")


def parse_label_selector(text: str) -> list[Callable[[dict[str, str]], bool]]:
    """The apiserver's label selector grammar -> predicates; ApiError(400) when malformed."""
    preds: list[Callable[[dict[str, str]], bool]] = []
    if not text.strip():
        return preds
    terms, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    for term in terms:
        if m := _SEL_SET.fullmatch(term):
            key, op, raw = m.groups()
            values = {v.strip() for v in raw.split(",")}
            _check_key(key, text)
            for v in values:
                if not v or not _LABEL_VAL.fullmatch(v) or len(v) > 63:
                    raise _bad_selector(text, f"invalid label value: {v!r}")
            if op == "in":
                preds.append(lambda labels, k=key, vs=values: labels.get(k) in vs)
            else:
                preds.append(lambda labels, k=key, vs=values: labels.get(k) not in vs)
        elif m := _SEL_OP.fullmatch(term):
            key, op, value = m.groups()
            _check_key(key, text)
            if op in "<>":
                if not re.fullmatch(r"-?[0-9]+", value):
                    raise _bad_selector(
                        text, f"for 'Gt', 'Lt' operators, the value must be an integer: {value!r}"
                    )
                preds.append(_compare(key, op, int(value)))
                continue
            if not _LABEL_VAL.fullmatch(value) or len(value) > 63:
                raise _bad_selector(text, f"invalid label value: {value!r}")
            if op == "!=":
                preds.append(lambda labels, k=key, v=value: labels.get(k) != v)
            else:
                preds.append(lambda labels, k=key, v=value: labels.get(k) == v)
        elif m := _SEL_EXISTS.fullmatch(term):
            neg, key = m.groups()
            _check_key(key, text)
            if neg:
                preds.append(lambda labels, k=key: k not in labels)
            else:
                preds.append(lambda labels, k=key: k in labels)
        else:
            raise _bad_selector(text, f"unable to parse requirement: {term.strip()!r}")
    return preds


def _compare(key: str, op: str, bound: int) -> Callable[[dict[str, str]], bool]:
    def pred(labels: dict[str, str]) -> bool:
        try:
            value = int(labels[key])
        except (KeyError, ValueError):
            return False
        return value > bound if op == ">" else value < bound

    return pred


def _check_key(key: str, text: str) -> None:
    if not _LABEL_KEY.fullmatch(key) or len(key.rpartition("/")[2]) > 63:
        raise _bad_selector(text, f"invalid label key {key!r}")


def _bad_selector(text: str, why: str) -> ApiError:
    return ApiError(400, f"unable to parse requirement: {why}")


def parse_field_selector(resource: str, text: str) -> list[Callable[[dict[str, Any]], bool]]:
    preds: list[Callable[[dict[str, Any]], bool]] = []
    if not text.strip():
        return preds
    fields: dict[str, Callable[[dict[str, Any]], Any]] = {
        "metadata.name": lambda o: o["metadata"]["name"],
        "metadata.namespace": lambda o: o["metadata"].get("namespace", ""),
        **_FIELDS.get(resource, {}),
    }
    for term in text.split(","):
        m = re.fullmatch(r"\s*([^=!\s]+)\s*(==|=|!=)\s*(\S*)\s*", term)
        if not m:
            raise ApiError(400, f"invalid selector: '{text}'; can't understand '{term}'")
        key, op, value = m.groups()
        getter = fields.get(key)
        if getter is None:
            raise ApiError(400, f"field label not supported: {key}")
        if op == "!=":
            preds.append(lambda o, g=getter, v=value: str(g(o)) != v)
        else:
            preds.append(lambda o, g=getter, v=value: str(g(o)) == v)
    return preds


# ---- JSON patches --------------------------------------------------------------------------------
