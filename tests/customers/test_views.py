"""The customer pages of the portal: who may open them, the list with its search, filters
and CSV export, the profile forms, the customer page with its timeline, logging an
interaction with HTMX, and follow-ups on the dashboard."""

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from flask_login import login_user
from sqlalchemy import select
from sqlalchemy.orm import object_session

from app.blueprints.auth.admin import create_role
from app.blueprints.customers import consents, views
from app.blueprints.customers.models import (
    ConsentEvent,
    Customer,
    CustomerAddress,
    CustomerPhone,
    Interaction,
)
from app.core.models import AuditEntry
from app.core.timeutil import utcnow
from tests.conftest import Portal
from tests.factories.auth import PASSWORD, UserFactory
from tests.factories.customers import CustomerFactory, InteractionFactory
from tests.statements import counted_statements

HTMX = {"HX-Request": "true"}


def signed_in(portal, *roles, **user_fields):
    user = UserFactory(roles=list(roles), **user_fields)
    portal.login(user.email, PASSWORD)
    return user


def other_portal(portal, *roles, **user_fields):
    other = Portal(portal.client.application.test_client())
    user = signed_in(other, *roles, **user_fields)
    return other, user


def flashes(html):
    return re.findall(r'<div class="alert (?:success|error|info|warning)">(.*?)</div>', html, re.S)


def customer_with_phone(number="+31612345678", **fields):
    customer = CustomerFactory(**fields)
    customer.phones.append(CustomerPhone(number=number, kind="mobile"))
    object_session(customer).flush()
    return customer


def interaction_data(**changes):
    data = {
        "kind": "phone",
        "direction": "outbound",
        "subject": "Asked about the invoice",
        "body": "Promised a **credit note**.",
        "occurred_at": (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "duration_minutes": "12",
        "outcome": "Resolved",
        "follow_up_on": "",
    }
    data.update(changes)
    return data


# --- Access ---------------------------------------------------------------------------

EXPECTED_PERMISSIONS = {
    "customers.list": "customers.read",
    "customers.customer": "customers.read",
    "customers.export": "customers.export",
    "customers.new_customer": "customers.write",
    "customers.edit_customer": "customers.write",
    "customers.change_consent": "customers.write",
    "customers.add_address": "customers.write",
    "customers.remove_address": "customers.write",
    "customers.log_interaction": "interactions.write",
    "customers.complete_follow_up": "interactions.write",
}


def test_every_customer_page_declares_its_permission(app):
    endpoints = {
        rule.endpoint: app.view_functions[rule.endpoint].required_permission
        for rule in app.url_map.iter_rules()
        if app.view_functions[rule.endpoint].__module__ == views.__name__
    }
    assert endpoints == EXPECTED_PERMISSIONS


WRITE_REQUESTS = [
    ("get", "/customers/new"),
    ("post", "/customers/new"),
    ("get", "/customers/{customer}/edit"),
    ("post", "/customers/{customer}/edit"),
    ("post", "/customers/{customer}/consents/marketing_email/grant"),
    ("post", "/customers/{customer}/addresses"),
    ("post", "/customers/{customer}/addresses/1/delete"),
    ("post", "/customers/{customer}/interactions"),
    ("post", "/customers/follow-ups/{interaction}/done"),
]


@pytest.mark.parametrize(
    ("method", "url"), [("get", "/customers"), ("get", "/customers/{customer}"), *WRITE_REQUESTS]
)
def test_a_role_without_customer_permissions_gets_403_on_every_page(portal, db, method, url):
    create_role(name="bookkeeping", description="", actor=None)
    signed_in(portal, "bookkeeping")
    interaction = InteractionFactory()
    target = url.format(customer=interaction.customer_id, interaction=interaction.id)
    response = getattr(portal, method)(target)
    assert response.status_code == 403
    assert response.mimetype == "text/html"


@pytest.mark.parametrize(("method", "url"), WRITE_REQUESTS)
def test_marketing_reads_customers_but_gets_403_on_every_write(portal, db, method, url):
    signed_in(portal, "marketing")
    interaction = InteractionFactory()
    assert portal.get(f"/customers/{interaction.customer_id}").status_code == 200
    target = url.format(customer=interaction.customer_id, interaction=interaction.id)
    assert getattr(portal, method)(target).status_code == 403
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action.startswith("customer."))) is None


def test_support_may_not_export_and_is_not_offered_the_button(portal, db):
    signed_in(portal, "support")
    CustomerFactory()
    html = portal.get("/customers").text
    assert "Export CSV" not in html
    assert portal.get("/customers/export.csv").status_code == 403


