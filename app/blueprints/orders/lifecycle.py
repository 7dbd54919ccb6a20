"""The order state machine and the order timeline.

    pending_payment -> paid -> processing -> partially_shipped / shipped -> delivered -> completed

with `on_hold` (from any open state; released back to where it was held from) and
`cancelled` (before anything shipped). `ALLOWED` is the whole table: a move it does not
list is a Conflict (`invalid_transition`), whoever asks. Payment and fulfilment have their
own statuses on the order (`payments.py`, `record_shipped_units` here: fulfilment's
shipments move stock and call it); every change of any of them is an `OrderEvent` with
who, when, from, to and a note: the order's timeline. Staff actions are also audited.
"""

from __future__ import annotations

from app.blueprints.inventory import reservations
from app.blueprints.orders import ORDERS_MANAGE, ORDERS_PAYMENTS, ORDERS_REFUND
from app.blueprints.orders.order_models import Order, OrderEvent
from app.core import audit
from app.core.audit import actor_label, is_staff
from app.core.errors import Conflict, InvalidInput
from app.core.events import emit
from app.core.timeutil import utcnow
from app.extensions import db

ALLOWED: dict[str, frozenset[str]] = {
    "pending_payment": frozenset({"paid", "on_hold", "cancelled"}),
    "paid": frozenset({"processing", "partially_shipped", "shipped", "on_hold", "cancelled"}),
    "processing": frozenset({"partially_shipped", "shipped", "on_hold", "cancelled"}),
    "partially_shipped": frozenset({"shipped", "on_hold"}),
    "shipped": frozenset({"delivered"}),
    "delivered": frozenset({"completed"}),
    "completed": frozenset(),
    # Back to where it was held from (checked in release_hold), or cancelled.
    "on_hold": frozenset({"pending_payment", "paid", "processing", "partially_shipped", "cancelled"}),
    "cancelled": frozenset(),
}
OPEN_STATUSES = ("pending_payment", "paid", "processing", "partially_shipped")
STATUS_LABELS = {
    "pending_payment": "Pending payment",
    "paid": "Paid",
    "processing": "Processing",
    "partially_shipped": "Partially shipped",
    "shipped": "Shipped",
    "delivered": "Delivered",
    "completed": "Completed",
    "on_hold": "On hold",
    "cancelled": "Cancelled",
}
MAX_NOTE = 2000


def can_move(from_status: str, to_status: str) -> bool:
    return to_status in ALLOWED.get(from_status, frozenset())


def record_event(
    order: Order, kind: str, *, actor=None, note: str = "", from_status=None, to_status=None, **data
):
    """Add an entry to the order's timeline (in the current transaction)."""
    event = OrderEvent(
        order_id=order.id,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        note=(note or "")[:MAX_NOTE],
        data=audit.json_safe(data),
        actor_id=getattr(actor, "id", None) if is_staff(actor) else None,
        actor_label=actor_label(actor)[:255] if actor is not None else "system",
    )
    db.session.add(event)
    return event


def transition(order: Order, to_status: str, *, actor=None, note: str = "", **data) -> OrderEvent:
    """Move the order to `to_status` if the table allows it; the timeline records it."""
    from_status = order.status
    if not can_move(from_status, to_status):
        raise Conflict(
            f"An order that is {STATUS_LABELS[from_status].lower()} cannot become "
            f"{STATUS_LABELS.get(to_status, to_status).lower()}.",
            code="invalid_transition",
        )
    order.status = to_status
    event = record_event(
        order, "status", actor=actor, note=note, from_status=from_status, to_status=to_status, **data
    )
    if is_staff(actor):
        audit.record(
            "order.status_changed",
            actor=actor,
            target=order,
            summary=f"Order {order.number}: {from_status} -> {to_status}",
            from_status=from_status,
            to_status=to_status,
            note=note,
        )
    emit("order.status_changed", order_id=order.id, from_status=from_status, to_status=to_status)
    return event


def _clean_note(note: str | None, *, required: bool = False, field: str = "note") -> str:
    note = (note or "").strip()
    if required and not note:
        raise InvalidInput("Say why.", errors={field: ["Required."]})
    if len(note) > MAX_NOTE:
        raise InvalidInput(
            f"At most {MAX_NOTE} characters.", errors={field: [f"At most {MAX_NOTE} characters."]}
        )
    return note


def start_processing(order: Order, *, actor, note: str = "") -> Order:
    """A paid order is being picked and packed."""
    transition(order, "processing", actor=actor, note=_clean_note(note))
    return order


def hold_order(order: Order, *, actor, reason: str) -> Order:
    """Stop an open order (fraud check, address question); remembers where it was."""
    reason = _clean_note(reason, required=True, field="reason")
    held_from = order.status
    transition(order, "on_hold", actor=actor, note=reason)
    order.held_from = held_from
    return order


def release_hold(order: Order, *, actor, note: str = "") -> Order:
    """Back to the status it was held from (or paid, if it was paid meanwhile)."""
    if order.status != "on_hold":
        raise Conflict("The order is not on hold.", code="invalid_transition")
    target = order.held_from or "pending_payment"
    if target == "pending_payment" and order.payment_status == "paid":
        target = "paid"
    transition(order, target, actor=actor, note=_clean_note(note))
    order.held_from = None
    return order


