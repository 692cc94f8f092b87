"""Settings from the environment (DESIGN.md "Environment"): the only place secrets are read from."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit

from rcaudit.model.errors import ConfigError

# Settings that name a server rcaudit sends credentials to: HTTPS only (DESIGN.md "HTTP").
URL_SETTINGS = (("authority", "RCAUDIT_AUTHORITY"), ("graph_url", "RCAUDIT_GRAPH_URL"),
                ("scim_url", "RCAUDIT_SCIM_URL"), ("rc_server", "RCAUDIT_RC_SERVER"))

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
DEFAULT_GRAPH_URL = "https://graph.microsoft.com/v1.0"
DEFAULT_SCIM_URL = "https://platform.ringcentral.com/scim/v2"
DEFAULT_RC_SERVER = "https://platform.ringcentral.com"
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # rcaudit/connect/config.py -> the checkout


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL, the port made explicit: what "the same server" means for a token."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), port if port is not None else {"https": 443, "http": 80}.get(scheme)


def describe_origin(url: str) -> str:
    """`scheme://host:port` of a URL, for messages (never its path or query, which may carry tokens)."""
    scheme, host, port = origin(url)
    return f"{scheme}://{host}:{port}" if port is not None else f"{scheme}://{host}"


def require_https(url: str, setting: str | None = None) -> None:
    """Refuse anything but an https URL with a host, and one carrying a user or password (requests would send
    those as Basic credentials instead of the token): credentials never travel in clear text or astray."""
    scheme, host, _ = origin(url)
    where = f"{setting}: " if setting else ""
    if scheme != "https" or not host:
        raise ConfigError(f"{where}refusing {describe_origin(url) if host else repr(url.split('?')[0])}: rcaudit only "
                          "talks HTTPS (credentials must never travel in clear text)")
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"{where}refusing {describe_origin(url)} with a user name or password in the URL: give "
                          "credentials only in their own settings")


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value.strip() if value and value.strip() else None


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    value = _get(env, name)
    if value is None:
        return default
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r}: expected a number of seconds") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ConfigError(f"{name}={value!r}: expected a finite, non-negative number of seconds")
    return seconds


def _switch(env: Mapping[str, str], name: str) -> bool:
    """An opt-in switch: `1` (or true/yes) on, empty/`0` (or false/no) off, anything else a ConfigError."""
    value = (_get(env, name) or "0").lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no"):
        return False
    raise ConfigError(f"{name}={value!r}: expected 1 (on) or 0 (off)")


@dataclass(frozen=True)
class Settings:
    """Everything rcaudit needs to reach both services. Secret fields never appear in `repr`."""

    tenant_id: str | None = None
    client_id: str | None = None
    app_id: str | None = None
    authority: str = DEFAULT_AUTHORITY
    graph_url: str = DEFAULT_GRAPH_URL
    scim_url: str = DEFAULT_SCIM_URL
    graph_auth: str = "client_credentials"
    rc_server: str = DEFAULT_RC_SERVER
    rc_client_id: str | None = None
    ca_bundle: str | None = None
    outputs: Path = PROJECT_ROOT / "outputs"
    retry_max_seconds: float = 300.0  # how long one request may keep retrying (429s, 5xx, dropped connections)
    client_secret: str | None = field(default=None, repr=False)
    client_cert: str | None = None
    client_key: str | None = field(default=None, repr=False)
    client_pfx: str | None = None
    client_pfx_password: str | None = field(default=None, repr=False)
    scim_token: str | None = field(default=None, repr=False)
    rc_client_secret: str | None = field(default=None, repr=False)
    rc_jwt: str | None = field(default=None, repr=False)
    pii_key: str | None = field(default=None, repr=False)
    read_sync_secrets: bool = False  # RCAUDIT_READ_SYNC_SECRETS=1: read SyncAll/SkipOutOfScopeDeletions (opt-in)

    def secret_values(self) -> list[str]:
        """Every secret value these settings hold (the fields kept out of repr): what no message may show."""
        return [str(v) for f in fields(self) if not f.repr and (v := getattr(self, f.name))]

    def __post_init__(self) -> None:
        """Refuse a service URL that is not https://host: a token or secret must never go in clear text."""
        for attribute, setting in URL_SETTINGS:
            require_https(str(getattr(self, attribute)), setting)
        if self.ca_bundle is not None and not Path(self.ca_bundle).expanduser().is_file():
            raise ConfigError(f"RCAUDIT_CA_BUNDLE: no such file: {self.ca_bundle}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        outputs = _get(env, "RCAUDIT_OUTPUTS")
        return cls(
            tenant_id=_get(env, "RCAUDIT_TENANT_ID"),
            client_id=_get(env, "RCAUDIT_CLIENT_ID"),
            app_id=_get(env, "RCAUDIT_APP_ID"),
            authority=(_get(env, "RCAUDIT_AUTHORITY") or DEFAULT_AUTHORITY).rstrip("/"),
            graph_url=(_get(env, "RCAUDIT_GRAPH_URL") or DEFAULT_GRAPH_URL).rstrip("/"),
            scim_url=(_get(env, "RCAUDIT_SCIM_URL") or DEFAULT_SCIM_URL).rstrip("/"),
            graph_auth=_get(env, "RCAUDIT_GRAPH_AUTH") or "client_credentials",
            rc_server=(_get(env, "RCAUDIT_RC_SERVER") or DEFAULT_RC_SERVER).rstrip("/"),
            rc_client_id=_get(env, "RCAUDIT_RC_CLIENT_ID"),
            ca_bundle=_get(env, "RCAUDIT_CA_BUNDLE"),
            outputs=Path(outputs).expanduser() if outputs else PROJECT_ROOT / "outputs",
            retry_max_seconds=_seconds(env, "RCAUDIT_RETRY_MAX_SECONDS", 300.0),
            client_secret=_get(env, "RCAUDIT_CLIENT_SECRET"),
            client_cert=_get(env, "RCAUDIT_CLIENT_CERT"),
            client_key=_get(env, "RCAUDIT_CLIENT_KEY"),
            client_pfx=_get(env, "RCAUDIT_CLIENT_PFX"),
            client_pfx_password=_get(env, "RCAUDIT_CLIENT_PFX_PASSWORD"),
            scim_token=_get(env, "RCAUDIT_SCIM_TOKEN"),
            rc_client_secret=_get(env, "RCAUDIT_RC_CLIENT_SECRET"),
            rc_jwt=_get(env, "RCAUDIT_RC_JWT"),
            pii_key=_get(env, "RCAUDIT_PII_KEY"),
            read_sync_secrets=_switch(env, "RCAUDIT_READ_SYNC_SECRETS"),
        )

    def missing(self) -> list[str]:
        """Names of the variables still needed to read both services (empty when configured)."""
        needed: list[str] = []
        for name, value in (("RCAUDIT_TENANT_ID", self.tenant_id), ("RCAUDIT_CLIENT_ID", self.client_id),
                            ("RCAUDIT_APP_ID", self.app_id)):
            if not value:
                needed.append(name)
        if self.graph_auth == "client_credentials" and not (
            self.client_secret or (self.client_cert and self.client_key) or self.client_pfx
        ):
            needed.append("RCAUDIT_CLIENT_SECRET (or RCAUDIT_CLIENT_CERT + RCAUDIT_CLIENT_KEY, or RCAUDIT_CLIENT_PFX)")
        if self.graph_auth not in ("client_credentials", "device_code"):
            needed.append("RCAUDIT_GRAPH_AUTH (client_credentials or device_code)")
        if not self.scim_token and not (self.rc_client_id and self.rc_client_secret and self.rc_jwt):
            needed.append("RCAUDIT_SCIM_TOKEN (or RCAUDIT_RC_CLIENT_ID + RCAUDIT_RC_CLIENT_SECRET + RCAUDIT_RC_JWT)")
        return needed

    @property
    def configured(self) -> bool:
        return not self.missing()


def configured_secrets(settings: Settings, env: Mapping[str, str] | None = None) -> list[str]:
    """Every secret value the settings hold (fields kept out of repr), plus the webhook URLs of
    RCAUDIT_NOTIFY_URLS, each with and without its kind: what no parameter, message or output may hold."""
    values = settings.secret_values()
    entries = (os.environ if env is None else env).get("RCAUDIT_NOTIFY_URLS", "").split()
    values += entries + [entry.partition(":")[2] for entry in entries]
    return [v for v in values if v]


def missing_settings_message(doing: str, missing: list[str]) -> str:
    """The missing-settings error as lines a person can act on: what is missing, then what to do about it."""
    return "\n".join([
        f"{doing}: {len(missing)} setting(s) missing from the environment:",
        *(f"  - {name}" for name in missing),
        "Set them in the environment: README \"Configuration\" lists every RCAUDIT_* variable and",
        "the permissions to grant the Entra app and the RingCentral app.",
        "Or run `rcaudit demo` to try without a tenant.",
    ])


def user_config_dir() -> Path:
    """rcaudit's directory in the user's config folder (`$XDG_CONFIG_HOME/rcaudit`, `%APPDATA%\\rcaudit`)."""
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"]) / "rcaudit"
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "rcaudit"
