"""Staff portal: the invoice PDF of an order (`GET /orders/<number>/invoice.pdf`).

The order page links here once the order has an invoice. It hands out the stored PDF
(invoice_rendering.py); an order that is not paid has none (404), one whose PDF the job
has not rendered yet answers 409 `invoice_not_ready`.
"""

from __future__ import annotations

from app.blueprints.orders import ORDERS_READ, bp, invoice_rendering, order_queries
from app.core.permissions import require_permission


@bp.route("/orders/<number>/invoice.pdf", endpoint="invoice_pdf")
@require_permission(ORDERS_READ)
def invoice_pdf(number: str):
    return invoice_rendering.download_response(order_queries.order_by_number(number))
