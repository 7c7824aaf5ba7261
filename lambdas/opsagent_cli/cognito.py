"""Sign a person in to the gateway's Cognito user pool and keep their token (``CUSTOM_JWT`` gateways).

Flow: ``USER_PASSWORD_AUTH`` against the stack's **public** app client (no client secret; the client
must allow ``ALLOW_USER_PASSWORD_AUTH`` and ``ALLOW_REFRESH_TOKEN_AUTH``). The person types their
Cognito username and password in the terminal (the password is read without echo and sent only to
Cognito over TLS); a software-token MFA code or a first-login new password is asked for when Cognito
challenges. The gateway gets the **access token**: its ``sub`` is the person (the Cedar principal,
``AgentCore::OAuthUser``), its ``client_id`` is what the gateway's ``allowed_clients`` checks.

Why this flow: it gives the CLI a human identity with nothing but a terminal (no browser, no loopback
redirect, no hosted-UI domain), works over SSH and in CI jump hosts, and Cognito's own password
policy, MFA and account lockout apply. Authorization code + PKCE through the hosted UI would also
suit and keeps the password out of the CLI; it needs a domain and a browser, and can be added behind
the same :class:`TokenProvider` seam.

Tokens are cached in ``~/.cache/opsagent/tokens.json`` (mode 0600, keyed by pool client and user):
the access token until a minute before it expires, then the refresh token (``REFRESH_TOKEN_AUTH``)
until Cognito refuses it, then the password prompt again. ``opsagent logout`` deletes the entry.

Testable seam: ``client`` is any object with ``initiate_auth``/``respond_to_auth_challenge`` (boto3's
``cognito-idp`` client in use, moto's in tests); ``prompt`` is how a question is asked.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

#: (question, secret) -> answer
Prompt = Callable[[str, bool], str]
EXPIRY_MARGIN_SECONDS = 60


class SignInFailed(Exception):
    """Cognito refused the sign-in (wrong password, unknown user, disabled flow, ...)."""


class TokenProvider(Protocol):
    def access_token(self) -> str: ...


def default_cache_path(environ: dict[str, str] | None = None) -> Path:
    environ = dict(os.environ if environ is None else environ)
    base = environ.get("XDG_CACHE_HOME") or str(Path(environ.get("HOME", "~")).expanduser() / ".cache")
    return Path(base) / "opsagent" / "tokens.json"


class TokenCache:
    """A small JSON file of token sets, readable by the owner only."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, key: str) -> dict[str, Any] | None:
        entry = self._load().get(key)
        return entry if isinstance(entry, dict) else None

    def put(self, key: str, entry: dict[str, Any] | None) -> None:
        data = self._load()
        if entry is None:
            data.pop(key, None)
        else:
            data[key] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle)
        os.chmod(tmp, 0o600)
        tmp.replace(self.path)


class CognitoSignIn:
    """Access tokens for one person of one user pool app client."""

    def __init__(
        self,
        client: Any,
        client_id: str,
        username: str,
        *,
        prompt: Prompt,
        cache: TokenCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client, self.client_id, self.username = client, client_id, username
        self.prompt, self.cache, self.clock = prompt, cache, clock

    @property
    def cache_key(self) -> str:
        return f"{self.client_id}/{self.username}"

    def access_token(self) -> str:
        entry = self.cache.get(self.cache_key) if self.cache else None
        if entry and entry.get("expires_at", 0) - EXPIRY_MARGIN_SECONDS > self.clock():
            return str(entry["access_token"])
        if entry and entry.get("refresh_token"):
            refreshed = self._refresh(str(entry["refresh_token"]))
            if refreshed:
                return refreshed
        return self.sign_in()

    def sign_in(self) -> str:
        """Ask for the password (and MFA code / new password when challenged); cache the tokens."""
        password = self.prompt(f"Cognito password for {self.username}: ", True)
        response = self._call(
            "initiate_auth",
            AuthFlow="USER_PASSWORD_AUTH",
            ClientId=self.client_id,
            AuthParameters={"USERNAME": self.username, "PASSWORD": password},
        )
        for _ in range(3):  # MFA, then possibly a new password; a loop guard
            challenge = response.get("ChallengeName")
            if not challenge:
                break
            response = self._answer(challenge, response)
        result = response.get("AuthenticationResult")
        if not result or not result.get("AccessToken"):
            raise SignInFailed(
                f"Cognito asked for {response.get('ChallengeName')!r}, which the CLI cannot answer"
            )
        self._store(result, refresh_token=result.get("RefreshToken"))
        return str(result["AccessToken"])

    def sign_out(self) -> None:
        if self.cache:
            self.cache.put(self.cache_key, None)

    # -- internals
    def _answer(self, challenge: str, response: dict[str, Any]) -> dict[str, Any]:
        answers = {"USERNAME": self.username}
        if challenge == "SOFTWARE_TOKEN_MFA":
            answers["SOFTWARE_TOKEN_MFA_CODE"] = self.prompt("MFA code from your authenticator app: ", False)
        elif challenge == "SMS_MFA":
            answers["SMS_MFA_CODE"] = self.prompt("MFA code sent by SMS: ", False)
        elif challenge == "NEW_PASSWORD_REQUIRED":
            first = self.prompt("Cognito asks for a new password: ", True)
            if self.prompt("New password again: ", True) != first:
                raise SignInFailed("the two new passwords differ")
            answers["NEW_PASSWORD"] = first
        else:
            raise SignInFailed(f"Cognito challenge {challenge} is not supported by the CLI")
        return self._call(
            "respond_to_auth_challenge",
            ClientId=self.client_id,
            ChallengeName=challenge,
            Session=response.get("Session", ""),
            ChallengeResponses=answers,
        )

    def _refresh(self, refresh_token: str) -> str | None:
        try:
            response = self._call(
                "initiate_auth",
                AuthFlow="REFRESH_TOKEN_AUTH",
                ClientId=self.client_id,
                AuthParameters={"REFRESH_TOKEN": refresh_token},
            )
        except SignInFailed:
            return None
        result = response.get("AuthenticationResult") or {}
        if not result.get("AccessToken"):
            return None
        self._store(result, refresh_token=result.get("RefreshToken") or refresh_token)
        return str(result["AccessToken"])

    def _store(self, result: dict[str, Any], *, refresh_token: str | None) -> None:
        if not self.cache:
            return
        entry = {
            "access_token": result["AccessToken"],
            "expires_at": self.clock() + int(result.get("ExpiresIn") or 3600),
        }
        if refresh_token:
            entry["refresh_token"] = refresh_token
        self.cache.put(self.cache_key, entry)

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, operation)(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise SignInFailed(
                f"Cognito refused the sign-in ({error.get('Code', '?')}): {error.get('Message', '')[:300]}"
            ) from None
        except BotoCoreError as exc:
            raise SignInFailed(f"cannot reach Cognito: {exc}") from None


class StaticToken:
    """A token given by the caller (``OPSAGENT_GATEWAY_TOKEN``), e.g. from another sign-in tool."""

    def __init__(self, token: str) -> None:
        self.token = token

    def access_token(self) -> str:
        return self.token