def cancel_order(order: Order, *, actor, reason: str) -> Order:
    """Cancel an order before anything shipped: its reserved stock and waiting backorders
    are released, and its payment voided (authorized) or refunded (captured) through the
    gateway (`payments.settle_cancelled_order`). The caller checks that an actor who
    cancels a paid order may refund."""
    from app.blueprints.orders import payments  # payments moves the order on capture: a cycle

    reason = _clean_note(reason, required=True, field="reason")
    if any(line.shipped_quantity for line in order.lines):
        raise Conflict("Part of this order has shipped; return it instead.", code="invalid_transition")
    transition(order, "cancelled", actor=actor, note=reason)
    order.cancelled_at = utcnow()
    order.held_from = None
    reservations.release(order.reference, actor=actor, reason=f"Order {order.number} cancelled")
    payments.settle_cancelled_order(order, actor=actor)
    emit("order.cancelled", order_id=order.id, reason=reason)
    return order


def _check_units(units_by_line: dict[int, int], lines: dict) -> None:
    errors: dict[str, list[str]] = {}
    if not units_by_line:
        errors["quantities"] = ["Ship at least one unit."]
    for line_id, units in units_by_line.items():
        if line_id not in lines:
            errors[f"quantities.{line_id}"] = ["Not a line of this order."]
        elif not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            errors[f"quantities.{line_id}"] = ["Must be a whole number above zero."]
    if errors:
        raise InvalidInput("The units to ship are not valid.", errors=errors)


def record_shipped_units(
    order: Order,
    units_by_line: dict[int, int],
    *,
    actor,
    note: str = "",
    shipment_number: str | None = None,
) -> Order:
    """Count units of the order's lines as shipped (the stock left through the ledger in the
    same use case: fulfilment's shipments do both). Never more than a line's quantity, and
    only while the order is paid, processing or partially shipped. Everything shipped:
    shipped (fulfilled); else partially shipped (partially fulfilled). The caller holds the
    order row locked, so two shipments cannot count the same units."""
    if order.status not in ("paid", "processing", "partially_shipped"):
        raise Conflict(
            f"An order that is {STATUS_LABELS[order.status].lower()} cannot ship.", code="invalid_transition"
        )
    lines = {line.id: line for line in order.lines}
    _check_units(units_by_line, lines)
    too_many = {
        f"quantities.{line_id}": [f"At most {lines[line_id].quantity - lines[line_id].shipped_quantity}."]
        for line_id, units in units_by_line.items()
        if lines[line_id].shipped_quantity + units > lines[line_id].quantity
    }
    if too_many:
        raise Conflict("More units than the order has left to ship.", code="too_many_units", errors=too_many)
    for line_id, units in units_by_line.items():
        lines[line_id].shipped_quantity += units
    everything = all(line.shipped_quantity == line.quantity for line in order.lines)
    order.fulfilment_status = "fulfilled" if everything else "partially_fulfilled"
    note = _clean_note(note)
    shipped = {str(line_id): units for line_id, units in sorted(units_by_line.items())}
    record_event(
        order, "fulfilment", actor=actor, note=note, shipped=True, shipment=shipment_number, lines=shipped
    )
    target = "shipped" if everything else "partially_shipped"
    if target != order.status:
        transition(order, target, actor=actor, shipment=shipment_number)
    emit("order.shipped", order_id=order.id, complete=everything, shipment_number=shipment_number)
    return order


def mark_delivered(order: Order, *, actor, note: str = "") -> Order:
    transition(order, "delivered", actor=actor, note=_clean_note(note))
    return order


def complete_order(order: Order, *, actor, note: str = "") -> Order:
    transition(order, "completed", actor=actor, note=_clean_note(note))
    return order


def add_note(order: Order, *, actor, text: str) -> OrderEvent:
    """A staff note on the timeline (internal: customers never see notes)."""
    text = _clean_note(text, required=True, field="text")
    event = record_event(order, "note", actor=actor, note=text)
    audit.record("order.note_added", actor=actor, target=order, summary=f"Note on order {order.number}")
    return event


# Who may run each staff action (the portal and the staff API both read this).
ACTION_PERMISSIONS = {
    "mark_paid": ORDERS_PAYMENTS,
    "capture": ORDERS_PAYMENTS,
    "start_processing": ORDERS_MANAGE,
    "deliver": ORDERS_MANAGE,
    "complete": ORDERS_MANAGE,
    "hold": ORDERS_MANAGE,
    "release_hold": ORDERS_MANAGE,
    "cancel": ORDERS_MANAGE,
}


def required_permissions(action: str, order: Order) -> tuple[str, ...]:
    """Every permission `action` needs on this order: cancelling an order with captured
    money refunds it, which takes the refund permission as well."""
    needed = (ACTION_PERMISSIONS[action],)
    if action == "cancel" and order.amount_paid > order.amount_refunded:
        needed += (ORDERS_REFUND,)
    return needed


def available_actions(order: Order) -> list[str]:
    """The staff actions the order's state allows now (permissions are checked apart)."""
    status = order.status
    actions = []
    if status == "pending_payment" and order.payment_method == "manual":
        actions.append("mark_paid")
    if order.payment_status == "authorized":
        actions.append("capture")
    if status == "paid":
        actions.append("start_processing")
    if status == "shipped":
        actions.append("deliver")
    if status == "delivered":
        actions.append("complete")
    if status in OPEN_STATUSES:
        actions.append("hold")
    if status == "on_hold":
        actions.append("release_hold")
    if status in ("pending_payment", "paid", "processing", "on_hold") and not any(
        line.shipped_quantity for line in order.lines
    ):
        actions.append("cancel")
    return actions
