"""Identity flows in a real browser: a role that requires MFA makes its members enroll at
their first sign-in and then asks for the code; a forgotten password is reset through a
mail delivered to a real SMTP server (aiosmtpd), and the reset never bypasses MFA."""

from __future__ import annotations

import email
import re
import time
from email import policy
from urllib.parse import urlsplit

import pyotp
import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import expect

from app.blueprints.auth import mfa
from app.blueprints.auth.mfa_views import WRONG_CODE
from app.blueprints.auth.models import Role
from app.blueprints.auth.views import LOGIN_FAILED, RESET_SENT
from app.extensions import db
from tests.factories.auth import PASSWORD, UserFactory

pytestmark = pytest.mark.e2e

EMAIL = "grace@example.com"
NAME = "Grace Hopper"
NEW_PASSWORD = "lantern-otter-quarry-tide"
MAIL_WAIT_SECONDS = 10.0
MFA_PATH = "/login/mfa"
RECOVERY_CODE = re.compile(r"[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}")


class Inbox:
    """An aiosmtpd handler that keeps every message it is sent."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def wait_for_message(self, timeout: float = MAIL_WAIT_SECONDS):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.envelopes:
                return self.envelopes[0]
            time.sleep(0.05)
        pytest.fail(f"no mail reached the SMTP server within {timeout:.0f} s")


@pytest.fixture
def smtp_inbox(app, unused_tcp_port):
    """A real SMTP server on a loopback port; the app mails to it for the test's duration."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=unused_tcp_port)
    controller.start()
    previous = {name: app.config[name] for name in ("MAIL_BACKEND", "MAIL_SERVER", "MAIL_PORT")}
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=unused_tcp_port)
    try:
        yield inbox
    finally:
        app.config.update(previous)
        controller.stop()


@pytest.fixture
def support_user_required_to_use_mfa(committed_db):
    user = UserFactory(email=EMAIL, name=NAME, roles=["support"])
    role = committed_db.session.execute(db.select(Role).filter_by(name="support")).scalar_one()
    role.require_mfa = True
    committed_db.session.commit()  # the server thread must see it
    return user


@pytest.fixture
def user(committed_db):
    user = UserFactory(email=EMAIL, name=NAME, roles=["support"])
    committed_db.session.commit()
    return user


@pytest.fixture
def user_with_mfa(committed_db):
    """A user who turned MFA on (through the app's own service); returns its TOTP secret."""
    user = UserFactory(email=EMAIL, name=NAME, roles=["support"])
    secret = mfa.new_secret()
    mfa.enable(user, secret, pyotp.TOTP(secret).now(), actor=user)
    committed_db.session.commit()
    return secret


