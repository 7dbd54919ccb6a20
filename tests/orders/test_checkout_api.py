"""Storefront checkout: an order whole or nothing, idempotent under retries."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.blueprints.inventory.models import StockLevel
from app.blueprints.orders.models import Cart
from app.blueprints.orders.order_models import Order, OrderEvent
from tests.orders.checkout_helpers import checkout_call, make_shop, ready_cart


@pytest.fixture
def shop(db):
    return make_shop()


def reserved(variant_id):
    from app.extensions import db

    return db.session.scalar(select(func.sum(StockLevel.reserved)).where(StockLevel.variant_id == variant_id))


def test_checkout_creates_the_order_reserves_stock_and_closes_the_cart(client, shop, db):
    cart_id = ready_cart(client, [(shop.teapot.sku, 2), (shop.cup.sku, 3)])

    response = checkout_call(client, cart_id, {"payment_method": "manual", "expected_total": "39.65"})

    assert response.status_code == 201, response.text
    body = response.get_json()
    assert body["status"] == "pending_payment" and body["payment"] == {
        "method": "manual",
        "status": "pending",
    }
    assert body["totals"]["total"] == "39.65"  # 24.20 + 10.50 + 4.95 shipping
    assert [(line["sku"], line["quantity"]) for line in body["lines"]] == [
        (shop.teapot.sku, 2),
        (shop.cup.sku, 3),
    ]
    assert len(body["tracking_token"]) >= 32 and "IBAN" in body["payment_action"]["instructions"]
    assert reserved(shop.teapot.id) == 2 and reserved(shop.cup.id) == 3
    assert db.session.scalar(select(Cart.status).where(Cart.token == cart_id)) == "checked_out"
    order = db.session.scalar(select(Order).where(Order.number == body["number"]))
    kinds = db.session.scalars(select(OrderEvent.kind).where(OrderEvent.order_id == order.id)).all()
    assert kinds[0] == "placed" and "status" not in kinds  # (then the confirmation email)


def test_a_replayed_key_answers_the_first_response_and_creates_no_second_order(client, shop, db):
    cart_id = ready_cart(client, [(shop.teapot.sku, 1)])

    first = checkout_call(client, cart_id, key="key-1")
    again = checkout_call(client, cart_id, key="key-1")

    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1


def test_the_same_key_with_another_body_is_a_422(client, shop):
    cart_id = ready_cart(client, [(shop.teapot.sku, 1)])
    assert checkout_call(client, cart_id, {"note": "a"}, key="k").status_code == 201

    response = checkout_call(client, cart_id, {"note": "b"}, key="k")

    assert response.status_code == 422 and response.get_json()["code"] == "idempotency_key_reused"


def test_out_of_stock_leaves_nothing_behind_and_frees_the_key(client, shop, db):
    cart_id = ready_cart(client, [(shop.teapot.sku, 1), (shop.cup.sku, 51)])

    response = checkout_call(client, cart_id, key="k2")

    assert response.status_code == 409, response.text
    assert response.get_json()["code"] in ("out_of_stock", "line_problems")
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0
    assert not reserved(shop.teapot.id)
    assert db.session.scalar(select(Cart.status).where(Cart.token == cart_id)) == "open"


def test_a_changed_total_is_a_409_price_changed(client, shop):
    cart_id = ready_cart(client, [(shop.teapot.sku, 1)])

    response = checkout_call(client, cart_id, {"expected_total": "10.00"})

    assert response.status_code == 409 and response.get_json()["code"] == "price_changed"


@pytest.mark.parametrize("sent", ["18.950", " 19.90", "1e2", "-1.00", 19.9])
def test_an_expected_total_not_written_as_the_api_writes_money_is_a_422_and_places_nothing(
    client, shop, db, sent
):
    cart_id = ready_cart(client, [(shop.teapot.sku, 1)])

    response = checkout_call(client, cart_id, {"expected_total": sent})

    assert response.status_code == 422, response.text
    assert list(response.get_json()["errors"]) == ["expected_total"]
    assert db.session.scalar(select(Cart.status).where(Cart.token == cart_id)) == "open"


def test_checkout_without_an_idempotency_key_is_a_400(client, shop):
    cart_id = ready_cart(client, [(shop.teapot.sku, 1)])

    response = client.post(f"/api/v1/store/carts/{cart_id}/checkout", json={})

    assert response.status_code == 400 and response.get_json()["code"] == "idempotency_key_required"


def test_paying_a_manual_order_moves_it_to_paid_and_issues_an_invoice(client, shop, db):
    from app.blueprints.orders import payments
    from app.blueprints.orders.invoices import invoice_of
    from app.core.transaction import transaction
    from tests.factories.auth import UserFactory

    cart_id = ready_cart(client, [(shop.teapot.sku, 1)])
    number = checkout_call(client, cart_id).get_json()["number"]
    staff = UserFactory()
    with transaction():
        order = db.session.scalar(select(Order).where(Order.number == number))
        payments.mark_paid(order, actor=staff)

    assert (order.status, order.payment_status, order.amount_paid) == ("paid", "paid", Decimal("17.05"))
    assert invoice_of(order).number.startswith("INV-")


def test_a_phone_order_goes_through_the_same_checkout(shop, db):
    from app.blueprints.orders.phone_orders import PhoneOrder, place_phone_order
    from app.core.transaction import transaction
    from tests.factories.auth import UserFactory
    from tests.orders.checkout_helpers import ADDRESS

    staff = UserFactory()
    with transaction():
        order = place_phone_order(
            PhoneOrder(
                lines=[(shop.cup.sku, 2)],
                shipping_address=dict(ADDRESS),
                shipping_method="express",
                email="caller@example.org",
            ),
            actor=staff,
        )

    assert (order.channel, order.placed_by_id, order.total) == ("phone", staff.id, Decimal("16.95"))
    assert reserved(shop.cup.id) == 2


def test_secrets_of_a_checkout_are_stored_encrypted_and_survive_a_key_rotation(app, client, shop, db):
    from app.blueprints.orders import checkout
    from app.core import crypto
    from app.core.models import IdempotencyRecord

    old, new = crypto.new_key(), crypto.new_key()
    app.config["DATA_ENCRYPTION_KEY"] = old
    try:
        cart_id = ready_cart(client, [(shop.teapot.sku, 1)])
        body = checkout_call(client, cart_id, key="rotate-me").get_json()
        token = body["tracking_token"]
        order = db.session.scalar(select(Order).where(Order.number == body["number"]))
        stored = db.session.scalar(select(IdempotencyRecord.response_body))
        assert token not in order.tracking_token_encrypted and token not in stored

        app.config["DATA_ENCRYPTION_KEY"] = f"{new},{old}"
        result = app.test_cli_runner().invoke(args=["crm", "rotate-encryption-key"])
        assert result.exit_code == 0, result.output
        assert "order tracking token(s)" in result.output and "idempotent response(s)" in result.output

        app.config["DATA_ENCRYPTION_KEY"] = new
        db.session.refresh(order)
        assert checkout.tracking_token_matches(order, token)
        replay = checkout_call(client, cart_id, key="rotate-me")
        assert (
            replay.headers["Idempotent-Replayed"] == "true" and replay.get_json()["tracking_token"] == token
        )
    finally:
        app.config["DATA_ENCRYPTION_KEY"] = None


def test_the_document_gives_checkouts_headers_and_errors_as_problem_json(client, db):
    spec = client.get("/api/v1/openapi.json").get_json()
    checkout = spec["paths"]["/api/v1/store/carts/{cart_id}/checkout"]["post"]["responses"]

    assert {"Location", "Idempotent-Replayed"} <= set(checkout["201"]["headers"])
    assert "Retry-After" in checkout["429"]["headers"]
    assert list(spec["components"]["responses"]["DEFAULT_ERROR"]["content"]) == ["application/problem+json"]
    assert "Location" in spec["paths"]["/api/v1/store/carts"]["post"]["responses"]["201"]["headers"]
