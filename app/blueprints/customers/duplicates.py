"""Likely duplicate customers, and merging a duplicate into the customer who stays.

Detection is one SQL statement whatever the number of customers: every way two live
(not merged) customers can look alike is a branch of a UNION ALL of self-joins on equal
keys (hash or index joins, never a pair-by-pair comparison in Python), grouped per pair
with a score that orders the list. `duplicates_of(customer)` runs the same branches for
one customer only.

A merge moves everything of the duplicate to the survivor inside one savepoint, so it
either happens whole or not at all, even for a caller that catches the error and goes on.
The duplicate is kept for history, marked `merged_into_id` and inactive.
"""

from __future__ import annotations

import copy
import functools
import operator
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import (
    Integer,
    String,
    and_,
    case,
    delete,
    desc,
    func,
    literal_column,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased, selectinload
from sqlalchemy.sql.functions import FunctionElement

from app.blueprints.auth import tokens
from app.blueprints.auth.models import ApiToken
from app.blueprints.customers.models import (
    ConsentEvent,
    Customer,
    CustomerAddress,
    CustomerPhone,
    CustomerTag,
    Interaction,
)
from app.blueprints.customers.segment_models import SegmentMember
from app.core import audit, events
from app.core.errors import Conflict, InvalidInput
from app.core.money import CENT
from app.core.timeutil import utcnow
from app.extensions import db

# --- Detection --------------------------------------------------------------------------


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
    return CandidatePage(page=page, per_page=per_page, max_per_page=100, error_out=False, query=query)


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


# --- Merging ----------------------------------------------------------------------------

# Profile fields staff choose per field: the survivor's value, or the duplicate's.
MERGE_FIELDS = {
    "email": "Email",
    "first_name": "First name",
    "last_name": "Last name",
    "company": "Company",
    "vat_number": "VAT number",
    "date_of_birth": "Date of birth",
    "gender": "Gender",
    "country": "Country",
    "region": "Region",
    "city": "City",
    "language": "Language",
    "timezone": "Time zone",
    "acquisition_source": "Acquisition source",
    "acquisition_channel": "Acquisition channel",
    "status": "Status",
    "preferred_channel": "Preferred channel",
    "preferred_categories": "Preferred categories",
    "preferred_brands": "Preferred brands",
}
SIDES = ("survivor", "duplicate")
# Purchase figures the duplicate hands over (its orders follow on the customer.merged event).
FIGURES = (
    "order_count",
    "total_spent",
    "average_order_value",
    "first_order_at",
    "last_order_at",
    "lifetime_value",
)


@dataclass(frozen=True)
class MergeResult:
    survivor: Customer
    duplicate: Customer
    moved: dict[str, int]
    field_choices: dict[str, str]


def checked_field_choices(field_choices: dict) -> dict[str, str]:
    """{field: "survivor" | "duplicate"} for known fields only; all problems at once."""
    problems = {}
    for name, side in field_choices.items():
        if name not in MERGE_FIELDS:
            problems[f"field_choices.{name}"] = [
                f"Not a field to choose; choose among: {', '.join(MERGE_FIELDS)}."
            ]
        elif side not in SIDES:
            problems[f"field_choices.{name}"] = ["Choose survivor or duplicate."]
    if problems:
        raise InvalidInput("Some field choices are not valid.", errors=problems)
    return dict(field_choices)


def merge_refusal(survivor: Customer, duplicate: Customer) -> Conflict | None:
    """Why these two cannot be merged (None when they can)."""
    if survivor.id == duplicate.id:
        return Conflict("A customer cannot be merged into itself.", code="merge_same_customer")
    if duplicate.merged_into_id is not None:
        return Conflict(
            f"{duplicate.name} was already merged into customer #{duplicate.merged_into_id}.",
            code="customer_already_merged",
        )
    if survivor.merged_into_id is not None:
        return Conflict(
            f"{survivor.name} was merged into customer #{survivor.merged_into_id}; merge into that one.",
            code="survivor_merged",
        )
    return None


def merge_preview(survivor: Customer, duplicate: Customer) -> dict[str, int]:
    """What a merge would move now, counted in one statement."""
    p, t, m = aliased(CustomerPhone), aliased(CustomerTag), aliased(SegmentMember)

    def count(model, *conditions):
        return select(func.count()).select_from(model).where(*conditions).scalar_subquery()

    now = utcnow()
    row = db.session.execute(
        select(
            count(Interaction, Interaction.customer_id == duplicate.id).label("interactions"),
            count(ConsentEvent, ConsentEvent.customer_id == duplicate.id).label("consent_events"),
            count(CustomerAddress, CustomerAddress.customer_id == duplicate.id).label("addresses"),
            count(
                CustomerPhone,
                CustomerPhone.customer_id == duplicate.id,
                CustomerPhone.number.not_in(select(p.number).where(p.customer_id == survivor.id)),
            ).label("phones"),
            count(
                CustomerTag,
                CustomerTag.customer_id == duplicate.id,
                CustomerTag.tag.not_in(select(t.tag).where(t.customer_id == survivor.id)),
            ).label("tags"),
            count(
                SegmentMember,
                SegmentMember.customer_id == duplicate.id,
                SegmentMember.segment_id.not_in(select(m.segment_id).where(m.customer_id == survivor.id)),
            ).label("segment_memberships"),
            count(
                ApiToken,
                ApiToken.kind == "customer",
                ApiToken.customer_id == duplicate.id,
                ApiToken.revoked_at.is_(None),
                or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
            ).label("storefront_tokens"),
        )
    ).one()
    return dict(row._mapping)


def _lock_pair(survivor: Customer, duplicate: Customer) -> None:
    """Lock both rows (PostgreSQL; SQLite writes one at a time anyway) and re-read them, so
    two people merging the same customer at once cannot both pass the checks."""
    query = (
        select(Customer)
        .where(Customer.id.in_({survivor.id, duplicate.id}))
        .order_by(Customer.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    db.session.scalars(query).all()


def _move_rows(model, survivor: Customer, duplicate: Customer) -> int:
    statement = update(model).where(model.customer_id == duplicate.id).values(customer_id=survivor.id)
    return db.session.execute(statement.execution_options(synchronize_session=False)).rowcount


def _drop_rows_the_survivor_has(model, column: str, survivor: Customer, duplicate: Customer) -> None:
    """Delete the duplicate's rows whose `column` value the survivor already has (a union
    without doubles; the unique constraints would refuse them anyway)."""
    theirs = aliased(model)  # an alias, or the subquery would correlate to the deleted row
    kept = select(getattr(theirs, column)).where(theirs.customer_id == survivor.id)
    statement = delete(model).where(model.customer_id == duplicate.id, getattr(model, column).in_(kept))
    db.session.execute(statement.execution_options(synchronize_session=False))


def _move_interactions(survivor, duplicate) -> int:
    return _move_rows(Interaction, survivor, duplicate)


def _move_consent_events(survivor, duplicate) -> int:
    # The ledger moves whole; the survivor's state per purpose is then its latest event
    # across both records (the ledger's order, see consents.current).
    return _move_rows(ConsentEvent, survivor, duplicate)


def _move_addresses(survivor, duplicate) -> int:
    """The survivor's default billing/shipping addresses stay the defaults; the
    duplicate's defaults count only where the survivor has none."""
    for flag in ("is_default_billing", "is_default_shipping"):
        own = aliased(CustomerAddress)
        survivor_has = (
            select(own.id).where(own.customer_id == survivor.id, getattr(own, flag).is_(True)).exists()
        )
        statement = (
            update(CustomerAddress)
            .where(CustomerAddress.customer_id == duplicate.id, survivor_has)
            .values({flag: False})
        )
        db.session.execute(statement.execution_options(synchronize_session=False))
    return _move_rows(CustomerAddress, survivor, duplicate)


def _move_phones(survivor, duplicate) -> int:
    _drop_rows_the_survivor_has(CustomerPhone, "number", survivor, duplicate)
    return _move_rows(CustomerPhone, survivor, duplicate)


def _move_tags(survivor, duplicate) -> int:
    _drop_rows_the_survivor_has(CustomerTag, "tag", survivor, duplicate)
    return _move_rows(CustomerTag, survivor, duplicate)


def _move_segment_memberships(survivor, duplicate) -> int:
    _drop_rows_the_survivor_has(SegmentMember, "segment_id", survivor, duplicate)
    return _move_rows(SegmentMember, survivor, duplicate)


def _repoint_earlier_merges(survivor, duplicate) -> int:
    """Records merged into the duplicate before now point at the survivor: one hop always
    reaches a live customer."""
    statement = (
        update(Customer).where(Customer.merged_into_id == duplicate.id).values(merged_into_id=survivor.id)
    )
    return db.session.execute(statement.execution_options(synchronize_session=False)).rowcount


def _combine_figures(survivor: Customer, duplicate: Customer) -> dict:
    """Counts and sums add up, first/last order are the earliest/latest, the average is
    recomputed; the duplicate's figures go to zero so totals over all records stay right.
    RFM scores and the predicted value are left to their next recompute."""
    handed_over = {name: getattr(duplicate, name) for name in FIGURES}
    survivor.order_count = (survivor.order_count or 0) + (duplicate.order_count or 0)
    survivor.total_spent = (survivor.total_spent or Decimal("0")) + (duplicate.total_spent or Decimal("0"))
    survivor.lifetime_value = (survivor.lifetime_value or Decimal("0")) + (
        duplicate.lifetime_value or Decimal("0")
    )
    firsts = [at for at in (survivor.first_order_at, duplicate.first_order_at) if at is not None]
    lasts = [at for at in (survivor.last_order_at, duplicate.last_order_at) if at is not None]
    survivor.first_order_at = min(firsts, default=None)
    survivor.last_order_at = max(lasts, default=None)
    survivor.average_order_value = (
        (survivor.total_spent / survivor.order_count).quantize(CENT) if survivor.order_count else Decimal("0")
    )
    duplicate.order_count = 0
    duplicate.total_spent = duplicate.average_order_value = Decimal("0")
    duplicate.lifetime_value = duplicate.predicted_lifetime_value = Decimal("0")
    duplicate.first_order_at = duplicate.last_order_at = None
    duplicate.rfm_recency = duplicate.rfm_frequency = duplicate.rfm_monetary = None
    return handed_over


def _swap_emails(survivor: Customer, duplicate: Customer) -> None:
    """The survivor takes the duplicate's address and the merged record keeps the other,
    so both still lead to this person. Emails are unique: one row steps aside first."""
    mine, theirs = survivor.email, duplicate.email
    duplicate.email = f"merging-{duplicate.id}@invalid"
    db.session.flush()
    survivor.email = theirs
    db.session.flush()
    duplicate.email = mine


def _take_profile(survivor: Customer, duplicate: Customer, choices: dict[str, str]) -> dict:
    """Set the fields chosen from the duplicate; returns {field: [old, new]}."""
    before = audit.snapshot(survivor, MERGE_FIELDS)
    for name, side in choices.items():
        if side != "duplicate" or getattr(survivor, name) == getattr(duplicate, name):
            continue
        if name == "email":
            _swap_emails(survivor, duplicate)
        else:
            setattr(survivor, name, copy.deepcopy(getattr(duplicate, name)))
    return audit.changed_fields(before, audit.snapshot(survivor, MERGE_FIELDS))


def merge_customers(
    survivor: Customer, duplicate: Customer, *, actor, field_choices: dict | None = None
) -> MergeResult:
    """Merge `duplicate` into `survivor`: its interactions, consent ledger, addresses,
    phones and tags (no doubles), static segment memberships and purchase figures move;
    its storefront tokens are revoked; profile fields are the survivor's unless
    `field_choices` names "duplicate" for them; the password is the survivor's, else the
    duplicate's. The duplicate stays as an inactive record with `merged_into_id`.

    Refused (Conflict) for one customer twice, or when either was merged already.
    Audited on both records; `customer.merged` is emitted so other domains move their rows."""
    choices = checked_field_choices(field_choices or {})
    _lock_pair(survivor, duplicate)
    if (refusal := merge_refusal(survivor, duplicate)) is not None:
        raise refusal
    survivor_id, duplicate_id = survivor.id, duplicate.id
    merged_away = f"{duplicate.email} (#{duplicate_id})"  # before a chosen email swaps the two
    with db.session.begin_nested():
        moved = {
            "interactions": _move_interactions(survivor, duplicate),
            "consent_events": _move_consent_events(survivor, duplicate),
            "addresses": _move_addresses(survivor, duplicate),
            "phones": _move_phones(survivor, duplicate),
            "tags": _move_tags(survivor, duplicate),
            "segment_memberships": _move_segment_memberships(survivor, duplicate),
            "merged_records": _repoint_earlier_merges(survivor, duplicate),
            "storefront_tokens_revoked": tokens.revoke_customer_tokens(duplicate.id),
        }
        figures = _combine_figures(survivor, duplicate)
        was_blocked = survivor.status == "blocked"
        changes = _take_profile(survivor, duplicate, choices)
        sign_in_from = (
            "survivor" if survivor.password_hash else ("duplicate" if duplicate.password_hash else None)
        )
        survivor.password_hash = survivor.password_hash or duplicate.password_hash
        if survivor.status == "blocked" and not was_blocked:
            tokens.revoke_customer_tokens(survivor.id)
        # Kept for history only: out of lists and segments, and no way to sign in with it.
        duplicate.merged_into_id = survivor.id
        duplicate.status = "inactive"
        duplicate.password_hash = None
        db.session.flush()
        facts = {"survivor_id": survivor_id, "duplicate_id": duplicate_id, "moved": moved}
        audit.record(
            "customer.merged",
            actor=actor,
            target=survivor,
            summary=f"Merged {merged_away} into this customer",
            **facts,
            field_choices=choices,
            changes=changes,
            figures_added=figures,
            sign_in_kept_from=sign_in_from,
        )
        audit.record(
            "customer.merged",
            actor=actor,
            target=duplicate,
            summary=f"Merged into {survivor.email} (#{survivor_id})",
            **facts,
            field_choices=choices,
            figures_handed_over=figures,
        )
    # The bulk statements changed rows behind the session's back: read them afresh.
    db.session.expire_all()
    events.emit("customer.merged", survivor_id=survivor_id, duplicate_id=duplicate_id)
    return MergeResult(survivor, duplicate, moved, choices)


# The portal pages and the API register their routes on the package's blueprints.
from app.blueprints.customers import merge_api as _merge_api  # noqa: E402,F401
from app.blueprints.customers import merge_views as _merge_views  # noqa: E402,F401
