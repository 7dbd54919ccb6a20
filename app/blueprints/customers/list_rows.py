"""The customer list's rows (the portal's list and GET /api/v1/admin/customers): what a
row shows, read as plain values instead of entities.

A page as entities cost most of a search request: 35 columns a customer turned into
tracked objects, and phones and tags as objects of their own. A row here is the 15
columns the list shows, and its phones and tags come in one query each for the whole page.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Select, select

from app.blueprints.customers.models import Customer, CustomerPhone, CustomerTag, display_name
from app.extensions import db

# What a list row shows, in CustomerListRow's order.
LIST_COLUMNS = (
    Customer.id,
    Customer.email,
    Customer.first_name,
    Customer.last_name,
    Customer.company,
    Customer.country,
    Customer.city,
    Customer.language,
    Customer.status,
    Customer.order_count,
    Customer.total_spent,
    Customer.last_order_at,
    Customer.merged_into_id,
    Customer.created_at,
    Customer.updated_at,
)


@dataclass(frozen=True, slots=True)
class ListPhone:
    number: str
    kind: str


@dataclass(frozen=True, slots=True)
class CustomerListRow:
    id: int
    email: str
    first_name: str
    last_name: str
    company: str | None
    country: str | None
    city: str | None
    language: str | None
    status: str
    order_count: int
    total_spent: Decimal
    last_order_at: datetime | None
    merged_into_id: int | None
    created_at: datetime
    updated_at: datetime
    phones: tuple[ListPhone, ...] = ()
    tag_names: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return display_name(self.first_name, self.last_name, self.email)


def list_rows(query: Select, params: dict | None = None) -> list[CustomerListRow]:
    """The rows of `query` (a select of LIST_COLUMNS, run with `params`), in its order,
    with their phones (first added first) and tags (A to Z)."""
    rows = db.session.execute(query, params).all()
    ids = [row.id for row in rows]
    phones: dict[int, list[ListPhone]] = defaultdict(list)
    tags: dict[int, list[str]] = defaultdict(list)
    if ids:
        phone_rows = select(CustomerPhone.customer_id, CustomerPhone.number, CustomerPhone.kind)
        for customer_id, number, kind in db.session.execute(
            phone_rows.where(CustomerPhone.customer_id.in_(ids)).order_by(CustomerPhone.id)
        ):
            phones[customer_id].append(ListPhone(number, kind))
        tag_rows = select(CustomerTag.customer_id, CustomerTag.tag).where(CustomerTag.customer_id.in_(ids))
        for customer_id, tag in db.session.execute(tag_rows.order_by(CustomerTag.tag)):
            tags[customer_id].append(tag)
    return [
        CustomerListRow(*row, phones=tuple(phones[row.id]), tag_names=tuple(tags[row.id])) for row in rows
    ]
