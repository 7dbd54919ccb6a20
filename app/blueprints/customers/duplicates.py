"""Likely duplicate customers: pairs of live customers that look like one person, and
the matches of one customer.

Detection is one SQL statement whatever the number of customers: every way two live
(not merged) customers can look alike is a branch of a UNION ALL of self-joins on equal
keys (hash or index joins, never a pair-by-pair comparison in Python), grouped per pair
with a score that orders the list. `duplicates_of(customer)` runs the same branches for
one customer only. Merging a duplicate into the customer who stays is in `merge`.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from dataclasses import dataclass

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import (
    Integer,
    String,
    and_,
    case,
    desc,
    func,
    literal_column,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased, selectinload
from sqlalchemy.sql.functions import FunctionElement

from app.blueprints.customers.models import Customer, CustomerAddress, CustomerPhone
from app.core.pagination import requested_page
from app.extensions import db


@dataclass(frozen=True)
class Reason:
    code: str
    label: str
    weight: int  # a pair's score is the sum of the weights of its reasons


REASONS = (
    Reason("email", "Same mailbox (email written differently)", 100),
    Reason("phone", "Same phone number", 90),
    Reason("name_birth_date", "Same name and date of birth", 70),
    Reason("name_postal_code", "Same name and postal code", 60),
    Reason("name_city", "Same name and city", 40),
)
REASON_LABELS = {reason.code: reason.label for reason in REASONS}
# Gmail ignores dots in the local part, and googlemail.com is the same mailbox.
GMAIL_DOMAINS = ("gmail.com", "googlemail.com")
MAX_MATCHES_OF_ONE = 20


class FirstPosition(FunctionElement):
    """Where a substring first occurs (1-based, 0 when absent): `strpos` on PostgreSQL,
    `instr` on SQLite."""

    type = Integer()
    inherit_cache = True


@compiles(FirstPosition)
def _instr(element, compiler, **kw):
    return f"instr({compiler.process(element.clauses, **kw)})"


@compiles(FirstPosition, "postgresql")
def _strpos(element, compiler, **kw):
    return f"strpos({compiler.process(element.clauses, **kw)})"


def mailbox_key(email):
    """The mailbox an (already lower-cased) address delivers to, as SQL: the "+tag" cut
    off the local part, and for Gmail its dots removed and googlemail.com read as gmail.com.
    "J.Doe+shop@googlemail.com" and "jdoe@gmail.com" have the same key."""
    at = FirstPosition(email, "@")
    local = func.substr(email, 1, at - 1, type_=String)
    domain = func.substr(email, at + 1, type_=String)
    plus = FirstPosition(local, "+")
    base = case((plus > 1, func.substr(local, 1, plus - 1, type_=String)), else_=local)
    return case(
        (domain.in_(GMAIL_DOMAINS), func.replace(base, ".", "", type_=String) + "@gmail.com"),
        else_=base + "@" + domain,
    )


def _same_name(a, b):
    # Names are stored trimmed (services and imports strip them): lower() is the whole
    # normalisation, so an index on lower(last_name), lower(first_name) can serve it.
    return and_(
        func.lower(a.first_name) == func.lower(b.first_name),
        func.lower(a.last_name) == func.lower(b.last_name),
        a.first_name != "",
        a.last_name != "",
    )


def _postal(address):
    return func.upper(func.replace(address.postal_code, " ", ""))


def _reason(code: str):
    # A constant inlined, not a bound parameter: PostgreSQL cannot type those in a UNION.
    return literal_column(f"'{code}'", String).label("reason")


def _matches(constrain: Callable) -> list:
    """One select of (first_id, second_id, reason) per way two live customers look alike.
    `constrain(first_id, second_id)` says which pairs: each pair once, or one customer's."""
    a, b = aliased(Customer, name="a"), aliased(Customer, name="b")
    live = and_(a.merged_into_id.is_(None), b.merged_into_id.is_(None))
    p1, p2 = aliased(CustomerPhone, name="p1"), aliased(CustomerPhone, name="p2")
    phone = (
        select(p1.customer_id.label("first_id"), p2.customer_id.label("second_id"), _reason("phone"))
        .join(p2, and_(p2.number == p1.number, constrain(p1.customer_id, p2.customer_id)))
        .join(a, a.id == p1.customer_id)
        .join(b, b.id == p2.customer_id)
        .where(live)
    )
    keys = select(Customer.id, mailbox_key(Customer.email).label("key")).where(
        Customer.merged_into_id.is_(None)
    )
    k1, k2 = keys.subquery("k1"), keys.subquery("k2")
    email = select(k1.c.id.label("first_id"), k2.c.id.label("second_id"), _reason("email")).join(
        k2, and_(k2.c.key == k1.c.key, constrain(k1.c.id, k2.c.id))
    )

    def same_name_and(condition, code):
        return (
            select(a.id.label("first_id"), b.id.label("second_id"), _reason(code))
            .join(b, and_(constrain(a.id, b.id), _same_name(a, b), condition))
            .where(live)
        )

    city = same_name_and(and_(func.lower(a.city) == func.lower(b.city), a.city != ""), "name_city")
    born = same_name_and(a.date_of_birth == b.date_of_birth, "name_birth_date")
    ad1, ad2 = aliased(CustomerAddress, name="ad1"), aliased(CustomerAddress, name="ad2")
    postal = (
        select(
            ad1.customer_id.label("first_id"), ad2.customer_id.label("second_id"), _reason("name_postal_code")
        )
        .join(
            ad2,
            and_(
                constrain(ad1.customer_id, ad2.customer_id),
                _postal(ad2) == _postal(ad1),
                ad2.country == ad1.country,
                ad1.postal_code != "",
            ),
        )
        .join(a, a.id == ad1.customer_id)
        .join(b, and_(b.id == ad2.customer_id, _same_name(a, b)))
        .where(live)
    )
    return [email, phone, born, postal, city]


