"""The "Refunds" section of the staff order page: the order's refunds with their credit
notes (downloads), what is left to refund, and the "Refund…" button for holders of
orders.refund when something is left (orders.read to see the section at all)."""

from __future__ import annotations

from app.blueprints.fulfilment import credit_notes, refunds
from app.blueprints.orders import ORDERS_READ, ORDERS_REFUND
from app.blueprints.orders.order_page_sections import register_order_section
from app.core.permissions import current_identity_can


@register_order_section(
    "refunds", template="fulfilment/_refunds_section.html", permission=ORDERS_READ, order=40
)
def refunds_section(order) -> dict:
    summary = refunds.refundable(order)
    return {
        "refund_summary": summary,
        "refund_records": credit_notes.refund_records(order),
        "can_refund": current_identity_can(ORDERS_REFUND) and summary.refundable > 0,
        "refund_methods": {"gateway": "Payment provider", "manual": "By hand"},
    }