def test_readers_are_not_offered_write_actions(portal, db):
    signed_in(portal, "marketing")
    customer = CustomerFactory()
    assert "New customer" not in portal.get("/customers").text
    html = portal.get(f"/customers/{customer.id}").text
    assert "Edit customer" not in html and "Log an interaction" not in html
    assert "/consents/" not in html and "Add an address" not in html


def test_signed_out_visitors_are_sent_to_sign_in(client, db):
    for url in ("/customers", "/customers/new", "/customers/1"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_sidebar_offers_customers_to_who_may_read_them(portal, db):
    create_role(name="bookkeeping", description="", actor=None)
    signed_in(portal, "bookkeeping")
    assert 'href="/customers"' not in portal.get("/").text
    reader, _ = other_portal(portal, "support")
    assert 'href="/customers"' in reader.get("/").text


# --- The list -------------------------------------------------------------------------


def test_list_page_has_title_heading_breadcrumbs_and_the_primary_action(admin_portal, db):
    CustomerFactory(first_name="Anna", last_name="Bakker")
    html = admin_portal.get("/customers").text
    assert "<title>Customers ·" in html and "<h1>Customers</h1>" in html and 'class="breadcrumbs"' in html
    assert 'href="/customers/new"' in html and "Anna Bakker" in html
    assert 'for="q"' in html and 'type="search"' in html


def test_search_finds_names_emails_and_phone_numbers(admin_portal, db):
    customer_with_phone("+31612345678", first_name="Anna", last_name="Bakker", email="anna@example.org")
    CustomerFactory(first_name="Bert", last_name="Visser", email="bert@shop.example")
    html = admin_portal.get("/customers?q=BAKK").text
    assert "Anna Bakker" in html and "Bert Visser" not in html
    html = admin_portal.get("/customers?q=shop.exam").text
    assert "Bert Visser" in html and "Anna Bakker" not in html
    html = admin_portal.get("/customers", query_string={"q": "06-1234 5678"}).text
    assert "Anna Bakker" in html and "Bert Visser" not in html


def test_filters_stay_in_the_url_and_in_sort_links(admin_portal, db):
    CustomerFactory(first_name="Anna", last_name="Bakker", status="lead", country="DE", tags=["vip"])
    CustomerFactory(first_name="Bert", last_name="Visser", status="active", country="DE", tags=["vip"])
    CustomerFactory(first_name="Cas", last_name="Smit", status="lead", country="NL")
    response = admin_portal.get("/customers?status=lead&country=DE&tag=vip")
    assert response.status_code == 200
    html = response.text
    assert "Anna Bakker" in html and "Bert Visser" not in html and "Cas Smit" not in html
    sort_link = re.search(r'href="(/customers\?[^"]*sort=email[^"]*)"', html).group(1)
    assert "status=lead" in sort_link and "country=DE" in sort_link and "tag=vip" in sort_link
    assert '<option selected value="lead">' in html or 'value="lead" selected' in html


def test_has_orders_and_total_spent_filters(admin_portal, db):
    CustomerFactory(first_name="Big", last_name="Spender", order_count=4, total_spent=Decimal("900.00"))
    CustomerFactory(first_name="Small", last_name="Spender", order_count=1, total_spent=Decimal("20.00"))
    CustomerFactory(first_name="Never", last_name="Bought")
    html = admin_portal.get("/customers?has_orders=yes&spent_min=100").text
    assert "Big Spender" in html and "Small Spender" not in html and "Never Bought" not in html
    html = admin_portal.get("/customers?has_orders=no").text
    assert "Never Bought" in html and "Spender" not in html
    html = admin_portal.get("/customers?spent_max=50&has_orders=yes").text
    assert "Small Spender" in html and "Big Spender" not in html


def test_sorting_by_total_spent_descending(admin_portal, db):
    CustomerFactory(first_name="Low", last_name="Spender", total_spent=Decimal("5"))
    CustomerFactory(first_name="High", last_name="Spender", total_spent=Decimal("500"))
    html = admin_portal.get("/customers?sort=-total_spent").text
    assert html.index("High Spender") < html.index("Low Spender")
    assert 'aria-sort="descending"' in html


def test_list_pages_by_25_or_50(admin_portal, db):
    CustomerFactory.create_batch(30)
    html = admin_portal.get("/customers").text
    assert html.count('<tr class="row-link">') == 25 and 'rel="next"' in html
    html = admin_portal.get("/customers?per_page=50").text
    assert html.count('<tr class="row-link">') == 30 and 'rel="next"' not in html
    assert admin_portal.get("/customers?per_page=5000").text.count('<tr class="row-link">') == 25


def test_each_row_opens_its_customer(admin_portal, db):
    customer = CustomerFactory(first_name="Anna", last_name="Bakker")
    html = admin_portal.get("/customers").text
    assert f'<a href="/customers/{customer.id}">Anna Bakker</a>' in html


def test_htmx_search_swaps_only_the_results(admin_portal, db):
    CustomerFactory(first_name="Anna", last_name="Bakker")
    response = admin_portal.get("/customers?q=anna", headers={**HTMX, "HX-Target": "customer-results"})
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="customer-results"')
    assert "<html" not in response.text and "Anna Bakker" in response.text
    assert "HX-Request" in response.headers["Vary"]
    # A history restore asks for the whole page.
    restore = admin_portal.get(
        "/customers?q=anna",
        headers={**HTMX, "HX-Target": "customer-results", "HX-History-Restore-Request": "true"},
    )
    assert "<html" in restore.text


def test_invalid_filters_are_422_with_the_error_next_to_the_field(admin_portal, db):
    response = admin_portal.get("/customers?created_from=2026-05-01&created_to=2026-04-01&spent_min=abc")
    assert response.status_code == 422
    assert "Comes before “Created from”." in response.text
    assert "Correct the filters above" in response.text
    assert 'id="created_to-error"' in response.text and 'id="spent_min-error"' in response.text


def test_empty_states_say_what_to_do_next(admin_portal, db):
    html = admin_portal.get("/customers").text
    assert "No customers yet." in html and "add the first one" in html
    CustomerFactory()
    html = admin_portal.get("/customers?q=nobody-like-this").text
    assert "No customers match these filters." in html and "clear the filters" in html


def test_the_count_of_matches_agrees_in_number(admin_portal, db):
    CustomerFactory(first_name="Zebedee")
    CustomerFactory(first_name="Zebulon")

    assert "1 customer matches these filters." in admin_portal.get("/customers?q=Zebedee").text
    assert "2 customers match these filters." in admin_portal.get("/customers?q=Zeb").text


def test_list_runs_the_same_number_of_statements_for_more_rows(admin_portal, db):
    def statements_for_page():
        admin_portal.get("/customers")  # warm up
        with counted_statements() as statements:
            assert admin_portal.get("/customers").status_code == 200
        return len(statements)

    for _ in range(3):
        customer_with_phone(tags=["vip", "b2b"])
    few = statements_for_page()
    for _ in range(20):
        customer_with_phone(tags=["vip", "b2b"])
    assert statements_for_page() == few


# --- CSV export -----------------------------------------------------------------------


def export(portal, query=""):
    response = portal.get(f"/customers/export.csv{query}", buffered=True)
    assert response.status_code == 200, response.text
    return response, list(csv.reader(io.StringIO(response.text)))


def test_export_streams_the_current_filter_as_csv(admin_portal, db):
    customer_with_phone(
        "+31612345678", first_name="Anna", last_name="Bakker", status="lead", tags=["vip", "b2b"]
    )
    CustomerFactory(first_name="Bert", last_name="Visser", status="active")
    response, rows = export(admin_portal, "?status=lead")
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=customers-")
    assert response.headers["Cache-Control"] == "no-store"
    header, *data = rows
    assert header[:6] == ["id", "email", "first_name", "last_name", "company", "phones"]
    assert len(data) == 1
    row = dict(zip(header, data[0], strict=True))
    assert row["first_name"] == "Anna" and row["status"] == "lead" and row["tags"] == "b2b; vip"
    assert row["phones"] == "'+31612345678"  # a leading + is a formula to a spreadsheet
    assert row["total_spent"] == "0.00"


def test_export_is_streamed_row_by_row(app, admin, db):
    CustomerFactory.create_batch(3)
    with app.test_request_context("/customers/export.csv"):
        login_user(admin)
        response = app.view_functions["customers.export"]()
        assert response.is_streamed and "Content-Length" not in response.headers
        chunks = list(response.response)
    assert len(chunks) == 4 and chunks[0].startswith("id,email,")


def test_export_neutralises_cells_a_spreadsheet_would_run(admin_portal, db):
    CustomerFactory(first_name='=HYPERLINK("http://evil.example","x")', last_name="@SUM(A1)", company="-2+3")
    _, rows = export(admin_portal)
    header, data = rows
    row = dict(zip(header, data, strict=True))
    assert row["first_name"] == '\'=HYPERLINK("http://evil.example","x")'
    assert row["last_name"] == "'@SUM(A1)" and row["company"] == "'-2+3"


def test_export_is_audited_with_the_filter(admin_portal, admin, db):
    CustomerFactory(country="DE")
    export(admin_portal, "?country=DE&q=ann&sort=-created")
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "customers.exported"))
    assert entry.actor_id == admin.id
    assert entry.data["filter"] == {"country": "DE", "search": "ann", "sort": "-created"}
    assert "country=DE" in entry.summary


