"""Storefront cart API: guest and customer carts, lines, details, claim, promo codes,
ownership (another customer's cart is a 404), errors as problem+json, no caching."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.blueprints.auth import tokens
from app.core.permissions import access_declaration
from tests.factories.catalog import LocationFactory, ProductFactory, stock
from tests.factories.customers import CustomerFactory
from tests.factories.orders import tax_rates, zone_with_methods

STORE = "/api/v1/store"
ADDRESS = {
    "recipient": "Ada Lovelace",
    "line1": "Damrak 1",
    "postal_code": "1012 LG",
    "city": "Amsterdam",
    "country": "NL",
}


@pytest.fixture(autouse=True)
def generous_cart_limit(app):
    """Tests create many carts from one address; the limit itself has its own test."""
    from app.extensions import limiter

    configured = app.config.get("CART_RATE_LIMIT")
    app.config["CART_RATE_LIMIT"] = "10000 per minute"
    limiter.reset()
    yield
    if configured is None:
        app.config.pop("CART_RATE_LIMIT", None)
    else:
        app.config["CART_RATE_LIMIT"] = configured
    limiter.reset()


@pytest.fixture
def shop(db):
    """NL with VAT 21 %, a standard (4.95) and an express (9.95) method, and a stocked product at 12.10."""
    tax_rates("NL", {"standard": 21, "reduced": 9})
    zone_with_methods(
        "Netherlands",
        ["NL"],
        [
            {"code": "standard", "flat_rate": Decimal("4.95")},
            {"code": "express", "flat_rate": Decimal("9.95")},
        ],
    )
    product = ProductFactory(price=Decimal("12.10"), name="Teapot")
    stock(product.variants[0], LocationFactory(), on_hand=10)
    return product.variants[0]


def bearer_for(customer) -> dict:
    _, secret = tokens.issue_customer_token(customer.id)
    return {"Authorization": f"Bearer {secret}"}


def assert_problem(response, status, code=None):
    assert response.status_code == status, response.text
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and "Traceback" not in response.text
    if code:
        assert body["code"] == code
    return body


def new_cart(client, headers=None, **body):
    response = client.post(f"{STORE}/carts", json=body, headers=headers or {})
    assert response.status_code in (200, 201), response.text
    return response.get_json()


def add(client, cart_id, sku, quantity=1, headers=None):
    return client.post(
        f"{STORE}/carts/{cart_id}/lines", json={"sku": sku, "quantity": quantity}, headers=headers or {}
    )


# --- creating and reading ---------------------------------------------------------


def test_a_guest_starts_a_cart(client, shop):
    response = client.post(f"{STORE}/carts", json={"email": "Ada@Example.org"})

    assert response.status_code == 201 and response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/store/carts/{body['id']}")
    assert len(body["id"]) == 43 and body["owned"] is False
    assert (body["status"], body["currency"], body["email"]) == ("open", "EUR", "ada@example.org")
    assert body["totals"]["total"] == "0.00" and body["totals"]["shipping"] is None
    assert body["problems"] == ["cart_empty", "shipping_address_required"]
    assert body["ready_for_checkout"] is False


def test_a_cart_from_start_to_ready_for_checkout(client, shop):
    cart_id = new_cart(client)["id"]

    added = add(client, cart_id, shop.sku, 2)
    assert added.status_code == 200, added.text
    line = added.get_json()["lines"][0]
    assert (line["sku"], line["product_name"], line["variant_title"]) == (shop.sku, "Teapot", "Default")
    assert (line["unit_price"], line["line_subtotal"], line["tax"], line["line_total"]) == (
        "12.10",
        "24.20",
        "4.20",
        "24.20",
    )
    assert line["availability"] == {
        "state": "in_stock",
        "available": 10,
        "backorderable": 0,
        "expected_restock_date": None,
        "backordered_quantity": 0,
    }
    assert line["problems"] == [] and line["tax_rate"] == "0.2100"

    response = client.patch(
        f"{STORE}/carts/{cart_id}",
        json={"email": "ada@example.org", "shipping_address": ADDRESS, "shipping_method": "standard"},
    )

    assert response.status_code == 200, response.text
    body = response.get_json()
    assert body["shipping_address"]["country"] == "NL" and body["billing_address"] is None
    assert [(o["code"], o["price"]) for o in body["shipping_options"]] == [
        ("standard", "4.95"),
        ("express", "9.95"),
    ]
    assert body["shipping_method"]["code"] == "standard"
    assert body["totals"] == {
        "prices_include_tax": True,
        "subtotal": "24.20",
        "discount_total": "0.00",
        "shipping": "4.95",
        "shipping_tax": "0.86",
        "tax_total": "5.06",
        "total": "29.15",
        "tax_breakdown": [{"rate": "0.2100", "name": "VAT 21%", "amount": "5.06"}],
        "weight_grams": 0,
    }
    assert body["tax_destination"] == {"country": "NL", "region": "", "is_estimate": False}
    assert body["problems"] == [] and body["ready_for_checkout"] is True
    assert client.get(f"{STORE}/carts/{cart_id}").get_json() == body


def test_an_unknown_cart_is_a_404_problem(client, db):
    response = client.get(f"{STORE}/carts/{'x' * 43}")
    assert_problem(response, 404, "cart_not_found")
    assert response.headers["Cache-Control"] == "no-store"


def test_a_customer_token_makes_an_owned_cart_and_asking_again_returns_it(client, shop):
    headers = bearer_for(CustomerFactory())

    first = client.post(f"{STORE}/carts", json={}, headers=headers)
    again = client.post(f"{STORE}/carts", json={}, headers=headers)

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["owned"] is True and again.get_json()["id"] == first.get_json()["id"]
    assert "email_required" not in first.get_json()["problems"]


def test_another_customers_cart_is_a_404_with_or_without_a_token(client, shop):
    owner = bearer_for(CustomerFactory())
    cart_id = new_cart(client, owner)["id"]

    assert client.get(f"{STORE}/carts/{cart_id}", headers=owner).status_code == 200
    assert_problem(client.get(f"{STORE}/carts/{cart_id}"), 404, "cart_not_found")
    stranger = bearer_for(CustomerFactory())
    assert_problem(client.get(f"{STORE}/carts/{cart_id}", headers=stranger), 404, "cart_not_found")
    assert_problem(add(client, cart_id, shop.sku, headers=stranger), 404)


def test_a_bearer_token_that_is_not_valid_is_a_401_not_a_guest(client, db):
    response = client.post(f"{STORE}/carts", json={}, headers={"Authorization": "Bearer crm_nonsense"})
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_blocked_customer_is_refused(client, db):
    headers = bearer_for(CustomerFactory(status="blocked"))
    assert_problem(client.post(f"{STORE}/carts", json={}, headers=headers), 403, "customer_blocked")


def test_bad_bodies_are_422s_naming_the_field(client, db):
    assert "email" in assert_problem(client.post(f"{STORE}/carts", json={"email": "nope"}), 422)["errors"]
    unknown = assert_problem(client.post(f"{STORE}/carts", json={"customer_id": 3}), 422)
    assert "customer_id" in unknown["errors"]


# --- lines --------------------------------------------------------------------------


@pytest.mark.parametrize("quantity", [0, 1000, 1_000_000, "2", 1.5])
def test_quantities_outside_1_to_999_are_422(client, shop, quantity):
    cart_id = new_cart(client)["id"]
    body = assert_problem(add(client, cart_id, shop.sku, quantity), 422)
    assert "quantity" in body["errors"]


def test_an_unknown_sku_is_a_422_on_sku(client, shop):
    cart_id = new_cart(client)["id"]
    body = assert_problem(add(client, cart_id, "NO-SUCH-SKU"), 422)
    assert list(body["errors"]) == ["sku"]


def test_an_item_is_named_by_sku_or_variant_id(client, shop):
    cart_id = new_cart(client)["id"]
    by_id = client.post(f"{STORE}/carts/{cart_id}/lines", json={"variant_id": shop.id, "quantity": 2})
    assert by_id.status_code == 200 and by_id.get_json()["lines"][0]["quantity"] == 2
    both = client.post(f"{STORE}/carts/{cart_id}/lines", json={"variant_id": shop.id, "sku": shop.sku})
    assert "sku" in assert_problem(both, 422)["errors"]


def test_adding_the_same_item_adds_up_and_lines_change_and_go(client, shop):
    cart_id = new_cart(client)["id"]
    add(client, cart_id, shop.sku, 2)
    merged = add(client, cart_id, shop.sku, 3).get_json()
    (line,) = merged["lines"]
    assert line["quantity"] == 5

    changed = client.patch(f"{STORE}/carts/{cart_id}/lines/{line['id']}", json={"quantity": 12})
    assert changed.status_code == 200
    assert changed.get_json()["lines"][0]["problems"] == ["quantity_exceeds_available"]
    assert "line_problems" in changed.get_json()["problems"]
    assert (
        "quantity"
        in assert_problem(
            client.patch(f"{STORE}/carts/{cart_id}/lines/{line['id']}", json={"quantity": 0}), 422
        )["errors"]
    )

    removed = client.delete(f"{STORE}/carts/{cart_id}/lines/{line['id']}")
    assert removed.status_code == 200 and removed.get_json()["lines"] == []


def test_a_line_of_another_cart_is_a_404(client, shop):
    mine, theirs = new_cart(client)["id"], new_cart(client)["id"]
    their_line = add(client, theirs, shop.sku).get_json()["lines"][0]["id"]

    assert_problem(client.patch(f"{STORE}/carts/{mine}/lines/{their_line}", json={"quantity": 2}), 404)
    assert_problem(client.delete(f"{STORE}/carts/{mine}/lines/{their_line}"), 404, "cart_line_not_found")
    assert client.get(f"{STORE}/carts/{theirs}").get_json()["lines"][0]["quantity"] == 1


def test_a_closed_cart_cannot_change(client, shop):
    from app.blueprints.orders.models import Cart
    from app.extensions import db

    cart_id = new_cart(client)["id"]
    db.session.query(Cart).filter_by(token=cart_id).update({"status": "checked_out"})

    assert_problem(add(client, cart_id, shop.sku), 409, "cart_not_open")
    body = client.get(f"{STORE}/carts/{cart_id}").get_json()
    assert body["status"] == "checked_out" and "cart_not_open" in body["problems"]


# --- details ------------------------------------------------------------------------


def test_an_address_we_do_not_ship_to_is_a_422_and_nothing_changes(client, shop):
    cart_id = new_cart(client)["id"]

    response = client.patch(
        f"{STORE}/carts/{cart_id}",
        json={"email": "ada@example.org", "shipping_address": {**ADDRESS, "country": "JP"}},
    )

    assert list(assert_problem(response, 422)["errors"]) == ["shipping_address.country"]
    assert client.get(f"{STORE}/carts/{cart_id}").get_json()["email"] is None


def test_missing_address_fields_and_unknown_methods_are_named(client, shop):
    cart_id = new_cart(client)["id"]
    missing = client.patch(f"{STORE}/carts/{cart_id}", json={"shipping_address": {"country": "NL"}})
    assert {"shipping_address.line1", "shipping_address.city"} <= set(assert_problem(missing, 422)["errors"])
    method = client.patch(
        f"{STORE}/carts/{cart_id}", json={"shipping_address": ADDRESS, "shipping_method": "teleport"}
    )
    assert list(assert_problem(method, 422)["errors"]) == ["shipping_method"]


def test_null_clears_a_detail(client, shop):
    cart_id = new_cart(client, email="ada@example.org")["id"]
    client.patch(f"{STORE}/carts/{cart_id}", json={"shipping_address": ADDRESS, "shipping_method": "express"})

    body = client.patch(f"{STORE}/carts/{cart_id}", json={"shipping_address": None}).get_json()

    assert body["shipping_address"] is None and body["shipping_method"] is None
    assert body["email"] == "ada@example.org"


# --- claim and promo codes ----------------------------------------------------------


def a_customer_cart_and_a_guest_cart(client, shop) -> tuple[dict, str, str]:
    """(the customer's headers, their cart with 1 unit, a guest cart with 2 of the same)."""
    headers = bearer_for(CustomerFactory())
    mine = new_cart(client, headers)["id"]
    add(client, mine, shop.sku, 1, headers=headers)
    guest = new_cart(client)["id"]
    add(client, guest, shop.sku, 2)
    return headers, mine, guest


def test_signing_in_claims_the_guest_cart(client, shop):
    headers, mine, guest = a_customer_cart_and_a_guest_cart(client, shop)

    response = client.post(f"{STORE}/carts/{guest}/claim", headers=headers)

    assert response.status_code == 200, response.text
    body = response.get_json()
    assert body["id"] == mine and body["lines"][0]["quantity"] == 3
    assert_problem(client.get(f"{STORE}/carts/{guest}"), 404)


def test_a_retried_claim_answers_the_cart_the_guest_cart_was_merged_into(client, shop):
    headers, mine, guest = a_customer_cart_and_a_guest_cart(client, shop)
    first = client.post(f"{STORE}/carts/{guest}/claim", headers=headers)
    assert first.status_code == 200, first.text

    retried = client.post(f"{STORE}/carts/{guest}/claim", headers=headers)

    assert retried.status_code == 200, retried.text
    body = retried.get_json()
    assert body["id"] == mine and body["status"] == "open"
    assert body["lines"][0]["quantity"] == 3  # merged once, not twice


def test_claiming_ones_own_checked_out_cart_is_a_409_not_a_dead_cart(client, shop):
    customer = CustomerFactory()
    headers = bearer_for(customer)
    from app.blueprints.orders.models import Cart
    from app.extensions import db

    mine = new_cart(client, headers)["id"]
    db.session.query(Cart).filter_by(token=mine).update({"status": "checked_out"})

    assert_problem(client.post(f"{STORE}/carts/{mine}/claim", headers=headers), 409, "cart_not_open")


def test_claiming_needs_a_customer_token(client, db):
    guest = new_cart(client)["id"]
    assert_problem(client.post(f"{STORE}/carts/{guest}/claim"), 401)


def test_promo_codes_answer_a_clear_409_until_promotions_exist(client, db):
    cart_id = new_cart(client)["id"]

    applied = client.post(f"{STORE}/carts/{cart_id}/promo-code", json={"code": "SUMMER"})
    removed = client.delete(f"{STORE}/carts/{cart_id}/promo-code")

    for response in (applied, removed):
        body = assert_problem(response, 409, "promotions_unavailable")
        assert body["detail"] == "Promo codes are not available yet."
    assert_problem(client.post(f"{STORE}/carts/{'y' * 43}/promo-code", json={"code": "SUMMER"}), 404)


# --- transport rules ----------------------------------------------------------------


def test_cart_creation_is_rate_limited_per_ip(app, client, db):
    from app.extensions import limiter

    app.config["CART_RATE_LIMIT"] = "3 per minute"
    limiter.reset()
    statuses = [client.post(f"{STORE}/carts", json={}) for _ in range(4)]

    assert [r.status_code for r in statuses[:3]] == [201, 201, 201]
    assert_problem(statuses[3], 429)
    assert int(statuses[3].headers["Retry-After"]) > 0


def test_bodies_that_are_not_json_are_refused(client, db):
    assert_problem(client.post(f"{STORE}/carts", data="{nope", content_type="application/json"), 400)
    assert_problem(client.post(f"{STORE}/carts", data="email=x", content_type="text/plain"), 415)


def test_concurrent_adds_of_one_item_end_in_one_line(app, committed_db):
    """Changes to one cart run one after the other (the cart row is locked), so the
    same item added at once from two tabs is one line with both quantities, never a 500."""
    if committed_db.engine.dialect.name != "postgresql":
        pytest.skip("row locks are what is tested; SQLite serializes writers anyway")
    from concurrent.futures import ThreadPoolExecutor

    from app.blueprints.orders import carts
    from app.core.transaction import transaction

    with transaction():
        sku = ProductFactory(price=Decimal("5.00")).variants[0].sku
        cart_id = carts.create_cart().token

    def add_one(_):
        return app.test_client().post(f"{STORE}/carts/{cart_id}/lines", json={"sku": sku, "quantity": 1})

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = [response.status_code for response in pool.map(add_one, range(6))]

    assert statuses == [200] * 6
    (line,) = app.test_client().get(f"{STORE}/carts/{cart_id}").get_json()["lines"]
    assert line["quantity"] == 6


def test_every_cart_endpoint_declares_who_may_call_it(app):
    """Guests use carts: public, with ownership enforced by the services; claiming is for customers."""
    declared = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(f"{STORE}/carts"):
            view_class = app.view_functions[rule.endpoint].view_class
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                declared[(rule.rule, method)] = access_declaration(getattr(view_class, method.lower()))
    assert len(declared) == 10  # with checkout
    assert declared.pop((f"{STORE}/carts/<cart_id>/claim", "POST")) == "customer"
    assert set(declared.values()) == {"public"}


def test_the_cart_paths_are_in_the_openapi_document(client, db):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in (
        "/api/v1/store/carts",
        "/api/v1/store/carts/{cart_id}",
        "/api/v1/store/carts/{cart_id}/lines",
        "/api/v1/store/carts/{cart_id}/lines/{line_id}",
        "/api/v1/store/carts/{cart_id}/claim",
        "/api/v1/store/carts/{cart_id}/promo-code",
        "/api/v1/store/carts/{cart_id}/checkout",
    ):
        assert path in paths


def test_a_cart_does_not_reveal_how_much_stock_is_held(client, shop, db):
    stock(shop, LocationFactory(), on_hand=33)  # 43 in all
    cart_id = new_cart(client)["id"]
    line = add(client, cart_id, shop.sku, 1).get_json()["lines"][0]
    assert line["availability"]["available"] == 10  # "10 or more", as on the product page
