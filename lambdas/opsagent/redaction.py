"""Make cluster text (pod logs, termination messages, event messages) safe to hand to the model.

Two steps, always in this order:

1. :func:`strip_control` removes ANSI escape sequences, C0/C1 control characters (keeping newline
   and tab), carriage-return progress output and Unicode bidi/zero-width format characters, so text
   cannot hide content from a human reading the same transcript or smuggle terminal commands.
2. :func:`redact` replaces obvious secrets with ``[REDACTED:<kind>]`` and counts them per kind:

   ============================  ==============================================================
   kind                          what
   ============================  ==============================================================
   ``private_key``               ``-----BEGIN ... PRIVATE KEY-----`` blocks (also a block cut by
                                 the tail window: base64 lines before a lone END line)
   ``jwt``                       ``eyJ...`` three-part JSON Web Tokens
   ``authorization``             ``Authorization:`` / ``Proxy-Authorization:`` header values
   ``cookie``                    ``Cookie:`` / ``Set-Cookie:`` header values (``name=value...``)
   ``bearer_token``              ``Bearer <token>`` / ``Basic <base64>`` anywhere
   ``url_password``              ``scheme://user:password@host`` (the user name is kept)
   ``aws_access_key_id``         ``AKIA``/``ASIA``/... + 16 characters
   ``aws_secret_access_key``     ``aws_secret_access_key = ...`` / ``"SecretAccessKey": "..."``
   ``known_token``               GitHub (``ghp_``...), GitLab (``glpat-``), Slack (``xox?-``,
                                 ``xapp-``, webhook URLs), Stripe (``sk_live_``), Google API keys
                                 (``AIza``) and OAuth access tokens (``ya29.``), npm (``npm_``),
                                 OpenAI/Anthropic (``sk-proj-``, ``sk-ant-``)
   ``credential_assignment``     ``password|passwd|pwd|secret|token|api_key|access_key|
                                 client_secret|private_key|secret_key|signing_key|signature|
                                 credentials`` as the *last* word of a key in ``key=value``,
                                 ``key: value``, ``"key": "value"``, ``--key value``
   ============================  ==============================================================

   Keys must *end* in the sensitive word (``db_password`` yes, ``password_reset_count`` and
   ``max_tokens`` no; ``SECRET_KEY_BASE`` is the one suffix allowed). For the prose-prone
   ``key: value`` and ``--flag value`` forms, a plain lowercase word from a short list
   (``token: expired``, ``password: required``) is left alone. A ``key: value`` value runs to the
   end of the line (``password: correct horse battery``) and may start on the next, indented line;
   ``*_PASS``/``*-PASS`` keys, Azure ``AccountKey=``/``SharedAccessKey=``/SAS ``sig=``, URL-encoded
   ``password%3D...`` and the single-dash password flags of mysql/sshpass/redis-cli (``-pX``,
   ``-p X``, ``-a X``, only after the command name) are covered too; EKS ``k8s-aws-v1.`` tokens are
   ``known_token``.

The functions are pure and import nothing beyond ``re``; callers report the counts.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

REDACTED = "[REDACTED:{}]"

# --------------------------------------------------------------------------- control characters
_ANSI = re.compile(
    r"""
    \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?      # OSC ... BEL / ST (window titles, hyperlinks)
  | \x1b[P^_X][^\x1b]*(?:\x1b\\)?           # DCS / PM / APC / SOS strings
  | \x1b\[[0-?]*[ -/]*[@-~]                 # CSI (colours, cursor movement, erase)
  | \x9b[0-?]*[ -/]*[@-~]                   # 8-bit CSI
  | \x1b[ -/]*[0-~]                         # other two/three-byte escapes
    """,
    re.VERBOSE,
)
# C0 except \t \n, DEL, C1; bidi embedding/override/isolate; zero-width chars; BOM; line/para seps.
_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
_SEPARATORS = re.compile("[\u2028\u2029\x85]")


def strip_control(text: str) -> tuple[str, int]:
    """``text`` without escape sequences and control/format characters, and how many were removed.

    ``\\r\\n`` becomes ``\\n``; a bare ``\\r`` (progress bars overwriting a line) keeps only what
    follows it, like a terminal would show."""
    before = len(text)
    text = _ANSI.sub("", text)
    text = text.replace("\r\n", "\n")
    if "\r" in text:
        text = "\n".join(line.rsplit("\r", 1)[-1] if "\r" in line else line for line in text.split("\n"))
    text = _SEPARATORS.sub("\n", text)
    text = _CONTROL.sub("", text)
    # count what vanished, not what was rewritten (\u2028 -> \n is a rewrite, \r\n -> \n a removal)
    return text, max(0, before - len(text))


# --------------------------------------------------------------------------- secrets
_PRIVATE_KEY_BLOCK = re.compile(
    r"-----BEGIN (?P<label>[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?)-----"
    r"(?:.*?-----END (?P=label)-----|.*\Z)",  # a block cut at the end of the window runs to the end
    re.DOTALL,
)
# The tail window began inside a key: base64 lines directly above a lone END line (the last
# line of a PEM block is usually shorter than the others).
_PRIVATE_KEY_TAIL = re.compile(
    r"(?:^[ \t]*[A-Za-z0-9+/=]{16,}[ \t]*\n)*(?:^[ \t]*[A-Za-z0-9+/=]{1,15}[ \t]*\n)?"
    r"^[ \t]*-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----",
    re.MULTILINE,
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*")
# The value runs to the end of the line or the closing quote (schemes like AWS4-HMAC-SHA256 have spaces).
_AUTH_HEADER = re.compile(
    r"(?P<key>\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)(?P<value>[^\r\n\"']{1,2048})",
    re.IGNORECASE,
)
_COOKIE = re.compile(
    r"(?P<key>\b(?:set-)?cookie\s*:\s*)(?P<value>[^\r\n\"'=]{1,256}=[^\r\n\"']{0,4096})", re.IGNORECASE
)
_BEARER = re.compile(r"(?P<key>\b(?:bearer|basic)[ ]+)(?P<value>[A-Za-z0-9._~+/=-]{8,})", re.IGNORECASE)
_URL_PASSWORD = re.compile(
    r"(?P<key>\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://[^\s/:@]{0,128}:)(?P<value>[^\s/]{1,256})@"
)
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|AKPA|ANPA|ANVA|APKA|AROA)[A-Z0-9]{16}\b")
_AWS_SECRET = re.compile(
    r"(?P<key>\b(?:aws_?)?secret_?access_?key[\"']?\s*[:=]\s*[\"']?)(?P<value>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])",
    re.IGNORECASE,
)
_KNOWN_TOKEN = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|xox[abposr]-[A-Za-z0-9-]{10,}"
    r"|sk_live_[A-Za-z0-9]{16,}|rk_live_[A-Za-z0-9]{16,}|xapp-\d+-[A-Za-z0-9-]{10,}"
    r"|glpat-[A-Za-z0-9_-]{20,}|AIza[0-9A-Za-z_-]{35}|ya29\.[0-9A-Za-z_-]{20,}"
    r"|npm_[A-Za-z0-9]{36}|k8s-aws-v1\.[A-Za-z0-9_=-]{20,}|sk-(?:proj|ant|svcacct)-[A-Za-z0-9_-]{20,})"
)
_SLACK_WEBHOOK = re.compile(r"(?P<key>\bhooks\.slack\.com/services/)(?P<value>[A-Za-z0-9/_-]{20,})")
_SENSITIVE = (
    r"(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|"
    r"private[_-]?key|client[_-]?secret|credentials?|secret[_-]?key(?:[_-]?base)?|"
    r"(?:signing|encryption|master)[_-]?key|signature|"
    r"(?:account|shared[_-]?access)[_-]?key|(?<=[_.-])pass)"
)
# A key: optional quote, word chars/dots/dashes, ending in a sensitive word (no word char after).
# Bounded prefix: no quadratic backtracking on long dotted runs.
_KEY = rf"(?P<q>[\"']?)(?P<name>[A-Za-z0-9_.-]{{0,64}}?{_SENSITIVE})(?P=q)(?![A-Za-z0-9_])"
_ASSIGN_QUOTED = re.compile(
    rf"(?P<key>(?<![A-Za-z0-9_.-]){_KEY}\s*[:=]\s*)(?P<vq>[\"'])(?P<value>(?:\\.|(?!(?P=vq)).){{1,512}}?)(?P=vq)",
    re.IGNORECASE,
)
# A value may continue on the next line: `password:\n  value`, `password = \\\n  value` (never a
# YAML key on the next line: `password:\n  valueFrom:` is structure, not a secret).
_NEXT_LINE = r"(?:\\?\r?\n[ \t]+(?![^\s:]*:(?:\s|$)))?"
_ASSIGN_EQUALS = re.compile(
    rf"(?P<key>(?<![A-Za-z0-9_.-]){_KEY}[ \t]*=[ \t]*{_NEXT_LINE})(?P<value>[^\s\"',;&}}\])]{{1,512}})",
    re.IGNORECASE,
)
# `key: value`: the value runs to the end of the line (`password: correct horse battery`), unless
# its first word is prose (`token: expired at 10:00`); `,` `}` `]` and quotes end it (inline JSON/YAML).
_ASSIGN_COLON = re.compile(
    rf"(?P<key>(?<![A-Za-z0-9_.-]){_KEY}[ \t]?:[ \t]*{_NEXT_LINE})"
    rf"(?P<value>[^\s\"',}}\]](?:[^\r\n\"',}}\]]{{0,511}}[^\s\"',}}\]])?)",
    re.IGNORECASE,
)
# Command lines: `--password hunter2`, `--client-secret x` (a following `--flag` is not a value).
_CLI_FLAG = re.compile(
    rf"(?P<key>(?<![A-Za-z0-9_.-])--(?:[A-Za-z0-9]+-){{0,4}}{_SENSITIVE}[ \t]+)"
    rf"(?P<value>(?!-)[^\s\"']{{1,512}})",
    re.IGNORECASE,
)
# URL-encoded forms (`user%3Dbob%26password%3Dx`, `password%3Dx`): the value ends at the next
# encoded separator (`%26` `&`) or whitespace.
_ASSIGN_URLENCODED = re.compile(
    rf"(?P<key>(?:(?<=%26)|(?<=%3F)|(?<=%3f)|(?<![A-Za-z0-9_.-])){_KEY}%3D)(?P<value>(?:(?!%26)[^\s&\"'])"
    rf"{{1,512}})",
    re.IGNORECASE,
)
# Azure SAS query/connection-string signatures (`sig=...`, `SharedAccessSignature=...`).
_SAS_SIGNATURE = re.compile(r"(?P<key>(?:[?&;]|\b)sig=)(?P<value>[A-Za-z0-9%+/=]{8,})", re.IGNORECASE)
# Single-dash password flags of well-known clients: `mysql -psecret` / `-p secret`, `sshpass -p x`,
# `redis-cli -a x`. Only after the command name: `kubectl logs -p pod`, `ls -a` are not secrets.
_SHORT_FLAG = re.compile(
    r"(?P<key>\b(?:mysql|mysqldump|mysqladmin|mariadb|mariadb-dump|sshpass|redis-cli|keydb-cli)\b"
    r"[^\r\n|;&]{0,200}?(?<!\S)-(?:p|a)[ \t]?)(?P<value>(?!-)[^\s\"']{1,512})"
)
# `token: expired`, `password: required` ... are prose, not secrets.
_PROSE_VALUES = frozenset(
    """a an the is was are be been has have had not no none null nil true false yes empty missing
    required invalid expired revoked mismatch malformed provided found unset set changed updated reset
    rotated ok error failed failure denied refused rejected unknown verification validation signature
    refresh for from of to in on with without must should cannot can will""".split()  # noqa: SIM905
)


@dataclass
class Redacted:
    text: str
    counts: Counter = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _already(value: str) -> bool:
    """Values that are already masked or are placeholders, not secrets."""
    return value.startswith(("[REDACTED", "${", "{{", "<")) or set(value) <= set("*xX•.-_")


_LITERALS = frozenset({"true", "false", "null", "none", "nil", "empty", "undefined"})


def _is_prose(value: str) -> bool:
    return value.lower() in _PROSE_VALUES


def _first_word_is_prose(value: str) -> bool:
    return _is_prose(value.split(None, 1)[0].strip(".:") if value.strip() else value)


def _plain_word(value: str) -> bool:
    """`basic configuration`, `bearer authentication`: an ordinary lowercase word, not a token."""
    return value.isalpha() and value.islower()


def _is_literal(value: str) -> bool:
    return value.lower() in _LITERALS


def redact(text: str) -> Redacted:
    """Replace secrets in ``text``; returns the new text and a count per kind (see module doc)."""
    counts: Counter = Counter()

    def whole(kind: str):
        def sub(match: re.Match) -> str:
            counts[kind] += 1
            return REDACTED.format(kind)

        return sub

    def value_only(kind: str, skip=None):
        def sub(match: re.Match) -> str:
            value = match.group("value")
            if _already(value.strip()) or (skip is not None and skip(value)):
                return match.group(0)
            counts[kind] += 1
            base = match.start()
            start, end = match.span("value")
            full = match.group(0)
            return full[: start - base] + REDACTED.format(kind) + full[end - base :]

        return sub

    if "PRIVATE KEY" in text:
        text = _PRIVATE_KEY_BLOCK.sub(whole("private_key"), text)
        text = _PRIVATE_KEY_TAIL.sub(whole("private_key"), text)
    text = _JWT.sub(whole("jwt"), text)
    text = _AUTH_HEADER.sub(value_only("authorization", _first_word_is_prose), text)
    text = _COOKIE.sub(value_only("cookie"), text)
    text = _BEARER.sub(value_only("bearer_token", _plain_word), text)
    text = _URL_PASSWORD.sub(value_only("url_password"), text)
    text = _AWS_SECRET.sub(value_only("aws_secret_access_key"), text)
    text = _AWS_KEY_ID.sub(whole("aws_access_key_id"), text)
    text = _KNOWN_TOKEN.sub(whole("known_token"), text)
    text = _SLACK_WEBHOOK.sub(value_only("known_token"), text)
    text = _ASSIGN_URLENCODED.sub(value_only("credential_assignment", _is_literal), text)
    text = _SAS_SIGNATURE.sub(value_only("credential_assignment"), text)
    text = _SHORT_FLAG.sub(value_only("credential_assignment"), text)
    text = _ASSIGN_QUOTED.sub(value_only("credential_assignment", _is_literal), text)
    text = _ASSIGN_EQUALS.sub(value_only("credential_assignment", _is_literal), text)
    text = _ASSIGN_COLON.sub(value_only("credential_assignment", _first_word_is_prose), text)
    text = _CLI_FLAG.sub(value_only("credential_assignment", _is_prose), text)
    return Redacted(text, counts)


_MARKER = re.compile(r"\[REDACTED:([a-z_]+)\]")


def count_markers(text: str) -> Counter:
    """Redaction markers per kind still present in ``text`` (after it was cut to size)."""
    return Counter(_MARKER.findall(text))


def sanitize(text: str | None, limit: int | None = None) -> str | None:
    """One short cluster string (event/termination message) made safe: control characters
    stripped, secrets redacted, cut to ``limit`` characters with a trailing ``…``."""
    if text is None:
        return None
    text, _ = strip_control(str(text))
    text = redact(text).text.strip()
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text
