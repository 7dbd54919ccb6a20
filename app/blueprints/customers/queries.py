"""Read side of customers: the filtered customer list (page and CSV share one builder), the
customer page's records, and the follow-ups on the dashboard. The timeline is in `timeline`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from app.blueprints.auth.models import User
from app.blueprints.customers import interactions, search
from app.blueprints.customers.list_rows import LIST_COLUMNS, CustomerListRow, list_rows
from app.blueprints.customers.models import (
    STATUSES,
    ConsentEvent,
    Customer,
    CustomerPhone,
    CustomerTag,
    Interaction,
)
from app.core.errors import NotFound
from app.core.pagination import MAX_PER_PAGE, requested_page
from app.extensions import db

# --- The customer list ----------------------------------------------------------------

# "relevance" orders a search by how it matched (the matched name, email or company A to Z,
# see search.py); without a search it is the name order.
SORTS = ("name", "email", "created", "last_order", "total_spent", "relevance")
DEFAULT_SORT = "name"


@dataclass(frozen=True)
class CustomerFilter:
    """What the list shows. Dates are whole days in the viewer's time zone, both ends
    included (`created_after`/`created_before` are exact instants, for the API); text
    filters ignore case; `sort` is a key of SORTS, "-" first for descending."""

    search: str = ""
    status: str = ""
    country: str = ""
    city: str = ""
    language: str = ""
    tag: str = ""
    source: str = ""
    created_from: date | None = None
    created_to: date | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
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


def start_of_day(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


def sort_order(sort: str) -> list:
    key = sort.lstrip("-") if sort.lstrip("-") in SORTS else DEFAULT_SORT
    descending = sort.startswith("-") and key == sort.lstrip("-")
    name = [func.lower(Customer.last_name), func.lower(Customer.first_name), Customer.email]
    columns = {
        "name": name,
        "relevance": name,  # a search in best-match order is paged by search.best_match_rows
        "email": [Customer.email],
        "created": [Customer.created_at],
        "last_order": [Customer.last_order_at],
        "total_spent": [Customer.total_spent],
    }[key]
    order = [column.desc() if descending else column.asc() for column in columns]
    if key == "last_order":
        order = [column.nulls_last() for column in order]
    return [*order, Customer.id.desc() if descending else Customer.id.asc()]


def filter_conditions(filters: CustomerFilter, *, tz: ZoneInfo = UTC) -> list:
    """Every condition of `filters` but the search (merged records are left out apart)."""
    conditions = []
    if filters.status in STATUSES:
        conditions.append(Customer.status == filters.status)
    if filters.country:
        conditions.append(Customer.country == filters.country.upper())
    if filters.city:
        conditions.append(func.lower(Customer.city) == filters.city.strip().lower())
    if filters.language:
        language = filters.language.strip().lower()
        conditions.append(
            or_(
                func.lower(Customer.language) == language,
                func.lower(Customer.language).startswith(f"{language}-", autoescape=True),
            )
        )
    if filters.tag:
        conditions.append(Customer.tags.any(CustomerTag.tag == filters.tag.strip().lower()))
    if filters.source:
        conditions.append(func.lower(Customer.acquisition_source) == filters.source.strip().lower())
    if filters.created_from:
        conditions.append(Customer.created_at >= start_of_day(filters.created_from, tz))
    if filters.created_to:
        conditions.append(Customer.created_at < start_of_day(filters.created_to + timedelta(days=1), tz))
    if filters.created_after:
        conditions.append(Customer.created_at >= filters.created_after)
    if filters.created_before:
        conditions.append(Customer.created_at < filters.created_before)
    if filters.has_orders is True:
        conditions.append(Customer.order_count > 0)
    elif filters.has_orders is False:
        conditions.append(Customer.order_count == 0)
    if filters.spent_min is not None:
        conditions.append(Customer.total_spent >= filters.spent_min)
    if filters.spent_max is not None:
        conditions.append(Customer.total_spent <= filters.spent_max)
    return conditions


def filtered_customers(
    filters: CustomerFilter, *, tz: ZoneInfo = UTC, by_prefix: bool | None = None
) -> Select:
    """The one select behind the list page and its CSV export: customers matching
    `filters`, sorted. Records merged into another customer are left out. A search
    matches by prefix, or by "contains" when nothing starts with it (`by_prefix` when
    the caller knows already)."""
    conditions = filter_conditions(filters, tz=tz)
    query = select(Customer).where(Customer.merged_into_id.is_(None), *conditions)
    text = filters.search.strip()
    if text:
        if by_prefix is None:
            by_prefix = search.has_prefix_match(text, conditions)
        query = query.where(search.prefix_clause(text) if by_prefix else search.contains_clause(text))
    return query.order_by(*sort_order(filters.sort))


def customer_list_query(
    filters: CustomerFilter, *, tz: ZoneInfo = UTC, by_prefix: bool | None = None
) -> Select:
    """The list page's select: what a row shows (phones, tags) loads in one query each."""
    return filtered_customers(filters, tz=tz, by_prefix=by_prefix).options(
        selectinload(Customer.phones), selectinload(Customer.tags)
    )


class CustomerPage(Pagination):
    """A page of the customer list (`list_rows.CustomerListRow` items) with its total
    (counted up to search.SEARCH_COUNT_LIMIT + 1 for a search: `total_is_capped` then)."""

    def _query_items(self) -> list:
        return self._query_args["fetch"](self._query_offset, self.per_page)

    def _query_count(self) -> int:
        return self._query_args["counter"]()

    @property
    def total_is_capped(self) -> bool:
        return self.total is not None and self.total > search.SEARCH_COUNT_LIMIT


def customer_page(
    filters: CustomerFilter, *, page: int | None = None, per_page: int = 25, tz: ZoneInfo = UTC
) -> CustomerPage:
    """One page of the list, as the portal and the API show it. A search in best-match
    order reads only its page from the search indexes; anything else pages the filtered
    select. A search's total is counted up to a limit."""
    text = filters.search.strip()
    conditions = filter_conditions(filters, tz=tz)
    best_match = bool(text) and filters.sort == "relevance" and search.phone_digits(text) is None
    state = {"by_prefix": None, "first_page_size": None}

    def fetch(offset: int, limit: int) -> list[CustomerListRow]:
        if best_match:
            rows = search.best_match_rows(text, conditions, offset=offset, limit=limit)
            if rows or offset:
                state["by_prefix"] = True
                state["first_page_size"] = len(rows) if not offset else None
                return rows
            state["by_prefix"] = False  # nothing starts with it: look inside instead
        query = filtered_customers(filters, tz=tz, by_prefix=state["by_prefix"])
        return list_rows(query.with_only_columns(*LIST_COLUMNS).limit(limit).offset(offset))

    def count() -> int:
        if state["by_prefix"] and best_match:
            # A first page that is not full holds every match: nothing left to count.
            size = state["first_page_size"]
            if size is not None and size < per_page:
                return size
            return search.best_match_total(text, conditions)
        query = filtered_customers(filters, tz=tz, by_prefix=state["by_prefix"])
        if text:
            return search.capped_count(query)
        return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))

    return CustomerPage(
        page=requested_page(page),
        per_page=per_page,
        max_per_page=MAX_PER_PAGE,
        error_out=False,
        fetch=fetch,
        counter=count,
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
