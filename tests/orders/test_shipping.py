"""Shipping zones and methods: which zone serves a destination (a region's entry wins over
its country's), what a method charges (flat, weight bands, free over an amount), and the
settings services' rules and audit trail."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from app.blueprints.orders import shipping, shipping_methods
from app.blueprints.orders.models import (
    Cart,
    ShippingMethod,
    ShippingRateBand,
    ShippingZone,
    ShippingZoneCountry,
)
from app.core.errors import InvalidInput, NotFound
from app.core.models import AuditEntry
from app.extensions import db
from tests.factories.orders import ShippingMethodFactory, weight_band_method, zone_with_methods

D = Decimal


def db_session():
    return db.session


def audit_actions():
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def express(zone=None, **fields):
    return weight_band_method(zone, [(2000, "9.95"), (10000, "14.95"), (30000, "24.95")], **fields)


# ---- zone resolution ---------------------------------------------------------------------


def test_a_region_entry_wins_over_its_country_entry(db):
    spain = zone_with_methods("Spain", ["ES"])
    islands = zone_with_methods("Canary Islands", [("ES", "Canarias")])
    assert shipping.zone_for("ES", "Canarias") == islands
    assert shipping.zone_for("es", "  canarias ") == islands  # code and region ignore case
    assert shipping.zone_for("ES", "Madrid") == spain
    assert shipping.zone_for("ES") == spain


def test_a_region_without_its_own_entry_falls_back_to_the_country(db):
    zone = zone_with_methods("Netherlands", ["NL"])
    assert shipping.zone_for("NL", "Noord-Holland") == zone


def test_a_region_only_zone_does_not_serve_the_rest_of_the_country(db):
    zone_with_methods("Canary Islands", [("ES", "Canarias")])
    assert shipping.zone_for("ES") is None
    assert shipping.zone_for("ES", "Madrid") is None


def test_an_unserved_or_empty_destination_has_no_zone_and_no_methods(db):
    zone_with_methods("Netherlands", ["NL"])
    assert shipping.zone_for("US", "CA") is None
    assert shipping.zone_for("") is None
    assert shipping.methods_for("US") == []
    assert shipping.method_by_code("US", "", "standard") is None


def test_methods_for_lists_active_methods_by_position_with_bands(db):
    zone = zone_with_methods(
        "Netherlands",
        ["NL"],
        [
            {"code": "pickup", "flat_rate": D("0.00"), "position": 5},
            {"code": "standard", "flat_rate": D("4.95"), "position": 1},
            {"code": "old", "flat_rate": D("3.00"), "position": 0, "is_active": False},
        ],
    )
    express(zone, code="express", position=2)
    methods = shipping.methods_for("NL")
    assert [method.code for method in methods] == ["standard", "express", "pickup"]
    assert [band.max_weight_grams for band in methods[1].bands] == [2000, 10000, 30000]


def test_methods_for_costs_one_statement_whatever_the_zone(db):
    from sqlalchemy import event

    zone_with_methods("Spain", ["ES"], [{"code": "standard"}])
    islands = zone_with_methods("Canary Islands", [("ES", "Canarias")], [{"code": "island"}])
    express(islands, code="express")
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        methods = shipping.methods_for("ES", "Canarias")
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert [method.code for method in methods] == ["island", "express"]
    assert len(methods[1].bands) == 3
    assert len(statements) == 1  # the methods joined to their bands


def test_method_by_code_finds_only_active_methods_of_the_destinations_zone(db):
    nl = zone_with_methods("Netherlands", ["NL"], [{"code": "standard"}, {"code": "old", "is_active": False}])
    zone_with_methods("Belgium", ["BE"], [{"code": "express"}])
    assert shipping.method_by_code("NL", "", "standard") == nl.methods[0]
    assert shipping.method_by_code("NL", "", " Standard ") == nl.methods[0]
    assert shipping.method_by_code("NL", "", "old") is None
    assert shipping.method_by_code("NL", "", "express") is None


# ---- method prices -----------------------------------------------------------------------


def test_a_flat_method_charges_its_rate_whatever_the_weight(db):
    method = ShippingMethodFactory(flat_rate=D("4.95"))
    assert shipping.shipping_price(method, goods_total=D("10.00"), weight_grams=0) == D("4.95")
    assert shipping.shipping_price(method, goods_total=D("10.00"), weight_grams=99_000) == D("4.95")


def test_free_over_ships_free_from_exactly_the_amount(db):
    method = ShippingMethodFactory(flat_rate=D("4.95"), free_over=D("50.00"))
    assert shipping.shipping_price(method, goods_total=D("49.99"), weight_grams=500) == D("4.95")
    assert shipping.shipping_price(method, goods_total=D("50.00"), weight_grams=500) == D("0.00")
    assert shipping.shipping_price(method, goods_total=D("50.01"), weight_grams=500) == D("0.00")


def test_weight_bands_charge_the_first_band_covering_the_weight(db):
    method = express()
    price = lambda grams: shipping.shipping_price(method, goods_total=D("10.00"), weight_grams=grams)  # noqa: E731
    assert price(0) == D("9.95")
    assert price(2000) == D("9.95")  # a band's maximum is included
    assert price(2001) == D("14.95")
    assert price(10000) == D("14.95")
    assert price(29_999) == D("24.95")
    assert price(30_000) == D("24.95")


def test_a_parcel_heavier_than_every_band_cannot_ship_even_when_free(db):
    method = express(free_over=D("50.00"))
    assert shipping.shipping_price(method, goods_total=D("10.00"), weight_grams=30_001) is None
    assert shipping.shipping_price(method, goods_total=D("500.00"), weight_grams=30_001) is None
    assert shipping.shipping_price(method, goods_total=D("50.00"), weight_grams=29_000) == D("0.00")


# ---- zone services -----------------------------------------------------------------------


def test_create_zone_normalises_destinations_and_audits(db):
    zone = shipping.create_zone(
        actor=None, name="  Benelux ", countries=["nl", ("BE", ""), {"country": "es", "region": " Canarias "}]
    )
    assert zone.name == "Benelux"
    assert sorted((c.country, c.region) for c in zone.countries) == [
        ("BE", ""),
        ("ES", "Canarias"),
        ("NL", ""),
    ]
    assert audit_actions() == ["orders.shipping_zone.created"]


def test_zones_are_placed_last_unless_a_position_is_given(db):
    first = shipping.create_zone(actor=None, name="A")
    second = shipping.create_zone(actor=None, name="B")
    third = shipping.create_zone(actor=None, name="C", position=0)
    assert (first.position, second.position, third.position) == (0, 1, 0)
    assert [zone.name for zone in shipping.list_zones()] == ["A", "C", "B"]


def test_unknown_country_codes_are_refused_like_customer_addresses(db):
    with pytest.raises(InvalidInput) as error:
        shipping.create_zone(actor=None, name="Nowhere", countries=["NL", "XX", "EU", ""])
    errors = error.value.errors
    assert "ISO 3166" in errors["countries.1.country"][0]
    assert "countries.2.country" in errors  # a region of the world, not a country
    assert errors["countries.3.country"] == ["Required."]
    assert "countries.0.country" not in errors
    assert db_session().scalar(select(ShippingZone.id)) is None


def test_a_destination_already_in_another_zone_is_refused(db):
    zone_with_methods("Netherlands", ["NL"])
    zone_with_methods("Islands", [("ES", "Canarias")])
    with pytest.raises(InvalidInput) as error:
        shipping.create_zone(actor=None, name="Europe", countries=["BE", "NL", ("ES", "CANARIAS"), "ES"])
    errors = error.value.errors
    assert errors["countries.1.country"] == ["NL is already in the zone “Netherlands”."]
    assert "Islands" in errors["countries.2.country"][0]
    assert set(errors) == {"countries.1.country", "countries.2.country"}  # ES as a whole is free


def test_a_destination_listed_twice_and_a_taken_name_are_refused(db):
    zone_with_methods("Netherlands", ["NL"])
    with pytest.raises(InvalidInput) as error:
        shipping.create_zone(actor=None, name="netherlands", countries=["BE", "be"])
    assert set(error.value.errors) == {"name", "countries.1.country"}


def test_update_zone_replaces_destinations_keeping_the_rows_that_stay(db):
    zone = shipping.create_zone(actor=None, name="Benelux", countries=["NL", "BE", ("ES", "canarias")])
    kept = {c.country: c.id for c in zone.countries}
    shipping.update_zone(zone, actor=None, countries=["BE", "LU", ("ES", "Canarias")], name="Benelux+")
    assert sorted((c.country, c.region) for c in zone.countries) == [
        ("BE", ""),
        ("ES", "Canarias"),
        ("LU", ""),
    ]
    rows = {c.country: c.id for c in db_session().scalars(select(ShippingZoneCountry))}
    assert rows["BE"] == kept["BE"] and rows["ES"] == kept["ES"]  # updated in place
    entry = db_session().scalar(select(AuditEntry).where(AuditEntry.action == "orders.shipping_zone.updated"))
    assert entry.data["changes"]["name"] == ["Benelux", "Benelux+"]
    assert entry.data["changes"]["countries"][1] == ["BE", "ES / Canarias", "LU"]


def test_update_zone_may_keep_its_own_destinations_and_name(db):
    zone = shipping.create_zone(actor=None, name="Netherlands", countries=["NL"])
    shipping.update_zone(zone, actor=None, name="Netherlands", countries=["NL"])
    assert audit_actions() == ["orders.shipping_zone.created"]  # nothing changed, nothing logged


def test_delete_zone_deletes_its_methods_and_destinations(db):
    zone = zone_with_methods(
        "Netherlands", ["NL"], [{"code": "standard"}, {"code": "express", "bands": [(5, 1)]}]
    )
    shipping.delete_zone(zone, actor=None)
    session = db_session()
    assert session.scalar(select(ShippingMethod.id)) is None
    assert session.scalar(select(ShippingRateBand.id)) is None
    assert session.scalar(select(ShippingZoneCountry.id)) is None
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "orders.shipping_zone.deleted"))
    assert entry.data["methods"] == ["standard", "express"]


def test_unknown_zone_and_method_ids_are_not_found(db):
    for lookup in (shipping.get_zone, shipping_methods.get_method):
        for bad in (0, 987654, 2**40):
            with pytest.raises(NotFound):
                lookup(bad)


# ---- method services ---------------------------------------------------------------------


def test_add_a_flat_method_last_in_its_zone(db):
    zone = zone_with_methods("Netherlands", ["NL"], [{"code": "standard"}])
    method = shipping_methods.add_method(
        zone, actor=None, code="Pickup", name="Pick up", flat_rate="0", free_over=None, tax_class="zero"
    )
    assert (method.code, method.kind, method.flat_rate, method.position) == ("pickup", "flat", D("0.00"), 1)
    entry = db_session().scalar(
        select(AuditEntry).where(AuditEntry.action == "orders.shipping_method.created")
    )
    assert entry.data["method_code"] == "pickup"  # "code" itself would be redacted as a secret


def test_add_a_weight_band_method_sorts_its_bands_and_has_no_flat_rate(db):
    zone = zone_with_methods("Netherlands", ["NL"], [])
    method = shipping_methods.add_method(
        zone,
        actor=None,
        code="express",
        name="Express",
        kind="weight_band",
        flat_rate="5.00",
        bands=[{"max_weight_grams": 10000, "price": "14.95"}, (2000, D("9.95"))],
    )
    assert method.flat_rate is None
    assert [(b.max_weight_grams, b.price) for b in method.bands] == [(2000, D("9.95")), (10000, D("14.95"))]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"flat_rate": "-1"}, {"flat_rate"}),
        ({"flat_rate": None}, {"flat_rate"}),
        ({"free_over": "-0.01"}, {"free_over"}),
        ({"flat_rate": "abc", "free_over": "x"}, {"flat_rate", "free_over"}),
        ({"code": "", "name": ""}, {"code", "name"}),
        ({"code": "two words"}, {"code"}),
        ({"code": "standard"}, {"code"}),  # taken in this zone
        ({"kind": "by_volume"}, {"kind"}),
        ({"tax_class": "luxury"}, {"tax_class"}),
        ({"position": -1}, {"position"}),
        ({"kind": "weight_band", "bands": []}, {"bands"}),
        ({"kind": "weight_band", "bands": [(2000, "1"), (2000, "2")]}, {"bands.1.max_weight_grams"}),
        (
            {"kind": "weight_band", "bands": [(0, "1"), (10, "-2"), (None, "1")]},
            {
                "bands.0.max_weight_grams",
                "bands.1.price",
                "bands.2.max_weight_grams",
            },
        ),
    ],
)
def test_bad_method_fields_are_field_errors(db, fields, expected):
    zone = zone_with_methods("Netherlands", ["NL"], [{"code": "standard"}])
    values = {"code": "express", "name": "Express", "flat_rate": "4.95", **fields}
    with pytest.raises(InvalidInput) as error:
        shipping_methods.add_method(zone, actor=None, **values)
    assert set(error.value.errors) == expected


def test_the_same_code_may_be_used_in_another_zone(db):
    zone_with_methods("Netherlands", ["NL"], [{"code": "standard"}])
    other = zone_with_methods("Belgium", ["BE"], [])
    assert shipping_methods.add_method(other, actor=None, code="standard", name="Standard", flat_rate="9")


def test_update_method_switches_kind_and_replaces_bands_in_place(db):
    zone = zone_with_methods(
        "Netherlands", ["NL"], [{"code": "express", "bands": [(2000, "9.95"), (10000, "14.95")]}]
    )
    method = zone.methods[0]
    kept_id = method.bands[0].id
    shipping_methods.update_method(method, actor=None, bands=[(2000, "8.95"), (30000, "24.95")])
    assert [(b.max_weight_grams, b.price) for b in method.bands] == [(2000, D("8.95")), (30000, D("24.95"))]
    assert method.bands[0].id == kept_id
    shipping_methods.update_method(method, actor=None, kind="flat", flat_rate="6.50", free_over="75")
    assert (method.kind, method.flat_rate, method.free_over, method.bands) == (
        "flat",
        D("6.50"),
        D("75.00"),
        [],
    )
    assert db_session().scalar(select(ShippingRateBand.id)) is None
    changes = [
        entry.data["changes"]
        for entry in db_session().scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "orders.shipping_method.updated")
            .order_by(AuditEntry.id)
        )
    ]
    assert changes[0]["bands"][1] == ["up to 2000 g: 8.95", "up to 30000 g: 24.95"]
    assert changes[1]["kind"] == ["weight_band", "flat"]


def test_switching_to_weight_bands_needs_bands_and_to_flat_a_rate(db):
    flat = ShippingMethodFactory()
    with pytest.raises(InvalidInput) as error:
        shipping_methods.update_method(flat, actor=None, kind="weight_band")
    assert set(error.value.errors) == {"bands"}
    banded = express()
    with pytest.raises(InvalidInput) as error:
        shipping_methods.update_method(banded, actor=None, kind="flat")
    assert set(error.value.errors) == {"flat_rate"}


def test_update_method_keeps_its_code_unless_given_and_logs_only_changes(db):
    method = ShippingMethodFactory(code="standard", name="Standard")
    shipping_methods.update_method(method, actor=None, name="Standard", is_active=True)
    assert "orders.shipping_method.updated" not in audit_actions()
    shipping_methods.update_method(method, actor=None, is_active=False, code="std")
    assert (method.code, method.is_active) == ("std", False)


def test_delete_method_leaves_carts_without_a_method(db):
    method = ShippingMethodFactory()
    cart = Cart(token="t" * 43, currency="EUR", shipping_method_id=method.id)
    session = db_session()
    session.add(cart)
    session.flush()
    shipping_methods.delete_method(method, actor=None)
    session.expire_all()
    assert session.get(Cart, cart.id).shipping_method_id is None
    assert audit_actions()[-1] == "orders.shipping_method.deleted"


def test_destinations_typed_in_the_portal_are_parsed(db):
    assert shipping.parse_destinations(" nl, BE\nES: Canarias,, ") == [
        ("nl", ""),
        ("BE", ""),
        ("ES", "Canarias"),
    ]
    zone = zone_with_methods("Z", ["NL", ("ES", "Canarias")])
    assert shipping.format_destinations(zone) == "ES: Canarias, NL"
