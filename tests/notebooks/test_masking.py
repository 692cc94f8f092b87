"""`--mask-pii` masks by default (issue 10 point 6): every attribute but a short non-personal allowlist, so
attributes a mapping adds (a work phone from businessPhones, an extension attribute) are masked too, and so is
the provisioning log's free text. Checked over HTTPS against the sandbox, on every file of the run folder."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from rcaudit.cli import main
from rcaudit.sandbox import Sandbox, generate

pytestmark = pytest.mark.slow  # runs the audit notebook (papermill) or a browser: make test-fast skips it

WORK_PHONE = 'phoneNumbers[type eq "work"].value'


def _planted() -> dict:
    """A company whose Entra users carry business phones (RingCentral holds other work numbers), and whose
    failed provisioning events quote the person's name, e-mail address and phone number."""
    tenant = generate(users=160, seed=31).tenant
    for i, user in enumerate(tenant["graph"]["users"]):
        user["businessPhones"] = [f"+1 206 555 {1000 + i:04d}"] if i % 2 == 0 else []
    by_id = {u["id"]: u for u in tenant["graph"]["users"]}
    for event in tenant["graph"].get("provisioningEvents", []):
        user = by_id.get((event.get("sourceIdentity") or {}).get("id"))
        status = event.get("provisioningStatusInfo") or {}
        if user and status.get("status") == "failure":
            status.setdefault("errorInformation", {})["reason"] = (
                f"User {user['displayName']} ({user['mail']}, {user['mobilePhone'] or '+1 206 555 0999'}) "
                "already exists with the same e-mail.")
    return tenant


def _personal_values(tenant: dict) -> set[str]:
    """What must not appear: names, e-mails, UPNs, phones (as served and in E.164), street addresses."""
    values: set[str] = set()
    for user in tenant["graph"]["users"] + tenant["graph"]["deletedUsers"]:
        values |= {user.get("displayName"), user.get("mail"), user.get("userPrincipalName"), user.get("mobilePhone"),
                   user.get("streetAddress"), *(user.get("businessPhones") or [])}
    for account in tenant["scim"]["Users"]:
        values |= {account.get("userName"), account.get("displayName")}
        values |= {p.get("value") for p in account.get("phoneNumbers") or []}
        values |= {e.get("value") for e in account.get("emails") or []}
        values |= {a.get("streetAddress") for a in account.get("addresses") or []}
    phones = {v for v in values if isinstance(v, str) and v.startswith("+")}
    values |= {"+" + "".join(c for c in p if c.isdigit()) for p in phones}
    return {v for v in values if isinstance(v, str) and len(v) >= 6}


@pytest.fixture(scope="module")
def masked_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, Path]:
    tenant = _planted()
    base = tmp_path_factory.mktemp("masking")
    mapping = base / "mapping.yaml"
    mapping.write_text(f"attributes:\n  '{WORK_PHONE}': '[telephoneNumber]'\n")
    folder = base / "masked"
    with pytest.MonkeyPatch.context() as mp, Sandbox(tenant) as sandbox:
        for name, value in sandbox.env().items():
            mp.setenv(name, value)
        mp.setenv("RCAUDIT_PII_KEY", "masking-test-key")
        mp.setenv("RCAUDIT_OUTPUTS", str(base / "outputs"))
        code = main(["audit", "--out", str(folder), "--mask-pii", "--fail-on", "none", "-r", "mapping_file",
                     str(mapping)])
    assert code == 0
    return tenant, folder, mapping


def _shared_texts(folder: Path) -> dict[str, str]:
    """Every file of the run folder but the raw snapshot, as text (the parquet file through pandas)."""
    texts = {}
    for path in folder.rglob("*"):
        if path.is_file() and "snapshot" not in path.relative_to(folder).parts:
            texts[str(path)] = (pd.read_parquet(path).to_csv() if path.suffix == ".parquet"
                                else path.read_text(encoding="utf-8", errors="replace"))
    return texts


def test_an_added_mapping_is_masked_in_every_file_of_the_run(masked_run: tuple[dict, Path, Path]) -> None:
    tenant, folder, _ = masked_run
    findings = pd.read_csv(folder / "findings.csv", dtype=str, keep_default_na=False)
    phones = findings[findings["attribute"] == WORK_PHONE]
    assert len(phones) > 20  # the added mapping was audited: work phones differ on both sides
    assert phones["actual"].str.startswith("pii:").all() and phones["expected"].ne("").any()
    assert (folder / "report.html").is_file() and (folder / "findings.parquet").is_file()
    personal = _personal_values(tenant)
    leaks = {(Path(name).name, value) for name, text in _shared_texts(folder).items() for value in personal
             if value in text}
    assert leaks == set()


def test_allowlisted_attributes_and_ids_stay_readable(masked_run: tuple[dict, Path, Path]) -> None:
    _, folder, _ = masked_run
    findings = pd.read_csv(folder / "findings.csv", dtype=str, keep_default_na=False)
    titles = findings[findings["attribute"] == "title"]
    assert len(titles) and not titles["expected"].str.startswith("pii:").any()
    assert findings["scim_id"].ne("").any() and not findings["scim_id"].str.startswith("pii:").any()
    assert json.loads((folder / "summary.json").read_text())["masked"] is True
