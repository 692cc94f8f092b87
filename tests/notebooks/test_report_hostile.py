"""Issue 10 point 1: values from either service never run as script in report.html, masked or not.

A tenant with markup planted on both sides (Entra jobTitle, displayName, department; a RingCentral title; a
userName with `</script>`; a provisioning-log reason; the job's quarantine texts) is audited end to end, once
by `rcaudit demo` and once by `rcaudit audit --mask-pii` over HTTPS to the sandbox. Then the whole report is
checked statically (its CSP, every script's hash, no handler attribute, nothing from off the document, the
planted strings only escaped) and opened in Chromium next to a plain-HTTP listener that no request may reach.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from rcaudit.cli import main
from rcaudit.sandbox import Sandbox, generate, save_tenant
from tests.support.browser import CHROMIUM, NEEDS_CHROMIUM, listener, page_text, static_problems, visit

pytestmark = pytest.mark.slow  # runs the audit notebook (papermill) or a browser: make test-fast skips it


def _img(port: int, tag: str) -> str:
    return f"<img src=http://127.0.0.1:{port}/{tag} onerror=\"window.__pwned='{tag}'\">"


def _script(port: int, tag: str) -> str:
    return f"<script>window.__pwned='{tag}';fetch('http://127.0.0.1:{port}/{tag}')</script>"


def hostile_values(port: int) -> dict[str, str]:
    """What is planted, by where it is planted."""
    return {
        "jobTitle": _img(port, "jobtitle") + " <b>Lead</b>",
        "displayName": _img(port, "displayname"),
        "department": "<b>R&amp;D</b>" + _img(port, "department"),
        "rc_title": _script(port, "rctitle"),
        "userName": f"eve</script><script>window.__pwned='username'</script>{_img(port, 'un')}@contoso.example",
        "reason": "RingCentral said " + _img(port, "reason") + f" [x](http://127.0.0.1:{port}/md)",
        "quarantine_message": _script(port, "quarantine") + " **bold**",
        "quarantine_reason": _img(port, "qreason"),
    }


ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PLANTED_MOBILE = "+447700900999"


def formulas(port: int) -> dict[str, str]:
    """Spreadsheet formulas planted in RingCentral values (OWASP "CSV Injection" payloads), by attribute: plain,
    behind a line break, and hidden behind markup an exporter's HTML cleaning would strip or decode."""
    return {"department": f'=HYPERLINK("http://127.0.0.1:{port}/csv","open")',
            "locality": "@SUM(1+9)*cmd|' /C calc'!A0",
            "streetAddress": "\n-1+cmd|' /C calc'!A0",
            "postalCode": f'<!---->=HYPERLINK("http://127.0.0.1:{port}/comment")',
            "givenName": f'&#61;HYPERLINK("http://127.0.0.1:{port}/entity")'}


def hostile_tenant(port: int) -> tuple[dict, dict[str, str]]:
    """A generated 60-user tenant (job in quarantine) with markup planted on one matched user and around it."""
    generated = generate(users=60, seed=5, job_status="Quarantine")
    tenant, values = generated.tenant, hostile_values(port)
    row = next(r for r in generated.truth if r.kind == "attribute_mismatch")
    user = next(u for u in tenant["graph"]["users"] if u["id"] == row.entra_id)
    account = next(a for a in tenant["scim"]["Users"] if a["id"] == row.scim_id)
    user.update(jobTitle=values["jobTitle"], displayName=values["displayName"], department=values["department"],
                userPrincipalName=values["userName"])
    account.update(title=values["rc_title"], userName=values["userName"])
    planted = formulas(port)
    account.setdefault(ENTERPRISE, {})["department"] = planted["department"]
    work = next(a for a in account["addresses"] if a.get("type") == "work")
    work.update(locality=planted["locality"], streetAddress=planted["streetAddress"],
                postalCode=planted["postalCode"])
    account["name"]["givenName"] = planted["givenName"]
    mobile = next(n for n in account["phoneNumbers"] if n.get("type") == "mobile")
    mobile["value"] = PLANTED_MOBILE  # a phone number that differs from Entra's: text in a spreadsheet too
    event = next(e for e in tenant["graph"]["provisioningEvents"]
                 if e["provisioningStatusInfo"]["status"] == "failure")
    event["sourceIdentity"].update(id=user["id"], displayName=values["displayName"])
    event["provisioningStatusInfo"]["errorInformation"]["reason"] = values["reason"]
    quarantine = tenant["graph"]["synchronizationJob"]["status"]["quarantine"]
    quarantine["reason"] = values["quarantine_reason"]
    quarantine["error"]["message"] = values["quarantine_message"]
    return tenant, values


