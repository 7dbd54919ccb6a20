"""Merging a duplicate customer into the customer who stays.

A merge moves everything of the duplicate to the survivor inside one savepoint, so it
either happens whole or not at all, even for a caller that catches the error and goes on.
The duplicate is kept for history, marked `merged_into_id` and inactive. Finding the
likely duplicates is in `duplicates`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import aliased

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
