"""`--mask-pii` masks the provisioning log's free text whole (issue 10 point 6): a reason can quote an address,
a postcode, a manager's name or an accented name folded to ASCII, which no pattern finds, so the reason is one
keyed hash and only the service's error code stays readable. Checked over HTTPS against the sandbox, on every
file of the run folder but the raw snapshot and on the audit's stderr (which logs cell outputs)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pandas as pd
import pytest

from rcaudit.cli import main
from rcaudit.sandbox import Sandbox, generate

pytestmark = pytest.mark.slow  # runs the audit notebook (papermill) or a browser: make test-fast skips it

ERROR_CODE = "RcauditPlantedFailure"
MANAGER = "Ana Q Silva"


def _ascii(text: str) -> str:
    """"Hernández" as a system without accents writes it: "Hernandez"."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _planted() -> tuple[dict, set[str]]:
    """A tenant whose every provisioning event failed with a reason quoting the person's street address,
    postcode, an ASCII-folded externalId, their (accented) name and a manager's name; and those strings."""
    tenant = generate(users=60, seed=3).tenant
    users = tenant["graph"]["users"] + tenant["graph"]["deletedUsers"]
    for i, user in enumerate(users):
        user["streetAddress"] = f"{i + 1} Piccadilly Gardens"
        user["postalCode"] = f"ZX{i:02d} 4BT"
    by_id = {u["id"]: u for u in users}
    secrets: set[str] = {MANAGER, "Silva"}
    for event in tenant["graph"]["provisioningEvents"]:
        user = by_id.get((event.get("sourceIdentity") or {}).get("id"))
        if not user:
            continue
        folded = _ascii(user["displayName"]).lower().replace(" ", ".")
        event["provisioningStatusInfo"] = {"status": "failure", "errorInformation": {
            "errorCode": ERROR_CODE,
            "reason": f"{user['streetAddress']} {user['postalCode']} mgr {MANAGER}; externalId {folded}; "
                      f"user {user['displayName']}"}}
        secrets |= {user["streetAddress"], user["postalCode"], folded, user["displayName"],
                    _ascii(user["displayName"])}
    return tenant, secrets


def test_provisioning_log_reasons_are_masked_whole_in_the_run_and_on_stderr(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    tenant, secrets = _planted()
    folder = tmp_path / "masked"
    with Sandbox(tenant) as sandbox:
        for name, value in sandbox.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("RCAUDIT_PII_KEY", "masking-logs-key")
        monkeypatch.setenv("RCAUDIT_OUTPUTS", str(tmp_path / "outputs"))
        code = main(["audit", "--out", str(folder), "--mask-pii", "--fail-on", "none"])
    captured = capfd.readouterr()
    assert code == 0
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert ERROR_CODE in html  # the failures table has rows: the error code stays readable
    texts = {"stderr": captured.err, "stdout": captured.out}
    for path in folder.rglob("*"):
        if path.is_file() and "snapshot" not in path.relative_to(folder).parts:
            texts[path.name] = (pd.read_parquet(path).to_csv() if path.suffix == ".parquet"
                                else path.read_text(encoding="utf-8", errors="replace"))
    leaks = {(where, s) for where, text in texts.items() for s in secrets if s.lower() in text.lower()}
    assert leaks == set()
