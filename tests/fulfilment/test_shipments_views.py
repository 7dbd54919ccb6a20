"""The shipment pages: the order page's Shipments section, the ship page (prefilled with
what is reserved, errors next to the fields with the input kept, one shipment per form,
fulfilment.ship required) and the list of shipments with its filters."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.blueprints.fulfilment import shipment_views
from app.blueprints.fulfilment.models import Shipment
from app.blueprints.orders.order_models import Order
from app.extensions import db
from tests.catalog.views_support import field_error, flashes, htmx, input_value, role_with, signed_in
from tests.factories.catalog import LocationFactory, stock
from tests.fulfilment.shipment_helpers import Staff, pay, ship
from tests.fulfilment.test_parcelhub import TWO_RATES, configure_parcelhub
from tests.orders.checkout_helpers import make_shop, place_order_directly


@pytest.fixture
def shop(db):
    return make_shop()


@pytest.fixture
def support(portal, db):
    """Support: orders.read, fulfilment.read and fulfilment.ship."""
    signed_in(portal, "support")
    return portal


@pytest.fixture
def sales(portal, db):
    """Sales: orders.read and fulfilment.read, not fulfilment.ship."""
    signed_in(portal, "sales")
    return portal


def paid_order(shop, lines=None) -> Order:
    return pay(place_order_directly(lines or [(shop.teapot, 2), (shop.cup, 1)]), actor=Staff())


def ship_url(order) -> str:
    return f"/orders/{order.number}/ship"


def form_data(page: str) -> dict:
    """The ship form as the browser would send it untouched (inputs and chosen options)."""
    data = {}
    for tag in re.findall(r"<input[^>]*>", page):
        name = re.search(r'\bname="([^"]+)"', tag)
        value = re.search(r'\bvalue="([^"]*)"', tag)
        if name and name.group(1) != "csrf_token":
            data[name.group(1)] = value.group(1) if value else ""
    for name, options in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(
            r'<option[^>]*selected[^>]*value="([^"]*)"|<option[^>]*value="([^"]*)"[^>]*selected', options
        )
        first = re.search(r'<option[^>]*value="([^"]*)"', options)
        data[name] = (chosen.group(1) or chosen.group(2)) if chosen else (first.group(1) if first else "")
    return data


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_every_shipment_page_declares_the_permission_it_needs(app):
    declared = {
        rule.endpoint: app.view_functions[rule.endpoint].required_permission
        for rule in app.url_map.iter_rules()
        if app.view_functions[rule.endpoint].__module__ == shipment_views.__name__
    }
    assert declared == {
        "fulfilment.ship_order": "fulfilment.ship",
        "fulfilment.ship_rates": "fulfilment.ship",
        "fulfilment.shipments": "fulfilment.read",
    }


# ---- the order page ----------------------------------------------------------------------------


def test_the_order_page_shows_its_shipments_and_offers_shipping_to_who_may_ship(support, shop):
    order = paid_order(shop)
    ship(
        order,
        actor=Staff(),
        quantities={order.lines[0].id: 1},
        carrier="PostNL",
        service="Standard",
        tracking_number="3SABCD123",
        tracking_url="https://jouw.postnl.nl/track-and-trace/3SABCD123-NL-1012LG",
        packages=2,
    )

    page = support.get(f"/orders/{order.number}").text

    section = page.split('id="shipments"')[1].split("</section>")[0]
    assert f"Shipment {order.number}-1" in section and "Label created" in section
    assert 'href="https://jouw.postnl.nl/track-and-trace/3SABCD123-NL-1012LG"' in section
    assert "PostNL · Standard" in section and f"{shop.teapot.sku}</code>" in section
    assert f'href="{ship_url(order)}"' in section and "Ship items…" in section
    assert "2 units left to ship" in section
    assert "/actions/ship" not in page  # shipping is no order action any more


def test_sales_see_shipments_but_no_ship_button_and_may_not_ship(sales, shop):
    order = paid_order(shop)

    page = sales.get(f"/orders/{order.number}").text

    assert 'id="shipments"' in page and "Ship items…" not in page
    assert sales.get(ship_url(order)).status_code == 403
    assert sales.post(ship_url(order), data={"location_id": shop.location.id}).status_code == 403
    assert count(Shipment) == 0


def test_the_old_ship_action_is_gone(support, shop):
    order = paid_order(shop)
    assert support.post(f"/orders/{order.number}/actions/ship").status_code == 404
    assert db.session.get(Order, order.id).status == "paid"


def test_without_fulfilment_read_the_section_is_not_shown(app, portal, shop):
    signed_in(portal, role_with("Order desk", "orders.read"))
    order = paid_order(shop)
    page = portal.get(f"/orders/{order.number}").text
    assert 'id="shipments"' not in page
    assert portal.get("/shipments").status_code == 403


# ---- the ship page -----------------------------------------------------------------------------


def test_the_ship_page_is_prefilled_with_what_is_reserved_and_ships_it(support, shop):
    order = paid_order(shop)
    page = support.get(ship_url(order)).text
    assert f"<title>Ship order {order.number}" in page
    assert input_value(page, "lines-0-quantity") == "2" and input_value(page, "lines-1-quantity") == "1"
    data = form_data(page)
    assert data["location_id"] == str(shop.location.id) and data["provider"] == "manual"

    data.update(carrier="DHL", tracking_number="JVGL42", packages="1")
    response = support.post(ship_url(order), data=data)

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/orders/{order.number}#shipments")
    order = db.session.get(Order, order.id)
    assert (order.status, order.fulfilment_status) == ("shipped", "fulfilled")
    page = support.get(f"/orders/{order.number}").text
    assert f"Shipment {order.number}-1 is created: order {order.number} is shipped." in flashes(page)
    assert "JVGL42" in page


def test_part_of_the_order_ships_when_only_some_units_are_typed(support, shop):
    order = paid_order(shop)
    data = form_data(support.get(ship_url(order)).text)
    data.update({"lines-0-quantity": "1", "lines-1-quantity": "0", "carrier": "PostNL"})

    response = support.post(ship_url(order), data=data)

    assert response.status_code == 302
    order = db.session.get(Order, order.id)
    assert (order.status, [line.shipped_quantity for line in order.lines]) == ("partially_shipped", [1, 0])
    assert (
        f"order {order.number} is partially shipped"
        in flashes(support.get(f"/orders/{order.number}").text)[0]
    )


def test_a_refused_shipment_shows_the_errors_next_to_the_fields_and_keeps_the_input(support, shop):
    order = paid_order(shop)
    data = form_data(support.get(ship_url(order)).text)
    data.update(
        {
            "lines-0-quantity": "3",  # 2 ordered
            "carrier": "PostNL",
            "tracking_number": "3SKEEPME",
            "tracking_url": "https://jouw.postnl.nl/track-and-trace/3SKEEPME",
        }
    )

    response = support.post(ship_url(order), data=data)

    assert response.status_code == 422
    page = response.text
    assert "At most 2: that is what is left to ship." in field_error(page, "lines-0-quantity")
    assert "More units than the order has left to ship." in page
    assert input_value(page, "lines-0-quantity") == "3"
    assert (input_value(page, "carrier"), input_value(page, "tracking_number")) == ("PostNL", "3SKEEPME")
    assert count(Shipment) == 0 and db.session.get(Order, order.id).status == "paid"

    data.update({"lines-0-quantity": "2", "packages": "0", "tracking_url": "nonsense"})
    page = support.post(ship_url(order), data=data).text
    assert field_error(page, "packages") and field_error(page, "tracking_url")
    assert input_value(page, "tracking_number") == "3SKEEPME"
    assert count(Shipment) == 0


def test_one_form_makes_one_shipment_however_often_it_is_sent(support, shop):
    order = paid_order(shop)
    data = form_data(support.get(ship_url(order)).text)
    data["lines-0-quantity"] = "1"

    first = support.post(ship_url(order), data=data)
    again = support.post(ship_url(order), data=data)

    assert first.status_code == again.status_code == 302
    assert count(Shipment) == 1
    messages = flashes(support.get(f"/orders/{order.number}").text)
    assert f"Shipment {order.number}-1 is created already." in messages


def test_choosing_another_location_refills_the_lines_with_what_is_reserved_there(support, db):
    shop = make_shop(teapot_stock=3)
    second = LocationFactory(name="Overflow")
    stock(shop.teapot, second, on_hand=10)
    order = paid_order(shop, [(shop.teapot, 12)])  # 3 at the first location, 9 at the second

    page = support.get(ship_url(order)).text
    assert input_value(page, "lines-0-quantity") == "3"
    fragment = support.get(f"{ship_url(order)}?location_id={second.id}", headers=htmx("ship-lines"))

    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert fragment.text.lstrip().startswith('<div id="ship-lines">')
    assert input_value(fragment.text, "lines-0-quantity") == "9"


def test_an_order_with_nothing_in_stock_for_it_says_so(support, shop):
    shop.teapot.backorder_policy = "allow"
    db.session.flush()
    unpaid = place_order_directly([(shop.cup, 1)])
    page = support.get(ship_url(unpaid)).text
    assert "An order that is pending payment cannot ship." in page and 'id="ship-form"' not in page

    waiting = place_order_directly([(shop.teapot, 11)])
    ship(pay(waiting, actor=Staff()), actor=Staff())  # the 10 in stock left
    page = support.get(ship_url(waiting)).text
    assert "Nothing of this order is in stock for it yet" in page
    assert "Ship items…" not in support.get(f"/orders/{waiting.number}").text


# ---- the list ----------------------------------------------------------------------------------


def shipped_orders(shop, carriers) -> list[Order]:
    orders = []
    for carrier, tracking in carriers:
        order = paid_order(shop, [(shop.cup, 1)])
        ship(order, actor=Staff(), carrier=carrier, tracking_number=tracking)
        orders.append(order)
    return orders


def numbers_listed(page: str) -> list[str]:
    return re.findall(r'<a href="/orders/\d+#shipment-([\d-]+)">', page)


def test_the_list_shows_shipments_newest_first_with_filters_in_the_url(sales, shop):
    orders = shipped_orders(shop, [("PostNL", "3SAAA1"), ("DHL", "JVGL2"), ("PostNL", "3SCCC3")])

    page = sales.get("/shipments").text
    assert "<title>Shipments" in page and 'href="/shipments"' in page  # in the sidebar
    assert numbers_listed(page) == [f"{o.number}-1" for o in reversed(orders)]
    assert numbers_listed(sales.get("/shipments?carrier=DHL").text) == [f"{orders[1].number}-1"]
    assert numbers_listed(sales.get("/shipments?q=3SAAA1").text) == [f"{orders[0].number}-1"]
    assert numbers_listed(sales.get(f"/shipments?q={orders[2].number}").text) == [f"{orders[2].number}-1"]
    assert numbers_listed(sales.get("/shipments?status=delivered").text) == []
    assert "No shipments match these filters." in sales.get("/shipments?status=delivered").text
    fragment = sales.get("/shipments?carrier=PostNL", headers=htmx("shipment-results")).text
    assert "<html" not in fragment and len(numbers_listed(fragment)) == 2


def test_the_list_paginates_and_refuses_bad_filters_without_a_500(sales, shop):
    shipped_orders(shop, [("PostNL", f"3S{i}") for i in range(27)])

    first = sales.get("/shipments").text
    second = sales.get("/shipments?page=2").text
    bad = sales.get("/shipments?created_from=2026-05-02&created_to=2026-05-01")

    assert len(numbers_listed(first)) == 25 and len(numbers_listed(second)) == 2
    assert 'rel="next"' in first
    assert bad.status_code == 422 and "Comes before “Shipped from”." in bad.text


def test_an_empty_list_says_how_shipments_come_about(sales, shop):
    page = sales.get("/shipments").text
    assert "Nothing has shipped yet." in page


# ---- carrier rates on the ship page ------------------------------------------------------------


@pytest.fixture
def parcelhub(app, httpserver):
    saved = configure_parcelhub(app, httpserver.url_for(""))
    yield httpserver
    app.config.update(saved)


def rates_url(order, shop, **args) -> str:
    query = {"provider": "parcelhub", "location_id": shop.location.id, "packages": 1, **args}
    return f"{ship_url(order)}/rates?" + "&".join(f"{key}={value}" for key, value in query.items())


def test_the_ship_page_compares_the_providers_carrier_rates_cheapest_first(support, shop, parcelhub):
    parcelhub.expect_request("/v1/rates", method="POST").respond_with_json(TWO_RATES)
    order = paid_order(shop)
    page = support.get(ship_url(order)).text
    assert "Compare carrier rates" in page and f'hx-get="{ship_url(order)}/rates"' in page

    fragment = support.get(
        rates_url(order, shop, packages=2, weight_grams=900), headers=htmx("ship-rates")
    ).text

    assert fragment.index('value="rate_1"') < fragment.index('value="rate_9"')
    assert "PostNL" in fragment and "2 days" in fragment and "€6.95" in fragment
    assert 'name="rate_id" value="" checked' in fragment  # nothing picked yet
    (request, _answer) = parcelhub.log[0]
    body = request.get_json()
    assert len(body["parcels"]) == 2 and sum(p["weight_grams"] for p in body["parcels"]) == 900
    assert body["to"]["postal_code"] == order.shipping_address["postal_code"]


def test_a_picked_rate_is_the_service_the_label_is_bought_for(support, shop, parcelhub):
    from tests.fulfilment.test_parcelhub import label_answer

    parcelhub.expect_request("/v1/shipments", method="POST").respond_with_json(
        label_answer(service="standard")
    )
    order = paid_order(shop)
    data = form_data(support.get(ship_url(order)).text)
    data.update(provider="parcelhub", rate_id="rate_1", service="")

    response = support.post(ship_url(order), data=data)

    assert response.status_code == 302, response.text
    (request, _answer) = parcelhub.log[0]
    assert request.get_json()["rate_id"] == "rate_1"
    shipment = db.session.scalar(select(Shipment))
    assert (shipment.carrier, shipment.tracking_number) == ("DHL", "PH123456789")


def test_a_refused_shipment_keeps_the_picked_rate(support, shop, parcelhub):
    order = paid_order(shop)
    data = form_data(support.get(ship_url(order)).text)
    data.update(provider="parcelhub", rate_id="rate_1", packages="0")

    response = support.post(ship_url(order), data=data)

    assert response.status_code == 422
    assert "Carrier rate <code>rate_1</code> is picked" in response.text
    assert input_value(response.text, "rate_id") == "rate_1"
    assert count(Shipment) == 0 and parcelhub.log == []


def test_the_manual_provider_has_no_rates_and_says_what_to_do(support, shop, parcelhub):
    order = paid_order(shop)
    fragment = support.get(rates_url(order, shop, provider="manual"), headers=htmx("ship-rates")).text
    assert "sells no labels" in fragment and "rate_id" not in fragment
    assert parcelhub.log == []


def test_rates_that_cannot_be_had_say_so(support, shop, parcelhub):
    parcelhub.expect_request("/v1/rates", method="POST").respond_with_data("down", status=502)
    order = paid_order(shop)
    fragment = support.get(rates_url(order, shop), headers=htmx("ship-rates")).text
    assert "gave no rates" in fragment


@pytest.mark.parametrize(
    ("args", "message"),
    [({"packages": 0}, "Parcels: From 1 to"), ({"provider": "carrier-pigeon"}, "Shipping provider:")],
)
def test_rates_for_impossible_parcels_name_the_field_and_ask_nothing(support, shop, parcelhub, args, message):
    order = paid_order(shop)
    fragment = support.get(rates_url(order, shop, **args), headers=htmx("ship-rates")).text
    assert 'role="alert"' in fragment and message in fragment
    assert parcelhub.log == []


def test_comparing_rates_needs_fulfilment_ship(sales, shop, parcelhub):
    order = paid_order(shop)
    assert sales.get(rates_url(order, shop)).status_code == 403
    assert parcelhub.log == []