def test_export_link_carries_the_filters_but_not_the_page(admin_portal, db):
    CustomerFactory(country="DE")
    html = admin_portal.get("/customers?country=DE&page=1&per_page=50").text
    link = re.search(r'href="(/customers/export\.csv[^"]*)"', html).group(1)
    assert "country=DE" in link and "page" not in link


# --- Creating and editing -------------------------------------------------------------


def customer_form(**changes):
    data = {
        "email": "new.customer@example.org",
        "first_name": "Nina",
        "last_name": "Nieuw",
        "phones-0-number": "06 12345678",
        "phones-0-kind": "mobile",
        "phones-1-number": "",
        "phones-1-kind": "home",
        "phones-2-number": "",
        "phones-2-kind": "mobile",
        "status": "active",
        "preferred_channel": "phone",
        "tags": "VIP, wholesale ,",
        "country": "NL",
        "city": "Utrecht",
        "language": "nl",
        "date_of_birth": "1990-04-01",
    }
    data.update(changes)
    return data


def test_new_customer_form_has_labels_input_types_and_required_marks(admin_portal, db):
    html = admin_portal.get("/customers/new").text
    assert "<title>New customer ·" in html and "<h1>New customer</h1>" in html
    assert '<label for="email">Email <span class="required"' in html
    assert re.search(r'<input[^>]*id="email"[^>]*required[^>]*type="email"', html)
    assert re.search(r'<input[^>]*id="phones-0-number"[^>]*type="tel"', html)
    assert re.search(r'<input[^>]*id="date_of_birth"[^>]*type="date"', html)
    assert '<label for="phones-2-number">Phone 3</label>' in html
    assert '<select id="status" name="status">' in html and 'id="preferred_channel"' in html
    assert "Save customer" in html


