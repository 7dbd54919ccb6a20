"""The staff order page's "Tracking" section: the same live timeline the customer sees.

Registered with the order page (`register_order_section`), shown to who holds
fulfilment.read. While the order is not delivered or cancelled, the section asks
`/orders/<number>/tracking/live` for news every TRACKING_POLL_SECONDS, with its ETag:
304 and `HX-Reswap: none` while nothing changed, the section anew when something did.
That URL is for HTMX; a person who opens it lands on the order page at the section.
"""

from __future__ import annotations

from flask import redirect, render_template, url_for

from app.blueprints.fulfilment import FULFILMENT_READ, bp, tracking_queries
from app.blueprints.fulfilment.tracking_page_views import fragment_answer, timeline_context, unchanged_answer
from app.blueprints.orders import order_queries
from app.blueprints.orders.order_page_sections import register_order_section
from app.core.htmx import wants_fragment
from app.core.permissions import require_permission

SECTION_TEMPLATE = "fulfilment/_tracking_section.html"
SECTION_ID = "order-tracking"


@register_order_section("tracking", template=SECTION_TEMPLATE, permission=FULFILMENT_READ, order=20)
def tracking_section(order) -> dict:
    return section_context(order, tracking_queries.order_tracking(order))


def section_context(order, tracking: tracking_queries.OrderTracking) -> dict:
    return timeline_context(
        tracking, poll_url=url_for("fulfilment.order_tracking_live", number=order.number), staff=True
    )


@bp.route("/orders/<number>/tracking/live", endpoint="order_tracking_live")
@require_permission(FULFILMENT_READ)
def order_tracking_live(number):
    order = order_queries.order_by_number(number)
    if not wants_fragment(SECTION_ID):
        return redirect(url_for("orders.order", number=order.number, _anchor=SECTION_ID))
    tracking = tracking_queries.order_tracking(order)
    return unchanged_answer(tracking) or fragment_answer(
        tracking, render_template(SECTION_TEMPLATE, order=order, **section_context(order, tracking))
    )
