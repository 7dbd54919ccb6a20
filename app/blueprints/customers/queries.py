"""Read side of customers: the filtered customer list (page and CSV share one builder), the
customer page's records, and the follow-ups on the dashboard. The timeline is in `timeline`."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from app.blueprints.auth.models import User
from app.blueprints.customers import interactions
from app.blueprints.customers.models import (
    STATUSES,
    ConsentEvent,
    Customer,
    CustomerPhone,
    CustomerTag,
    Interaction,
)
from app.core.errors import NotFound
from app.extensions import db

# --- The customer list ----------------------------------------------------------------

SORTS = ("name", "email", "created", "last_order", "total_spent")
DEFAULT_SORT = "name"
# A search needs this many digits (leading zeros and separators dropped) to look at phones.
MIN_PHONE_DIGITS = 4


@dataclass(frozen=True)
class CustomerFilter:
    """What the list shows. Dates are whole days in the viewer's time zone, both ends
    included; text filters ignore case; `sort` is a key of SORTS, "-" first for descending."""

    search: str = ""
    status: str = ""
    country: str = ""
    city: str = ""
    language: str = ""
    tag: str = ""
    source: str = ""
    created_from: date | None = None
    created_to: date | None = None
    has_orders: bool | None = None
    spent_min: Decimal | None = None
    spent_max: Decimal | None = None
    sort: str = DEFAULT_SORT

    def as_dict(self) -> dict:
        """The filters in use, JSON-safe (for the audit entry of an export)."""
        values = {}
        for key, value in asdict(self).items():
            if value in (None, "") or (key == "sort" and value == DEFAULT_SORT):
                continue
            values[key] = value.isoformat() if isinstance(value, date) else value
            if isinstance(value, Decimal):
                values[key] = str(value)
        return values

    @property
    def active(self) -> bool:
        return any(key != "sort" for key in self.as_dict())


def phone_digits(text: str) -> str | None:
    """The digits a phone search looks for, or None when `text` does not look like part of
    a number. Leading zeros go (a trunk "0" or an international "00" is not stored in
    E.164), so "06 1234 5678" finds +31612345678."""
    if re.search(r"[^\d\s()+\-./]", text):
        return None
    digits = re.sub(r"\D", "", text).lstrip("0")
    return digits if len(digits) >= MIN_PHONE_DIGITS else None


def search_clause(text: str):
    lowered = text.strip().lower()
    conditions = [
        func.lower(Customer.first_name + " " + Customer.last_name).contains(lowered, autoescape=True),
        func.lower(Customer.last_name + " " + Customer.first_name).contains(lowered, autoescape=True),
        Customer.email.contains(lowered, autoescape=True),  # stored lower-cased
        func.lower(Customer.company).contains(lowered, autoescape=True),
    ]
    digits = phone_digits(text)
    if digits:
        conditions.append(Customer.phones.any(CustomerPhone.number.contains(digits, autoescape=True)))
    return or_(*conditions)


def start_of_day(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


def sort_order(sort: str) -> list:
    key = sort.lstrip("-") if sort.lstrip("-") in SORTS else DEFAULT_SORT
    descending = sort.startswith("-") and key == sort.lstrip("-")
    columns = {
        "name": [func.lower(Customer.last_name), func.lower(Customer.first_name), Customer.email],
        "email": [Customer.email],
        "created": [Customer.created_at],
        "last_order": [Customer.last_order_at],
        "total_spent": [Customer.total_spent],
    }[key]
    order = [column.desc() if descending else column.asc() for column in columns]
    if key == "last_order":
        order = [column.nulls_last() for column in order]
    return [*order, Customer.id.desc() if descending else Customer.id.asc()]


def filtered_customers(filters: CustomerFilter, *, tz: ZoneInfo = UTC) -> Select:
    """The one select behind the list page and its CSV export: customers matching
    `filters`, sorted. Records merged into another customer are left out."""
    query = select(Customer).where(Customer.merged_into_id.is_(None))
    if filters.search.strip():
        query = query.where(search_clause(filters.search))
    if filters.status in STATUSES:
        query = query.where(Customer.status == filters.status)
    if filters.country:
        query = query.where(Customer.country == filters.country.upper())
    if filters.city:
        query = query.where(func.lower(Customer.city) == filters.city.strip().lower())
    if filters.language:
        language = filters.language.strip().lower()
        query = query.where(
            or_(
                func.lower(Customer.language) == language,
                func.lower(Customer.language).startswith(f"{language}-", autoescape=True),
            )
        )
    if filters.tag:
        query = query.where(Customer.tags.any(CustomerTag.tag == filters.tag.strip().lower()))
    if filters.source:
        query = query.where(func.lower(Customer.acquisition_source) == filters.source.strip().lower())
    if filters.created_from:
        query = query.where(Customer.created_at >= start_of_day(filters.created_from, tz))
    if filters.created_to:
        query = query.where(Customer.created_at < start_of_day(filters.created_to + timedelta(days=1), tz))
    if filters.has_orders is True:
        query = query.where(Customer.order_count > 0)
    elif filters.has_orders is False:
        query = query.where(Customer.order_count == 0)
    if filters.spent_min is not None:
        query = query.where(Customer.total_spent >= filters.spent_min)
    if filters.spent_max is not None:
        query = query.where(Customer.total_spent <= filters.spent_max)
    return query.order_by(*sort_order(filters.sort))


def customer_list_query(filters: CustomerFilter, *, tz: ZoneInfo = UTC) -> Select:
    """The list page's select: what a row shows (phones, tags) loads in one query each."""
    return filtered_customers(filters, tz=tz).options(
        selectinload(Customer.phones), selectinload(Customer.tags)
    )


