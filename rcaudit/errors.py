"""One error tree for the whole package.

Every error can carry the request and response that caused it (scim2-client style) so a caller can
inspect what went wrong; their text never contains a secret or a token.
"""

from __future__ import annotations

from typing import Any


class RcauditError(Exception):
    """Base of every error rcaudit raises on purpose."""

    def __init__(self, message: str, *, request: Any = None, response: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.request = request
        self.response = response


class ConfigError(RcauditError):
    """A setting is missing or malformed (names the setting, never its value when secret)."""


class TenantFileError(RcauditError):
    """A tenant file is malformed: the message names the file and the JSON path of the problem."""


class AuthError(RcauditError):
    """Authentication failed: which setting is missing or which service refused, with its code."""


class FetchError(RcauditError):
    """Reading one of the services failed."""


class RateLimited(FetchError):
    """The service kept answering 429 beyond the retry budget."""


class MappingError(RcauditError):
    """An attribute mapping or expression cannot be evaluated."""


class PlanRejected(RcauditError):
    """A fix-up plan was refused by a guard."""


class ApplyError(RcauditError):
    """Applying a fix-up failed."""