@pytest.fixture(scope="module")
def hostile() -> Iterator[tuple[int, list[str], dict, dict[str, str]]]:
    with listener() as (port, seen):
        tenant, values = hostile_tenant(port)
        yield port, seen, tenant, values


@pytest.fixture(scope="module")
def demo_report(hostile: tuple[int, list[str], dict, dict[str, str]],
                tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`rcaudit demo --tenant FILE`: the sandbox in the kernel serves the hostile tenant."""
    _, _, tenant, _ = hostile
    folder = tmp_path_factory.mktemp("hostile")
    path = save_tenant(tenant, folder / "tenant.json")
    assert main(["demo", "--tenant", str(path), "--out", str(folder / "run")]) == 0
    return folder / "run"


@pytest.fixture(scope="module")
def masked_report(hostile: tuple[int, list[str], dict, dict[str, str]],
                  tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`rcaudit audit --mask-pii` against the sandbox through the environment."""
    _, _, tenant, _ = hostile
    folder = tmp_path_factory.mktemp("hostile-masked") / "run"
    with pytest.MonkeyPatch.context() as mp, Sandbox(tenant) as sandbox:
        for name, value in sandbox.env().items():
            mp.setenv(name, value)
        mp.setenv("RCAUDIT_PII_KEY", "test-key")
        assert main(["audit", "--mask-pii", "--fail-on", "none", "--out", str(folder)]) == 0
    return folder


def _planted_only_escaped(page: str, values: dict[str, str]) -> list[str]:
    """Raw markup of a planted value anywhere in the page (also as a fragment a renderer could cut out)."""
    fragments = ["<img src=http://127.0.0.1", "<script>window.__pwned", "<script>fetch", "</script><script>",
                 "<b>R&amp;D</b>", "<b>Lead</b>"]
    return [f for f in [*values.values(), *fragments] if f in page]


@pytest.mark.parametrize("which", ["demo_report", "masked_report"])
def test_the_whole_report_has_a_strict_csp_and_planted_markup_only_escaped(
        which: str, request: pytest.FixtureRequest, hostile: tuple[int, list[str], dict, dict[str, str]]) -> None:
    folder: Path = request.getfixturevalue(which)
    _, _, _, values = hostile
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert static_problems(page) == []
    assert _planted_only_escaped(page, values) == []
    # the values are shown as text, not dropped: the drill-down holds both sides of the title mismatch
    text = page_text(page)
    shown = ["rc_title", "jobTitle", "quarantine_message", "quarantine_reason"]
    assert [name for name in shown if values[name] not in text] == []
    if which == "demo_report":  # pandas cuts long cells of the provisioning-failures table at 50 characters
        assert values["userName"] in text
        assert values["reason"][:45] in text and values["displayName"][:45] in text


@pytest.mark.parametrize("which", ["demo_report", "masked_report"])
def test_saved_notebook_holds_no_executable_script(which: str, request: pytest.FixtureRequest) -> None:
    """Figures are stored as data (JSON blocks), plotly.js is not in audit.ipynb: only the export ships it."""
    folder: Path = request.getfixturevalue(which)
    nb = nbformat.read(str(folder / "audit.ipynb"), as_version=4)
    assert "widgets" not in nb.metadata
    outputs = [o.get("data", {}) for c in nb.cells for o in c.get("outputs", [])]
    tags = [t for data in outputs for t in re.findall(r"<script\b[^>]*>", str(data.get("text/html", "")))]
    assert len(tags) >= 5 and all('type="application/json"' in t for t in tags), tags
    assert not [m for data in outputs for m in data if "javascript" in m or "widget" in m]


@pytest.mark.skipif(CHROMIUM is None, reason=NEEDS_CHROMIUM)
@pytest.mark.parametrize("which", ["demo_report", "masked_report"])
def test_opening_the_report_runs_no_planted_script_and_draws_every_chart(
        which: str, request: pytest.FixtureRequest, hostile: tuple[int, list[str], dict, dict[str, str]]) -> None:
    folder: Path = request.getfixturevalue(which)
    port, seen, _, _ = hostile
    seen.clear()
    visited = visit(folder / "report.html")
    assert seen == [] and visited.remote == []
    assert visited.pwned is None
    assert visited.errors == [] and visited.violations == []
    assert len(visited.charts_drawn) >= 5 and all(visited.charts_drawn)
    # plotly shows a planted department as the text it is, not as its own pseudo-HTML
    assert f"<img src=http://127.0.0.1:{port}/department" in visited.chart_text


@pytest.mark.skipif(CHROMIUM is None, reason=NEEDS_CHROMIUM)
def test_the_csp_blocks_a_script_that_got_into_the_page_anyway(demo_report: Path, tmp_path: Path,
                                                               hostile: tuple[int, list[str], dict, dict[str, str]]
                                                               ) -> None:
    """Escaping is the first wall, the CSP the second: an inline script no rcaudit code made does not run."""
    port, seen, _, _ = hostile
    page = (demo_report / "report.html").read_text(encoding="utf-8")
    injected = tmp_path / "injected.html"
    injected.write_text(page.replace("<main>", f"<main>{_script(port, 'injected')}"
                                               f"<img src=x onerror=\"window.__pwned='handler'\">", 1),
                        encoding="utf-8")
    seen.clear()
    visited = visit(injected)
    assert visited.pwned is None and seen == []
    assert any("script-src" in v for v in visited.violations), visited.violations
    assert all(visited.charts_drawn)


@pytest.mark.skipif(CHROMIUM is None, reason=NEEDS_CHROMIUM)
def test_download_csv_turns_a_planted_formula_and_a_phone_number_into_text(
        demo_report: Path, hostile: tuple[int, list[str], dict, dict[str, str]]) -> None:
    """findings.csv keeps raw values (its contract); the report's "Download CSV", made for a spreadsheet,
    prefixes a value that starts like a formula with ' so Excel or LibreOffice shows it as typed and runs nothing."""
    import pandas as pd
    from playwright.sync_api import sync_playwright

    from tests.support.big_report import LAUNCH_ARGS, open_report

    port, _, _, _ = hostile
    planted = formulas(port)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        page = browser.new_page(accept_downloads=True)
        open_report(page, demo_report / "report.html")
        with page.expect_download() as download:
            page.locator("#findings-grid_wrapper button", has_text="Download CSV").click()
        saved = pd.read_csv(download.value.path(), dtype=str, keep_default_na=False)
        browser.close()
    raw = pd.read_csv(demo_report / "findings.csv", dtype=str, keep_default_na=False)
    assert len(saved) == len(raw)
    cells = [str(v) for v in saved.to_numpy().ravel()]
    for attribute, formula in planted.items():
        assert formula in set(raw["actual"]), attribute  # findings.csv holds the value as RingCentral has it
        starts_like_one = attribute in ("department", "locality", "streetAddress")
        assert ("'" + formula if starts_like_one else formula) in cells, attribute  # exported raw, never cleaned
    assert [c for c in cells if re.match(r"\s*[=+\-@]|[\t\r]", c)] == []
    # Excel would show +447700900999 as a number without its +: text, and still the number, after the '
    assert PLANTED_MOBILE in set(raw["actual"]) and "'" + PLANTED_MOBILE in cells
