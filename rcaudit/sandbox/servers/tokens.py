"""Access tokens the sandbox issues and checks.

Tokens are JWTs signed with a per-sandbox key (like Entra's, they carry `aud`, `tid`, `appid`, `exp`),
so they need no server-side table; `expire_all()` makes every token issued so far invalid, which the
fault knob uses to simulate early expiry.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

GRAPH_AUDIENCE = "https://graph.microsoft.com"
RC_AUDIENCE = "ringcentral"


@dataclass(frozen=True)
class TokenCheck:
    """The outcome of checking a bearer token: claims when valid, else why not."""

    claims: dict[str, Any] | None
    problem: str | None  # None, "missing", "expired", "invalid"

    @property
    def ok(self) -> bool:
        return self.claims is not None


class TokenIssuer:
    def __init__(self, lifetime: float = 3599) -> None:
        self._key = secrets.token_bytes(32)
        self.lifetime = lifetime
        self._generation = 0
        self._revoked: set[str] = set()  # session ids (`sid` claims) ended by a revoke
        self._lock = threading.Lock()

    def issue(self, audience: str, subject: str, lifetime: float | None = None, **claims: Any) -> str:
        now = time.time()
        payload = {
            "aud": audience,
            "sub": subject,
            "iat": int(now),
            "nbf": int(now),
            "exp": now + (self.lifetime if lifetime is None else lifetime),
            "jti": uuid.uuid4().hex,
            "gen": self._generation,
            **claims,
        }
        return jwt.encode(payload, self._key, algorithm="HS256")

    def expires_in(self, lifetime: float | None = None) -> int:
        return int(self.lifetime if lifetime is None else lifetime)

    def check(self, token: str | None, audience: str) -> TokenCheck:
        if not token:
            return TokenCheck(None, "missing")
        try:
            claims = jwt.decode(
                token, self._key, algorithms=["HS256"], audience=audience,
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.PyJWTError:
            return TokenCheck(None, "invalid")
        if claims.get("gen") != self._generation or float(claims["exp"]) <= time.time():
            return TokenCheck(None, "expired")
        if claims.get("sid") in self._revoked:
            return TokenCheck(None, "invalid")
        return TokenCheck(claims, None)

    def claims_of(self, token: str, audience: str) -> dict[str, Any] | None:
        """The claims of a token this issuer signed, expired or not (a revoke names either kind)."""
        try:
            return jwt.decode(token, self._key, algorithms=["HS256"], audience=audience,
                              options={"verify_exp": False, "verify_iat": False, "verify_nbf": False})
        except jwt.PyJWTError:
            return None

    def revoke_session(self, sid: str) -> None:
        """Every token of session `sid` is now invalid (RingCentral's `/restapi/oauth/revoke`)."""
        with self._lock:
            self._revoked.add(sid)

    def expire_all(self) -> None:
        """Every token issued so far is now expired (the `expire_tokens` fault)."""
        with self._lock:
            self._generation += 1
