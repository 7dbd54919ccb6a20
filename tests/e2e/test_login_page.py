"""The portal sign-in form in a real browser: rendering, signing in, a wrong password."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from app.blueprints.auth.views import LOGIN_FAILED
from tests.factories.auth import PASSWORD, UserFactory

pytestmark = pytest.mark.e2e

EMAIL = "ada@example.com"
NAME = "Ada Lovelace"


@pytest.fixture
def user(committed_db):
    user = UserFactory(email=EMAIL, name=NAME, roles=["admin"])
    committed_db.session.commit()  # the server thread must see it
    return user


def test_login_page_renders_labelled_fields_without_errors(page, problems, screenshot):
    response = page.goto("/login")

    assert response.status == 200
    expect(page).to_have_title(re.compile(r"^Sign in · "))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    email = page.get_by_role("textbox", name="Email", exact=True)
    password = page.get_by_role("textbox", name="Password", exact=True)
    expect(email).to_have_attribute("type", "email")
    expect(email).to_have_attribute("autocomplete", "username")
    expect(email).to_be_focused()
    expect(password).to_have_attribute("type", "password")
    expect(password).to_have_attribute("autocomplete", "current-password")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.wait_for_load_state("networkidle")  # the deferred scripts and the stylesheet have run
    screenshot("e2e-login.png")
    assert problems.all() == []


def test_signing_in_lands_on_the_dashboard_with_the_users_name(page, problems, user, live_server, screenshot):
    page.goto("/login")
    page.get_by_role("textbox", name="Email", exact=True).fill(EMAIL)
    page.get_by_role("textbox", name="Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.get_by_label(f"Account menu for {NAME}")).to_be_visible()
    expect(page.get_by_role("banner")).to_contain_text(NAME)
    expect(page.get_by_role("status")).to_contain_text(f"Welcome back, {NAME}.")
    page.wait_for_load_state("networkidle")
    screenshot("e2e-dashboard.png")
    assert problems.all() == []


def test_wrong_password_re_renders_the_form_with_the_error_and_the_email(page, problems, user):
    page.goto("/login")
    page.get_by_role("textbox", name="Email", exact=True).fill(EMAIL)
    page.get_by_role("textbox", name="Password", exact=True).fill("not-the-password")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/login")) as posted:
        page.get_by_role("button", name="Sign in").click()

    assert posted.value.status == 422
    problems.expect_failed_load("/login", 422)  # Chromium logs the re-rendered form's status
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.get_by_role("alert")).to_contain_text("Please correct the field marked below.")
    password = page.get_by_role("textbox", name="Password", exact=True)
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(password).to_have_accessible_description(LOGIN_FAILED)
    expect(password).to_have_value("")
    expect(page.get_by_role("textbox", name="Email", exact=True)).to_have_value(EMAIL)
    assert problems.all() == []


def test_untouched_fields_are_not_marked_invalid(page):
    page.goto("/login")

    for name in ("Email", "Password"):
        field = page.get_by_role("textbox", name=name, exact=True)
        assert field.get_attribute("aria-invalid") in (None, "false"), name
        assert field.get_attribute("aria-describedby") is None, name
