"""Back-in-stock requests: one pending request per address, one email when the variant
can be bought again; and the storefront endpoint that takes them."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.blueprints.inventory import back_in_stock, jobs, reservations
from app.blueprints.inventory.models import BackInStockRequest
from app.core.errors import InvalidInput
from app.core.transaction import transaction
from tests.factories.catalog import LocationFactory
from tests.factories.customers import CustomerFactory
from tests.inventory.helpers import make_variant, outbox_to, receive

URL = "/api/v1/store/back-in-stock"


def requests_for(db, variant):
    return db.session.scalars(
        select(BackInStockRequest).where(BackInStockRequest.variant_id == variant.id)
    ).all()


def test_asking_twice_is_asking_once(db):
    variant = make_variant()
    first = back_in_stock.request_back_in_stock(variant, "Ann@Example.org")
    customer = CustomerFactory()
    second = back_in_stock.request_back_in_stock(variant, "ann@example.org ", customer_id=customer.id)
    assert first.id == second.id and second.customer_id == customer.id
    assert second.email == "ann@example.org"
    assert len(requests_for(db, variant)) == 1


def test_a_bad_address_is_refused_on_the_email_field(db):
    with pytest.raises(InvalidInput) as refused:
        back_in_stock.request_back_in_stock(make_variant(), "not an address")
    assert "email" in refused.value.errors


def test_requesters_get_one_email_when_stock_comes_back(db, warehouse, staff):
    variant = make_variant()
    with transaction():
        back_in_stock.request_back_in_stock(variant, "ann@example.org")
        back_in_stock.request_back_in_stock(variant, "bob@example.org")
    with transaction():
        receive(variant, warehouse, 3, actor=staff)
    [mail] = outbox_to("ann@example.org")
    assert "back in stock" in mail.subject and variant.product.name in mail.text_body
    assert len(outbox_to("bob@example.org")) == 1
    assert all(r.notified_at is not None for r in requests_for(db, variant))
    with transaction():
        receive(variant, warehouse, 3, actor=staff)  # more stock: nobody is mailed again
    assert jobs.send_back_in_stock_emails(variant.id) == 0
    assert len(outbox_to("ann@example.org")) == 1


def test_stock_taken_by_waiting_backorders_is_not_back_for_requesters(db, warehouse):
    variant = make_variant(backorder_policy="allow")
    reservations.reserve([(variant.id, 2)], reference="order:1")  # backordered
    with transaction():
        back_in_stock.request_back_in_stock(variant, "ann@example.org")
    with transaction():
        receive(variant, warehouse, 2)  # all of it goes to order:1
    assert outbox_to("ann@example.org") == []
    with transaction():
        receive(variant, warehouse, 1)
    assert len(outbox_to("ann@example.org")) == 1


def test_stock_at_a_shop_that_does_not_ship_is_not_back(db):
    shop = LocationFactory(code="SHOP", fulfils_orders=False)
    variant = make_variant()
    with transaction():
        back_in_stock.request_back_in_stock(variant, "ann@example.org")
    with transaction():
        receive(variant, shop, 4)
    assert outbox_to("ann@example.org") == []


# ---- the storefront endpoint --------------------------------------------------------------


def test_the_storefront_accepts_a_request_with_202_every_time(client, db):
    variant = make_variant()
    for _ in range(2):
        response = client.post(URL, json={"sku": variant.sku, "email": "ann@example.org"})
        assert response.status_code == 202, response.text
        assert response.get_json()["detail"]
    assert db.session.scalar(select(func.count()).select_from(BackInStockRequest)) == 1


def test_an_unknown_or_unsold_sku_is_a_422_on_sku(client, db):
    variant = make_variant()
    variant.product.status = "draft"
    db.session.flush()
    for sku in ("NOPE", variant.sku):
        response = client.post(URL, json={"sku": sku, "email": "ann@example.org"})
        assert response.status_code == 422 and response.mimetype == "application/problem+json"
        assert list(response.get_json()["errors"]) == ["sku"]


def test_a_bad_body_is_a_422_naming_the_fields(client, db):
    response = client.post(URL, json={"email": "nope"})
    assert response.status_code == 422
    assert "sku" in response.get_json()["errors"]
    response = client.post(URL, json={"sku": make_variant().sku, "email": "nope"})
    assert list(response.get_json()["errors"]) == ["email"]


def test_the_storefront_endpoint_is_rate_limited(app, client, db, monkeypatch):
    variant = make_variant()
    monkeypatch.setitem(app.config, "BACK_IN_STOCK_RATE_LIMIT", "2 per minute")
    statuses = [
        client.post(URL, json={"sku": variant.sku, "email": f"p{i}@example.org"}).status_code
        for i in range(3)
    ]
    assert statuses == [202, 202, 429]