def test_creating_a_customer_opens_their_page_with_a_flash(admin_portal, db):
    response = admin_portal.post("/customers/new", data=customer_form())
    assert response.status_code == 302, response.text
    customer = db.session.scalar(select(Customer).where(Customer.email == "new.customer@example.org"))
    assert response.headers["Location"] == f"/customers/{customer.id}"
    assert [p.number for p in customer.phones] == ["+31612345678"]
    assert customer.tag_names == ["vip", "wholesale"]
    assert (customer.status, customer.preferred_channel, customer.city) == ("active", "phone", "Utrecht")
    assert customer.date_of_birth == date(1990, 4, 1)
    assert "Nina Nieuw is saved as a new customer." in flashes(
        admin_portal.get(response.headers["Location"]).text
    )


def test_a_taken_email_is_422_next_to_the_field_keeping_what_was_typed(admin_portal, db):
    CustomerFactory(email="taken@example.org")
    response = admin_portal.post(
        "/customers/new", data=customer_form(email="TAKEN@example.org", city="Zwolle")
    )
    assert response.status_code == 422
    html = response.text
    assert 'id="email-error">Another customer has this email address.' in html
    assert 'value="TAKEN@example.org"' in html and 'value="Zwolle"' in html
    assert 'value="VIP, wholesale ,"' in html
    assert "Please correct the field marked below." in html


def test_an_invalid_phone_is_shown_on_its_own_row(admin_portal, db):
    data = customer_form(**{"phones-1-number": "12", "phones-2-number": "+31 20 1234567"})
    response = admin_portal.post("/customers/new", data=data)
    assert response.status_code == 422
    assert re.search(r'id="phones-1-number-error">[^<]*“12” is not a valid phone number', response.text)
    assert 'value="+31 20 1234567"' in response.text


def test_field_problems_from_the_service_are_422_per_field(admin_portal, db):
    response = admin_portal.post("/customers/new", data=customer_form(timezone="Mars/Base", language="qq"))
    assert response.status_code == 422
    assert 'id="timezone-error"' in response.text and 'id="language-error"' in response.text
    assert 'value="Mars/Base"' in response.text
    assert db.session.scalar(select(Customer).where(Customer.email == "new.customer@example.org")) is None


