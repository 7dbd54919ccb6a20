"""Real-browser fixtures: the app served on a loopback port, driven by Debian's Chromium.

`live_server` serves the session `app` from a background thread with `committed_db`, so
what a test commits is what the browser sees. `browser` launches the system Chromium
(Playwright cannot download its own here); without one the e2e tests skip, saying why.
`page` is a fresh context per test; console errors, uncaught page errors and
Content-Security-Policy violations on it are recorded in `problems`, so a test can assert
there are none. Set E2E_SCREENSHOT_DIR to keep the screenshots tests take with `screenshot`.
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEFAULT_TIMEOUT_MS = 10_000

# Runs in every document before its own scripts (through the DevTools protocol, so the
# page's CSP does not apply to it) and reports each CSP violation to the test.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", function (event) {
  window.__e2eCspViolation({
    directive: event.effectiveDirective || event.violatedDirective,
    blocked: event.blockedURI,
    source: event.sourceFile + ":" + event.lineNumber,
    sample: event.sample,
  });
});
"""


@dataclass
class LiveServer:
    url: str  # the origin, e.g. http://127.0.0.1:54321

    def serves(self, url: str) -> bool:
        """Whether `url` is on this server's origin (scheme, host and port)."""
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}" == self.url


@dataclass
class ConsoleError:
    text: str
    url: str  # where the browser says it happened: a script, or the resource that failed

    def __str__(self) -> str:
        return f"{self.text} ({self.url})" if self.url else self.text


@dataclass
class BrowserProblems:
    """What went wrong in the browser while a test ran; `all()` is empty when all is well."""

    console_errors: list[ConsoleError] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[dict] = field(default_factory=list)
    # (path, status) of responses the test expects to fail, so Chromium's
    # "Failed to load resource" line for them is not a problem.
    expected_failures: set[tuple[str, int]] = field(default_factory=set)

    def expect_failed_load(self, path: str, status: int) -> None:
        self.expected_failures.add((path, status))

    def is_expected(self, error: ConsoleError) -> bool:
        return any(
            error.text.startswith(f"Failed to load resource: the server responded with a status of {status}")
            and urlsplit(error.url).path == path
            for path, status in self.expected_failures
        )

    def all(self) -> list[str]:
        return (
            [f"console error: {error}" for error in self.console_errors if not self.is_expected(error)]
            + [f"uncaught error: {text}" for text in self.page_errors]
            + [f"CSP violation: {violation}" for violation in self.csp_violations]
        )


def chromium_executable() -> str | None:
    """CHROMIUM_PATH when set (CI exports it), else `chromium` on the PATH."""
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        if not (os.path.isfile(configured) and os.access(configured, os.X_OK)):
            pytest.fail(f"CHROMIUM_PATH={configured!r} is not an executable file")
        return configured
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def browser():
    executable = chromium_executable()
    if executable is None:
        pytest.skip(
            "no Chromium for the e2e tests: install Debian's `chromium` (apt-get install chromium) "
            "or set CHROMIUM_PATH; Playwright's own browser downloads are not used"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def live_server(app, committed_db):
    """The app on a free loopback port, in a background thread, for one test."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="e2e-live-server", daemon=True
    )
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def context(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def foreign_requests(context, live_server):
    """Cut the browser off from every host but the test server; the list of what it tried."""
    attempted = []

    def only_the_test_server(route):
        if live_server.serves(route.request.url):
            route.continue_()
        else:
            attempted.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_test_server)
    return attempted


@pytest.fixture
def problems():
    return BrowserProblems()


@pytest.fixture
def page(context, problems):
    """A page whose console errors, uncaught errors and CSP violations land in `problems`."""
    context.expose_binding(
        "__e2eCspViolation", lambda _source, report: problems.csp_violations.append(report)
    )
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    page.on("console", lambda message: record_console_error(problems, message))
    page.on("pageerror", lambda error: problems.page_errors.append(str(error)))
    return page


def record_console_error(problems: BrowserProblems, message) -> None:
    if message.type == "error":
        url = (message.location or {}).get("url") or ""
        problems.console_errors.append(ConsoleError(text=message.text, url=url))


@pytest.fixture
def screenshot(page):
    """`screenshot(name)`: a full-page screenshot into E2E_SCREENSHOT_DIR, when that is set."""

    def take(name: str) -> Path | None:
        directory = os.environ.get("E2E_SCREENSHOT_DIR")
        if not directory:
            return None
        path = Path(directory) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
