"""Open an HTML file in Debian's Chromium through Playwright and report what a reader's browser would do.

Also: a plain-HTTP listener on 127.0.0.1 that records every request (a planted payload calls it), and a
static check of a whole report (its Content-Security-Policy, every script's hash, no handler attributes,
nothing loaded from outside the document).
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NEEDS_CHROMIUM = "needs Chromium: apt-get install -y chromium (as root; .ci/run does it)"

# Recorded before any script of the page runs; Playwright's init scripts are not subject to the page's CSP.
_WATCH = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', e => window.__violations.push(
    `${e.violatedDirective} blocked=${e.blockedURI} sample=${e.sample}`));
"""


@dataclass(frozen=True)
class PageVisit:
    errors: list[str]  # uncaught page errors
    remote: list[str]  # requests to anything but file: and data:
    charts_drawn: list[bool]  # per plotly chart: did it draw its .main-svg
    violations: list[str] = field(default_factory=list)  # Content-Security-Policy violations reported
    pwned: Any = None  # window.__pwned: what a planted payload sets when it runs
    chart_text: str = ""  # the text of every drawn chart (titles, ticks, legends)


def visit(page_file: Path) -> PageVisit:
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync"])
        page = browser.new_page()
        page.add_init_script(_WATCH)
        page.on("request", lambda r: requests.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_file.resolve().as_uri(), wait_until="load")
        page.wait_for_selector(".plotly-graph-div .main-svg", timeout=15_000)
        drawn = page.locator(".plotly-graph-div").evaluate_all(
            "divs => divs.map(d => d.querySelectorAll('.main-svg').length > 0)")
        page.wait_for_timeout(300)  # let a late image error or a fetch fire before judging (not a timing assertion)
        violations = page.evaluate("window.__violations || []")
        pwned = page.evaluate("window.__pwned === undefined ? null : String(window.__pwned)")
        chart_text = page.evaluate(
            "[...document.querySelectorAll('.plotly-graph-div svg text')].map(t => t.textContent).join('\\n')")
        browser.close()
    return PageVisit(errors, [u for u in requests if not u.startswith(("file:", "data:"))], drawn, violations,
                     pwned, chart_text)


@contextmanager
def listener() -> Iterator[tuple[int, list[str]]]:
    """A plain-HTTP server on 127.0.0.1 (port, paths requested): any request means a payload ran."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(204)
            self.end_headers()

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


class _Scan(HTMLParser):
    """Every script (attributes, text), every attribute, the CSP meta, in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.attributes: list[tuple[str, str, str | None]] = []
        self.csp: list[str] = []
        self.first_script_before_csp = False
        self._script: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attributes += [(tag, name, value) for name, value in attrs]
        found = dict(attrs)
        if tag == "meta" and (found.get("http-equiv") or "").lower() == "content-security-policy":
            self.csp.append(found.get("content") or "")
        if tag == "script":
            if not self.csp:
                self.first_script_before_csp = True
            self._script, self._text = found, []

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._text)))
            self._script = None


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def static_problems(html: str) -> list[str]:
    """What in a whole report could run script or load anything from outside the document."""
    scan = _Scan()
    scan.feed(html)
    scan.close()
    problems: list[str] = []
    if len(scan.csp) != 1:
        return [f"expected one Content-Security-Policy meta, found {len(scan.csp)}"]
    if scan.first_script_before_csp:
        problems.append("a <script> comes before the Content-Security-Policy meta")
    directives = {d.split()[0]: d.split()[1:] for d in scan.csp[0].split(";") if d.strip()}
    if directives.get("default-src") != ["'none'"]:
        problems.append(f"default-src is {directives.get('default-src')}, not 'none'")
    script_src = directives.get("script-src", [])
    if script_src != ["'none'"] and (not script_src or [s for s in script_src if not s.startswith("'sha256-")]):
        problems.append(f"script-src lists more than hashes: {script_src}")
    for attrs, text in scan.scripts:
        if (attrs.get("type") or "").lower() == "application/json":
            continue
        if "src" in attrs:
            problems.append(f"a script loads {attrs['src']}")
        elif _sha256(text) not in script_src:
            problems.append(f"an inline script not in script-src: {text[:80]!r}")
    for tag, name, value in scan.attributes:
        if name.lower().startswith("on"):
            problems.append(f"<{tag} {name}=...> handler attribute")
        if name.lower() in ("src", "href", "srcset", "action", "formaction", "poster", "data", "xlink:href") \
                and value is not None and not value.startswith(("#", "data:")):
            problems.append(f"<{tag} {name}={value!r}> points off the document")
        if tag == "meta" and name.lower() == "http-equiv" and (value or "").lower() == "refresh":
            problems.append("a <meta http-equiv=refresh>")
    return problems


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style") and self._skip > 0

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def page_text(html: str) -> str:
    """The text a reader sees (entities decoded; scripts and styles left out)."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)