def test_editing_fills_in_the_form_and_records_what_changed(admin_portal, db):
    customer = customer_with_phone("+31612345678", email="edit@example.org", tags=["vip"])
    html = admin_portal.get(f"/customers/{customer.id}/edit").text
    assert 'value="edit@example.org"' in html and 'value="+31612345678"' in html and 'value="vip"' in html
    data = customer_form(
        email="edit@example.org",
        **{"phones-0-number": "+31612345678", "phones-1-number": "020 1234567", "phones-1-kind": "work"},
        tags="vip, b2b",
        city="Delft",
    )
    response = admin_portal.post(f"/customers/{customer.id}/edit", data=data)
    assert response.status_code == 302, response.text
    db.session.refresh(customer)
    assert [(p.number, p.kind) for p in customer.phones] == [
        ("+31612345678", "mobile"),
        ("+31201234567", "work"),
    ]
    assert customer.tag_names == ["b2b", "vip"] and customer.city == "Delft"
    page = admin_portal.get(f"/customers/{customer.id}").text
    assert "Saved " in page and "<code>city</code>: Amsterdam → Delft" in page


def test_a_customer_with_three_phones_gets_a_fourth_row_to_keep_them_all(admin_portal, db):
    customer = customer_with_phone("+31612345678")
    customer.phones.append(CustomerPhone(number="+31612345679", kind="home"))
    customer.phones.append(CustomerPhone(number="+31612345670", kind="work"))
    db.session.flush()
    html = admin_portal.get(f"/customers/{customer.id}/edit").text
    assert 'id="phones-3-number"' in html and 'value="+31612345670"' in html


def test_editing_with_errors_is_422_keeping_input(admin_portal, db):
    CustomerFactory(email="other@example.org")
    customer = CustomerFactory(email="mine@example.org")
    response = admin_portal.post(
        f"/customers/{customer.id}/edit", data=customer_form(email="other@example.org", first_name="Typed")
    )
    assert response.status_code == 422
    assert 'value="Typed"' in response.text and "Another customer has this email address." in response.text
    db.session.refresh(customer)
    assert customer.email == "mine@example.org"


def test_editing_an_unknown_customer_is_404(admin_portal, db):
    assert admin_portal.get("/customers/999999/edit").status_code == 404
    assert admin_portal.get("/customers/999999").status_code == 404


# --- The customer page ----------------------------------------------------------------


def test_customer_page_shows_the_key_facts_and_actions(admin_portal, db):
    customer = customer_with_phone(
        "+31612345678",
        first_name="Anna",
        last_name="Bakker",
        email="anna@example.org",
        status="active",
        country="NL",
        city="Leiden",
        language="nl-BE",
        order_count=7,
        total_spent=Decimal("1234.50"),
        last_order_at=datetime(2026, 3, 4, 10, 30, tzinfo=UTC),
        tags=["vip"],
    )
    response = admin_portal.get(f"/customers/{customer.id}")
    assert response.status_code == 200
    html = response.text
    assert "<title>Anna Bakker ·" in html and "<h1>Anna Bakker</h1>" in html
    assert 'href="/customers">Customers</a> › Anna Bakker' in html
    for fact in (
        "anna@example.org",
        "+31612345678",
        "Active",
        "vip",
        "Leiden, NL",
        "nl-BE",
        "€1,234.50",
        "04/03/2026",
    ):
        assert fact in html, fact
    assert '<div class="value">7</div>' in html
    assert f'href="/customers/{customer.id}/edit"' in html and "Log an interaction" in html


def test_addresses_are_added_and_removed_with_a_confirmation(admin_portal, db):
    customer = CustomerFactory(first_name="Anna", last_name="Bakker")
    data = {"line1": "Dorpsstraat 1", "city": "Leiden", "country": "NL", "postal_code": "2311 AA"}
    response = admin_portal.post(f"/customers/{customer.id}/addresses", data=data)
    assert response.status_code == 302
    address = db.session.scalar(select(CustomerAddress).where(CustomerAddress.customer_id == customer.id))
    assert address.is_default_billing and address.is_default_shipping  # the first one
    html = admin_portal.get(response.headers["Location"]).text
    assert "Added the address in Leiden." in html and "Default billing" in html
    assert re.search(r'action="/customers/\d+/addresses/\d+/delete"\s+data-confirm="Remove the address', html)
    address_id = address.id
    response = admin_portal.post(f"/customers/{customer.id}/addresses/{address_id}/delete")
    assert response.status_code == 302
    assert db.session.get(CustomerAddress, address_id) is None


def test_an_address_without_required_fields_is_422_keeping_input(admin_portal, db):
    customer = CustomerFactory()
    response = admin_portal.post(f"/customers/{customer.id}/addresses", data={"line1": "Kade 5", "city": ""})
    assert response.status_code == 422
    assert 'value="Kade 5"' in response.text and 'id="city-error"' in response.text
    assert 'id="country-error">Choose a country.' in response.text


