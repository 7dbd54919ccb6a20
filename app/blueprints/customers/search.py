"""Customer search: what a typed query matches, in which order, and how many.

A query matches customers whose name (last name first, the surname without its particles
first, or first name first), email or company **starts with** it, ignoring case: "jans"
finds Jansen, "martens" finds de Martens, "emma de v" finds Emma de Vries, "customer0012"
the addresses that begin so. Only when nothing starts with it does the search fall back to
**contains** ("@example.org" finds everyone at that domain), served on PostgreSQL by
trigram indexes. A query of digits also looks inside phone numbers.

Why prefixes first: people type the beginning of what they know, and a beginning can be
answered from a b-tree in index order. On PostgreSQL each key has an index on
(key COLLATE "C", id) (migration 5d2f8c1a9e34), so the best-match order, the matched key
A to Z, reads just the rows of the page: each key's matches come in order from its own
index (25 rows each for page 1), the runs are merged, and a customer found by an earlier
key is left out of the later ones. At a million customers that is well under a
millisecond, where sorting every match of a common surname reads thousands of rows.

The total of a search is counted up to SEARCH_COUNT_LIMIT matches: beyond that nobody
pages through, they type more (the list says so).
"""

from __future__ import annotations

import re
from functools import lru_cache

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    Text,
    and_,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)

from app.blueprints.customers.list_rows import LIST_COLUMNS, CustomerListRow, list_rows
from app.blueprints.customers.models import Customer, CustomerPhone
from app.extensions import db

SEARCH_COUNT_LIMIT = 500
SURNAME_KEY = 1  # the position of the surname-without-particles key in search_keys()
# A search needs this many digits (leading zeros and separators dropped) to look at phones.
MIN_PHONE_DIGITS = 4


def phone_digits(text: str) -> str | None:
    """The digits a phone search looks for, or None when `text` does not look like part of
    a number. Leading zeros go (a trunk "0" or an international "00" is not stored in
    E.164), so "06 1234 5678" finds +31612345678."""
    if re.search(r"[^\d\s()+\-./]", text):
        return None
    digits = re.sub(r"\D", "", text).lstrip("0")
    return digits if len(digits) >= MIN_PHONE_DIGITS else None


def normalized(text: str) -> str:
    """The query as the keys are compared: trimmed, inner spaces single, lower case."""
    return " ".join(text.split()).lower()


def _on_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def surname_without_particles() -> ColumnElement:
    """The last word of the last name: "de Martens" is found by "martens", "van der Berg"
    by "berg". The pattern is written into the statement, as the index's expression is."""
    return func.regexp_replace(Customer.last_name, literal_column("'^.* '"), literal_column("''"))


def search_keys() -> list[ColumnElement]:
    """The keys a query is a beginning of, in the order a match is attributed to them.
    On PostgreSQL compared in the "C" collation (byte order), the collation of their
    indexes: with it, `LIKE 'q%'` is an index range and the key's order the index's."""
    keys = [
        func.lower(Customer.last_name + " " + Customer.first_name),
        func.lower(surname_without_particles() + " " + Customer.first_name),
        func.lower(Customer.first_name + " " + Customer.last_name),
        cast(Customer.email, Text),
        func.lower(Customer.company),
    ]
    return [key.collate("C") for key in keys] if _on_postgresql() else keys


ESCAPE = "/"
# The pattern is written into the statement when it runs, not bound: a bound pattern lets
# PostgreSQL settle on a generic plan for a prepared statement, which cannot turn the
# pattern into an index range, and then every search reads the whole table.
PATTERN = "prefix_pattern"


def like_pattern(text: str) -> str:
    """`text` as the LIKE pattern of "starts with", its own wildcards escaped."""
    escaped = (
        normalized(text).replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")
    )
    return escaped + "%"


def _starts_with(key: ColumnElement) -> ColumnElement:
    return key.like(bindparam(PATTERN, type_=String, literal_execute=True), escape=ESCAPE)


def _prefix_arms(text: str) -> list[ColumnElement]:
    """One condition per key: it starts with `text`. Only names with particles have a
    surname key of their own (for the others it is the last-name-first key again), and
    only those are in its index: said here too, so each condition has an index."""
    pattern = like_pattern(text)
    arms = [_starts_with(key).params({PATTERN: pattern}) for key in search_keys()]
    arms[SURNAME_KEY] = and_(arms[SURNAME_KEY], _has_particles())
    return arms


def prefix_clause(text: str) -> ColumnElement:
    """Name (either order), email or company starts with `text`, or a phone holds its
    digits. PostgreSQL ORs the keys' indexes (a BitmapOr) instead of reading every customer."""
    return _or_phone(or_(*_prefix_arms(text)), text)


def contains_clause(text: str) -> ColumnElement:
    """Name (either order), email or company contains `text`, or a phone holds its digits."""
    lowered = normalized(text)
    conditions = [
        func.lower(Customer.first_name + " " + Customer.last_name).contains(lowered, autoescape=True),
        func.lower(Customer.last_name + " " + Customer.first_name).contains(lowered, autoescape=True),
        Customer.email.contains(lowered, autoescape=True),  # stored lower-cased
        func.lower(Customer.company).contains(lowered, autoescape=True),
    ]
    return _or_phone(or_(*conditions), text)


