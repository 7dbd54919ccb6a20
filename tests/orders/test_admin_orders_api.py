"""The staff orders API: who may call what, the filtered list, one order with payments,
timeline and invoice, phone orders (idempotent, whole or nothing), the lifecycle actions
and notes; errors as problem+json, money as strings."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.blueprints.auth import tokens
from app.blueprints.inventory.models import StockLevel
from app.blueprints.orders import payments
from app.blueprints.orders.models import Cart
from app.blueprints.orders.order_models import Order, OrderEvent
from app.blueprints.orders.payment_models import PaymentTransaction
from app.core.models import AuditEntry
from app.core.transaction import transaction
from app.extensions import db
from tests.factories.auth import UserFactory, make_token
from tests.factories.customers import CustomerFactory
from tests.fulfilment.shipment_helpers import Staff, ship_everything
from tests.orders.checkout_helpers import ADDRESS, make_shop, place_order_directly

ADMIN = "/api/v1/admin"
PROBLEM = "application/problem+json"
ALL_SCOPES = ["orders.read", "orders.manage", "orders.payments", "orders.refund"]


@pytest.fixture
def shop(db):
    return make_shop()


@pytest.fixture
def headers(db):
    return staff_headers()


def staff_headers(scopes=ALL_SCOPES, roles=("admin",)):
    user = UserFactory(roles=list(roles))
    return {"Authorization": f"Bearer {make_token(user, list(scopes))}"}


def assert_problem(response, status, code=None):
    assert response.status_code == status, response.text
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status and "Traceback" not in response.text
    if code:
        assert body["code"] == code, body
    return body


def field_errors(response):
    return assert_problem(response, 422)["errors"]


def order_of(shop, quantity=1, **kwargs) -> Order:
    return place_order_directly([(shop.teapot, quantity)], **kwargs)


def paid_order(shop, **kwargs) -> Order:
    order = order_of(shop, **kwargs)
    with transaction():
        payments.mark_paid(order, actor=UserFactory())
    return order


def act(client, headers, number, action, body=None, **kwargs):
    return client.post(f"{ADMIN}/orders/{number}/actions/{action}", json=body, headers=headers, **kwargs)


def phone_order_body(shop, **overrides):
    body = {
        "email": "caller@example.org",
        "lines": [{"sku": shop.cup.sku, "quantity": 2}],
        "shipping_address": dict(ADDRESS),
        "shipping_method": "express",
    }
    body.update(overrides)
    return body


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# ---- access ------------------------------------------------------------------------------

# (method, path, body, the scope it needs)
ENDPOINTS = [
    ("get", "/orders", None, "orders.read"),
    ("post", "/orders", {}, "orders.manage"),
    ("get", "/orders/{number}", None, "orders.read"),
    ("get", "/orders/{number}/events", None, "orders.read"),
    ("post", "/orders/{number}/notes", {"text": "x"}, "orders.manage"),
    ("post", "/orders/{number}/actions/start_processing", {}, "orders.manage"),
    ("post", "/orders/{number}/actions/deliver", {}, "orders.manage"),
    ("post", "/orders/{number}/actions/complete", {}, "orders.manage"),
    ("post", "/orders/{number}/actions/hold", {"reason": "x"}, "orders.manage"),
    ("post", "/orders/{number}/actions/release_hold", {}, "orders.manage"),
    ("post", "/orders/{number}/actions/cancel", {"reason": "x"}, "orders.manage"),
    ("post", "/orders/{number}/actions/mark_paid", {}, "orders.payments"),
    ("post", "/orders/{number}/actions/capture", {}, "orders.payments"),
]


@pytest.mark.parametrize(("method", "path", "body", "_scope"), ENDPOINTS)
def test_every_endpoint_needs_a_bearer_token(client, shop, method, path, body, _scope):
    number = order_of(shop).number
    response = getattr(client, method)(ADMIN + path.format(number=number), json=body)
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path", "body", "scope"), ENDPOINTS)
def test_a_token_without_the_scope_is_refused_and_nothing_changes(client, shop, method, path, body, scope):
    order = order_of(shop)
    others = [s for s in ALL_SCOPES if s != scope]
    response = getattr(client, method)(
        ADMIN + path.format(number=order.number), json=body, headers=staff_headers(others)
    )
    assert scope in assert_problem(response, 403)["detail"]
    assert count(Order) == 1
    assert db.session.get(Order, order.id).status == "pending_payment"


def test_a_customer_token_is_no_staff_identity(client, shop):
    customer = CustomerFactory()
    _, secret = tokens.issue_customer_token(customer.id)
    response = client.get(f"{ADMIN}/orders", headers={"Authorization": f"Bearer {secret}"})
    assert_problem(response, 403)


def test_support_cannot_mark_an_order_paid(client, shop):
    order = order_of(shop)
    support = staff_headers(["orders.read", "orders.manage"], roles=["support"])

    response = act(client, support, order.number, "mark_paid")

    assert "orders.payments" in assert_problem(response, 403)["detail"]
    assert db.session.get(Order, order.id).payment_status == "pending"


def test_cancelling_a_paid_order_needs_orders_refund(client, shop):
    order = paid_order(shop)
    without_refund = staff_headers(["orders.read", "orders.manage", "orders.payments"])

    refused = act(client, without_refund, order.number, "cancel", {"reason": "Customer changed their mind"})

    assert "orders.refund" in assert_problem(refused, 403)["detail"]
    assert db.session.get(Order, order.id).status == "paid"
    allowed = act(client, staff_headers(), order.number, "cancel", {"reason": "Customer changed their mind"})
    assert allowed.status_code == 200, allowed.text
    body = allowed.get_json()
    assert (body["status"], body["payment"]["status"]) == ("cancelled", "refunded")
    assert body["totals"]["amount_refunded"] == body["totals"]["amount_paid"] == "17.05"


def test_cancelling_an_unpaid_order_needs_only_orders_manage(client, shop):
    order = order_of(shop)
    manager = staff_headers(["orders.read", "orders.manage"], roles=["support"])

    response = act(client, manager, order.number, "cancel", {"reason": "Duplicate order"})

    assert response.status_code == 200, response.text
    body = response.get_json()
    assert (body["status"], body["payment"]["status"]) == ("cancelled", "voided")
    assert not db.session.scalar(
        select(func.sum(StockLevel.reserved)).where(StockLevel.variant_id == shop.teapot.id)
    )


def test_the_openapi_document_lists_the_paths_and_each_actions_permission(client, db):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for method, path, _body, scope in ENDPOINTS:
        operation = paths["/api/v1/admin" + path][method]
        assert operation["security"] == [{"bearerAuth": []}]
        assert scope in operation["summary"], path
    cancel = paths["/api/v1/admin/orders/{number}/actions/cancel"]["post"]
    assert "orders.refund" in cancel["summary"] and "orders.refund" in cancel["description"]
    money_moving = {"cancel", "mark_paid", "capture"}
    for action in money_moving:
        parameters = paths[f"/api/v1/admin/orders/{{number}}/actions/{action}"]["post"]["parameters"]
        assert any(p["name"] == "Idempotency-Key" for p in parameters)


# ---- the list ----------------------------------------------------------------------------


def test_the_list_filters_by_several_statuses_and_payment_statuses(client, shop, headers):
    pending = order_of(shop)
    paid = paid_order(shop)
    cancelled = order_of(shop)
    act(client, headers, cancelled.number, "cancel", {"reason": "test"})

    def numbers(query):
        response = client.get(f"{ADMIN}/orders?{query}", headers=headers)
        assert response.status_code == 200, response.text
        return {order["number"] for order in response.get_json()}

    assert numbers("status=pending_payment&status=paid") == {pending.number, paid.number}
    assert numbers("status=paid,cancelled") == {paid.number, cancelled.number}
    assert numbers("payment_status=paid") == {paid.number}
    assert numbers("payment_status=voided&status=cancelled") == {cancelled.number}
    assert numbers("status=") == {pending.number, paid.number, cancelled.number}


def test_the_list_filters_by_customer_dates_totals_channel_and_search(client, shop, headers):
    customer = CustomerFactory(email="grace@example.org")
    own = order_of(shop, 2, customer=customer)  # 24.20 + 4.95
    guest = order_of(shop, email="bob@example.org")  # 12.10 + 4.95
    phone = client.post(f"{ADMIN}/orders", json=phone_order_body(shop), headers=headers).get_json()
    with transaction():
        db.session.get(Order, own.id).placed_at = datetime(2026, 1, 10, 23, 30, tzinfo=UTC)
        db.session.get(Order, guest.id).placed_at = datetime(2026, 1, 11, 0, 30, tzinfo=UTC)

    def numbers(query):
        response = client.get(f"{ADMIN}/orders?{query}", headers=headers)
        assert response.status_code == 200, response.text
        return [order["number"] for order in response.get_json()]

    assert numbers(f"customer_id={customer.id}") == [own.number]
    assert numbers("placed_from=2026-01-10&placed_to=2026-01-10") == [own.number]
    assert numbers("placed_from=2026-01-11&placed_to=2026-01-11") == [guest.number]
    assert numbers("min_total=20.00") == [own.number]
    assert numbers("max_total=17.05&min_total=17.05") == [guest.number]
    assert numbers("channel=phone") == [phone["number"]]
    assert numbers("q=bob@") == [guest.number]
    assert numbers(f"q={own.number}") == [own.number]
    assert numbers("sort=total_desc")[0] == own.number
    assert numbers("sort=oldest")[:2] == [own.number, guest.number]


def test_the_list_is_paginated_with_an_x_pagination_header(client, shop, headers):
    placed = [order_of(shop).number for _ in range(3)]

    response = client.get(f"{ADMIN}/orders?page=2&page_size=2", headers=headers)

    assert response.status_code == 200, response.text
    assert [order["number"] for order in response.get_json()] == [placed[0]]  # newest first
    pagination = json.loads(response.headers["X-Pagination"])
    assert (pagination["total"], pagination["total_pages"], pagination["page"]) == (3, 2, 2)
    item = response.get_json()[0]
    assert item["total"] == "17.05" and item["currency"] == "EUR" and item["channel"] == "storefront"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=shipping", "status.0"),
        ("payment_status=unpaid", "payment_status.0"),
        ("placed_from=yesterday", "placed_from"),
        ("placed_from=2026-02-01&placed_to=2026-01-01", "placed_to"),
        ("placed_to=9999-12-31", "placed_to"),
        ("min_total=abc", "min_total"),
        ("min_total=1.999", "min_total"),
        ("min_total=-1", "min_total"),
        ("min_total=10&max_total=5", "max_total"),
        ("customer_id=0", "customer_id"),
        ("customer_id=x", "customer_id"),
        ("channel=fax", "channel"),
        ("sort=cheapest", "sort"),
        ("page_size=101", "page_size"),
    ],
)
def test_bad_filter_values_are_a_422_naming_the_field(client, headers, query, field):
    errors = field_errors(client.get(f"{ADMIN}/orders?{query}", headers=headers))
    assert field in errors, errors


# ---- one order ---------------------------------------------------------------------------


def test_one_order_shows_payments_timeline_actions_and_invoice(client, shop, headers):
    customer = CustomerFactory()
    order = order_of(shop, customer=customer)
    client.post(
        f"{ADMIN}/orders/{order.number}/notes", json={"text": "Called about gift wrap"}, headers=headers
    )

    before = client.get(f"{ADMIN}/orders/{order.number}", headers=headers).get_json()
    assert before["invoice"] is None
    assert (before["id"], before["customer_id"], before["channel"], before["placed_by"]) == (
        order.id,
        customer.id,
        "storefront",
        None,
    )
    assert before["available_actions"] == ["mark_paid", "hold", "cancel"]
    timeline = [(e["kind"], e["note"]) for e in before["timeline"] if e["kind"] != "email"]
    assert timeline == [("placed", ""), ("note", "Called about gift wrap")]

    act(client, headers, order.number, "mark_paid", {"note": "Bank transfer 12 Jan"})
    after = client.get(f"{ADMIN}/orders/{order.number}", headers=headers)

    assert after.status_code == 200 and after.mimetype == "application/json"
    body = after.get_json()
    assert body["invoice"]["number"].startswith("INV-") and body["invoice"]["status"] in (
        "pending",
        "rendered",
    )
    (payment,) = body["payments"]
    assert (payment["gateway"], payment["status"], payment["amount"], payment["amount_captured"]) == (
        "manual",
        "paid",
        "17.05",
        "17.05",
    )
    (mark_paid,) = [t for t in payment["transactions"] if t["kind"] == "mark_paid"]
    assert (
        mark_paid["succeeded"]
        and mark_paid["amount"] == "17.05"
        and mark_paid["actor"].endswith("@example.com")
    )
    assert "raw_response" not in mark_paid
    assert ("status", "pending_payment", "paid") in [
        (e["kind"], e["from_status"], e["to_status"]) for e in body["timeline"]
    ]
    assert body["lines"][0]["sku"] == shop.teapot.sku and body["totals"]["total"] == "17.05"


def test_an_unknown_order_number_is_a_404(client, headers):
    assert_problem(client.get(f"{ADMIN}/orders/999999", headers=headers), 404, "order_not_found")
    assert_problem(client.get(f"{ADMIN}/orders/{'9' * 40}", headers=headers), 404)
    assert_problem(client.get(f"{ADMIN}/orders/999999/events", headers=headers), 404)


def test_the_events_are_the_whole_timeline_paginated_oldest_first(client, shop, headers):
    order = order_of(shop)
    for text in ("one", "two", "three"):
        client.post(f"{ADMIN}/orders/{order.number}/notes", json={"text": text}, headers=headers)

    first = client.get(f"{ADMIN}/orders/{order.number}/events?page_size=3", headers=headers)
    rest = client.get(f"{ADMIN}/orders/{order.number}/events?page_size=3&page=2", headers=headers)

    every = db.session.scalars(
        select(OrderEvent.id).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)
    ).all()
    walked = first.get_json() + rest.get_json()
    assert [e["id"] for e in walked] == every[:6] and walked[0]["kind"] == "placed"
    assert [e["note"] for e in walked if e["kind"] == "note"] == ["one", "two", "three"]
    assert json.loads(first.headers["X-Pagination"])["total"] == len(every)


def test_a_note_is_added_to_the_timeline_and_audited(client, shop, headers):
    order = order_of(shop)

    response = client.post(
        f"{ADMIN}/orders/{order.number}/notes", json={"text": " Fragile "}, headers=headers
    )

    assert response.status_code == 201, response.text
    assert (response.get_json()["kind"], response.get_json()["note"]) == ("note", "Fragile")
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "order.note_added")) is not None
    assert "text" in field_errors(
        client.post(f"{ADMIN}/orders/{order.number}/notes", json={"text": " "}, headers=headers)
    )
    assert "text" in field_errors(
        client.post(f"{ADMIN}/orders/{order.number}/notes", json={}, headers=headers)
    )


# ---- phone orders ------------------------------------------------------------------------


def test_a_phone_order_is_placed_for_a_customer_by_the_caller(client, shop):
    staff = UserFactory(email="taker@example.com")
    customer = CustomerFactory(email="caller@example.org")
    headers = {"Authorization": f"Bearer {make_token(staff, ALL_SCOPES)}"}
    body = phone_order_body(
        shop, email=None, customer_id=customer.id, expected_total="16.95", note="Ring twice"
    )
    del body["email"]

    response = client.post(f"{ADMIN}/orders", json=body, headers=headers)

    assert response.status_code == 201, response.text
    order = response.get_json()
    assert (order["channel"], order["placed_by"], order["customer_id"], order["email"]) == (
        "phone",
        "taker@example.com",
        customer.id,
        "caller@example.org",
    )
    assert order["totals"]["total"] == "16.95" and order["customer_note"] == "Ring twice"
    assert order["billing_address"]["city"] == "Amsterdam"
    assert response.headers["Location"].endswith(f"/api/v1/admin/orders/{order['number']}")
    assert [t["kind"] for t in order["payments"][0]["transactions"]] == ["authorize"]
    reserved = db.session.scalar(
        select(func.sum(StockLevel.reserved)).where(StockLevel.variant_id == shop.cup.id)
    )
    assert reserved == 2


def test_a_replayed_phone_order_key_answers_the_same_order_and_creates_no_second(client, shop, headers):
    keyed = {**headers, "Idempotency-Key": "phone-1"}

    first = client.post(f"{ADMIN}/orders", json=phone_order_body(shop), headers=keyed)
    again = client.post(f"{ADMIN}/orders", json=phone_order_body(shop), headers=keyed)

    assert first.status_code == again.status_code == 201, first.text
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert again.get_json() == first.get_json() and again.headers["Location"] == first.headers["Location"]
    assert count(Order) == 1
    other_body = client.post(f"{ADMIN}/orders", json=phone_order_body(shop, note="other"), headers=keyed)
    assert_problem(other_body, 422, "idempotency_key_reused")


def test_another_staff_members_key_is_their_own(client, shop, headers):
    first = client.post(
        f"{ADMIN}/orders", json=phone_order_body(shop), headers={**headers, "Idempotency-Key": "k"}
    )
    other = staff_headers()
    second = client.post(
        f"{ADMIN}/orders", json=phone_order_body(shop), headers={**other, "Idempotency-Key": "k"}
    )

    assert first.status_code == second.status_code == 201
    assert first.get_json()["number"] != second.get_json()["number"]


def test_an_out_of_stock_phone_order_is_a_409_and_leaves_nothing_behind(client, shop, headers):
    carts_before = count(Cart)
    body = phone_order_body(
        shop, lines=[{"sku": shop.teapot.sku, "quantity": 1}, {"sku": shop.cup.sku, "quantity": 51}]
    )

    response = client.post(f"{ADMIN}/orders", json=body, headers={**headers, "Idempotency-Key": "k-stock"})

    assert assert_problem(response, 409)["code"] in ("out_of_stock", "line_problems")
    assert count(Order) == 0 and count(Cart) == carts_before
    assert not db.session.scalar(select(func.sum(StockLevel.reserved)))
    # The key was released: a corrected request may use it.
    fixed = phone_order_body(shop, lines=[{"sku": shop.cup.sku, "quantity": 50}])
    retried = client.post(f"{ADMIN}/orders", json=fixed, headers={**headers, "Idempotency-Key": "k-stock"})
    assert retried.status_code == 201, retried.text


def test_a_changed_total_is_a_409_price_changed(client, shop, headers):
    response = client.post(
        f"{ADMIN}/orders", json=phone_order_body(shop, expected_total="1.00"), headers=headers
    )
    assert_problem(response, 409, "price_changed")
    assert count(Order) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"fax": "123"}, "fax"),
        ({"lines": [{"sku": "X", "quantity": -1}]}, "lines.0.quantity"),
        ({"lines": [{"sku": "X", "quantity": "2"}]}, "lines.0.quantity"),
        ({"lines": [{"sku": "X", "quantity": 1, "price": "1.00"}]}, "lines.0.price"),
        ({"lines": []}, "lines"),
        ({"expected_total": 16.95}, "expected_total"),
        ({"expected_total": "16.955"}, "expected_total"),
        ({"shipping_address": {"city": "Amsterdam", "country": "NL"}}, "shipping_address.line1"),
        ({"shipping_method": ""}, "shipping_method"),
        ({"customer_id": "1"}, "customer_id"),
    ],
)
def test_a_bad_phone_order_body_is_a_422_naming_the_field(client, shop, headers, change, field):
    errors = field_errors(
        client.post(f"{ADMIN}/orders", json=phone_order_body(shop, **change), headers=headers)
    )
    assert field in errors, errors
    assert count(Order) == 0


def test_what_the_services_refuse_is_a_422_naming_the_field(client, shop, headers):
    no_email = phone_order_body(shop)
    del no_email["email"]
    assert "email" in field_errors(client.post(f"{ADMIN}/orders", json=no_email, headers=headers))
    unknown_sku = phone_order_body(shop, lines=[{"sku": "NO-SUCH-SKU", "quantity": 1}])
    assert "lines.0.sku" in field_errors(client.post(f"{ADMIN}/orders", json=unknown_sku, headers=headers))
    nobody = phone_order_body(shop, customer_id=987654)
    assert "customer_id" in field_errors(client.post(f"{ADMIN}/orders", json=nobody, headers=headers))
    elsewhere = phone_order_body(shop, shipping_address={**ADDRESS, "country": "US"})
    assert field_errors(client.post(f"{ADMIN}/orders", json=elsewhere, headers=headers))
    assert count(Order) == 0


def test_a_blocked_customer_gets_no_phone_order(client, shop, headers):
    customer = CustomerFactory(status="blocked")
    response = client.post(
        f"{ADMIN}/orders", json=phone_order_body(shop, customer_id=customer.id), headers=headers
    )
    assert_problem(response, 409, "customer_blocked")


# ---- actions -----------------------------------------------------------------------------


def test_a_paid_order_goes_through_processing_shipping_delivery_and_completion(client, shop, headers):
    order = paid_order(shop)

    steps = [
        ("start_processing", {"note": "Picking"}, "processing"),
        ("ship", None, "shipped"),  # through fulfilment's shipments, not an order action
        ("deliver", {}, "delivered"),
        ("complete", {"note": "Done"}, "completed"),
    ]
    for action, body, status in steps:
        if action == "ship":
            assert_problem(act(client, headers, order.number, action, body), 404)
            ship_everything(order, actor=Staff())
            assert (
                client.get(f"{ADMIN}/orders/{order.number}", headers=headers).get_json()["status"] == status
            )
            continue
        response = act(client, headers, order.number, action, body)
        assert response.status_code == 200, (action, response.text)
        assert response.get_json()["status"] == status

    final = response.get_json()
    assert final["fulfilment_status"] == "fulfilled" and final["lines"][0]["shipped_quantity"] == 1
    assert final["available_actions"] == []
    moves = [
        (e["from_status"], e["to_status"], e["note"]) for e in final["timeline"] if e["kind"] == "status"
    ]
    assert moves[-4:] == [
        ("paid", "processing", "Picking"),
        ("processing", "shipped", ""),
        ("shipped", "delivered", ""),
        ("delivered", "completed", "Done"),
    ]
    status_events = [e for e in final["timeline"] if e["kind"] == "status"]
    assert all(e["actor"] != "system" for e in status_events[-4:])


def test_hold_needs_a_reason_and_release_returns_to_where_it_was(client, shop, headers):
    order = paid_order(shop)

    assert "reason" in field_errors(act(client, headers, order.number, "hold", {}))
    assert "reason" in field_errors(act(client, headers, order.number, "hold", {"reason": "   "}))
    held = act(client, headers, order.number, "hold", {"reason": "Address check"})
    released = act(client, headers, order.number, "release_hold")

    assert held.status_code == 200 and held.get_json()["status"] == "on_hold"
    assert held.get_json()["available_actions"] == ["release_hold", "cancel"]
    assert released.status_code == 200 and released.get_json()["status"] == "paid"


def test_an_action_the_state_does_not_allow_is_a_409_invalid_transition(client, shop, headers):
    order = order_of(shop)

    assert_problem(act(client, headers, order.number, "deliver"), 409, "invalid_transition")
    assert_problem(act(client, headers, order.number, "start_processing"), 409, "invalid_transition")
    assert_problem(act(client, headers, order.number, "release_hold"), 409, "invalid_transition")
    act(client, headers, order.number, "cancel", {"reason": "Duplicate"})
    assert_problem(
        act(client, headers, order.number, "cancel", {"reason": "Again"}), 409, "invalid_transition"
    )
    assert_problem(act(client, headers, order.number, "mark_paid"), 409, "invalid_payment_state")
    assert_problem(act(client, headers, order.number, "capture"), 409, "invalid_payment_state")


def test_an_unknown_action_or_order_is_a_404(client, shop, headers):
    order = order_of(shop)
    assert_problem(act(client, headers, order.number, "refund_everything"), 404)
    assert_problem(act(client, headers, "999999", "mark_paid"), 404, "order_not_found")


def test_an_action_body_with_an_unknown_field_is_a_422(client, shop, headers):
    order = order_of(shop)
    assert "amount" in field_errors(
        act(client, headers, order.number, "hold", {"reason": "x", "amount": "1.00"})
    )
    assert db.session.get(Order, order.id).status == "pending_payment"


def test_mark_paid_records_a_part_payment_and_refuses_money_as_a_number(client, shop, headers):
    order = order_of(shop)

    assert "amount" in field_errors(act(client, headers, order.number, "mark_paid", {"amount": 5}))
    assert "amount" in field_errors(act(client, headers, order.number, "mark_paid", {"amount": "99.00"}))
    part = act(client, headers, order.number, "mark_paid", {"amount": "5.00"})
    rest = act(client, headers, order.number, "mark_paid", {"note": "Rest by transfer"})

    assert part.status_code == 200 and part.get_json()["status"] == "pending_payment"
    assert part.get_json()["totals"]["amount_paid"] == "5.00"
    assert rest.status_code == 200, rest.text
    assert (rest.get_json()["status"], rest.get_json()["totals"]["amount_paid"]) == ("paid", "17.05")


def test_a_replayed_mark_paid_answers_the_first_response_and_records_one_payment(client, shop, headers):
    order = order_of(shop)
    keyed = {**headers, "Idempotency-Key": "pay-1"}

    first = act(client, keyed, order.number, "mark_paid", {"amount": "5.00"})
    again = act(client, keyed, order.number, "mark_paid", {"amount": "5.00"})

    assert first.status_code == again.status_code == 200, first.text
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_json() == first.get_json()
    kinds = db.session.scalars(
        select(PaymentTransaction.kind).where(PaymentTransaction.kind == "mark_paid")
    ).all()
    assert kinds == ["mark_paid"] and db.session.get(Order, order.id).amount_paid == Decimal("5.00")


def test_capture_takes_an_authorized_payment(client, shop, headers):
    order = order_of(shop)
    with transaction():
        # As a card gateway leaves it after the customer confirmed (authorize-only stores).
        payment = payments.payments_of(order)[-1]
        payment.status, payment.gateway_reference = "authorized", "auth-1"
        db.session.get(Order, order.id).payment_status = "authorized"

    response = act(client, headers, order.number, "capture")

    assert response.status_code == 200, response.text
    body = response.get_json()
    assert (body["status"], body["payment"]["status"], body["totals"]["amount_paid"]) == (
        "paid",
        "paid",
        "17.05",
    )
    assert "capture" in [t["kind"] for t in body["payments"][0]["transactions"]]
    assert body["invoice"] is not None


def test_shipping_is_no_order_action_but_fulfilment_s_shipments(client, shop, headers):
    order = paid_order(shop)

    assert_problem(act(client, headers, order.number, "ship"), 404)
    body = client.get(f"{ADMIN}/orders/{order.number}", headers=headers).get_json()
    assert "ship" not in body["available_actions"] and body["status"] == "paid"


def test_actions_are_audited_with_the_staff_member(client, shop):
    staff = UserFactory(email="clerk@example.com")
    headers = {"Authorization": f"Bearer {make_token(staff, ALL_SCOPES)}"}
    order = order_of(shop)

    act(client, headers, order.number, "hold", {"reason": "Fraud check"})

    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "order.status_changed"))
    assert entry is not None and entry.actor_id == staff.id
    event = db.session.scalar(select(OrderEvent).where(OrderEvent.kind == "status"))
    assert (event.actor_id, event.note) == (staff.id, "Fraud check")