def test_consents_show_the_current_state_and_record_grants_from_the_portal(admin_portal, admin, db):
    customer = CustomerFactory()
    html = admin_portal.get(f"/customers/{customer.id}").text
    assert html.count("Never asked") == 3
    response = admin_portal.post(f"/customers/{customer.id}/consents/marketing_email/grant")
    assert response.status_code == 302 and response.headers["Location"].endswith("#consents")
    event_ = db.session.scalar(select(ConsentEvent).where(ConsentEvent.customer_id == customer.id))
    assert (event_.granted, event_.source, event_.wording_version) == (True, "portal", "portal-v1")
    assert event_.recorded_by_id == admin.id
    assert consents.current(customer)["marketing_email"].granted
    html = admin_portal.get(f"/customers/{customer.id}").text
    assert "Marketing email: consent granted" in html
    assert f"/customers/{customer.id}/consents/marketing_email/withdraw" in html
    assert re.search(r'consents/marketing_email/withdraw"\s+data-confirm="Record that', html)
    assert admin.name in html  # the history names who recorded it


def test_withdrawing_a_consent_is_recorded(admin_portal, db):
    customer = CustomerFactory()
    consents.record(
        customer, "marketing_sms", granted=True, source="storefront", wording_version="v3", actor=None
    )
    admin_portal.post(f"/customers/{customer.id}/consents/marketing_sms/withdraw")
    assert not consents.current(customer)["marketing_sms"].granted
    assert "Withdrawn" in admin_portal.get(f"/customers/{customer.id}").text


def test_an_unknown_consent_purpose_is_flashed(admin_portal, db):
    customer = CustomerFactory()
    response = admin_portal.post(f"/customers/{customer.id}/consents/telepathy/grant")
    assert response.status_code == 302
    assert "Unknown consent purpose." in admin_portal.get(response.headers["Location"]).text


# --- Timeline -------------------------------------------------------------------------


def test_timeline_shows_interactions_consents_and_profile_changes_newest_first(admin_portal, db):
    customer = CustomerFactory()
    InteractionFactory(customer=customer, subject="First call", occurred_at=utcnow() - timedelta(days=2))
    consents.record(
        customer, "profiling", granted=True, source="storefront", wording_version="v2", actor=None
    )
    admin_portal.post(
        f"/customers/{customer.id}/edit", data=customer_form(email=customer.email, city="Gouda")
    )
    html = admin_portal.get(f"/customers/{customer.id}").text
    timeline = html[html.index('id="timeline"') :]
    assert timeline.index("<code>city</code>") < timeline.index("Profiling and personalisation: granted")
    assert timeline.index("Profiling and personalisation: granted") < timeline.index("First call")


def test_timeline_filters_by_kind_in_the_url_and_with_htmx(admin_portal, db):
    customer = CustomerFactory()
    InteractionFactory(customer=customer, kind="email", subject="Sent the quote")
    InteractionFactory(customer=customer, kind="note", subject="Prefers mornings")
    html = admin_portal.get(f"/customers/{customer.id}?kind=note").text
    timeline = html[html.index('id="timeline"') :]
    assert "Prefers mornings" in timeline and "Sent the quote" not in timeline
    assert '<option value="note" selected>' in timeline
    response = admin_portal.get(
        f"/customers/{customer.id}?kind=email", headers={**HTMX, "HX-Target": "timeline"}
    )
    assert response.text.lstrip().startswith('<section id="timeline"')
    assert "Sent the quote" in response.text and "Prefers mornings" not in response.text


def test_timeline_loads_older_entries_by_cursor_with_and_without_htmx(admin_portal, db):
    customer = CustomerFactory()
    start = utcnow() - timedelta(days=10)
    for n in range(30):
        InteractionFactory(
            customer=customer, subject=f"Call number {n:02d}", occurred_at=start + timedelta(hours=n)
        )
    html = admin_portal.get(f"/customers/{customer.id}").text
    assert "Call number 29" in html and "Call number 05" in html and "Call number 04" not in html
    older = re.search(r'hx-get="([^"]*before=[^"]*)"', html).group(1).replace("&amp;", "&")
    fragment = admin_portal.get(older, headers={**HTMX, "HX-Target": "timeline-more"}).text
    assert fragment.lstrip().startswith("<li") and "<html" not in fragment
    assert "Call number 04" in fragment and "Call number 00" in fragment and "Call number 05" not in fragment
    assert "timeline-more" not in fragment  # nothing older
    page = admin_portal.get(older).text  # the same URL works as a whole page
    assert "<html" in page and "Call number 04" in page and "Back to the newest entries" in page


