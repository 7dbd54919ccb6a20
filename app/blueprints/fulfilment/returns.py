"""Returns (RMA): delivered units going back, from the request to the refund.

    requested -> approved -> received -> refunded
             \\-> rejected  |          \\-> closed   (handled without a refund)
                           \\-> closed              (the goods never came back)

`ALLOWED` is the whole table: a move it does not list is a Conflict
(`invalid_transition`), whoever asks. Rejected, refunded and closed are final.

What can be returned (`returnable`): per order line, the delivered units less the units
in the order's other returns, within RETURN_WINDOW_DAYS of the line's delivery. A unit
is delivered when its shipment is delivered, or when the order as a whole is marked
delivered (older orders, delivered by staff without shipment records: their shipped
units, the window counted from the order's `delivered` event). Units of a rejected
return, or of one closed before its goods ever arrived, can be asked for again.

Callers lock the order row first (`return_queries.locked_return`, or
`order_queries.order_by_number(..., for_update=True)`), so two requests can never return
the same units and two receipts can never restock twice. Every step is an OrderEvent
of kind "return" on the order's timeline (never a status change: customers see the
order's status history), an audit entry when staff act, and `return.changed` after
commit (the customer mails listen to it).
"""

from __future__ import annotations

from datetime import datetime

from app.blueprints.fulfilment import return_queries
from app.blueprints.fulfilment.models import RETURN_REASONS, ReturnLine, ReturnRequest

# What can be returned is read there; it is part of this service's interface.
from app.blueprints.fulfilment.return_queries import ReturnableLine, returnable, window_days
from app.blueprints.inventory import reservations
from app.blueprints.inventory.models import StockLocation
from app.blueprints.orders import lifecycle
from app.blueprints.orders.order_models import Order, OrderLine
from app.core import audit
from app.core.errors import Conflict, InvalidInput
from app.core.events import emit
from app.core.timeutil import utcnow
from app.extensions import db

ALLOWED: dict[str, frozenset[str]] = {
    "requested": frozenset({"approved", "rejected"}),
    "approved": frozenset({"received", "closed"}),
    "rejected": frozenset(),
    "received": frozenset({"refunded", "closed"}),
    "refunded": frozenset(),
    "closed": frozenset(),
}
STATUS_LABELS = {
    "requested": "Requested",
    "approved": "Approved",
    "rejected": "Rejected",
    "received": "Received",
    "refunded": "Refunded",
    "closed": "Closed",
}
REASON_LABELS = {
    "damaged": "Arrived damaged",
    "defective": "Defective",
    "wrong_item": "Wrong item sent",
    "not_as_described": "Not as described",
    "does_not_fit": "Does not fit",
    "changed_mind": "Changed my mind",
    "other": "Other",
}
NEEDING_ACTION = ("requested", "approved")
# What staff do next in each state (the refund is the refunds service's, on orders.refund).
ACTIONS_BY_STATUS = {
    "requested": ("approve", "reject"),
    "approved": ("receive", "close"),
    "received": ("refund", "close"),
}
MAX_NOTE = lifecycle.MAX_NOTE
MAX_WRITE_OFF_REASON = 500


def can_move(from_status: str, to_status: str) -> bool:
    return to_status in ALLOWED.get(from_status, frozenset())


def available_actions(ret: ReturnRequest) -> list[str]:
    """The staff actions the return's state allows now (permissions are checked apart)."""
    return list(ACTIONS_BY_STATUS.get(ret.status, ()))


# ---- input checks -------------------------------------------------------------------------


