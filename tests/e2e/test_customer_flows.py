"""Customer work in a real browser: a support agent logs a phone call through the HTMX form
on the customer page (the timeline updates in place, the body's Markdown is rendered and
its HTML is not) and clears the follow-up from the dashboard; a marketer builds a segment
and watches the live member count follow each rule before saving it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from app.core.timeutil import utcnow
from tests.factories.auth import PASSWORD, UserFactory
from tests.factories.customers import CustomerFactory, InteractionFactory

pytestmark = pytest.mark.e2e

AGENT_EMAIL = "sam.support@example.com"
AGENT_NAME = "Sam Support"
MARKETER_EMAIL = "mia.marketing@example.com"
MARKETER_NAME = "Mia Marketing"

SUBJECT = "Asked about the late parcel"
# Markdown to render, and HTML that must stay text: a <script> that would flag the window.
BODY = "Promised a **refund** by Friday.\n\n<script>window.__e2eInjected = true</script>"
MARKER = "set before the form was sent"
# "Done" plus a visually hidden ": follow-up “…”"; Chromium puts a space before the colon.
DONE_BUTTON = re.compile(rf"^Done\s*: follow-up “{re.escape(SUBJECT)}”$")


def sign_in(page, email_address: str, name: str) -> None:
    page.goto("/login")
    page.get_by_role("textbox", name="Email", exact=True).fill(email_address)
    page.get_by_role("textbox", name="Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label(f"Account menu for {name}")).to_be_visible()


def htmx_settled(page) -> None:
    """Wait until HTMX has no request in flight and has wired up what it swapped in: new
    content gets its hx-* behaviour only when it settles (20 ms later), so acting on it
    sooner would bypass HTMX (a select change not sent, a form posted as a page load)."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )


def is_post_to(path: str):
    return lambda response: response.request.method == "POST" and response.url.endswith(path)


# --- Logging a phone call ------------------------------------------------------------------


@pytest.fixture
def customer_with_history(committed_db):
    """Two customers; the one the agent calls has one older interaction on the timeline."""
    customer = CustomerFactory(first_name="Marta", last_name="Kowalczyk", email="marta@example.org")
    CustomerFactory(first_name="Jonas", last_name="Berg", email="jonas@example.org")
    InteractionFactory(
        customer=customer,
        kind="email",
        subject="Order confirmation resent",
        body="Sent it again.",
        occurred_at=utcnow() - timedelta(days=3),
    )
    UserFactory(email=AGENT_EMAIL, name=AGENT_NAME, roles=["support"])
    committed_db.session.commit()  # the server thread must see it
    return customer


