"""The returns pages of the portal: the queue (needing action by default, filters in the
URL, search, pagination), the return page with the steps its state allows (forms that
keep what was typed, refusals as flashes), the order page's "Returns" section with
"Open a return…", and who may do what (sales read, support manage)."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.blueprints.fulfilment import return_views
from app.blueprints.fulfilment.models import ReturnRequest
from app.blueprints.inventory.models import StockLevel
from app.core.models import AuditEntry
from app.core.transaction import transaction
from app.extensions import db
from tests.catalog.views_support import field_error, flashes, htmx, input_value, role_with, signed_in
from tests.factories.catalog import LocationFactory
from tests.fulfilment.return_helpers import Staff, delivered_order, open_return, return_in_state
from tests.orders.checkout_helpers import make_shop

STAFF = Staff()
READ, MANAGE = "fulfilment.read", "returns.manage"


@pytest.fixture
def shop(db):
    return make_shop()


@pytest.fixture
def support(portal, db):
    """Support: fulfilment.read and returns.manage (and orders.read)."""
    signed_in(portal, "support")
    return portal


@pytest.fixture
def sales(portal, db):
    """Sales: fulfilment.read (and orders.read), not returns.manage."""
    signed_in(portal, "sales")
    return portal


def listed(page: str) -> list[str]:
    return re.findall(r'<a href="/returns/(R[\d-]+)">', page)


def reload(ret) -> ReturnRequest:
    db.session.expire_all()
    return db.session.get(ReturnRequest, ret.id)


# ---- access --------------------------------------------------------------------------------

EXPECTED_PERMISSIONS = {
    "fulfilment.returns": READ,
    "fulfilment.return_page": READ,
    "fulfilment.approve_return": MANAGE,
    "fulfilment.reject_return": MANAGE,
    "fulfilment.receive_return": MANAGE,
    "fulfilment.close_return": MANAGE,
    "fulfilment.new_return": MANAGE,
    "fulfilment.open_return": MANAGE,
}


def test_every_returns_page_declares_its_permission(app):
    declared = {
        rule.endpoint: app.view_functions[rule.endpoint].required_permission
        for rule in app.url_map.iter_rules()
        if app.view_functions[rule.endpoint].__module__ == return_views.__name__
    }
    assert declared == EXPECTED_PERMISSIONS


def test_returns_are_in_the_sidebar_for_who_may_see_them(portal, db):
    signed_in(portal, "sales")
    assert 'href="/returns"' in portal.get("/").text
    other = type(portal)(portal.client.application.test_client())
    signed_in(other, role_with("Catalog only", "catalog.read"))
    assert 'href="/returns"' not in other.get("/").text
    assert other.get("/returns").status_code == 403


def test_sales_see_returns_but_cannot_act_on_them(sales, shop):
    order = delivered_order(shop, [(shop.cup, 2)], staff=STAFF)
    ret = open_return(order, {order.lines[0].id: 1}, actor=STAFF)

    page = sales.get(f"/returns/{ret.number}")
    assert page.status_code == 200 and "Approve return" not in page.text and "Reject…" not in page.text
    for step in ("approve", "reject", "receive", "close"):
        assert (
            sales.post(f"/returns/{ret.number}/{step}", data={"reason": "x", "note": "x"}).status_code == 403
        )
    assert sales.get(f"/orders/{order.number}/returns/new").status_code == 403
    assert sales.post(f"/orders/{order.number}/returns", data={}).status_code == 403
    assert reload(ret).status == "requested"
    order_page = sales.get(f"/orders/{order.number}").text
    assert 'id="returns"' in order_page and ret.number in order_page and "Open a return…" not in order_page


# ---- the queue -----------------------------------------------------------------------------


def test_the_queue_shows_returns_needing_action_newest_first_by_default(support, shop):
    order = delivered_order(shop, [(shop.cup, 6)], staff=STAFF)
    requested = open_return(order, {order.lines[0].id: 1}, actor=STAFF)
    approved = return_in_state(order, "approved", actor=STAFF, location=shop.location)
    rejected = return_in_state(order, "rejected", actor=STAFF, location=shop.location)
    received = return_in_state(order, "received", actor=STAFF, location=shop.location)
    with transaction():
        db.session.get(ReturnRequest, requested.id).requested_at -= timedelta(days=1)

    page = support.get("/returns")

    assert page.status_code == 200 and "<h1>Returns</h1>" in page.text
    assert listed(page.text) == [approved.number, requested.number]
    everything = listed(support.get("/returns?status=all").text)
    assert everything == [received.number, rejected.number, approved.number, requested.number]
    assert listed(support.get("/returns?status=rejected").text) == [rejected.number]


def test_the_queue_searches_and_filters(support, shop):
    adas = delivered_order(shop, [(shop.cup, 2)], staff=STAFF, email="ada@example.org")
    bobs = delivered_order(shop, [(shop.cup, 2)], staff=STAFF, email="bob@example.org")
    ada_return = open_return(adas, {adas.lines[0].id: 1}, actor=STAFF, reason="damaged")
    bob_return = open_return(bobs, {bobs.lines[0].id: 1}, actor=STAFF, reason="changed_mind")

    assert listed(support.get("/returns?q=bob@").text) == [bob_return.number]
    assert listed(support.get(f"/returns?q={adas.number}").text) == [ada_return.number]
    assert listed(support.get(f"/returns?q={bob_return.number}").text) == [bob_return.number]
    assert listed(support.get("/returns?reason=damaged").text) == [ada_return.number]
    today = ada_return.requested_at.date()
    assert len(listed(support.get(f"/returns?requested_from={today}&requested_to={today}").text)) == 2
    assert listed(support.get(f"/returns?requested_from={today + timedelta(days=1)}").text) == []


def test_a_bad_date_range_is_a_field_error_keeping_the_filters(support, db):
    response = support.get("/returns?requested_from=2026-05-02&requested_to=2026-05-01&q=ada")
    assert response.status_code == 422
    assert "Comes before" in field_error(response.text, "requested_to")
    assert input_value(response.text, "q") == "ada"


def test_the_queue_is_paginated_keeping_its_filters(support, shop):
    order = delivered_order(shop, [(shop.cup, 30)], staff=STAFF)
    for _ in range(27):
        open_return(order, {order.lines[0].id: 1}, actor=STAFF)

    first = support.get("/returns?reason=damaged")
    assert len(listed(first.text)) == 25
    assert "/returns?reason=damaged&amp;page=2" in first.text
    assert len(listed(support.get("/returns?reason=damaged&page=2").text)) == 2


def test_an_htmx_filter_swaps_only_the_results(support, shop):
    order = delivered_order(shop, [(shop.cup, 1)], staff=STAFF)
    ret = open_return(order, {order.lines[0].id: 1}, actor=STAFF)
    response = support.get("/returns?status=all", headers=htmx("return-results"))
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    assert response.text.lstrip().startswith('<div id="return-results"') and ret.number in response.text
    assert "<html" not in response.text


# ---- the return page and its steps ---------------------------------------------------------


def test_approving_from_the_return_page(support, shop):
    order = delivered_order(shop, [(shop.cup, 2)], staff=STAFF)
    ret = open_return(order, {order.lines[0].id: 2}, actor=STAFF, note="Handle came off", staff=True)

    page = support.get(f"/returns/{ret.number}").text
    assert f"Return {ret.number}" in page and "Handle came off" in page and "Approve return" in page
    response = support.post(f"/returns/{ret.number}/approve", data={"note": "Label mailed"})

    assert response.status_code == 302 and response.headers["Location"].endswith(f"/returns/{ret.number}")
    assert reload(ret).status == "approved"
    after = support.get(f"/returns/{ret.number}").text
    assert any("is approved" in message for message in flashes(after))
    assert "Label mailed" in after  # in the history
    assert db.session.scalars(select(AuditEntry).where(AuditEntry.action == "return.approved")).one()


def test_rejecting_without_a_reason_keeps_the_form_open_with_the_error(support, shop):
    order = delivered_order(shop, [(shop.cup, 1)], staff=STAFF)
    ret = open_return(order, {order.lines[0].id: 1}, actor=STAFF)

    response = support.post(f"/returns/{ret.number}/reject", data={"reason": ""})

    assert response.status_code == 422
    assert "Say why" in field_error(response.text, "reason")
    assert reload(ret).status == "requested"
    assert 'data-confirm="Reject return' in response.text
    done = support.post(f"/returns/{ret.number}/reject", data={"reason": "Worn twice"})
    assert done.status_code == 302 and reload(ret).status == "rejected"


def test_a_step_the_state_no_longer_allows_is_a_flash(support, shop):
    order = delivered_order(shop, [(shop.cup, 1)], staff=STAFF)
    ret = return_in_state(order, "approved", actor=STAFF, location=shop.location)

    response = support.post(f"/returns/{ret.number}/approve", data={}, follow_redirects=True)

    assert response.status_code == 200
    assert any(
        message.startswith("Not done: A return that is approved cannot become approved")
        for message in flashes(response.text)
    )


def test_receiving_restocks_at_the_chosen_location(support, shop):
    order = delivered_order(shop, [(shop.cup, 3)], staff=STAFF)
    ret = return_in_state(
        order, "approved", actor=STAFF, location=shop.location, lines={order.lines[0].id: 3}
    )
    desk = LocationFactory(code="RD", name="Returns desk")
    line_id = order.lines[0].id

    page = support.get(f"/returns/{ret.number}").text
    assert "Receive return" in page and "Returns desk (RD)" in page
    assert input_value(page, "lines-0-restock") == "3"
    response = support.post(
        f"/returns/{ret.number}/receive",
        data={
            "location_id": str(desk.id),
            "lines-0-order_line_id": str(line_id),
            "lines-0-restock": "2",
            "lines-0-write_off": "1",
            "lines-0-write_off_reason": "Chipped rim",
        },
    )

    assert response.status_code == 302
    received = reload(ret)
    assert received.status == "received" and received.restock_location_id == desk.id
    assert (received.lines[0].restocked_quantity, received.lines[0].write_off_reason) == (2, "Chipped rim")
    assert db.session.get(StockLevel, (shop.cup.id, desk.id)).on_hand == 2


def test_an_inspection_that_does_not_add_up_comes_back_with_what_was_typed(support, shop):
    order = delivered_order(shop, [(shop.cup, 3)], staff=STAFF)
    ret = return_in_state(
        order, "approved", actor=STAFF, location=shop.location, lines={order.lines[0].id: 3}
    )

    response = support.post(
        f"/returns/{ret.number}/receive",
        data={
            "location_id": str(shop.location.id),
            "lines-0-order_line_id": str(order.lines[0].id),
            "lines-0-restock": "1",
            "lines-0-write_off": "1",
            "lines-0-write_off_reason": "",
        },
    )

    assert response.status_code == 422
    assert "must add up to the 3 returned" in field_error(response.text, "lines-0-restock")
    assert "Say why" in field_error(response.text, "lines-0-write_off_reason")
    assert (
        input_value(response.text, "lines-0-restock"),
        input_value(response.text, "lines-0-write_off"),
    ) == ("1", "1")
    assert reload(ret).status == "approved"
    garbled = support.post(
        f"/returns/{ret.number}/receive",
        data={
            "location_id": str(shop.location.id),
            "lines-0-order_line_id": str(order.lines[0].id),
            "lines-0-restock": "three",
        },
    )
    assert garbled.status_code == 422 and input_value(garbled.text, "lines-0-restock") == "three"


def test_closing_an_approved_return_whose_goods_never_came(support, shop):
    order = delivered_order(shop, [(shop.cup, 1)], staff=STAFF)
    ret = return_in_state(order, "approved", actor=STAFF, location=shop.location)

    page = support.get(f"/returns/{ret.number}").text
    assert "The goods never came back" in html.unescape(page)
    assert support.post(f"/returns/{ret.number}/close", data={"note": ""}).status_code == 422
    assert (
        support.post(f"/returns/{ret.number}/close", data={"note": "No parcel after 6 weeks"}).status_code
        == 302
    )
    assert reload(ret).status == "closed"


def test_a_received_return_links_to_the_refund_dialog_when_there_is_one(app, admin_portal, shop):
    order = delivered_order(shop, [(shop.cup, 1)], staff=STAFF)
    ret = return_in_state(order, "received", actor=STAFF, location=shop.location)

    page = admin_portal.get(f"/returns/{ret.number}").text

    if return_views.REFUND_DIALOG in app.view_functions:
        assert f"return={ret.number}" in page and "Refund for this return…" in page
    else:
        assert "Refund for this return" not in page


def test_an_unknown_return_is_a_404(support, db):
    assert support.get("/returns/R1-1").status_code == 404
    assert support.post("/returns/R1-1/approve", data={}).status_code == 404


# ---- the order page and opening a return ---------------------------------------------------


def test_the_order_page_lists_its_returns_and_offers_to_open_one(support, shop):
    order = delivered_order(shop, [(shop.teapot, 1), (shop.cup, 2)], staff=STAFF)
    ret = open_return(order, {order.lines[1].id: 1}, actor=STAFF)

    page = support.get(f"/orders/{order.number}").text

    assert 'id="returns"' in page and f'href="/returns/{ret.number}"' in page
    assert "Open a return…" in page and 'id="return-lines-0-quantity"' in page
    assert f'action="/orders/{order.number}/returns"' in page


def test_opening_a_return_from_the_portal(support, shop):
    order = delivered_order(shop, [(shop.teapot, 1), (shop.cup, 2)], staff=STAFF)
    assert support.get(f"/orders/{order.number}/returns/new").status_code == 200

    response = support.post(
        f"/orders/{order.number}/returns",
        data={
            "return-lines-0-order_line_id": str(order.lines[0].id),
            "return-lines-0-quantity": "0",
            "return-lines-1-order_line_id": str(order.lines[1].id),
            "return-lines-1-quantity": "2",
            "return-reason": "wrong_item",
            "return-note": "Customer phoned",
        },
    )

    assert response.status_code == 302
    ret = db.session.scalars(select(ReturnRequest)).one()
    assert response.headers["Location"].endswith(f"/returns/{ret.number}")
    assert (ret.reason, ret.staff_note, ret.opened_by_id is not None) == (
        "wrong_item",
        "Customer phoned",
        True,
    )
    assert [(line.order_line_id, line.quantity) for line in ret.lines] == [(order.lines[1].id, 2)]


def test_opening_a_return_with_errors_keeps_what_was_typed(support, shop):
    order = delivered_order(shop, [(shop.cup, 2)], staff=STAFF)
    line = str(order.lines[0].id)

    nothing = support.post(
        f"/orders/{order.number}/returns",
        data={
            "return-lines-0-order_line_id": line,
            "return-lines-0-quantity": "0",
            "return-reason": "damaged",
            "return-note": "Box",
        },
    )
    assert nothing.status_code == 422 and "Choose at least one item" in nothing.text
    assert "Box" in nothing.text

    too_many = support.post(
        f"/orders/{order.number}/returns",
        data={"return-lines-0-order_line_id": line, "return-lines-0-quantity": "5", "return-reason": ""},
    )
    assert too_many.status_code == 422
    assert "Choose a reason" in field_error(too_many.text, "return-reason")
    assert input_value(too_many.text, "return-lines-0-quantity") == "5"

    over = support.post(
        f"/orders/{order.number}/returns",
        data={
            "return-lines-0-order_line_id": line,
            "return-lines-0-quantity": "5",
            "return-reason": "damaged",
        },
    )
    assert over.status_code == 422 and "At most 2 can be returned" in field_error(
        over.text, "return-lines-0-quantity"
    )
    assert db.session.scalars(select(ReturnRequest)).all() == []
