"""The e2e checks themselves: a page that breaks the rules must be caught by them.

Without these, "no console errors, no CSP violations, no other hosts" could pass simply
because nothing was listening.
"""

from __future__ import annotations

import pytest

from app.core.security import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.e2e

PROBE = "/__e2e_probe"


def serve_probe(context, live_server, html: str, headers: dict[str, str]) -> None:
    context.route(
        f"{live_server.url}{PROBE}",
        lambda route: route.fulfill(status=200, content_type="text/html", headers=headers, body=html),
    )


def test_inline_script_under_the_app_csp_is_reported(context, page, problems, live_server):
    serve_probe(
        context,
        live_server,
        "<!doctype html><title>probe</title><script>document.title = 'ran';</script>",
        {"Content-Security-Policy": CONTENT_SECURITY_POLICY},
    )

    page.goto(PROBE)
    page.wait_for_load_state("networkidle")

    assert page.title() == "probe"  # the inline script was blocked
    assert [violation["directive"] for violation in problems.csp_violations] == ["script-src-elem"]
    assert any("Content Security Policy" in error.text for error in problems.console_errors)


def test_uncaught_errors_console_errors_and_other_hosts_are_reported(
    context, page, problems, foreign_requests, live_server
):
    serve_probe(
        context,
        live_server,
        "<!doctype html><title>probe</title>"
        '<img src="https://cdn.example.com/logo.png" alt="">'
        "<script>console.error('logged'); throw new Error('boom');</script>",
        {},
    )

    page.goto(PROBE)
    page.wait_for_load_state("networkidle")

    assert foreign_requests == ["https://cdn.example.com/logo.png"]
    assert any("boom" in error for error in problems.page_errors)
    assert "logged" in [error.text for error in problems.console_errors]
