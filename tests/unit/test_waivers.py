"""Waivers: accepted drift keeps its row, marked waived, and counts toward nothing; expired ones stop applying;
malformed files are refused with file, row and field named."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from rcaudit.audit.waivers import Waiver, WaiverError, load_waivers
from tests.support.snapshots import NOW, audit, entra_user, rc_account, small_tenant


def _tenant() -> dict:
    svc = entra_user("svc.reception", jobTitle="Reception")
    return small_tenant([svc], [rc_account(svc, "10", title="Front desk"), rc_account(entra_user("shared.line"),
                                                                                      "11")])


def test_a_waived_finding_keeps_its_row_and_counts_toward_nothing() -> None:
    waivers = (Waiver(kind="orphan_in_target", reason="Shared line", expires=dt.date(2027, 1, 1), account="11"),)
    result = audit(_tenant(), waivers=waivers)
    frame = result.findings.set_index("scim_id")
    assert bool(frame.loc["11", "waived"]) and not bool(frame.loc["10", "waived"])
    assert frame.loc["11", "reason"].endswith("waived until 2027-01-01: Shared line")
    summary = result.to_dict()["findings"]
    assert summary["total"] == 1 and summary["waived"] == 1 and summary["by_kind"]["orphan_in_target"] == 0
    assert summary["by_severity"]["high"] == 0


def test_a_waiver_matches_on_user_kind_and_attribute_or_star() -> None:
    by_user = Waiver(kind="attribute_mismatch", attribute="title", reason="Desk", expires=dt.date(2027, 1, 1),
                     user="id-svc.reception")
    other_attribute = Waiver(kind="*", attribute="displayName", reason="x", expires=dt.date(2027, 1, 1), user="id-x")
    result = audit(_tenant(), waivers=(by_user, other_attribute))
    assert result.findings.set_index("scim_id")["waived"].to_dict() == {"10": True, "11": False}


def test_an_expired_waiver_no_longer_applies_and_the_report_says_so() -> None:
    expired = Waiver(kind="*", reason="Old exception", expires=(NOW - dt.timedelta(days=1)).date(), account="11")
    result = audit(_tenant(), waivers=(expired,))
    assert not result.findings["waived"].any()
    assert result.expired_waivers == (expired,)
    assert any("expired on" in note for note in result.notes) and "expired waiver" in result.render()
    last_day = Waiver(kind="*", reason="Ends today", expires=NOW.date(), account="11")
    assert audit(_tenant(), waivers=(last_day,)).findings["waived"].any()  # valid through its expiry day


def test_yaml_and_csv_files_load(tmp_path: Path) -> None:
    yaml_file = tmp_path / "waivers.yaml"
    yaml_file.write_text("""waivers:
  - account: "11"
    kind: orphan_in_target
    reason: Reception shared line
    expires: 2027-06-30
  - user: id-svc.reception
    kind: attribute_mismatch
    attribute: title
    reason: Title kept short in RingCentral
    expires: "2027-01-31"
""")
    csv_file = tmp_path / "waivers.csv"
    csv_file.write_text("account,user,kind,attribute,reason,expiry\n11,,*,*,Shared line,2027-06-30\n,,,,,\n")
    from_yaml, from_csv = load_waivers(yaml_file), load_waivers(csv_file)
    assert [w.attribute for w in from_yaml] == ["*", "title"] and from_yaml[0].expires == dt.date(2027, 6, 30)
    assert from_csv[0].account == "11" and from_csv[0].kind == "*" and from_csv[0].source.endswith("row 2")
    assert audit(_tenant(), waivers=str(yaml_file)).to_dict()["findings"]["waived"] == 2


@pytest.mark.parametrize(("content", "message"), [
    ("account,kind,reason,expires\n11,orphan_in_target,,2027-01-01\n", r"waivers.csv, row 2, field reason"),
    ("account,kind,reason,expires\n11,orphan_in_target,x,next year\n", r"row 2, field expires: 'next year'"),
    ("account,kind,reason,expires\n11,orphan,x,2027-01-01\n", r"row 2, field kind: 'orphan' is not a finding kind"),
    ("account,kind,reason,expires,owner\n11,*,x,2027-01-01,me\n", r"row 2, field owner: unknown field"),
    ("account,kind,reason,expires\n,*,x,2027-01-01\n", r"row 2, field account: give the account"),
    ("account,kind,reason,expires\n11,*,x\n", r"row 2, field expires: a waiver needs an expiry date"),
    ("account,kind,reason,expires\n11,*,x,2027-01-01,extra\n", r"row 2: more values than header fields"),
])
def test_malformed_csv_names_file_row_and_field(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "waivers.csv"
    path.write_text(content)
    with pytest.raises(WaiverError, match=message):
        load_waivers(path)


def test_malformed_yaml_names_file_waiver_and_field(tmp_path: Path) -> None:
    path = tmp_path / "w.yml"
    path.write_text("- account: '1'\n  kind: '*'\n  reason: ok\n  expires: 2027-01-01\n- user: u\n  kind: '*'\n")
    with pytest.raises(WaiverError, match=r"w.yml, waiver 2, field reason"):
        load_waivers(path)
    path.write_text("waivers: {account: 1}")
    with pytest.raises(WaiverError, match="expected a list of waivers"):
        load_waivers(path)
    with pytest.raises(WaiverError, match=r"\.yaml, \.yml or \.csv"):
        load_waivers(tmp_path / "w.txt")
    with pytest.raises(WaiverError, match="cannot read"):
        load_waivers(tmp_path / "missing.csv")


def test_an_impossible_date_names_the_file_the_waiver_and_its_line(tmp_path: Path) -> None:
    """PyYAML itself read `2027-13-45` as a date and failed with a bare `month must be in 1..12`."""
    path = tmp_path / "waivers.yaml"
    path.write_text("waivers:\n  - account: '1'\n    kind: '*'\n    reason: ok\n    expires: 2027-06-30\n"
                    "  - account: '2'\n    kind: '*'\n    reason: ok\n    expires: 2027-13-45\n")
    with pytest.raises(WaiverError, match=r"waivers.yaml, waiver 2, field expires: '2027-13-45' is not a date "
                                          r"\(YYYY-MM-DD\) \(line 6\)"):
        load_waivers(path)


def test_a_binary_waiver_file_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "waivers.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    with pytest.raises(WaiverError, match=r"waivers.csv: not a text file"):
        load_waivers(path)
    path.write_bytes(b"account,kind\x00,reason\n")
    with pytest.raises(WaiverError, match=r"waivers.csv: not a text file"):
        load_waivers(path)


def test_rcaudit_audit_refuses_a_bad_waiver_file_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from rcaudit.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "waivers.yaml").write_text("- account: '1'\n  kind: '*'\n  reason: ok\n  expires: 2027-13-45\n")
    assert main(["audit", "--out", str(tmp_path / "never"), "-r", "waiver_file", "waivers.yaml"]) == 2
    assert "waivers.yaml, waiver 1, field expires: '2027-13-45' is not a date" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()