def _whole_number(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _clean_text(text: str | None, field: str, *, required: bool = False, limit: int = MAX_NOTE) -> str:
    text = (text or "").strip()
    if required and not text:
        raise InvalidInput("Say why.", errors={field: ["Required."]})
    if len(text) > limit:
        raise InvalidInput(f"At most {limit} characters.", errors={field: [f"At most {limit} characters."]})
    return text


def _checked_request(lines: dict, reason: str, note: str) -> str:
    errors: dict[str, list[str]] = {}
    if not lines:
        errors["lines"] = ["Choose at least one item to return."]
    for line_id, quantity in (lines or {}).items():
        if not _whole_number(line_id):
            errors["lines"] = ["Order lines are named by their id."]
        elif not _whole_number(quantity) or quantity <= 0:
            errors[f"lines.{line_id}"] = ["Must be a whole number above zero."]
    if reason not in RETURN_REASONS:
        errors["reason"] = [f"One of: {', '.join(RETURN_REASONS)}."]
    if len((note or "").strip()) > MAX_NOTE:
        errors["note"] = [f"At most {MAX_NOTE} characters."]
    if errors:
        raise InvalidInput("The return request is not valid.", errors=errors)
    return (note or "").strip()


def _checked_against_order(lines: dict[int, int], available: dict[int, ReturnableLine]) -> None:
    """Unknown and undelivered lines (422), then a closed window (409), then quantities (422)."""
    if not any(entry.delivered for entry in available.values()):
        raise Conflict(
            "Nothing of this order has been delivered yet, so nothing can be returned.",
            code="not_delivered",
        )
    unknown = {
        f"lines.{line_id}": [
            "No such item on this order." if line_id not in available else "Not delivered yet."
        ]
        for line_id in lines
        if line_id not in available or not available[line_id].delivered
    }
    if unknown:
        raise InvalidInput("Some items cannot be returned.", errors=unknown)
    closed = [line_id for line_id in lines if not available[line_id].window_open]
    if closed:
        raise Conflict(
            f"The return window ({window_days()} days after delivery) has closed.",
            code="return_window_closed",
            errors={f"lines.{line_id}": ["The return window has closed."] for line_id in closed},
        )
    too_many = {}
    for line_id, quantity in lines.items():
        left = available[line_id].returnable
        if quantity > left:
            too_many[f"lines.{line_id}"] = (
                [f"At most {left} can be returned."] if left else ["Already in a return."]
            )
    if too_many:
        raise InvalidInput("Some quantities are more than can be returned.", errors=too_many)


# ---- the use cases ------------------------------------------------------------------------


def request_return(
    order: Order,
    *,
    lines: dict[int, int],
    reason: str,
    note: str = "",
    actor,
    opened_by_staff: bool,
    requested_at: datetime | None = None,
) -> ReturnRequest:
    """Ask to send delivered units back: {order line id: units}. Within the window only,
    never more than delivered less what other returns hold. The caller locks the order.
    A staff member's note (opened for the customer) is internal; a customer's is theirs.
    `requested_at` (default now) is when it was asked, the window checked at that moment:
    for returns recorded afterwards (the demo data)."""
    note = _checked_request(lines, reason, note)
    requested_at = requested_at or utcnow()
    available = {entry.order_line_id: entry for entry in returnable(order, now=requested_at)}
    _checked_against_order(lines, available)
    sequence = return_queries.count_order_returns(order.id) + 1
    ret = ReturnRequest(
        number=f"R{order.number}-{sequence}",
        order_id=order.id,
        customer_id=order.customer_id,
        status="requested",
        reason=reason,
        customer_note="" if opened_by_staff else note,
        staff_note=note if opened_by_staff else "",
        opened_by_id=getattr(actor, "id", None) if opened_by_staff and audit.is_staff(actor) else None,
        requested_at=requested_at,
    )
    ret.lines = [
        ReturnLine(order_line_id=line_id, quantity=units) for line_id, units in sorted(lines.items())
    ]
    db.session.add(ret)
    db.session.flush()
    items = ", ".join(f"{units} × {available[line_id].line.name}" for line_id, units in sorted(lines.items()))
    who = "opened by staff" if opened_by_staff else "requested"
    _record(
        ret,
        order,
        "requested",
        None,
        actor=actor,
        summary=f"Return {ret.number} {who} ({REASON_LABELS[reason].lower()}): {items}.",
        note=note,
        lines={str(line_id): units for line_id, units in sorted(lines.items())},
        reason=reason,
    )
    return ret


def approve(ret: ReturnRequest, *, actor, note: str = "") -> ReturnRequest:
    """requested -> approved: the customer may send the goods back."""
    _require_move(ret, "approved")
    note = _clean_text(note, "note")
    previous = _move(ret, "approved")
    ret.decided_at = utcnow()
    _record(
        ret,
        _order_of(ret),
        "approved",
        previous,
        actor=actor,
        summary=f"Return {ret.number} approved.",
        note=note,
    )
    return ret


def reject(ret: ReturnRequest, *, actor, reason: str) -> ReturnRequest:
    """requested -> rejected, with the reason (the customer is mailed it)."""
    _require_move(ret, "rejected")
    reason = _clean_text(reason, "reason", required=True)
    previous = _move(ret, "rejected")
    ret.staff_note = reason
    ret.decided_at = ret.closed_at = utcnow()
    _record(
        ret,
        _order_of(ret),
        "rejected",
        previous,
        actor=actor,
        summary=f"Return {ret.number} rejected.",
        note=reason,
    )
    return ret


def receive(
    ret: ReturnRequest,
    *,
    actor,
    inspections: dict[int, tuple[int, int, str]],
    location_id: int | None,
) -> ReturnRequest:
    """approved -> received: the goods are back and inspected. Per order line of the
    return, (restock, write off, why written off) adding up to the units returned.
    Restocked units go back on the shelf at `location_id` through the stock ledger
    (reference "return:<id>"); written-off units are recorded, not restocked."""
    _require_move(ret, "received")
    order = _order_of(ret)
    lines_by_order_line = {line.id: line for line in order.lines}
    checked = _checked_inspections(ret, inspections, lines_by_order_line)
    restocking = any(restock for restock, _, _ in checked.values())
    location = _restock_location(location_id) if restocking else None
    previous = _move(ret, "received")
    ret.received_at = utcnow()
    ret.restock_location_id = location.id if location else None
    by_variant = sorted(
        ret.lines, key=lambda line: (lines_by_order_line[line.order_line_id].variant_id or 0, line.id)
    )
    for line in by_variant:  # stock levels are locked in variant order everywhere
        restock, write_off, why = checked[line.order_line_id]
        line.restocked_quantity, line.written_off_quantity, line.write_off_reason = restock, write_off, why
        if restock:
            reservations.restock_return(
                lines_by_order_line[line.order_line_id].variant_id,
                location.id,
                restock,
                reference=f"return:{ret.id}",
                actor=actor,
                reason=f"Return {ret.number}",
            )
    _record(
        ret,
        order,
        "received",
        previous,
        actor=actor,
        summary=_inspection_summary(ret, location),
        location=location.code if location else None,
        **_inspected_by_sku(ret, lines_by_order_line),
    )
    return ret


def _inspection_summary(ret: ReturnRequest, location: StockLocation | None) -> str:
    restocked = sum(line.restocked_quantity for line in ret.lines)
    written_off = sum(line.written_off_quantity for line in ret.lines)
    where = f" at {location.code}" if location else ""
    return f"Return {ret.number} received: {restocked} restocked{where}, {written_off} written off."


def _inspected_by_sku(ret: ReturnRequest, lines_by_order_line: dict[int, OrderLine]) -> dict:
    """{"restocked": {sku: units}, "written_off": {sku: [units, why]}} for the records."""
    restocked, written_off = {}, {}
    for line in ret.lines:
        sku = lines_by_order_line[line.order_line_id].sku
        restocked[sku] = line.restocked_quantity
        if line.written_off_quantity:
            written_off[sku] = [line.written_off_quantity, line.write_off_reason]
    return {"restocked": restocked, "written_off": written_off}


def _checked_inspections(ret, inspections, lines_by_order_line) -> dict[int, tuple[int, int, str]]:
    errors: dict[str, list[str]] = {}
    checked: dict[int, tuple[int, int, str]] = {}
    returned = {line.order_line_id: line.quantity for line in ret.lines}
    for line_id in inspections or {}:
        if line_id not in returned:
            errors[f"lines.{line_id}"] = ["Not in this return."]
    for line_id, quantity in returned.items():
        inspection = (inspections or {}).get(line_id)
        if inspection is None:
            errors[f"lines.{line_id}"] = ["Say how many units are restocked and how many written off."]
            continue
        restock, write_off, why = inspection
        why = (why or "").strip()
        if not all(_whole_number(n) and n >= 0 for n in (restock, write_off)):
            errors[f"lines.{line_id}"] = ["Whole numbers from 0."]
            continue
        if restock + write_off != quantity:
            errors[f"lines.{line_id}"] = [
                f"Restocked and written off must add up to the {quantity} returned."
            ]
        if write_off and not why:
            errors[f"lines.{line_id}.write_off_reason"] = ["Say why these units are written off."]
        if len(why) > MAX_WRITE_OFF_REASON:
            errors[f"lines.{line_id}.write_off_reason"] = [f"At most {MAX_WRITE_OFF_REASON} characters."]
        if restock and lines_by_order_line[line_id].variant_id is None:
            errors[f"lines.{line_id}.restock_quantity"] = [
                "This item is no longer in the catalog: write it off."
            ]
        checked[line_id] = (restock, write_off, why if write_off else "")
    if errors:
        raise InvalidInput("The inspection is not complete.", errors=errors)
    return checked


def _restock_location(location_id: int | None) -> StockLocation:
    location = db.session.get(StockLocation, location_id) if _whole_number(location_id) else None
    if location is None or not location.is_active:
        raise InvalidInput(
            "Choose where the restocked units go.",
            errors={"location_id": ["Choose an active stock location."]},
        )
    return location


def close(ret: ReturnRequest, *, actor, note: str) -> ReturnRequest:
    """Finish a return without a refund: received -> closed (exchanged, or nothing is
    owed), or approved -> closed (the goods never came back: its units may be asked for
    again within the window). `note` says why."""
    _require_move(ret, "closed")
    note = _clean_text(note, "note", required=True)
    previous = _move(ret, "closed")
    ret.staff_note = note
    ret.closed_at = utcnow()
    never_came = " (the goods never came back)" if previous == "approved" else ""
    _record(
        ret,
        _order_of(ret),
        "closed",
        previous,
        actor=actor,
        summary=f"Return {ret.number} closed{never_came}.",
        note=note,
    )
    return ret


def mark_refunded(ret: ReturnRequest, *, actor, refund_id: int) -> ReturnRequest:
    """received -> refunded, called by the refunds service with the refund made for it.
    A further refund for a return that is refunded already is recorded on the timeline
    without a new status (and without a second mail)."""
    order = _order_of(ret)
    if ret.status == "refunded":
        lifecycle.record_event(
            order,
            "return",
            actor=actor,
            note=f"Return {ret.number}: another refund.",
            **{"return": ret.number, "status": ret.status, "previous": ret.status, "refund_id": refund_id},
        )
        return ret
    previous = _move(ret, "refunded")
    ret.closed_at = utcnow()
    _record(
        ret,
        order,
        "refunded",
        previous,
        actor=actor,
        summary=f"Return {ret.number} refunded.",
        refund_id=refund_id,
    )
    return ret


# ---- the state machine and its records ---------------------------------------------------


def _require_move(ret: ReturnRequest, to_status: str) -> None:
    if not can_move(ret.status, to_status):
        raise Conflict(
            f"A return that is {STATUS_LABELS[ret.status].lower()} cannot become "
            f"{STATUS_LABELS.get(to_status, to_status).lower()}.",
            code="invalid_transition",
        )


def _move(ret: ReturnRequest, to_status: str) -> str:
    """Change the status if the table allows it; returns the one it had."""
    _require_move(ret, to_status)
    previous, ret.status = ret.status, to_status
    return previous


def _order_of(ret: ReturnRequest) -> Order:
    # Locked by the caller already: this is the session's copy.
    return db.session.get(Order, ret.order_id)


def _record(ret, order, action, previous, *, actor, summary, note="", **data) -> None:
    """The timeline entry, the audit entry (staff) and the event of one step."""
    text = f"{summary} {note}".strip() if note else summary
    lifecycle.record_event(
        order,
        "return",
        actor=actor,
        note=text,
        **{"return": ret.number, "status": ret.status, "previous": previous},
        **data,
    )
    if audit.is_staff(actor):
        audit.record(
            f"return.{action}",
            actor=actor,
            target=ret,
            summary=f"{summary} Order {order.number}.",
            order=order.number,
            from_status=previous,
            to_status=ret.status,
            note=note,
            **data,
        )
    emit("return.changed", return_id=ret.id, status=ret.status)