def test_customer_page_statements_do_not_grow_with_the_history(admin_portal, db):
    customer = CustomerFactory()
    staff = UserFactory(roles=["sales"])
    consents.record(
        customer, "profiling", granted=True, source="storefront", wording_version="v2", actor=None
    )
    customer.addresses.append(CustomerAddress(line1="Kade 1", city="Leiden", country="NL"))

    def add_interactions(count):
        start = utcnow() - timedelta(days=100)
        db.session.add_all(
            Interaction(
                customer_id=customer.id,
                kind=("phone", "email", "note")[n % 3],
                subject=f"Contact {n}",
                body="Talked about *things*.",
                staff_id=staff.id,
                follow_up_on=date.today() if n % 7 == 0 else None,
                occurred_at=start + timedelta(minutes=n),
            )
            for n in range(count)
        )
        db.session.flush()

    def statements_for_page():
        url = f"/customers/{customer.id}"
        admin_portal.get(url)  # warm up
        with counted_statements() as statements:
            assert admin_portal.get(url).status_code == 200
        return len(statements)

    add_interactions(300)
    many = statements_for_page()
    add_interactions(300)
    assert statements_for_page() == many <= 25


def test_interaction_bodies_render_as_sanitised_markdown(admin_portal, db):
    customer = CustomerFactory()
    InteractionFactory(
        customer=customer,
        body="**Agreed** on a [discount](https://shop.example/d) <script>alert(1)</script>"
        ' [x](javascript:alert(2))\n\n<img src=x onerror="alert(3)">',
    )
    html = admin_portal.get(f"/customers/{customer.id}").text
    assert "<strong>Agreed</strong>" in html
    assert '<a href="https://shop.example/d" rel="noopener noreferrer nofollow">discount</a>' in html
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html
    assert 'href="javascript:' not in html and "<img" not in html


# --- Logging interactions -------------------------------------------------------------


def test_the_customer_page_offers_the_interaction_form_with_now_in_the_viewers_time_zone(portal, db):
    signed_in(portal, "sales", timezone="Asia/Tokyo")
    customer = CustomerFactory()
    html = portal.get(f"/customers/{customer.id}").text
    now_in_tokyo = datetime.now(UTC).astimezone(ZoneInfo("Asia/Tokyo"))
    assert re.search(
        r'<input[^>]*id="occurred_at"[^>]*type="datetime-local"[^>]*value="'
        + now_in_tokyo.strftime("%Y-%m-%dT"),
        html,
    )
    assert re.search(r'<input[^>]*id="follow_up_on"[^>]*type="date"', html)
    assert re.search(r'<textarea[^>]*id="body"[^>]*name="body"', html) and '<label for="body">' in html
    assert f'hx-post="/customers/{customer.id}/interactions"' in html


def test_logging_an_interaction_with_htmx_returns_the_refreshed_timeline(portal, db):
    user = signed_in(portal, "support")
    customer = CustomerFactory(first_name="Anna", last_name="Bakker")
    response = portal.post(
        f"/customers/{customer.id}/interactions",
        data=interaction_data(),
        headers={**HTMX, "HX-Target": "timeline"},
    )
    assert response.status_code == 200, response.text
    html = response.text
    assert html.lstrip().startswith('<section id="timeline"') and "<html" not in html
    assert "Logged the phone call with Anna Bakker." in html
    assert "Asked about the invoice" in html and "<strong>credit note</strong>" in html
    # A fresh form replaces the one that was sent.
    assert re.search(r'<section id="log-interaction"[^>]*hx-swap-oob="true"', html)
    assert 'value="Asked about the invoice"' not in html
    interaction = db.session.scalar(select(Interaction).where(Interaction.customer_id == customer.id))
    assert (interaction.kind, interaction.staff_id, interaction.duration_minutes) == ("phone", user.id, 12)
    assert interaction.outcome == "Resolved"


def test_logging_without_htmx_redirects_to_the_timeline_with_a_flash(portal, db):
    signed_in(portal, "sales")
    customer = CustomerFactory(first_name="Anna", last_name="Bakker")
    response = portal.post(f"/customers/{customer.id}/interactions", data=interaction_data(kind="note"))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/customers/{customer.id}#timeline"
    assert "Logged the note with Anna Bakker." in flashes(portal.get(response.headers["Location"]).text)


def test_an_invalid_interaction_re_renders_the_form_with_422_keeping_input(portal, db):
    signed_in(portal, "sales")
    customer = CustomerFactory()
    future = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    data = interaction_data(subject="Typed subject", occurred_at=future)
    response = portal.post(f"/customers/{customer.id}/interactions", data=data, headers=HTMX)
    assert response.status_code == 422
    assert (
        response.headers["HX-Retarget"] == "#log-interaction" and response.headers["HX-Reswap"] == "outerHTML"
    )
    html = response.text
    assert html.lstrip().startswith('<section id="log-interaction"') and "<html" not in html
    assert 'id="occurred_at-error">An interaction cannot be in the future' in html
    assert 'value="Typed subject"' in html and "credit note" in html
    # Without HTMX: the whole page, with the same errors.
    page = portal.post(f"/customers/{customer.id}/interactions", data=data)
    assert page.status_code == 422 and "<html" in page.text and 'value="Typed subject"' in page.text
    assert db.session.scalar(select(Interaction).where(Interaction.customer_id == customer.id)) is None


