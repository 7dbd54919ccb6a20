"""What can be refunded on an order, and the checked plan of one refund (no writes).

Unit amounts: a line's units cost `line_total / quantity` rounded *down* to the cent, and
the last unit takes the remainder, so refunding every unit gives back exactly the line's
total (3 units for 10.00: 3.33, 3.33, 3.34) and no earlier unit gives back more than its
exact share. The shipping is what the customer paid for it (with its tax when prices
exclude tax), refundable once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from sqlalchemy import select

from app.blueprints.fulfilment.models import Refund
from app.blueprints.orders import gateways, payments
from app.blueprints.orders.order_models import Order
from app.blueprints.orders.payment_models import Payment
from app.core.errors import Conflict, InvalidInput
from app.core.money import to_money
from app.extensions import db

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


# ---- what can be refunded -------------------------------------------------------------------


def unit_amount(line_total: Decimal, quantity: int) -> Decimal:
    """What one unit of a line cost the customer (before the last unit's remainder)."""
    return (line_total / quantity).quantize(CENT, rounding=ROUND_DOWN)


def paid_for_units(line_total: Decimal, quantity: int, units: int) -> Decimal:
    """What the first `units` units of a line cost: the last unit takes the remainder."""
    if units >= quantity:
        return line_total
    return unit_amount(line_total, quantity) * units


@dataclass(frozen=True)
class RefundableLine:
    order_line_id: int
    sku: str
    name: str
    title: str
    quantity: int
    line_total: Decimal
    refunded_units: int

    @property
    def refundable_units(self) -> int:
        return max(self.quantity - self.refunded_units, 0)

    @property
    def unit_amount(self) -> Decimal:
        return unit_amount(self.line_total, self.quantity)

    def amount_for(self, units: int) -> Decimal:
        """What refunding `units` more units gives back (the units after those refunded)."""
        already = self.refunded_units
        return paid_for_units(self.line_total, self.quantity, already + units) - paid_for_units(
            self.line_total, self.quantity, already
        )

    @property
    def refundable_amount(self) -> Decimal:
        return self.amount_for(self.refundable_units)


@dataclass(frozen=True)
class ShippingFigures:
    paid: Decimal
    refunded: Decimal

    @property
    def refundable(self) -> Decimal:
        return max(self.paid - self.refunded, ZERO)


@dataclass(frozen=True)
class RefundableSummary:
    """An order's refundable money, units and shipping, as of now."""

    order_id: int
    currency: str
    captured: Decimal
    refunded: Decimal
    lines: list[RefundableLine]
    shipping_paid: Decimal
    shipping_refunded: Decimal
    refundable_online: bool  # every payment holding money has a gateway that refunds it online

    @property
    def refundable(self) -> Decimal:
        return max(self.captured - self.refunded, ZERO)

    @property
    def shipping(self) -> ShippingFigures:
        return ShippingFigures(self.shipping_paid, self.shipping_refunded)

    @property
    def shipping_refundable(self) -> Decimal:
        return self.shipping.refundable

    @property
    def methods(self) -> tuple[str, ...]:
        return ("gateway", "manual") if self.refundable_online else ("manual",)

    def line(self, order_line_id: int) -> RefundableLine | None:
        return next((line for line in self.lines if line.order_line_id == order_line_id), None)


def refunds_of(order: Order) -> list[Refund]:
    return list(db.session.scalars(select(Refund).where(Refund.order_id == order.id).order_by(Refund.id)))


def refunded_units_by_line(refunds: list[Refund]) -> dict[int, int]:
    units: dict[int, int] = defaultdict(int)
    for refund in refunds:
        for entry in refund.lines or ():
            units[int(entry["order_line_id"])] += int(entry["quantity"])
    return units


def shipping_paid(order: Order) -> Decimal:
    """The shipping the customer paid: `shipping_total` holds the tax when prices include
    it, and the shipping tax comes on top when they do not (see orders/pricing.py)."""
    return order.shipping_total + (ZERO if order.prices_include_tax else order.shipping_tax)


def _holds_money(payment: Payment) -> bool:
    return payments.refundable(payment) > 0


def refunds_online(payment: Payment) -> bool:
    """The payment's gateway gives money back by itself (the manual gateway does not:
    staff pay back by hand)."""
    try:
        return bool(gateways.get_gateway(payment.gateway).collects_online)
    except InvalidInput:  # a gateway no longer installed
        return False


def refundable(order: Order) -> RefundableSummary:
    """What can still be refunded on the order: money (captured minus refunded over its
    payments), each line's units and the shipping."""
    order_payments = payments.payments_of(order)
    refunds = refunds_of(order)
    refunded_units = refunded_units_by_line(refunds)
    holding = [payment for payment in order_payments if _holds_money(payment)]
    return RefundableSummary(
        order_id=order.id,
        currency=order.currency,
        captured=sum((p.amount_captured for p in order_payments), ZERO),
        refunded=sum((p.amount_refunded for p in order_payments), ZERO),
        lines=[
            RefundableLine(
                order_line_id=line.id,
                sku=line.sku,
                name=line.name,
                title=line.title,
                quantity=line.quantity,
                line_total=line.line_total,
                refunded_units=refunded_units.get(line.id, 0),
            )
            for line in order.lines
        ],
        shipping_paid=shipping_paid(order),
        shipping_refunded=sum((refund.shipping_amount for refund in refunds), ZERO),
        refundable_online=bool(holding) and all(refunds_online(payment) for payment in holding),
    )


# ---- what one refund gives back ---------------------------------------------------------------


@dataclass
class RefundPlan:
    """One refund, worked out and checked against a summary: its lines, amount, shipping."""

    lines: list[dict] = field(default_factory=list)  # [{order_line_id, quantity, amount}]
    free_amount: Decimal = ZERO
    shipping_amount: Decimal = ZERO

    @property
    def lines_amount(self) -> Decimal:
        return sum((Decimal(entry["amount"]) for entry in self.lines), ZERO)

    @property
    def total(self) -> Decimal:
        return self.lines_amount + self.free_amount + self.shipping_amount


def plan_refund(
    summary: RefundableSummary,
    *,
    lines: dict[int, int] | None = None,
    amount: Decimal | None = None,
    include_shipping: bool = False,
) -> RefundPlan:
    """Work out a refund of `lines` ({order line id: units}) or of a free `amount` (not
    both), plus the shipping left when `include_shipping`; raise InvalidInput naming the
    field for anything above what is refundable. Reads nothing: the caller passes the
    summary (taken with the order locked when the refund is for real)."""
    if summary.refundable <= 0:
        raise Conflict("Nothing is left to refund on this order.", code="nothing_to_refund")
    lines = lines or {}
    if lines and amount is not None:
        message = "Refund items or an amount, not both."
        raise InvalidInput(message, errors={"lines": [message], "amount": [message]})
    if not lines and amount is None and not include_shipping:
        message = "Choose the items, an amount or the shipping to refund."
        raise InvalidInput(message, errors={"lines": [message]})
    plan = RefundPlan()
    if include_shipping:
        plan.shipping_amount = _shipping_to_refund(summary)
    if lines:
        plan.lines = _planned_lines(summary, lines)
    if amount is not None:
        plan.free_amount = _checked_free_amount(summary, amount, plan.shipping_amount)
    if plan.total > summary.refundable:
        if lines:
            message = f"These come to {plan.total}: at most {summary.refundable} is left to refund."
            raise InvalidInput(message, errors={"lines": [message]})
        message = f"The shipping comes to {plan.total}: at most {summary.refundable} is left to refund."
        raise InvalidInput(message, errors={"include_shipping": [message]})
    if plan.total <= 0:
        message = "These items cost nothing: there is nothing to refund."
        raise InvalidInput(message, errors={"lines": [message]})
    return plan


def _shipping_to_refund(summary: RefundableSummary) -> Decimal:
    if summary.shipping_paid <= 0:
        message = "This order has no shipping charge to refund."
        raise InvalidInput(message, errors={"include_shipping": [message]})
    if summary.shipping_refundable <= 0:
        message = "The shipping was refunded already."
        raise InvalidInput(message, errors={"include_shipping": [message]})
    return summary.shipping_refundable


def _planned_lines(summary: RefundableSummary, wanted: dict[int, int]) -> list[dict]:
    planned, problems = [], []
    for order_line_id, units in wanted.items():
        line = summary.line(order_line_id) if isinstance(order_line_id, int) else None
        if line is None:
            problems.append(f"Line {order_line_id} is not on this order.")
        elif not isinstance(units, int) or isinstance(units, bool) or units < 1:
            problems.append(f"{line.sku}: give a whole number of units, 1 or more.")
        elif units > line.refundable_units:
            problems.append(
                f"{line.sku}: every unit was refunded already."
                if line.refundable_units == 0
                else f"{line.sku}: at most {line.refundable_units} left to refund."
            )
        else:
            planned.append(
                {
                    "order_line_id": line.order_line_id,
                    "quantity": units,
                    "amount": str(line.amount_for(units)),
                }
            )
    if problems:
        raise InvalidInput(" ".join(problems), errors={"lines": problems})
    return planned


def _checked_free_amount(summary: RefundableSummary, amount, shipping: Decimal) -> Decimal:
    try:
        amount = to_money(amount)
    except (TypeError, ValueError):
        raise InvalidInput("Give the amount like 24.95.", errors={"amount": ["Like 24.95."]}) from None
    most = max(summary.refundable - shipping, ZERO)
    if amount <= 0:
        raise InvalidInput("The amount must be positive.", errors={"amount": ["At least 0.01."]})
    if amount > most:
        raise InvalidInput(f"At most {most} can be refunded.", errors={"amount": [f"At most {most}."]})
    return amount
