"""Settings from the environment, the merged CA bundle and run folders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rcaudit.connect.config import PROJECT_ROOT, Settings
from rcaudit.connect.http import make_session, trust_bundle
from rcaudit.model.errors import ConfigError
from rcaudit.model.runs import create_run_folder, new_run_id
from rcaudit.sandbox.servers.tls import create_tls


def test_settings_name_what_is_missing_and_never_show_secrets() -> None:
    settings = Settings.from_env({"RCAUDIT_TENANT_ID": "t", "RCAUDIT_CLIENT_SECRET": "s3cr3t-value",
                                  "RCAUDIT_SCIM_TOKEN": "tok-value"})
    missing = settings.missing()
    assert "RCAUDIT_CLIENT_ID" in missing and "RCAUDIT_APP_ID" in missing
    assert not any("SECRET" in m for m in missing)
    assert "s3cr3t-value" not in repr(settings) and "tok-value" not in repr(settings)
    assert settings.outputs == PROJECT_ROOT / "outputs"


def test_settings_accept_the_jwt_grant_instead_of_a_token() -> None:
    env = {"RCAUDIT_TENANT_ID": "t", "RCAUDIT_CLIENT_ID": "c", "RCAUDIT_APP_ID": "a", "RCAUDIT_CLIENT_SECRET": "s",
           "RCAUDIT_RC_CLIENT_ID": "rc", "RCAUDIT_RC_CLIENT_SECRET": "rs", "RCAUDIT_RC_JWT": "j"}
    assert Settings.from_env(env).configured
    env.pop("RCAUDIT_RC_JWT")
    assert any("RCAUDIT_SCIM_TOKEN" in m for m in Settings.from_env(env).missing())


def test_extra_ca_is_added_to_the_public_roots(tmp_path: Path) -> None:
    extra = create_tls(tmp_path).ca_file  # a real certificate: a PEM-looking stub is now refused (issue 10)
    merged = Path(trust_bundle(extra)).read_text()
    assert merged.endswith(extra.read_text())
    assert merged.count("BEGIN CERTIFICATE") > 10  # the public roots are still there
    session = make_session(extra)
    assert session.trust_env is False and session.verify == trust_bundle(extra)


def test_run_ids_and_out_folder_rules(tmp_path: Path) -> None:
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{4}", new_run_id())
    first = create_run_folder(tmp_path)
    assert first.parent == tmp_path and first.is_dir()
    named = create_run_folder(tmp_path, tmp_path / "named")
    (named / "file").write_text("x")
    with pytest.raises(ConfigError, match="exists and is not an empty folder"):
        create_run_folder(tmp_path, named)