def test_an_empty_interaction_is_refused_with_the_services_message(portal, db):
    signed_in(portal, "sales")
    customer = CustomerFactory()
    response = portal.post(
        f"/customers/{customer.id}/interactions", data=interaction_data(subject="", body=""), headers=HTMX
    )
    assert response.status_code == 422
    assert "Give a subject or write what happened." in response.text


def test_occurred_at_is_read_in_the_viewers_time_zone(portal, db):
    signed_in(portal, "sales", timezone="Europe/Amsterdam")
    customer = CustomerFactory()
    portal.post(
        f"/customers/{customer.id}/interactions", data=interaction_data(occurred_at="2026-01-15T09:30")
    )
    interaction = db.session.scalar(select(Interaction).where(Interaction.customer_id == customer.id))
    assert interaction.occurred_at == datetime(2026, 1, 15, 8, 30, tzinfo=UTC)


# --- Follow-ups on the dashboard ------------------------------------------------------


def test_a_follow_up_logged_with_htmx_appears_on_the_dashboard_and_can_be_marked_done(portal, db):
    signed_in(portal, "sales")
    customer = CustomerFactory(first_name="Anna", last_name="Bakker")
    today = datetime.now(UTC).date().isoformat()
    data = interaction_data(subject="Send the catalogue", follow_up_on=today)
    response = portal.post(f"/customers/{customer.id}/interactions", data=data, headers=HTMX)
    assert response.status_code == 200
    dashboard = portal.get("/").text
    assert "Follow-ups due" in dashboard
    assert f'href="/customers/{customer.id}#timeline">Anna Bakker</a>' in dashboard
    assert "Send the catalogue" in dashboard
    interaction = db.session.scalar(select(Interaction).where(Interaction.customer_id == customer.id))
    done = portal.post(f"/customers/follow-ups/{interaction.id}/done", data={"next": "dashboard"})
    assert done.status_code == 302 and done.headers["Location"] == "/"
    dashboard = portal.get("/").text
    assert "The follow-up with Anna Bakker is done." in dashboard
    assert "Send the catalogue" not in dashboard and "No follow-ups due." in dashboard
    assert interaction.follow_up_done_at is not None


def test_follow_ups_of_others_and_later_ones_are_not_on_my_dashboard(portal, db):
    me = signed_in(portal, "sales")
    someone_else = UserFactory(roles=["sales"])
    yesterday = utcnow() - timedelta(days=1)
    InteractionFactory(
        staff_id=someone_else.id, subject="Their follow-up", follow_up_on=date.today(), occurred_at=yesterday
    )
    InteractionFactory(
        staff_id=me.id,
        subject="Next week",
        follow_up_on=date.today() + timedelta(days=7),
        occurred_at=yesterday,
    )
    InteractionFactory(
        staff_id=me.id,
        subject="Overdue one",
        follow_up_on=date.today() - timedelta(days=3),
        occurred_at=yesterday,
    )
    html = portal.get("/").text
    assert "Overdue one" in html and "Overdue since" in html
    assert "Their follow-up" not in html and "Next week" not in html


def test_a_follow_up_can_be_marked_done_from_the_timeline(portal, db):
    signed_in(portal, "support")
    interaction = InteractionFactory(follow_up_on=date.today(), occurred_at=utcnow() - timedelta(hours=2))
    html = portal.get(f"/customers/{interaction.customer_id}").text
    assert f'action="/customers/follow-ups/{interaction.id}/done"' in html
    response = portal.post(f"/customers/follow-ups/{interaction.id}/done", data={"next": "customer"})
    assert response.headers["Location"] == f"/customers/{interaction.customer_id}#timeline"
    assert "Follow-up done" in portal.get(response.headers["Location"]).text


def test_the_dashboard_has_no_follow_up_list_for_who_cannot_read_customers(portal, db):
    create_role(name="bookkeeping", description="", actor=None)
    signed_in(portal, "bookkeeping")
    assert "Follow-ups due" not in portal.get("/").text


def test_marking_an_unknown_follow_up_done_is_404(admin_portal, db):
    assert admin_portal.post("/customers/follow-ups/999999/done").status_code == 404
