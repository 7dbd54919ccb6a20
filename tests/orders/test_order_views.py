"""The staff order pages: the list (search, filters in the URL, sorting, CSV export of the
filter, saved views), the order page (facts, lines, totals, payments, timeline), notes,
and the actions a state allows, each shown and allowed only with its permission."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.blueprints.orders import order_page_views, order_queries, order_views, phone_order_views
from app.blueprints.orders.order_models import Order, OrderEvent, SavedOrderView
from app.blueprints.orders.payment_models import PaymentTransaction
from app.core.models import AuditEntry
from app.core.timeutil import utcnow
from app.extensions import db
from tests.catalog.views_support import flashes, htmx, role_with, signed_in
from tests.conftest import Portal
from tests.factories.customers import CustomerFactory
from tests.fulfilment.shipment_helpers import Staff, ship_everything
from tests.orders.checkout_helpers import make_shop, place_order_directly

LIST = "/orders"
READ, MANAGE, PAYMENTS, REFUND = "orders.read", "orders.manage", "orders.payments", "orders.refund"


@pytest.fixture
def shop(db):
    return make_shop()


@pytest.fixture
def sales(portal, db):
    """Sales: orders.read, orders.manage and orders.payments (not orders.refund)."""
    signed_in(portal, "sales")
    return portal


@pytest.fixture
def support(portal, db):
    """Support: orders.read and orders.manage, no payments."""
    signed_in(portal, "support")
    return portal


def order_url(order: Order, suffix: str = "") -> str:
    return f"/orders/{order.number}{suffix}"


def act(portal, order, action, **data):
    return portal.post(order_url(order, f"/actions/{action}"), data=data)


def numbers_listed(page: str) -> list[str]:
    return re.findall(r'<a href="/orders/(\d+)">', page)


def reload(order: Order) -> Order:
    db.session.expire_all()
    return db.session.get(Order, order.id)


# --- Access -------------------------------------------------------------------------------------

EXPECTED_PERMISSIONS = {
    "orders.list": READ,
    "orders.export": READ,
    "orders.save_view": READ,
    "orders.delete_view": READ,
    "orders.order": READ,
    "orders.add_note": MANAGE,
    "orders.order_action": READ,  # and each action its own, checked in the view
    "orders.new_phone_order": MANAGE,
}


def test_every_order_page_declares_the_permission_it_needs(app):
    modules = {m.__name__ for m in (order_views, order_page_views, phone_order_views)}
    declared = {
        rule.endpoint: app.view_functions[rule.endpoint].required_permission
        for rule in app.url_map.iter_rules()
        if app.view_functions[rule.endpoint].__module__ in modules
    }
    assert declared == EXPECTED_PERMISSIONS


def test_the_orders_entry_comes_first_in_the_orders_group(sales):
    page = sales.get("/").text
    assert re.search(r'href="/orders".*?Shipping', page, re.S)


def test_without_orders_read_the_pages_are_forbidden_and_not_in_the_sidebar(portal, shop):
    order = place_order_directly([(shop.teapot, 1)])
    signed_in(portal, role_with("Nothing", "customers.read"))
    assert portal.get(LIST).status_code == 403
    assert portal.get(order_url(order)).status_code == 403
    assert portal.get("/orders/export.csv").status_code == 403
    assert 'href="/orders"' not in portal.get("/").text


# --- The list -----------------------------------------------------------------------------------


def test_the_list_shows_orders_newest_first_with_money_and_statuses(sales, shop):
    first = place_order_directly([(shop.teapot, 1)], email="first@example.org")
    second = place_order_directly([(shop.cup, 2)], email="second@example.org")
    page = sales.get(LIST)
    assert page.status_code == 200
    assert numbers_listed(page.text) == [second.number, first.number]
    assert "€17.05" in page.text  # 12.10 + 4.95 shipping
    assert "Pending payment" in page.text and "first@example.org" in page.text
    assert 'class="btn" href="/orders/new"' in page.text  # the primary action
    assert page.headers["Vary"] and "HX-Request" in page.headers["Vary"]


def test_filters_narrow_the_list(sales, shop):
    ada = CustomerFactory(email="ada@example.org")
    mine = place_order_directly([(shop.teapot, 2)], email="ada@example.org", customer=ada)
    cheap = place_order_directly([(shop.cup, 1)], email="bob@example.org")
    paid = place_order_directly([(shop.cup, 3)], email="carol@example.org")
    paid.status, paid.payment_status = "paid", "paid"
    db.session.flush()

    def listed(query: str) -> set[str]:
        response = sales.get(f"{LIST}?{query}")
        assert response.status_code == 200, response.text
        return set(numbers_listed(response.text))

    assert listed("q=bob") == {cheap.number}
    assert listed(f"q={mine.number}") == {mine.number}
    assert listed("status=paid") == {paid.number}
    assert listed("status=paid&status=pending_payment") == {mine.number, cheap.number, paid.number}
    assert listed("payment_status=pending") == {mine.number, cheap.number}
    assert listed(f"customer={ada.id}") == {mine.number}
    assert listed("min_total=20") == {mine.number}  # 2 x 12.10 + 4.95
    assert listed("max_total=10") == {cheap.number}
    assert listed("channel=phone") == set()
    today = utcnow().date()
    assert listed(f"placed_from={today}&placed_to={today}") == {mine.number, cheap.number, paid.number}
    assert listed(f"placed_to={today - timedelta(days=1)}") == set()


def test_sorting_by_total_and_oldest_first(sales, shop):
    small = place_order_directly([(shop.cup, 1)])
    big = place_order_directly([(shop.teapot, 3)])
    middle = place_order_directly([(shop.teapot, 1)])
    assert numbers_listed(sales.get(f"{LIST}?sort=total_desc").text) == [
        big.number,
        middle.number,
        small.number,
    ]
    assert numbers_listed(sales.get(f"{LIST}?sort=total_asc").text) == [
        small.number,
        middle.number,
        big.number,
    ]
    assert numbers_listed(sales.get(f"{LIST}?sort=oldest").text) == [small.number, big.number, middle.number]
    # The header link flips the sort and keeps the filters.
    page = sales.get(f"{LIST}?sort=total_desc&status=pending_payment").text
    assert 'href="/orders?sort=total_asc&amp;status=pending_payment"' in page


def test_page_links_keep_every_status_filter(app):
    with app.test_request_context("/orders?status=paid&status=on_hold&q=ada&page=2"):
        app.preprocess_request()
        assert order_views.list_url(page=3) == "/orders?status=paid&status=on_hold&q=ada&page=3"
        assert order_views.list_url(sort="oldest") == "/orders?status=paid&status=on_hold&q=ada&sort=oldest"


def test_empty_list_and_no_match_say_what_to_do(sales, shop):
    assert "take an order for a customer" in sales.get(LIST).text
    place_order_directly([(shop.cup, 1)])
    assert "No orders match these filters" in sales.get(f"{LIST}?q=nobody").text


def test_bad_filters_are_shown_next_to_their_fields(sales, shop):
    response = sales.get(f"{LIST}?min_total=abc&placed_from=2026-05-02&placed_to=2026-05-01")
    assert response.status_code == 422
    assert "Please correct the filters marked below." in response.text
    assert "Comes before “Placed from”." in response.text
    assert "Correct the filters above to see orders." in response.text


def test_an_htmx_filter_swaps_the_results_and_the_saved_views(sales, shop):
    order = place_order_directly([(shop.cup, 1)], email="zed@example.org")
    response = sales.get(f"{LIST}?q=zed", headers=htmx("order-results"))
    assert response.status_code == 200
    assert "<html" not in response.text
    assert 'id="order-results"' in response.text and order.number in response.text
    assert 'id="saved-views"' in response.text and 'hx-swap-oob="true"' in response.text
    assert 'name="query_string" type="hidden" value="q=zed"' in response.text


def test_csv_export_holds_the_filtered_orders_and_is_audited(sales, shop):
    mine = place_order_directly([(shop.teapot, 1)], email="=cmd@example.org")
    place_order_directly([(shop.cup, 1)], email="other@example.org")
    response = sales.get(f"/orders/export.csv?q={mine.number}", buffered=True)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment; filename=orders-" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["number"] for row in rows] == [mine.number]
    assert rows[0]["total"] == "17.05" and rows[0]["status"] == "pending_payment"
    assert rows[0]["email"] == "'=cmd@example.org"  # a spreadsheet would run it as a formula
    assert rows[0]["shipping_country"] == "NL"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "orders.exported"))
    assert entry is not None and mine.number in entry.summary


def test_the_export_link_carries_the_current_filters(sales, shop):
    place_order_directly([(shop.cup, 1)])
    page = sales.get(f"{LIST}?status=pending_payment&status=paid&page=1").text
    assert 'href="/orders/export.csv?status=pending_payment&amp;status=paid"' in page


# --- Saved views --------------------------------------------------------------------------------


def test_a_saved_view_round_trip(sales, shop):
    place_order_directly([(shop.cup, 1)])
    page = sales.get(f"{LIST}?status=paid&status=on_hold&page=2").text
    assert "Save this view" in page
    response = sales.post(
        "/orders/views", data={"name": "Needs a look", "query_string": "status=paid&status=on_hold&page=2"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/orders?status=paid&status=on_hold"
    page = sales.get(response.headers["Location"]).text
    assert "Saved the view “Needs a look”." in flashes(page)[0]
    assert 'href="/orders?status=paid&amp;status=on_hold" aria-current="page">Needs a look</a>' in page
    view = db.session.scalar(select(SavedOrderView))
    assert view.query_string == "status=paid&status=on_hold"

    # Saving under the same name replaces the filters.
    sales.post("/orders/views", data={"name": "Needs a look", "query_string": "channel=phone"})
    assert db.session.scalar(select(func.count()).select_from(SavedOrderView)) == 1
    assert reload_view(view).query_string == "channel=phone"

    page = sales.get(LIST).text
    assert "Delete your saved view “Needs a look”? Only the shortcut goes; no order changes." in page
    response = sales.post(f"/orders/views/{view.id}/delete")
    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(SavedOrderView)) == 0


def reload_view(view):
    db.session.expire_all()
    return db.session.get(SavedOrderView, view.id)


def test_saved_views_are_personal(app, sales, shop):
    other = Portal(app.test_client())
    owner = signed_in(other, "sales")
    other.post("/orders/views", data={"name": "Mine", "query_string": "status=paid"})
    view = db.session.scalar(select(SavedOrderView).where(SavedOrderView.user_id == owner.id))
    assert "Mine" not in sales.get(LIST).text
    assert sales.post(f"/orders/views/{view.id}/delete").status_code == 404
    assert reload_view(view) is not None


def test_a_view_needs_a_name_and_keeps_only_filters(sales):
    response = sales.post("/orders/views", data={"name": " ", "query_string": "status=paid"})
    assert response.status_code == 302
    assert "not saved" in flashes(sales.get(response.headers["Location"]).text)[0]
    sales.post("/orders/views", data={"name": "X", "query_string": "status=paid&evil=1&page=3"})
    assert db.session.scalar(select(SavedOrderView)).query_string == "status=paid"


# --- The order page ----------------------------------------------------------------------------


def test_the_order_page_shows_facts_lines_totals_payments_and_timeline(sales, shop):
    customer = CustomerFactory(email="ada@example.org")
    order = place_order_directly([(shop.teapot, 2), (shop.cup, 1)], customer=customer)
    page = sales.get(order_url(order))
    assert page.status_code == 200
    text = page.text
    assert f"<title>Order {order.number}" in text
    assert f'href="/customers/{customer.id}"' in text
    assert shop.teapot.sku in text and shop.cup.sku in text
    assert "€32.65" in text  # 2 x 12.10 + 3.50 + 4.95
    assert "VAT 21%" in text and "(included)" in text
    assert "Damrak 1" in text and "Amsterdam" in text
    assert "Bank transfer or cash on delivery" in text  # the manual gateway's label
    assert "Order placed" in text and "Timeline" in text
    assert "/actions/mark_paid" in text and "/actions/cancel" in text


def test_a_guest_order_names_its_email_and_an_unknown_order_is_404(sales, shop):
    order = place_order_directly([(shop.cup, 1)], email="guest@example.org")
    page = sales.get(order_url(order)).text
    assert "guest@example.org" in page and "(guest)" in page
    assert sales.get("/orders/999999").status_code == 404
    assert sales.post(order_url(order, "/actions/explode")).status_code == 404


def test_support_without_payments_sees_no_mark_paid_and_may_not_post_it(support, shop):
    order = place_order_directly([(shop.cup, 1)])
    page = support.get(order_url(order)).text
    assert "/actions/mark_paid" not in page and "Mark paid" not in page
    assert "/actions/hold" in page  # orders.manage actions are there
    response = act(support, order, "mark_paid", amount="8.45")
    assert response.status_code == 403
    assert reload(order).status == "pending_payment"


def test_marking_paid_moves_the_order_and_writes_the_timeline(sales, shop):
    order = place_order_directly([(shop.cup, 1)])
    page = sales.get(order_url(order)).text
    assert 'name="amount" type="number" min="0.01" step="0.01" inputmode="decimal" value="8.45"' in page
    response = act(sales, order, "mark_paid", amount="8.45", note="Bank transfer")
    assert response.status_code == 302 and response.headers["Location"] == order_url(order)
    order = reload(order)
    assert (order.status, order.payment_status, order.amount_paid) == ("paid", "paid", Decimal("8.45"))
    page = sales.get(order_url(order)).text
    assert f"Order {order.number} is marked paid." in flashes(page)
    assert "Pending payment → Paid" in page and "Payment received" in page
    assert "/actions/mark_paid" not in page and "/actions/start_processing" in page
    transaction = db.session.scalar(select(PaymentTransaction).where(PaymentTransaction.kind == "mark_paid"))
    assert transaction.actor_label.startswith("staff")


def test_an_amount_out_of_range_is_refused_with_a_flash(sales, shop):
    order = place_order_directly([(shop.cup, 1)])
    page = sales.get(act(sales, order, "mark_paid", amount="99.00").headers["Location"]).text
    assert "Mark paid: not done. Amount out of range. Between 0.01 and 8.45." in flashes(page)
    assert reload(order).status == "pending_payment"
    page = sales.get(act(sales, order, "mark_paid", amount="lots").headers["Location"]).text
    assert "Give the amount like 24.95." in flashes(page)[0]


def test_a_move_the_state_does_not_allow_flashes_an_error_not_a_500(sales, shop):
    order = place_order_directly([(shop.cup, 1)])
    response = act(sales, order, "deliver")
    assert response.status_code == 302
    page = sales.get(order_url(order)).text
    assert "Mark delivered: not done. An order that is pending payment cannot become delivered." in flashes(
        page
    )
    assert reload(order).status == "pending_payment"
    assert "Mark delivered" not in page.split("</main>")[0].split('id="order-actions"')[1]


def test_an_authorized_payment_is_captured_with_orders_payments(sales, shop):
    order = place_order_directly([(shop.cup, 1)])
    [payment] = order_queries.order_payments(order)
    payment.status, order.payment_status = "authorized", "authorized"  # as a card gateway leaves it
    db.session.flush()
    page = sales.get(order_url(order)).text
    assert "/actions/capture" in page
    response = act(sales, order, "capture")
    assert response.status_code == 302
    order = reload(order)
    assert (order.status, order.payment_status, order.amount_paid) == ("paid", "paid", Decimal("8.45"))
    assert "The payment of order" in flashes(sales.get(order_url(order)).text)[0]


def test_an_order_goes_from_paid_to_completed_through_its_actions(sales, shop):
    order = place_order_directly([(shop.teapot, 1)])
    act(sales, order, "mark_paid")  # the amount defaults to the balance
    for action, status in [
        ("start_processing", "processing"),
        ("ship", "shipped"),  # not an order action: fulfilment's shipments ship
        ("deliver", "delivered"),
        ("complete", "completed"),
    ]:
        if action == "ship":
            assert act(sales, order, action).status_code == 404
            ship_everything(order, actor=Staff())
        else:
            response = act(sales, order, action)
            assert response.status_code == 302
        assert reload(order).status == status, flashes(sales.get(order_url(order)).text)
    page = sales.get(order_url(order)).text
    assert "Delivered → Completed" in page and "nothing more to do" in page
    assert reload(order).fulfilment_status == "fulfilled"


def test_holding_needs_a_reason_and_releasing_returns_to_where_it_was(support, shop):
    order = place_order_directly([(shop.cup, 1)])
    page = support.get(act(support, order, "hold", reason="  ").headers["Location"]).text
    assert flashes(page) == ["Put on hold: not done. Say why."]
    act(support, order, "hold", reason="Address looks wrong")
    assert reload(order).status == "on_hold"
    page = support.get(order_url(order)).text
    assert "Address looks wrong" in page and "Release hold" in page
    act(support, order, "release_hold")
    assert reload(order).status == "pending_payment"


def test_cancelling_says_what_happens_and_releases_the_order(support, shop):
    order = place_order_directly([(shop.cup, 2)])
    page = support.get(order_url(order)).text
    assert (
        f"Cancel order {order.number}? Its reserved stock is released and its open payment of €11.95"
        " is voided. This cannot be undone." in page
    )
    assert 'data-confirm="Cancel order' in page
    act(support, order, "cancel", reason="Customer changed their mind")
    order = reload(order)
    assert (order.status, order.payment_status) == ("cancelled", "voided")
    page = support.get(order_url(order)).text
    assert f"Order {order.number} is cancelled; its stock is released." in flashes(page)


def test_cancelling_a_paid_order_needs_the_refund_permission(app, sales, shop):
    order = place_order_directly([(shop.cup, 1)])
    act(sales, order, "mark_paid")
    assert "/actions/cancel" not in sales.get(order_url(order)).text
    assert act(sales, order, "cancel", reason="Too late").status_code == 403
    assert reload(order).status == "paid"

    refunder = Portal(app.test_client())
    signed_in(refunder, role_with("Refunds", READ, MANAGE, REFUND))
    page = refunder.get(order_url(order)).text
    assert "the €8.45 paid is refunded to the customer (recorded here: pay it back by hand)" in page
    act(refunder, order, "cancel", reason="Out of business")
    order = reload(order)
    assert (order.status, order.payment_status, order.amount_refunded) == (
        "cancelled",
        "refunded",
        Decimal("8.45"),
    )


# --- Notes ---------------------------------------------------------------------------------------


def test_a_note_is_added_to_the_timeline_with_htmx(support, shop):
    order = place_order_directly([(shop.cup, 1)])
    response = support.post(
        order_url(order, "/notes"),
        data={"text": "Customer called about delivery"},
        headers=htmx("order-timeline"),
    )
    assert response.status_code == 200
    assert "<html" not in response.text and 'id="order-timeline"' in response.text
    assert "Customer called about delivery" in response.text
    assert f"Added the note to order {order.number}." in response.text
    entries = response.text.split('class="timeline-item')
    assert "Customer called about delivery" in entries[1]  # newest first
    event = db.session.scalar(select(OrderEvent).where(OrderEvent.kind == "note"))
    assert event.note == "Customer called about delivery"


def test_an_empty_note_is_refused_next_to_the_field(support, shop):
    order = place_order_directly([(shop.cup, 1)])
    response = support.post(order_url(order, "/notes"), data={"text": ""}, headers=htmx("order-timeline"))
    assert response.status_code == 422
    assert "Write the note first." in response.text
    plain = support.post(order_url(order, "/notes"), data={"text": "Called back"})
    assert plain.status_code == 302 and plain.headers["Location"].endswith("#order-timeline")


def test_readers_without_manage_see_no_note_form_and_no_actions(portal, shop):
    signed_in(portal, role_with("Reader", READ))
    order = place_order_directly([(shop.cup, 1)])
    page = portal.get(order_url(order)).text
    assert "Add note" not in page and "/actions/" not in page
    assert "Nothing you may do to this order right now." in page
    assert portal.post(order_url(order, "/notes"), data={"text": "x"}).status_code == 403
    assert act(portal, order, "hold", reason="x").status_code == 403


# --- The dashboard panel --------------------------------------------------------------------------


def test_the_dashboard_counts_orders_to_handle(sales, shop):
    overdue = place_order_directly([(shop.cup, 1)])
    overdue.placed_at = utcnow() - timedelta(days=5)
    paid = place_order_directly([(shop.cup, 1)])
    act(sales, paid, "mark_paid")
    place_order_directly([(shop.cup, 1)])  # unpaid, but only just placed
    db.session.flush()
    page = sales.get("/").text
    panel = page.split('id="orders-to-handle-heading"')[1].split("</section>")[0]
    assert re.search(r">1</span> <a[^>]*>Paid, not yet processed", panel)
    assert re.search(r">0</span> <a[^>]*>On hold", panel)
    assert re.search(r">1</span> <a[^>]*>Still unpaid after 3 days", panel)
    # The link opens exactly what was counted.
    link = re.search(r'href="([^"]*)">Still unpaid after 3 days', panel).group(1).replace("&amp;", "&")
    listed = sales.get(link).text
    assert overdue.number in listed and paid.number not in listed