EXPORT_SEPARATOR = "; "


def export_rows(filters: CustomerFilter, *, tz: ZoneInfo = UTC, batch_size: int = 1000):
    """Rows (not entities) of the filtered list with phones and tags folded into one
    column each, fetched in batches (a server-side cursor on PostgreSQL), so an export
    of any size runs in constant memory."""
    phones = (
        select(func.aggregate_strings(CustomerPhone.number, EXPORT_SEPARATOR))
        .where(CustomerPhone.customer_id == Customer.id)
        .correlate(Customer)
        .scalar_subquery()
    )
    tags = (
        select(func.aggregate_strings(CustomerTag.tag, EXPORT_SEPARATOR))
        .where(CustomerTag.customer_id == Customer.id)
        .correlate(Customer)
        .scalar_subquery()
    )
    query = filtered_customers(filters, tz=tz).with_only_columns(
        Customer.id,
        Customer.email,
        Customer.first_name,
        Customer.last_name,
        Customer.company,
        phones.label("phones"),
        Customer.status,
        Customer.country,
        Customer.region,
        Customer.city,
        Customer.language,
        Customer.acquisition_source,
        tags.label("tags"),
        Customer.order_count,
        Customer.total_spent,
        Customer.last_order_at,
        Customer.created_at,
    )
    return db.session.execute(query.execution_options(yield_per=batch_size))


# --- The customer page ----------------------------------------------------------------


def customer_for_page(customer_id: int) -> Customer:
    """The customer with what the page header and sections show, in a fixed few queries."""
    customer = db.session.scalar(
        select(Customer)
        .where(Customer.id == customer_id)
        .options(selectinload(Customer.phones), selectinload(Customer.tags), selectinload(Customer.addresses))
    )
    if customer is None:
        raise NotFound("No such customer.")
    return customer


def consent_history(customer_id: int, limit: int = 100) -> list[tuple[ConsentEvent, str | None]]:
    """Consent events newest first, each with the name of the staff member who recorded it."""
    query = (
        select(ConsentEvent, User.name)
        .outerjoin(User, User.id == ConsentEvent.recorded_by_id)
        .where(ConsentEvent.customer_id == customer_id)
        .order_by(ConsentEvent.occurred_at.desc(), ConsentEvent.id.desc())
        .limit(limit)
    )
    return [(event, name) for event, name in db.session.execute(query)]


# --- Follow-ups -----------------------------------------------------------------------


def follow_ups_due(staff, *, until: date, limit: int = 50) -> list[Interaction]:
    """The staff member's open follow-ups due by `until`, with their customers loaded in
    one more query (the list links to each customer by name)."""
    due = interactions.follow_ups_due(staff, until=until, limit=limit)
    customer_ids = {interaction.customer_id for interaction in due}
    if customer_ids:
        customers = {
            customer.id: customer
            for customer in db.session.scalars(select(Customer).where(Customer.id.in_(customer_ids)))
        }
        for interaction in due:
            set_committed_value(interaction, "customer", customers[interaction.customer_id])
    return due
