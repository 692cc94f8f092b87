"""One error tree for the whole package.

Every error can carry the request and response that caused it (scim2-client style) so a caller can
inspect what went wrong; their text never contains a secret or a token, and the request they carry has
its credentials blanked (the `Authorization` header, form fields such as `client_secret` or `assertion`).
"""

from __future__ import annotations

import base64
import contextlib
import re
from collections.abc import Iterable
from enum import IntEnum
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus

REDACTED = "REDACTED"
SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"})
# Query/form field names whose values are credentials (or could lead to one).
SENSITIVE_FIELD = re.compile(r"(secret|token|assertion|password|passphrase|jwt|code|key|signature|sig)$",
                             re.IGNORECASE)


def redacted_request(request: Any) -> Any:
    """A copy of a `requests.PreparedRequest` without credentials (duck-typed: errors.py imports no HTTP)."""
    if request is None or not hasattr(request, "copy") or not hasattr(request, "headers"):
        return request
    clone = request.copy()
    for name in list(clone.headers or {}):
        if name.lower() in SENSITIVE_HEADERS:
            clone.headers[name] = REDACTED
    content_type = str((clone.headers or {}).get("Content-Type", ""))
    if getattr(clone, "body", None) and "json" not in content_type.lower():
        clone.body = REDACTED  # form bodies carry client secrets and assertions; JSON bodies (PATCH ops) do not
    return clone


MIN_ECHOED_SECRET = 8  # shorter values are not treated as credentials (they would blank ordinary words)


def sent_credentials(request: Any) -> list[str]:
    """The credentials a request carried: its Authorization header's value (and its token without the
    scheme), and the credential-like fields of a form body (`client_secret`, `assertion`, `refresh_token`…).
    A service that echoes its input ("invalid bearer token eyJ…") would otherwise put them in an error."""
    if request is None or not hasattr(request, "headers"):
        return []
    found: list[str] = []
    for name, value in dict(getattr(request, "headers", None) or {}).items():
        if str(name).lower() in SENSITIVE_HEADERS and value and value != REDACTED:
            scheme, _, token = str(value).partition(" ")
            found += [str(value), token.strip()]
            if scheme.lower() == "basic":  # `client_id:client_secret`, which a service may echo decoded
                with contextlib.suppress(ValueError):
                    pair = base64.b64decode(token.strip(), validate=True).decode("utf-8")
                    found += [pair, pair.partition(":")[2]]
    body = getattr(request, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and body != REDACTED and "=" in body and not body.lstrip().startswith(("{", "[")):
        found += [v for k, v in parse_qsl(body, keep_blank_values=False) if SENSITIVE_FIELD.search(k)]
    return sorted({v for v in found if len(v) >= MIN_ECHOED_SECRET}, key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with each of `secrets`, also percent-encoded, replaced by REDACTED (longest first; values shorter
    than MIN_ECHOED_SECRET are left, as blanking them would blank ordinary words)."""
    forms = {form for s in secrets if len(s) >= MIN_ECHOED_SECRET for form in (s, quote(s, safe=""), quote_plus(s))}
    for secret in sorted(forms, key=len, reverse=True):  # as sent, and percent-encoded as a form or URL echoes it
        text = text.replace(secret, REDACTED)
    return text


class ExitCode(IntEnum):
    """DESIGN.md "Commands": the one definition of the CLI's exit codes."""

    OK = 0
    FINDINGS = 1  # an unwaived finding at or above --fail-on, or a fix-up operation that failed
    ERROR = 2  # bad input, a refused guard, a service error: the message says what and where


class RcauditError(Exception):
    """Base of every error rcaudit raises on purpose; `exit_code` is what the CLI exits with."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, *, request: Any = None, response: Any = None) -> None:
        if response is not None and request is None:
            request = getattr(response, "request", None)
        message = scrub(message, sent_credentials(request))  # a service may echo the token it refused
        super().__init__(message)
        self.message = message
        self.request = redacted_request(request)
        if response is not None and hasattr(response, "request"):
            response.request = self.request
        self.response = response


class ConfigError(RcauditError):
    """A setting is missing or malformed (names the setting, never its value when secret)."""


class TenantFileError(RcauditError):
    """A tenant file is malformed: the message names the file and the JSON path of the problem."""


class AuthError(RcauditError):
    """Authentication failed: which setting is missing or which service refused, with its code."""


class FetchError(RcauditError):
    """Reading one of the services failed: `endpoint` (method + path), HTTP `status`, the service's `code`."""

    def __init__(self, message: str, *, request: Any = None, response: Any = None, endpoint: str | None = None,
                 status: int | None = None, code: str | None = None, detail: str | None = None) -> None:
        sent = sent_credentials(request if request is not None else getattr(response, "request", None))
        detail = scrub(detail, sent) if detail else detail
        super().__init__(message, request=request, response=response)
        self.endpoint = endpoint
        self.status = status if status is not None else getattr(response, "status_code", None)
        self.code = code
        self.detail = detail  # the service's own words: "HTTP 400 BadRequest: Invalid filter clause"


class PermissionDenied(FetchError):
    """A 403: the app registration lacks `permission` (what to grant, e.g. `Synchronization.Read.All`)."""

    def __init__(self, message: str, *, permission: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.permission = permission


class RateLimited(FetchError):
    """The service kept answering 429 beyond the retry budget."""


class MappingError(RcauditError):
    """An attribute mapping or expression cannot be evaluated."""


class PlanRejected(RcauditError):
    """A fix-up plan was refused by a guard."""


class ApplyError(RcauditError):
    """Applying a fix-up failed."""


class SnapshotError(RcauditError):
    """A saved snapshot is missing or unreadable (names the folder and the part)."""


class SnapshotMissing(RcauditError):
    """The run folder has no snapshot to plan from."""


class WaiverError(ConfigError):
    """A waiver file is malformed: the message names the file, the row and the field."""


class FindingsFileError(ConfigError):
    """A findings.csv that is not one an audit wrote (names the file and what is missing)."""


class NotebookError(RcauditError):
    """A cell of an executed notebook failed: which cell, the error's name and value, and its traceback (the
    executed notebook, with papermill's error banner, is still written)."""

    def __init__(self, message: str, *, cell: int | None = None, ename: str = "", evalue: str = "",
                 traceback: tuple[str, ...] = (), notebook: str | None = None) -> None:
        super().__init__(message)
        self.cell, self.ename, self.evalue, self.traceback, self.notebook = cell, ename, evalue, traceback, notebook