def _or_phone(by_text: ColumnElement, text: str) -> ColumnElement:
    """`by_text`, or (for a text of digits) a phone holding them. The two are looked up
    apart, each in its own indexes (the text's on customers, the phone's trigram index on
    customer_phones, migration 8f4c2d6e1a57), and their ids united: an OR of the two in one
    WHERE would make PostgreSQL read every customer (seconds at a million)."""
    digits = phone_digits(text)
    if not digits:
        return by_text
    by_text_ids = select(Customer.id).where(Customer.merged_into_id.is_(None), by_text)
    return Customer.id.in_(union_all(by_text_ids, _holding_phone(digits)))


def _holding_phone(digits: str):
    """The ids of the customers with a phone number holding `digits`."""
    return select(CustomerPhone.customer_id).where(CustomerPhone.number.contains(digits, autoescape=True))


def _has_particles() -> ColumnElement:
    """The last name has more than one word (only then is its last word another key)."""
    return Customer.last_name.like(literal_column("'% %'"))


def _prefix_runs(conditions: list, *, limited: bool, columns=None):
    """One select per key: the customers whose key starts with the pattern and none of the
    earlier keys does (so each customer is in one run only), meeting `conditions`, in
    key order and, when `limited`, at most `run_limit` of them."""
    keys = search_keys()
    runs = []
    for index, key in enumerate(keys):
        matches = _starts_with(key)
        earlier = [_starts_with(k) for k in keys[:index]]
        run = select(*(columns or (Customer.id.label("id"), key.label("match")))).where(
            Customer.merged_into_id.is_(None), matches, *conditions
        )
        if index == SURNAME_KEY:
            run = run.where(_has_particles())  # else it is the last-name-first key again
        if earlier:
            run = run.where(or_(*earlier).is_not(True))
        if columns is None:
            run = run.order_by(key, Customer.id)
        if limited:
            run = run.limit(bindparam("run_limit", type_=Integer, literal_execute=True))
        # Each run its own subquery: SQLite allows no ORDER BY or LIMIT in a UNION's parts.
        runs.append(select(*run.subquery(f"run{index}").c))
    return runs


def has_prefix_match(text: str, conditions: list) -> bool:
    """Does anything start with `text` (or, for digits, hold them in a phone)? One
    statement, each key's index probed for its first row on its own: one EXISTS over the
    keys OR-ed would have PostgreSQL read customers in table order, hoping for an early
    hit, and read all million when nothing starts with the text (a typo)."""
    return db.session.scalar(prefix_probe(text, conditions)) or False


def prefix_probe(text: str, conditions: list):
    """The statement of `has_prefix_match`: an EXISTS per key (and the phones)."""
    arms = _prefix_arms(text)
    digits = phone_digits(text)
    if digits:
        arms.append(Customer.id.in_(_holding_phone(digits)))
    probes = [
        select(literal(1)).where(Customer.merged_into_id.is_(None), arm, *conditions).exists() for arm in arms
    ]
    return select(or_(*probes))


def _page_statement(conditions: list):
    """The list rows of one page, in best-match order: the page's ids from the runs, then
    their rows by primary key, in one statement."""
    runs = _prefix_runs(conditions, limited=True)
    merged = union_all(*runs).subquery()
    page = (
        select(merged.c.id, merged.c.match)
        .order_by(merged.c.match, merged.c.id)
        .offset(bindparam("page_offset", type_=Integer, literal_execute=True))
        .limit(bindparam("page_limit", type_=Integer, literal_execute=True))
        .subquery("page")
    )
    return select(*LIST_COLUMNS).join(page, page.c.id == Customer.id).order_by(page.c.match, page.c.id)


def _total_statement(conditions: list):
    runs = _prefix_runs(conditions, limited=False, columns=(literal(1).label("one"),))
    limited = (
        select(literal(1))
        .select_from(union_all(*runs).subquery())
        .limit(bindparam("count_limit", type_=Integer, literal_execute=True))
    )
    return select(func.count()).select_from(limited.subquery())


@lru_cache(maxsize=4)
def _plain_statements(dialect: str) -> tuple:
    """The page and total statements of a search without other filters, built once per
    database kind: a search runs them with its own pattern and page."""
    return _page_statement([]), _total_statement([])


def _statements(conditions: list) -> tuple:
    if conditions:
        return _page_statement(conditions), _total_statement(conditions)
    return _plain_statements(db.session.get_bind().dialect.name)


def best_match_rows(text: str, conditions: list, *, offset: int, limit: int) -> list[CustomerListRow]:
    """One page of prefix matches in best-match order, as list rows: the matched key A to Z
    (then the id), merged from each key's own index order (offset + limit rows each)."""
    page, _total = _statements(conditions)
    values = {
        PATTERN: like_pattern(text),
        "run_limit": offset + limit,
        "page_offset": offset,
        "page_limit": limit,
    }
    return list_rows(page, values)


def best_match_total(text: str, conditions: list) -> int:
    """How many customers match by prefix, counted up to SEARCH_COUNT_LIMIT + 1 (a figure
    above the limit means "more than SEARCH_COUNT_LIMIT"): the runs one after the other,
    stopping at the limit, so a broad query reads no more rows than a narrow one."""
    _page, total = _statements(conditions)
    return db.session.scalar(total, {PATTERN: like_pattern(text), "count_limit": SEARCH_COUNT_LIMIT + 1})


def capped_count(query) -> int:
    """How many rows `query` has, counted up to SEARCH_COUNT_LIMIT + 1."""
    limited = query.order_by(None).with_only_columns(literal(1).label("one")).limit(SEARCH_COUNT_LIMIT + 1)
    return db.session.scalar(select(func.count()).select_from(limited.subquery()))
