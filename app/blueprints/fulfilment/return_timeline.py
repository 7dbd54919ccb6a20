"""The customer's returns on the customer timeline (kind "return", filter "Return"), with a
link to each return and to the customer's returns in the queue, for staff who may see
fulfilment.

Registered with customers' timeline registry at import: customers never import
fulfilment. An entry is the return as requested (its time is `requested_at`), showing its
number, order, reason and current status; the branch runs on the returns' customer index.
"""

from __future__ import annotations

from flask import url_for
from sqlalchemy import select

from app.blueprints.customers.timeline import TimelineSource, register_timeline_source
from app.blueprints.fulfilment import FULFILMENT_READ
from app.blueprints.fulfilment.models import ReturnRequest
from app.blueprints.fulfilment.return_queries import return_details
from app.extensions import db

# After orders (4): a return and an order of one instant show the return first.
RETURN_SOURCE = 5


def returns_by_id(ids: list[int]) -> dict[int, object]:
    """The returns with their orders (number, currency), in two statements."""
    found = list(db.session.scalars(select(ReturnRequest).where(ReturnRequest.id.in_(ids))))
    return {details.id: details for details in return_details(found)}


def return_page(details) -> str:
    return url_for("fulfilment.return_page", number=details.number)


def customer_returns_page(customer_id: int) -> str:
    return url_for("fulfilment.returns", customer=customer_id, status="all")


register_timeline_source(
    TimelineSource(
        number=RETURN_SOURCE,
        kind="return",
        label="Return",
        model=ReturnRequest,
        customer_column=ReturnRequest.customer_id,
        time_column=ReturnRequest.requested_at,
        template="fulfilment/return_timeline_entry.html",
        load=returns_by_id,
        permission=FULFILMENT_READ,
        url=return_page,
        list_url=customer_returns_page,
        list_label="All returns",
    )
)
