"""Delivery issues: resolving one (a note required, audited, on the order's timeline), the
portal list (open first, filters, pagination) with its resolve action, the dashboard panel,
and the staff API."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.blueprints.fulfilment import delivery_issues
from app.blueprints.fulfilment.models import DeliveryIssue
from app.blueprints.orders.order_models import Order, OrderEvent
from app.core.errors import Conflict, InvalidInput
from app.core.models import AuditEntry
from app.core.timeutil import utcnow
from app.core.transaction import transaction
from app.extensions import db as database
from tests.catalog.views_support import flashes, htmx, role_with, signed_in
from tests.factories.auth import UserFactory, make_token
from tests.fulfilment.test_tracking import report, shipped_order
from tests.orders.checkout_helpers import make_shop

ADMIN = "/api/v1/admin"
PROBLEM = "application/problem+json"
LIST = "/delivery-issues"


@pytest.fixture
def shop(db):
    return make_shop()


@pytest.fixture
def shipper(portal, db):
    user = signed_in(portal, role_with("shipper", "orders.read", "fulfilment.read", "fulfilment.ship"))
    portal.user = user
    return portal


@pytest.fixture
def reader(portal, db):
    signed_in(portal, role_with("reader", "orders.read", "fulfilment.read"))
    return portal


def issue_for(shop, description="Address unknown", *, days_ago=0):
    """An order whose one parcel the carrier reported a problem with: its open issue."""
    _order, (shipment,) = shipped_order(shop)
    report(shipment, "exception", hours=1, description=description)
    issue = database.session.scalar(select(DeliveryIssue).where(DeliveryIssue.shipment_id == shipment.id))
    if days_ago:
        issue.created_at = utcnow() - timedelta(days=days_ago)
        database.session.flush()
    return issue


def resolve(issue, staff, resolution="Re-sent with the right address"):
    with transaction():
        locked = delivery_issues.issue_by_id(issue.id, for_update=True)
        delivery_issues.resolve_issue(locked, actor=staff, resolution=resolution)
    database.session.refresh(issue)
    return issue


def headers_with(*scopes) -> dict:
    return {"Authorization": f"Bearer {make_token(UserFactory(roles=['admin']), list(scopes))}"}


def issue_rows(page: str) -> list[str]:
    return re.findall(r'<tr id="issue-(\d+)">', page)


# ---- the service ----------------------------------------------------------------------------------


def test_resolving_an_issue_records_who_and_what_was_done_on_the_timeline_and_in_the_audit_log(shop):
    staff = UserFactory()
    issue = issue_for(shop)

    resolve(issue, staff, "Called the customer; re-sent to the neighbour")

    assert (issue.status, issue.resolved_by_id) == ("resolved", staff.id)
    assert issue.resolution == "Called the customer; re-sent to the neighbour" and issue.resolved_at
    timeline = database.session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == issue.order_id, OrderEvent.kind == "delivery_issue")
    ).all()
    assert [e.data["action"] for e in timeline] == ["opened", "resolved"]
    assert timeline[-1].actor_id == staff.id and "re-sent to the neighbour" in timeline[-1].note
    audit = database.session.scalar(select(AuditEntry).where(AuditEntry.action == "delivery_issue.resolved"))
    assert audit.actor_id == staff.id and audit.target_id == str(issue.id)


@pytest.mark.parametrize("resolution", ["", "   ", "x" * 2001])
def test_an_issue_is_resolved_only_with_a_note_saying_what_was_done(shop, resolution):
    issue = issue_for(shop)

    with pytest.raises(InvalidInput) as refused:
        resolve(issue, UserFactory(), resolution)

    assert "resolution" in refused.value.errors and issue.status == "open"


def test_a_resolved_issue_cannot_be_resolved_again(shop):
    issue = resolve(issue_for(shop), UserFactory())

    with pytest.raises(Conflict) as refused:
        resolve(issue, UserFactory(), "Again")

    assert refused.value.code == "delivery_issue_resolved"


# ---- the portal list ---------------------------------------------------------------------------------


def test_the_list_shows_open_issues_first_then_the_newest(shop, reader):
    old_open = issue_for(shop, "Old and open", days_ago=5)
    resolved = resolve(issue_for(shop, "Sorted out", days_ago=1), UserFactory())
    new_open = issue_for(shop, "New and open")

    page = reader.get(LIST).text

    assert issue_rows(page) == [str(new_open.id), str(old_open.id), str(resolved.id)]
    assert "Re-sent with the right address" in page
    assert "Resolve…" not in page  # a reader may not resolve


def test_the_list_filters_by_status_date_and_order(shop, reader):
    old_open = issue_for(shop, days_ago=5)
    resolved = resolve(issue_for(shop), UserFactory())
    new_open = issue_for(shop)
    today = utcnow().date().isoformat()

    assert issue_rows(reader.get(f"{LIST}?status=open").text) == [str(new_open.id), str(old_open.id)]
    assert issue_rows(reader.get(f"{LIST}?status=resolved").text) == [str(resolved.id)]
    assert issue_rows(reader.get(f"{LIST}?created_from={today}").text) == [str(new_open.id), str(resolved.id)]
    old_day = (utcnow() - timedelta(days=5)).date().isoformat()
    assert issue_rows(reader.get(f"{LIST}?created_to={old_day}").text) == [str(old_open.id)]
    order_number = database.session.get(Order, resolved.order_id).number
    assert issue_rows(reader.get(f"{LIST}?order={order_number}").text) == [str(resolved.id)]


def test_bad_filters_are_shown_as_field_errors_with_a_422(shop, reader):
    response = reader.get(f"{LIST}?created_from=2026-03-05&created_to=2026-03-01&status=lost")

    assert response.status_code == 422
    assert "Must not be before the first day." in response.text and "Not a valid choice" in response.text


def test_the_list_is_paginated_keeping_its_filters(shop, reader):
    _order, (shipment,) = shipped_order(shop)
    database.session.add_all(
        DeliveryIssue(order_id=shipment.order_id, shipment_id=shipment.id, status="resolved", summary=f"#{n}")
        for n in range(27)
    )
    database.session.flush()

    first = reader.get(f"{LIST}?status=resolved").text
    second = reader.get(f"{LIST}?status=resolved&page=2").text

    assert len(issue_rows(first)) == 25 and len(issue_rows(second)) == 2
    assert "/delivery-issues?status=resolved&amp;page=2" in first


def test_an_htmx_filter_change_answers_only_the_results(shop, reader):
    issue_for(shop)

    response = reader.get(f"{LIST}?status=open", headers=htmx("issue-results"))

    assert response.status_code == 200 and response.text.lstrip().startswith('<div id="issue-results"')
    assert "HX-Request" in response.headers["Vary"]


def test_support_resolves_an_issue_from_the_list_and_returns_to_the_same_filters(shop, shipper):
    issue = issue_for(shop)

    response = shipper.post(
        f"{LIST}/{issue.id}/resolve", data={"resolution": "Parcel re-sent", "back": "status=open&evil=1"}
    )

    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/delivery-issues?status=open"
    )
    database.session.refresh(issue)
    assert (issue.status, issue.resolved_by_id) == ("resolved", shipper.user.id)
    page = shipper.get(response.headers["Location"]).text
    assert any("Resolved the delivery issue of shipment" in message for message in flashes(page))


def test_resolving_without_a_note_shows_the_list_again_with_the_error_and_the_form_open(shop, shipper):
    issue = issue_for(shop)

    response = shipper.post(f"{LIST}/{issue.id}/resolve", data={"resolution": "  ", "back": "status=open"})

    assert response.status_code == 422
    assert f'id="resolution-{issue.id}-error"' in response.text
    database.session.refresh(issue)
    assert issue.status == "open"


def test_resolving_twice_says_so_without_an_error_page(shop, shipper):
    issue = resolve(issue_for(shop), UserFactory())

    response = shipper.post(f"{LIST}/{issue.id}/resolve", data={"resolution": "Again"})

    assert response.status_code == 302
    assert "This delivery issue is resolved already." in flashes(shipper.get(LIST).text)


def test_the_list_needs_fulfilment_read_and_resolving_fulfilment_ship(shop, portal):
    issue = issue_for(shop)
    signed_in(portal, role_with("orders only", "orders.read"))

    assert portal.get(LIST).status_code == 403
    assert portal.post(f"{LIST}/{issue.id}/resolve", data={"resolution": "x"}).status_code == 403


def test_the_list_is_in_the_navigation_for_who_may_read_it(shop, reader):
    assert 'href="/delivery-issues"' in reader.get("/").text


# ---- the dashboard panel --------------------------------------------------------------------------------


def test_the_dashboard_shows_how_many_delivery_issues_are_open_and_the_oldest(shop, reader):
    issue_for(shop, "Parcel damaged", days_ago=3)
    issue_for(shop, "Address unknown")
    resolve(issue_for(shop, "Already handled"), UserFactory())

    panel = reader.get("/").text.split('id="delivery-issues-heading"')[1].split("</section>")[0]

    assert re.search(r">2</span> parcels need attention", panel)
    assert panel.index("Parcel damaged") < panel.index("Address unknown")
    assert "Already handled" not in panel
    assert 'href="/delivery-issues?status=open"' in panel


def test_the_dashboard_panel_says_when_nothing_is_wrong(shop, portal):
    signed_in(portal, role_with("fulfilment reader", "fulfilment.read"))
    assert "No delivery issues" in portal.get("/").text


def test_the_dashboard_panel_is_hidden_without_fulfilment_read(shop, portal):
    signed_in(portal, role_with("orders reader", "orders.read"))
    assert 'id="delivery-issues-heading"' not in portal.get("/").text


# ---- the staff API -----------------------------------------------------------------------------------------


def test_the_api_lists_issues_open_first_with_their_shipment_and_order(client, shop):
    resolved = resolve(issue_for(shop, days_ago=1), UserFactory())
    open_issue = issue_for(shop, "Address unknown")

    response = client.get(f"{ADMIN}/delivery-issues", headers=headers_with("fulfilment.read"))

    assert response.status_code == 200
    body = response.get_json()
    assert [item["id"] for item in body] == [open_issue.id, resolved.id]
    first = body[0]
    assert (first["status"], first["summary"], first["shipment_status"]) == (
        "open",
        "Address unknown",
        "exception",
    )
    assert first["shipment_number"].startswith(first["order_number"] + "-")
    assert first["created_at"].endswith("+00:00") and first["resolved_by"] is None
    assert body[1]["resolved_by"] and body[1]["resolution"] == "Re-sent with the right address"
    assert json.loads(response.headers["X-Pagination"])["total"] == 2


def test_the_api_filters_issues(client, shop):
    issue_for(shop)
    resolved = resolve(issue_for(shop), UserFactory())

    response = client.get(f"{ADMIN}/delivery-issues?status=resolved", headers=headers_with("fulfilment.read"))

    assert [item["id"] for item in response.get_json()] == [resolved.id]


@pytest.mark.parametrize(
    "query",
    ["status=lost", "created_from=yesterday", "created_from=2026-03-05&created_to=2026-03-01"],
)
def test_a_bad_filter_is_a_422(client, db, query):
    response = client.get(f"{ADMIN}/delivery-issues?{query}", headers=headers_with("fulfilment.read"))

    assert response.status_code == 422 and response.mimetype == PROBLEM and response.get_json()["errors"]


def test_the_api_resolves_an_issue_once(client, shop):
    issue = issue_for(shop)
    headers = headers_with("fulfilment.ship")
    url = f"{ADMIN}/delivery-issues/{issue.id}/resolve"

    first = client.post(url, json={"resolution": "Refunded the customer"}, headers=headers)
    again = client.post(url, json={"resolution": "Again"}, headers=headers)

    assert first.status_code == 200, first.text
    assert (first.get_json()["status"], first.get_json()["resolution"]) == (
        "resolved",
        "Refunded the customer",
    )
    assert again.status_code == 409 and again.get_json()["code"] == "delivery_issue_resolved"
    one = client.get(f"{ADMIN}/delivery-issues/{issue.id}", headers=headers_with("fulfilment.read"))
    assert one.get_json()["status"] == "resolved"


@pytest.mark.parametrize("body", [{}, {"resolution": ""}, {"resolution": "   "}, {"resolution": "x" * 2001}])
def test_resolving_through_the_api_needs_a_resolution(client, shop, body):
    issue = issue_for(shop)

    response = client.post(
        f"{ADMIN}/delivery-issues/{issue.id}/resolve", json=body, headers=headers_with("fulfilment.ship")
    )

    assert response.status_code == 422 and "resolution" in response.get_json()["errors"]


def test_an_unknown_issue_is_a_404(client, db):
    headers = headers_with("fulfilment.read", "fulfilment.ship")

    assert client.get(f"{ADMIN}/delivery-issues/999999", headers=headers).status_code == 404
    missing = client.post(
        f"{ADMIN}/delivery-issues/999999/resolve", json={"resolution": "x"}, headers=headers
    )
    assert missing.status_code == 404 and missing.get_json()["code"] == "delivery_issue_not_found"


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("get", "/delivery-issues", "fulfilment.read"),
        ("get", "/delivery-issues/{id}", "fulfilment.read"),
        ("post", "/delivery-issues/{id}/resolve", "fulfilment.ship"),
    ],
)
def test_the_issue_api_needs_a_token_with_its_scope(client, shop, method, path, scope):
    url = ADMIN + path.replace("{id}", str(issue_for(shop).id))
    others = [s for s in ("fulfilment.read", "fulfilment.ship", "orders.read") if s != scope]

    anonymous = getattr(client, method)(url, json={"resolution": "x"})
    without = getattr(client, method)(url, json={"resolution": "x"}, headers=headers_with(*others))

    assert anonymous.status_code == 401
    assert without.status_code == 403 and scope in without.get_json()["detail"]


def test_the_tracking_and_issue_endpoints_are_in_the_openapi_document_with_their_permission(client, db):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]

    events = paths["/api/v1/admin/shipments/{shipment_number}/tracking-events"]
    assert (
        "[fulfilment.read]" in events["get"]["summary"] and "[fulfilment.ship]" in events["post"]["summary"]
    )
    assert {"201", "404", "409", "422"} <= set(events["post"]["responses"])
    assert "[fulfilment.read]" in paths["/api/v1/admin/delivery-issues"]["get"]["summary"]
    assert "[fulfilment.read]" in paths["/api/v1/admin/delivery-issues/{issue_id}"]["get"]["summary"]
    resolve = paths["/api/v1/admin/delivery-issues/{issue_id}/resolve"]["post"]
    assert "[fulfilment.ship]" in resolve["summary"] and {"200", "404", "409", "422"} <= set(
        resolve["responses"]
    )