def test_support_agent_logs_a_phone_call_and_sees_it_on_the_timeline_and_dashboard(
    page, problems, live_server, customer_with_history, screenshot
):
    customer = customer_with_history
    sign_in(page, AGENT_EMAIL, AGENT_NAME)

    # Find the customer by name in the list (the results update as one types) and open them.
    page.goto("/customers")
    results = page.locator("#customer-results")
    expect(results).to_contain_text("Jonas Berg")
    page.get_by_role("searchbox", name="Search name, email or phone").fill("kowalczyk")
    expect(results).not_to_contain_text("Jonas Berg")
    expect(results).to_contain_text("1 customer matches these filters.")
    results.get_by_role("link", name=customer.name, exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/customers/{customer.id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(customer.name)
    page.wait_for_load_state("networkidle")
    # A full page load would drop this; HTMX swaps keep it.
    page.evaluate("marker => { window.__e2eMarker = marker; }", MARKER)

    form_panel = page.locator("#log-interaction")
    log_button = form_panel.get_by_role("button", name="Log interaction", exact=True)
    subject = page.get_by_role("textbox", name="Subject", exact=True)
    body = page.get_by_role("textbox", name="What happened", exact=True)
    outcome = page.get_by_role("textbox", name="Outcome", exact=True)
    duration = page.get_by_role("spinbutton", name="Duration (minutes)", exact=True)
    direction = page.get_by_role("combobox", name="Direction", exact=True)
    timeline = page.get_by_role("list", name="Newest first")
    expect(timeline.get_by_role("listitem")).to_have_count(1)

    # Neither a subject nor a body: the form comes back (422) beside the untouched timeline.
    direction.select_option("inbound")
    duration.fill("7")
    outcome.fill("Callback booked")
    path = f"/customers/{customer.id}/interactions"
    with page.expect_response(is_post_to(path)) as refused:
        log_button.click()
    assert refused.value.status == 422
    problems.expect_failed_load(path, 422)  # Chromium logs the re-rendered form's status
    expect(form_panel.get_by_role("alert")).to_have_text("Please correct the field marked below.")
    expect(subject).to_have_attribute("aria-invalid", "true")
    expect(subject).to_have_accessible_description(re.compile(r"Give a subject or write what happened\.$"))
    expect(form_panel.locator(".field.has-error")).to_have_count(1)
    expect(direction).to_have_value("inbound")
    expect(duration).to_have_value("7")
    expect(outcome).to_have_value("Callback booked")
    expect(timeline.get_by_role("listitem")).to_have_count(1)
    assert page.evaluate("window.__e2eMarker") == MARKER
    htmx_settled(page)  # the form swapped in posts through HTMX again

    # Now with a subject, a Markdown body and a follow-up for today (the viewer's day, as
    # the "When" field the page filled in says).
    today = page.get_by_label(re.compile(r"^When\b")).input_value()[:10]
    page.get_by_role("combobox", name="Kind", exact=True).select_option("phone")
    subject.fill(SUBJECT)
    body.fill(BODY)
    page.get_by_label("Follow up on", exact=True).fill(today)
    with page.expect_response(is_post_to(path)) as logged:
        log_button.click()
    assert logged.value.status == 200

    newest = timeline.locator("> li").first
    expect(newest).to_contain_text(SUBJECT)
    expect(timeline.locator("> li")).to_have_count(2)
    expect(timeline.locator("> li").nth(1)).to_contain_text("Order confirmation resent")
    expect(page.locator("#timeline").get_by_role("status")).to_have_text(
        f"Logged the phone call with {customer.name}."
    )
    expect(newest.locator(".badge.kind")).to_have_text("Phone call")
    expect(newest).to_contain_text(f"inbound · 7 min · {AGENT_NAME}")
    expect(newest).to_contain_text("Outcome: Callback booked")
    expect(newest.locator(".md strong")).to_have_text("refund")
    # The <script> is shown as the text it was typed as, never as an element, and never ran.
    expect(newest.locator(".md")).to_contain_text("<script>window.__e2eInjected = true</script>")
    expect(page.locator("#timeline script")).to_have_count(0)
    assert page.evaluate("window.__e2eInjected") is None
    expect(newest.get_by_role("button", name=DONE_BUTTON)).to_be_visible()
    # A fresh form came with the timeline, and no page load happened on the way.
    expect(subject).to_have_value("")
    expect(body).to_have_value("")
    expect(form_panel.get_by_role("alert")).to_have_count(0)
    assert page.evaluate("window.__e2eMarker") == MARKER
    expect(page).to_have_url(f"{live_server.url}/customers/{customer.id}")
    screenshot("e2e-customer-timeline.png")

    # The follow-up is on the dashboard today; "Done" takes it off.
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Dashboard").click()
    expect(page).to_have_url(f"{live_server.url}/")
    follow_ups = page.get_by_role("region", name="Follow-ups due")
    due = follow_ups.get_by_role("listitem")
    expect(due).to_have_count(1)
    expect(due).to_contain_text("Today")
    expect(due.get_by_role("link", name=customer.name)).to_have_attribute(
        "href", f"/customers/{customer.id}#timeline"
    )
    expect(due).to_contain_text(SUBJECT)
    screenshot("e2e-dashboard-follow-ups.png")
    due.get_by_role("button", name=DONE_BUTTON).click()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator(".flashes")).to_contain_text(f"The follow-up with {customer.name} is done.")
    expect(follow_ups.get_by_role("listitem")).to_have_count(0)
    expect(follow_ups).to_contain_text("No follow-ups due.")
    assert problems.all() == []


# --- Building a segment ---------------------------------------------------------------------

# name -> (country, tags); the segment is "country is one of NL" and "tags has any of vip".
CUSTOMERS = {
    "Anouk de Vries": ("NL", ["vip"]),
    "Bram Jansen": ("NL", ["vip", "newsletter"]),
    "Cees Bakker": ("NL", ["newsletter"]),
    "Daan Visser": ("NL", []),
    "Elise Peeters": ("BE", ["vip"]),
    "Felix Weber": ("DE", []),
}
DUTCH = {name for name, (country, _) in CUSTOMERS.items() if country == "NL"}
VIP = {name for name, (_, tags) in CUSTOMERS.items() if "vip" in tags}
SEGMENT_NAME = "Dutch VIPs"


@pytest.fixture
def marketer_and_customers(committed_db):
    for name, (country, tags) in CUSTOMERS.items():
        first, last = name.split(" ", 1)
        CustomerFactory(first_name=first, last_name=last, country=country, tags=tags)
    UserFactory(email=MARKETER_EMAIL, name=MARKETER_NAME, roles=["marketing"])
    committed_db.session.commit()


def expect_count(preview, count: int) -> None:
    expect(preview).to_have_text(f"{count} customer{'' if count == 1 else 's'} match these rules now.")


def type_values(values, text: str) -> None:
    """Type into a value input and leave it, as a person moving on does: the count is asked
    for on input and again on change, so no request from this input is left to come later."""
    values.fill(text)
    values.blur()


def test_marketer_builds_a_segment_and_sees_the_live_count(
    page, problems, live_server, marketer_and_customers, screenshot
):
    assert (len(DUTCH), len(DUTCH & VIP), len(DUTCH | VIP)) == (4, 2, 5)  # what the counts below say
    sign_in(page, MARKETER_EMAIL, MARKETER_NAME)
    page.goto("/customers/segments")
    page.get_by_role("link", name="New segment", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/customers/segments/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("New segment")
    preview = page.locator("#segment-preview")
    expect(preview).to_have_text("Choose a field to start; the number of matching customers appears here.")
    page.get_by_role("textbox", name="Name", exact=True).fill(SEGMENT_NAME)

    # Rule 1: country is one of NL. Choosing the field and the condition re-renders the row.
    rule1 = page.locator("#rule-r0")
    rule1.get_by_label("Rule 1", exact=True).select_option(label="Country")
    condition1 = rule1.get_by_label("Condition", exact=True)
    expect(condition1).to_have_value("eq")
    htmx_settled(page)
    condition1.select_option(label="is one of")
    values1 = rule1.get_by_role("textbox", name="Values", exact=True)
    expect(values1).to_have_accessible_description("Separate them with commas.")
    htmx_settled(page)
    type_values(values1, "NL")
    expect_count(preview, len(DUTCH))
    htmx_settled(page)

    # Rule 2: tags has any of vip; the count narrows to the Dutch VIPs.
    page.get_by_role("button", name="Add rule", exact=True).click()
    rule2 = page.locator("#rule-r1")
    rule2_field = rule2.get_by_label("Rule 2", exact=True)
    expect(rule2_field).to_have_value("")
    expect_count(preview, len(DUTCH))  # a row without a field yet is left out of the count
    htmx_settled(page)
    rule2_field.select_option(label="Tags")
    expect(rule2.get_by_label("Condition", exact=True)).to_have_value("has_any")
    expect(preview).to_have_text(  # a rule without a value says what it lacks
        "Finish the rules to see how many customers match: Rule 2: Give a non-empty list of values."
    )
    htmx_settled(page)
    type_values(rule2.get_by_role("textbox", name="Values", exact=True), "vip")
    expect_count(preview, len(DUTCH & VIP))
    htmx_settled(page)

    # Any instead of all widens it; back to all.
    combinator = page.get_by_label("Customers who match", exact=True)
    combinator.select_option(label="any of these rules")
    expect_count(preview, len(DUTCH | VIP))
    htmx_settled(page)
    combinator.select_option(label="all of these rules")
    expect_count(preview, len(DUTCH & VIP))
    htmx_settled(page)
    expect(rule1.get_by_role("textbox", name="Values", exact=True)).to_have_value("NL")
    screenshot("e2e-segment-builder.png")

    page.get_by_role("button", name="Create segment", exact=True).click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/customers/segments/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(SEGMENT_NAME)
    expect(page.locator(".flashes")).to_contain_text(f"Segment {SEGMENT_NAME} created.")
    expect(page.locator(".lead")).to_contain_text(f"{len(DUTCH & VIP)} members")
    member_names = page.get_by_role("table").locator("tbody tr td:first-child")
    expect(member_names).to_have_count(len(DUTCH & VIP))
    assert set(member_names.all_inner_texts()) == DUTCH & VIP
    screenshot("e2e-segment-page.png")
    assert problems.all() == []
