"""The shipments service: units of an order leave one stock location through the inventory
ledger, never more than the order has left to ship or holds reserved there; partial
shipments leave the order partially shipped; backordered units wait for stock; a provider
that makes labels fills the shipment, and its refusal writes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest
from sqlalchemy import func, select

from app.blueprints.fulfilment import providers, shipments
from app.blueprints.fulfilment.models import Shipment, ShipmentLine, TrackingEvent
from app.blueprints.inventory import services as inventory
from app.blueprints.inventory.models import InventoryMovement, StockLevel
from app.blueprints.orders.order_models import Order, OrderEvent
from app.core import events
from app.core.errors import Conflict, InvalidInput
from app.core.models import AuditEntry
from app.core.transaction import transaction
from app.extensions import db
from tests.factories.auth import UserFactory
from tests.factories.catalog import LocationFactory, stock
from tests.fulfilment.shipment_helpers import pay, ship
from tests.orders.checkout_helpers import make_shop, place_order_directly


@pytest.fixture
def shop(db):
    return make_shop()


@pytest.fixture
def staff(db):
    return UserFactory()


def level(variant, location) -> tuple[int, int]:
    row = db.session.execute(
        select(StockLevel.on_hand, StockLevel.reserved).where(
            StockLevel.variant_id == variant.id, StockLevel.location_id == location.id
        )
    ).one()
    return tuple(row)


def shipment_movements(order) -> list[tuple]:
    return db.session.execute(
        select(
            InventoryMovement.variant_id,
            InventoryMovement.location_id,
            InventoryMovement.on_hand_delta,
            InventoryMovement.reserved_delta,
        )
        .where(InventoryMovement.reference == order.reference, InventoryMovement.kind == "shipment")
        .order_by(InventoryMovement.id)
    ).all()


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def paid_order(shop, staff, lines) -> Order:
    return pay(place_order_directly(lines), actor=staff)


def refused(error_type, order, **kwargs):
    """Try a shipment that must be refused; returns the error."""
    with pytest.raises(error_type) as caught, transaction():
        kwargs.setdefault("provider", "manual")
        shipments.create_shipment(order, actor=kwargs.pop("actor", None), **kwargs)
    return caught.value


# ---- shipping ----------------------------------------------------------------------------------


def test_shipping_everything_reserved_takes_the_stock_out_under_the_order_and_ships_it(shop, staff):
    order = paid_order(shop, staff, [(shop.teapot, 2), (shop.cup, 3)])
    assert level(shop.teapot, shop.location) == (10, 2)

    shipment = ship(
        order,
        actor=staff,
        carrier="PostNL",
        service="Standard",
        tracking_number="3SABCD123456789",
        tracking_url="https://jouw.postnl.nl/track-and-trace/3SABCD123456789-NL-1012LG",
    )

    order = db.session.get(Order, order.id)
    assert (order.status, order.fulfilment_status) == ("shipped", "fulfilled")
    assert [line.shipped_quantity for line in order.lines] == [2, 3]
    assert level(shop.teapot, shop.location) == (8, 0) and level(shop.cup, shop.location) == (47, 0)
    assert sorted(shipment_movements(order)) == sorted(
        [(shop.teapot.id, shop.location.id, -2, -2), (shop.cup.id, shop.location.id, -3, -3)]
    )
    assert (shipment.number, shipment.sequence, shipment.status) == (f"{order.number}-1", 1, "label_created")
    assert (shipment.carrier, shipment.tracking_number, shipment.created_by_id) == (
        "PostNL",
        "3SABCD123456789",
        staff.id,
    )
    assert sorted((line.order_line_id, line.quantity) for line in shipment.lines) == sorted(
        (line.id, line.quantity) for line in order.lines
    )
    assert db.session.scalars(select(TrackingEvent.status)).all() == ["label_created"]
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "shipment.created"))
    assert entry is not None and entry.actor_id == staff.id
    kinds = db.session.scalars(
        select(OrderEvent.kind).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)
    ).all()
    assert "fulfilment" in kinds


def test_shipment_lines_leave_in_variant_id_order(shop, staff):
    order = paid_order(shop, staff, [(shop.cup, 1), (shop.teapot, 1)])

    ship(order, actor=staff)

    variants = [variant_id for variant_id, *_ in shipment_movements(order)]
    assert variants == sorted(variants)


def test_a_partial_shipment_leaves_the_order_partially_shipped_and_the_rest_ships_later(shop, staff):
    order = paid_order(shop, staff, [(shop.teapot, 2), (shop.cup, 3)])
    teapot_line, cup_line = order.lines

    first = ship(order, actor=staff, quantities={teapot_line.id: 1}, packages=2)

    order = db.session.get(Order, order.id)
    assert (order.status, order.fulfilment_status) == ("partially_shipped", "partially_fulfilled")
    assert [line.shipped_quantity for line in order.lines] == [1, 0]
    assert level(shop.teapot, shop.location) == (9, 1)
    assert (first.number, first.packages) == (f"{order.number}-1", 2)

    second = ship(order, actor=staff)

    order = db.session.get(Order, order.id)
    assert (order.status, order.fulfilment_status) == ("shipped", "fulfilled")
    assert second.number == f"{order.number}-2"
    assert sorted((line.order_line_id, line.quantity) for line in second.lines) == [
        (teapot_line.id, 1),
        (cup_line.id, 3),
    ]
    assert level(shop.teapot, shop.location) == (8, 0)


def test_the_order_event_and_the_shipment_created_event_come_after_the_commit(shop, staff):
    order = paid_order(shop, staff, [(shop.cup, 1)])
    heard = []
    listener = events.subscribe("shipment.created")(lambda event: heard.append(event.payload))
    try:
        shipment = ship(order, actor=staff)
    finally:
        events.LISTENERS["shipment.created"].remove(listener)

    assert heard == [{"order_id": order.id, "shipment_id": shipment.id}]


# ---- what cannot ship --------------------------------------------------------------------------


def test_more_units_than_the_order_has_left_to_ship_are_refused_and_nothing_moves(shop, staff):
    order = paid_order(shop, staff, [(shop.teapot, 2), (shop.cup, 1)])
    teapot_line, cup_line = order.lines
    ship(order, actor=staff, quantities={teapot_line.id: 1})

    error = refused(
        Conflict,
        order,
        location_id=shop.location.id,
        quantities={teapot_line.id: 2, cup_line.id: 1},
        actor=staff,
    )

    assert error.code == "too_many_units"
    assert list(error.errors) == [f"quantities.{teapot_line.id}"]
    assert count(Shipment) == 1 and len(shipment_movements(order)) == 1
    assert level(shop.teapot, shop.location) == (9, 1)


def test_units_not_reserved_at_the_location_are_refused(shop, staff):
    elsewhere = LocationFactory()
    stock(shop.cup, elsewhere, on_hand=20)  # in stock there, but not reserved for this order
    order = paid_order(shop, staff, [(shop.cup, 2)])
    [line] = order.lines

    wrong_place = refused(Conflict, order, location_id=elsewhere.id, quantities={line.id: 1}, actor=staff)
    nothing_there = refused(Conflict, order, location_id=elsewhere.id, actor=staff)

    assert wrong_place.code == "not_reserved"
    assert wrong_place.errors == {f"quantities.{line.id}": [f"None reserved at {elsewhere.name}."]}
    assert nothing_there.code == "nothing_to_ship"
    assert level(shop.cup, elsewhere) == (20, 0) and level(shop.cup, shop.location) == (50, 2)
    assert count(Shipment) == 0


def test_quantities_must_be_lines_of_the_order_and_above_zero(shop, staff):
    order = paid_order(shop, staff, [(shop.cup, 2)])
    other = place_order_directly([(shop.cup, 1)])
    [line] = order.lines

    error = refused(
        InvalidInput,
        order,
        location_id=shop.location.id,
        quantities={line.id: 0, other.lines[0].id: 1},
        actor=staff,
    )
    empty = refused(InvalidInput, order, location_id=shop.location.id, quantities={}, actor=staff)
    nowhere = refused(InvalidInput, order, location_id=987654, actor=staff)

    assert set(error.errors) == {f"quantities.{line.id}", f"quantities.{other.lines[0].id}"}
    assert "quantities" in empty.errors and "location_id" in nowhere.errors
    assert count(Shipment) == 0


@pytest.mark.parametrize(
    ("details", "field"),
    [
        ({"tracking_url": "ftp://example.org/x"}, "tracking_url"),
        ({"tracking_url": "not a link"}, "tracking_url"),
        ({"packages": 0}, "packages"),
        ({"weight_grams": -1}, "weight_grams"),
        ({"carrier": "x" * 81}, "carrier"),
        ({"provider": "pigeon"}, "provider"),
    ],
)
def test_the_parcel_details_are_checked(shop, staff, details, field):
    order = paid_order(shop, staff, [(shop.cup, 1)])

    error = refused(InvalidInput, order, location_id=shop.location.id, actor=staff, **details)

    assert field in error.errors
    assert count(Shipment) == 0 and db.session.get(Order, order.id).status == "paid"


@pytest.mark.parametrize("status", ["pending_payment", "on_hold", "cancelled", "shipped"])
def test_an_order_that_is_not_paid_processing_or_partially_shipped_cannot_ship(shop, staff, status):
    order = place_order_directly([(shop.cup, 1)])
    order.status = status
    db.session.flush()

    error = refused(Conflict, order, location_id=shop.location.id, actor=staff)

    assert error.code == "invalid_transition"
    assert level(shop.cup, shop.location) == (50, 1) and count(Shipment) == 0


def test_backordered_units_ship_only_once_a_delivery_reserves_them(shop, staff):
    shop.teapot.backorder_policy = "allow"
    db.session.flush()
    order = paid_order(shop, staff, [(shop.teapot, 12), (shop.cup, 1)])  # 10 teapots in stock
    teapot_line, _ = order.lines
    [teapots, cups] = shipments.shippable(order)
    assert (teapots.to_ship, teapots.reserved, cups.reserved) == (12, 10, 1)

    ship(order, actor=staff)
    order = db.session.get(Order, order.id)
    assert (order.status, [line.shipped_quantity for line in order.lines]) == ("partially_shipped", [10, 1])
    waiting = refused(
        Conflict, order, location_id=shop.location.id, quantities={teapot_line.id: 2}, actor=staff
    )
    assert waiting.code == "not_reserved"
    assert not shipments.can_ship_now(order)

    with transaction():  # the missing teapots arrive and are reserved for the waiting order
        inventory.adjust_stock(shop.teapot, shop.location, 5, reason="Found", actor=staff)
    assert shipments.can_ship_now(order)
    ship(order, actor=staff)

    order = db.session.get(Order, order.id)
    assert (order.status, order.fulfilment_status) == ("shipped", "fulfilled")
    assert [line.shipped_quantity for line in order.lines] == [12, 1]
    assert level(shop.teapot, shop.location) == (3, 0)


def test_what_is_shippable_names_each_location_holding_the_order_s_units(db, staff):
    shop = make_shop(teapot_stock=3)
    second = LocationFactory()
    stock(shop.teapot, second, on_hand=10)
    order = paid_order(shop, staff, [(shop.teapot, 12)])  # 3 here and 9 there

    [teapots] = shipments.shippable(order)
    holding = shipments.locations_holding([teapots])

    assert teapots.reserved_at == {shop.location.id: 3, second.id: 9}
    assert {location.id for location in holding} == {shop.location.id, second.id}
    ship(order, actor=staff, location=second)
    [teapots] = shipments.shippable(db.session.get(Order, order.id))
    assert (teapots.shipped, teapots.reserved_at) == (9, {shop.location.id: 3})
    assert level(shop.teapot, second) == (1, 0)


def test_weight_defaults_to_the_weight_of_the_units_shipped(shop, staff):
    shop.teapot.weight_grams = 800
    db.session.flush()
    order = paid_order(shop, staff, [(shop.teapot, 2)])
    [line] = order.lines

    part = ship(order, actor=staff, quantities={line.id: 1})
    typed = ship(order, actor=staff, weight_grams=950)

    assert (part.weight_grams, typed.weight_grams) == (800, 950)


# ---- providers that make labels ----------------------------------------------------------------


@dataclass
class LabelMaker:
    """A provider that makes labels, answering what it is told to."""

    answer: providers.LabelResult
    code: str = "labelmaker"
    label: str = "Label maker"
    makes_labels: bool = True
    asked: list = field(default_factory=list)

    def is_configured(self) -> bool:
        return True

    def rates(self, parcel):
        return []

    def create_label(self, parcel, *, service="", idempotency_key):
        self.asked.append((parcel, service, idempotency_key))
        return self.answer

    def parse_tracking_webhook(self, body, headers):
        raise providers.WebhookRejected("no webhooks")


@pytest.fixture
def label_maker(app, monkeypatch):
    def use(answer: providers.LabelResult) -> LabelMaker:
        maker = LabelMaker(answer)
        monkeypatch.setitem(providers.PROVIDERS, maker.code, maker)
        monkeypatch.setitem(app.config, "SHIPPING_PROVIDERS", f"manual,{maker.code}")
        return maker

    return use


def test_a_label_fills_carrier_tracking_and_reference_and_the_parcel_goes_from_the_location(
    shop, staff, label_maker
):
    shop.location.address = "Industrieweg 12\n3542 AD Utrecht\nNetherlands"
    db.session.flush()
    maker = label_maker(
        providers.LabelResult(
            succeeded=True,
            carrier="DHL",
            service="Parcel Connect",
            tracking_number="JVGL0001",
            tracking_url="https://dhl.example/JVGL0001",
            reference="lbl_42",
            label_url="https://labels.example/lbl_42.pdf",
            estimated_delivery=date(2026, 12, 1),
        )
    )
    order = paid_order(shop, staff, [(shop.cup, 2)])

    shipment = ship(order, actor=staff, provider="labelmaker", service="Parcel Connect", packages=2)

    [(parcel, service, key)] = maker.asked
    assert (service, key) == ("Parcel Connect", f"shipment:{order.id}:1")
    assert parcel.from_address["line1"] == "Industrieweg 12"
    assert (parcel.from_address["postal_code"], parcel.from_address["city"]) == ("3542 AD", "Utrecht")
    assert parcel.to_address == order.shipping_address
    assert (parcel.shipment_number, parcel.packages) == (f"{order.number}-1", 2)
    assert (shipment.provider, shipment.carrier, shipment.tracking_number) == (
        "labelmaker",
        "DHL",
        "JVGL0001",
    )
    assert (shipment.provider_reference, shipment.label_url) == (
        "lbl_42",
        "https://labels.example/lbl_42.pdf",
    )
    assert shipment.estimated_delivery == date(2026, 12, 1)


def test_a_refused_label_is_a_conflict_and_nothing_ships(shop, staff, label_maker):
    label_maker(providers.LabelResult(succeeded=False, error_code="address", error_message="Unknown street"))
    order = paid_order(shop, staff, [(shop.cup, 2)])

    error = refused(Conflict, order, location_id=shop.location.id, provider="labelmaker", actor=staff)

    assert error.code == "label_failed" and "Unknown street" in error.detail
    assert count(Shipment) == count(ShipmentLine) == count(TrackingEvent) == 0
    assert shipment_movements(order) == []
    order = db.session.get(Order, order.id)
    assert (order.status, order.lines[0].shipped_quantity) == ("paid", 0)
