"""Building blocks for tests that need shipped orders: an order placed, paid and shipped
through fulfilment's shipments service, each step in its own transaction with the order
locked, as an entry point runs it. Orders tests import these too (tests may reach across
domains; app code may not)."""

from __future__ import annotations

from app.blueprints.fulfilment import shipments
from app.blueprints.fulfilment.models import Shipment
from app.blueprints.orders import order_queries, payments
from app.blueprints.orders.order_models import Order
from app.core.transaction import transaction
from tests.orders.checkout_helpers import place_order_directly


class Staff:
    """A staff actor without a user row (the services store no id for it)."""

    email = "packer@example.com"
    is_staff = True
    id = None

    def __str__(self) -> str:
        return self.email


def pay(order: Order, *, actor) -> Order:
    with transaction():
        order = order_queries.order_by_number(order.number, for_update=True)
        payments.mark_paid(order, actor=actor)
    return order


def ship(order: Order, *, actor, location=None, quantities=None, **details) -> Shipment:
    """One shipment from `location` (default: the first holding units reserved for it) of
    `quantities` {order line id: units} (default: everything reserved there)."""
    with transaction():
        order = order_queries.order_by_number(order.number, for_update=True)
        if location is None:
            [location, *_] = shipments.locations_holding(shipments.shippable(order))
        details.setdefault("provider", "manual")
        return shipments.create_shipment(
            order, location_id=location.id, quantities=quantities, actor=actor, **details
        )


def ship_everything(order: Order, *, actor, **details) -> list[Shipment]:
    """Ship all that is reserved for the order: one shipment per location holding some."""
    with transaction():
        order = order_queries.order_by_number(order.number, for_update=True)
        made = [
            shipments.create_shipment(
                order, location_id=location.id, provider="manual", actor=actor, **details
            )
            for location in shipments.locations_holding(shipments.shippable(order))
        ]
    return made


def shipped_order(lines, *, actor, customer=None, email="ada@example.org", **details) -> Order:
    """Placed, paid and shipped ([(variant, quantity)]): every reserved unit out through the
    ledger; lines waiting for backordered stock leave the order partially shipped."""
    order = pay(place_order_directly(lines, customer=customer, email=email), actor=actor)
    ship_everything(order, actor=actor, **details)
    return order_queries.order_by_number(order.number)