def sign_in(page, email_address: str, password: str) -> None:
    page.goto("/login")
    page.get_by_role("textbox", name="Email", exact=True).fill(email_address)
    page.get_by_role("textbox", name="Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_out(page, live_server) -> None:
    page.get_by_label(f"Account menu for {NAME}").click()  # opens the <details> menu
    page.locator("details.usermenu").get_by_role("button", name="Sign out", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/login")
    expect(page.get_by_role("status")).to_contain_text("You are signed out.")


def code_field(page):
    return page.get_by_role("textbox", name="Code from your authenticator app, or a recovery code")


def next_totp_code(secret: str) -> str:
    """The code of the next time step: the current one may already be spent (no replay)."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def wrong_totp_code(secret: str) -> str:
    """A well-formed code that no step the server accepts now can match."""
    totp = pyotp.TOTP(secret)
    now = time.time()
    valid = {totp.at(now + offset) for offset in (-60, -30, 0, 30, 60)}
    return next(code for code in ("000000", "111111", "123456", "654321") if code not in valid)


def expect_dashboard(page, live_server) -> None:
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.get_by_role("status")).to_contain_text(f"Welcome back, {NAME}.")


def request_reset_link(page, live_server, app, inbox) -> str:
    """Ask for a reset in the browser; the link from the mail, moved to the live server."""
    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page).to_have_url(f"{live_server.url}/password-reset")
    page.get_by_role("textbox", name="Email", exact=True).fill(EMAIL)
    page.get_by_role("button", name="Send the reset link").click()
    expect(page).to_have_url(f"{live_server.url}/login")
    expect(page.get_by_role("status")).to_contain_text(RESET_SENT)

    envelope = inbox.wait_for_message()
    assert envelope.rcpt_tos == [EMAIL]
    message = email.message_from_bytes(envelope.content, policy=policy.default)
    assert message["Subject"] == "Choose a new password"
    assert message["To"] == EMAIL
    text = message.get_body(preferencelist=("plain",)).get_content()
    links = re.findall(r"https?://\S+/password-reset/\S+", text)
    assert len(links) == 1, text
    link = urlsplit(links[0])
    # Built from BASE_URL, never from the Host header the browser sent.
    assert f"{link.scheme}://{link.netloc}" == app.config["BASE_URL"].rstrip("/")
    return f"{live_server.url}{link.path}"


def set_new_password(page, live_server, reset_url: str, new_password: str) -> None:
    page.goto(reset_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    page.get_by_role("textbox", name="New password", exact=True).fill(new_password)
    page.get_by_role("textbox", name="Repeat the new password", exact=True).fill(new_password)
    page.get_by_role("button", name="Save the new password").click()
    expect(page).to_have_url(f"{live_server.url}/login")
    expect(page.get_by_role("status")).to_contain_text("Your password is changed")


def test_user_of_a_role_requiring_mfa_enrolls_at_first_sign_in_and_then_needs_the_code(
    page, problems, live_server, support_user_required_to_use_mfa, screenshot
):
    sign_in(page, EMAIL, PASSWORD)

    expect(page).to_have_url(f"{live_server.url}/account/mfa")
    expect(page.get_by_role("heading", level=1)).to_have_text("Turn on two-factor authentication")
    expect(page.get_by_text("Your role requires two-factor authentication.")).to_be_visible()
    expect(page.get_by_label("QR code for your authenticator app").locator("svg")).to_be_visible()
    secret = page.locator("code.secret").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret), secret
    screenshot("e2e-mfa-enroll.png")

    # Until enrolled, the rest of the portal sends the user back here, with the same secret.
    page.goto("/")
    expect(page).to_have_url(f"{live_server.url}/account/mfa")
    assert page.locator("code.secret").inner_text().strip() == secret

    page.get_by_role("textbox", name="Code shown by your authenticator app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-factor authentication").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Your recovery codes")
    expect(page.get_by_role("status")).to_contain_text("Two-factor authentication is on.")
    codes = page.locator("ol.codes li code").all_inner_texts()
    assert len(codes) == mfa.RECOVERY_CODE_COUNT == 10
    assert all(RECOVERY_CODE.fullmatch(code) for code in codes), codes
    assert len(set(codes)) == len(codes)
    screenshot("e2e-mfa-recovery-codes.png")

    sign_out(page, live_server)
    sign_in(page, EMAIL, PASSWORD)

    expect(page).to_have_url(f"{live_server.url}/login/mfa")
    expect(page.get_by_role("heading", level=1)).to_have_text("One more step")
    expect(code_field(page)).to_be_focused()

    code_field(page).fill(wrong_totp_code(secret))
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith(MFA_PATH)) as posted:
        page.get_by_role("button", name="Verify and sign in").click()
    assert posted.value.status == 422
    problems.expect_failed_load(MFA_PATH, 422)  # Chromium logs the re-rendered form's status
    expect(page.get_by_role("alert")).to_contain_text("Please correct the field marked below.")
    expect(code_field(page)).to_have_attribute("aria-invalid", "true")
    expect(code_field(page)).to_have_accessible_description(WRONG_CODE)

    code_field(page).fill(next_totp_code(secret))
    page.get_by_role("button", name="Verify and sign in").click()

    expect_dashboard(page, live_server)
    expect(page.get_by_label(f"Account menu for {NAME}")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert problems.all() == []


def test_password_reset_mail_from_a_real_smtp_server_sets_a_new_password(
    page, problems, live_server, app, user, smtp_inbox, screenshot
):
    reset_url = request_reset_link(page, live_server, app, smtp_inbox)
    set_new_password(page, live_server, reset_url, NEW_PASSWORD)
    screenshot("e2e-password-reset-done.png")

    # The link is single use: the password it was bound to is gone.
    page.goto(reset_url)
    expect(page).to_have_url(f"{live_server.url}/password-reset")
    expect(page.get_by_role("status")).to_contain_text("This password reset link is not valid any more.")

    sign_in(page, EMAIL, PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/login")
    problems.expect_failed_load("/login", 422)
    expect(page.get_by_role("textbox", name="Password", exact=True)).to_have_accessible_description(
        LOGIN_FAILED
    )

    sign_in(page, EMAIL, NEW_PASSWORD)
    expect_dashboard(page, live_server)
    page.wait_for_load_state("networkidle")
    assert len(smtp_inbox.envelopes) == 1
    assert problems.all() == []


def test_password_reset_does_not_bypass_two_factor_authentication(
    page, problems, live_server, app, user_with_mfa, smtp_inbox
):
    secret = user_with_mfa
    reset_url = request_reset_link(page, live_server, app, smtp_inbox)
    set_new_password(page, live_server, reset_url, NEW_PASSWORD)

    # The reset opened no session.
    page.goto("/")
    expect(page).to_have_url(re.compile(re.escape(f"{live_server.url}/login")))

    sign_in(page, EMAIL, NEW_PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/login/mfa")
    expect(page.get_by_role("heading", level=1)).to_have_text("One more step")

    # Still no session while the second factor is owed.
    page.goto("/")
    expect(page).to_have_url(re.compile(re.escape(f"{live_server.url}/login")))

    sign_in(page, EMAIL, NEW_PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/login/mfa")
    code_field(page).fill(next_totp_code(secret))
    page.get_by_role("button", name="Verify and sign in").click()

    expect_dashboard(page, live_server)
    page.wait_for_load_state("networkidle")
    assert problems.all() == []