def _scored(constrain: Callable):
    """(first_id, second_id, score, one 0/1 column per reason), strongest pairs first."""
    matches = union_all(*_matches(constrain)).subquery("matches")
    flags = {
        reason.code: func.max(case((matches.c.reason == literal_column(f"'{reason.code}'"), 1), else_=0))
        for reason in REASONS
    }
    score = functools.reduce(
        operator.add, (flags[reason.code] * literal_column(str(reason.weight)) for reason in REASONS)
    )
    return (
        select(
            matches.c.first_id,
            matches.c.second_id,
            score.label("score"),
            *(flag.label(code) for code, flag in flags.items()),
        )
        .group_by(matches.c.first_id, matches.c.second_id)
        .order_by(desc("score"), matches.c.first_id, matches.c.second_id)
    )


def _run_detection(query):
    """The rows of a detection select. PostgreSQL would JIT-compile its long expressions
    on every run, costing more than the scan itself (3 s against 2 s over 200,000
    customers): JIT is off for the rest of this transaction. Other databases: as is."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL jit = off"))
    return db.session.execute(query).all()


def _reasons_of(row) -> tuple[str, ...]:
    return tuple(reason.code for reason in REASONS if getattr(row, reason.code))


def _customers_by_id(ids) -> dict[int, Customer]:
    query = select(Customer).where(Customer.id.in_(set(ids))).options(selectinload(Customer.phones))
    return {customer.id: customer for customer in db.session.scalars(query)}


@dataclass(frozen=True)
class Candidate:
    """Two customers that are probably one person, with why."""

    first: Customer  # the lower id
    second: Customer
    reasons: tuple[str, ...]  # codes of REASONS, strongest first
    score: int

    @property
    def reason_labels(self) -> list[str]:
        return [REASON_LABELS[code] for code in self.reasons]

    @property
    def suggested_survivor(self) -> Customer:
        """The record to keep: more orders, then one that can sign in, then the older one."""
        return min(
            (self.first, self.second),
            key=lambda c: (-(c.order_count or 0), c.password_hash is None, c.id),
        )

    @property
    def suggested_duplicate(self) -> Customer:
        return self.second if self.suggested_survivor is self.first else self.first


class CandidatePage(Pagination):
    """A page of candidate pairs, usable wherever a Flask-SQLAlchemy page is. Detection
    scans every customer, so the page and the total come from one execution (a window
    count over the pairs); only a page past the end needs a second one for the total."""

    def _query_items(self) -> list[Candidate]:
        query = self._query_args["query"].add_columns(func.count().over().label("total"))
        offset = (self.page - 1) * self.per_page
        rows = _run_detection(query.limit(self.per_page).offset(offset))
        self._total = rows[0].total if rows else (0 if self.page == 1 else None)
        customers = _customers_by_id([row.first_id for row in rows] + [row.second_id for row in rows])
        return [
            Candidate(customers[row.first_id], customers[row.second_id], _reasons_of(row), int(row.score))
            for row in rows
        ]

    def _query_count(self) -> int:
        if self._total is not None:
            return self._total
        pairs = self._query_args["query"].order_by(None).subquery()
        return _run_detection(select(func.count()).select_from(pairs))[0][0]


def candidate_pairs(*, page: int | None = None, per_page: int | None = None) -> CandidatePage:
    """Pairs of live customers that look like one person, strongest first, a page at a
    time (`page` and `per_page` from the URL when not given)."""
    query = _scored(lambda first_id, second_id: first_id < second_id)
    return CandidatePage(
        page=requested_page(page), per_page=per_page, max_per_page=100, error_out=False, query=query
    )


@dataclass(frozen=True)
class Match:
    customer: Customer
    reasons: tuple[str, ...]
    score: int

    @property
    def reason_labels(self) -> list[str]:
        return [REASON_LABELS[code] for code in self.reasons]


def duplicates_of(customer: Customer, *, limit: int = MAX_MATCHES_OF_ONE) -> list[Match]:
    """The live customers that look like `customer`, strongest first: the same branches
    as the list, each starting from this one customer's rows."""
    if customer.merged_into_id is not None:
        return []
    query = _scored(lambda first_id, second_id: and_(first_id == customer.id, second_id != customer.id))
    rows = _run_detection(query.limit(limit))
    customers = _customers_by_id(row.second_id for row in rows)
    return [Match(customers[row.second_id], _reasons_of(row), int(row.score)) for row in rows]


# The portal pages and the API register their routes on the package's blueprints.
from app.blueprints.customers import merge_api as _merge_api  # noqa: E402,F401
from app.blueprints.customers import merge_views as _merge_views  # noqa: E402,F401
