"""Segment use cases: create, change, delete, static member lists, members for other
domains, counts in one statement, the CSV rows; every change audited, nothing committed."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from app.blueprints.customers import segments
from app.blueprints.customers.segment_models import Segment, SegmentMember
from app.core.errors import Conflict, InvalidInput
from app.core.models import AuditEntry
from app.core.transaction import transaction
from app.extensions import db as _db
from tests.factories.auth import UserFactory
from tests.factories.customers import CustomerFactory

DUTCH = {"op": "and", "rules": [{"field": "country", "operator": "eq", "value": "nl"}]}


@pytest.fixture
def staff(db):
    return UserFactory(roles=["marketing"])


def audit_actions(db, segment_id) -> list[str]:
    query = (
        select(AuditEntry.action)
        .where(AuditEntry.target_type == "Segment", AuditEntry.target_id == str(segment_id))
        .order_by(AuditEntry.id)
    )
    return list(db.session.scalars(query))


def member_emails(segment) -> list[str]:
    return [c.email for c in _db.session.scalars(segments.members_query(segment))]


def static_list(staff, name="Hand-picked"):
    return segments.create_segment(name=name, kind="static", actor=staff)


# --- Creating and changing ------------------------------------------------------------------


def test_create_segment_stores_checked_rules_and_is_audited(db, staff):
    segment = segments.create_segment(name="  Dutch  ", description="NL only", rules=DUTCH, actor=staff)
    assert (segment.name, segment.kind, segment.created_by_id) == ("Dutch", "dynamic", staff.id)
    assert segment.rules == {"op": "and", "rules": [{"field": "country", "operator": "eq", "value": "NL"}]}
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "segment.created"))
    assert entry.target_id == str(segment.id) and entry.actor_id == staff.id
    assert entry.data == {"kind": "dynamic", "rules": segment.rules}


def test_create_segment_reports_name_and_rule_problems_together(db, staff):
    with pytest.raises(InvalidInput) as caught:
        segments.create_segment(
            name="Broken",
            description="x" * 2001,
            rules={"op": "and", "rules": [{"field": "shoe_size", "operator": "eq", "value": 44}]},
            actor=staff,
        )
    assert set(caught.value.errors) == {"description", "rules.rules.0.field"}
    assert db.session.scalar(select(Segment)) is None


def test_segment_names_are_unique_in_any_case(db, staff):
    segments.create_segment(name="VIPs", rules=DUTCH, actor=staff)
    with pytest.raises(Conflict) as caught:
        segments.create_segment(name="vips", rules=DUTCH, actor=staff)
    assert caught.value.code == "segment_name_taken" and "name" in caught.value.errors


@pytest.mark.parametrize(
    ("kind", "rules", "field"),
    [("dynamic", None, "rules"), ("static", DUTCH, "rules"), ("smart", None, "kind")],
)
def test_kind_and_rules_must_agree(db, staff, kind, rules, field):
    with pytest.raises(InvalidInput) as caught:
        segments.create_segment(name="X", kind=kind, rules=rules, actor=staff)
    assert list(caught.value.errors) == [field]


def test_a_segment_needs_a_name(db, staff):
    with pytest.raises(InvalidInput) as caught:
        segments.create_segment(name="   ", rules=DUTCH, actor=staff)
    assert caught.value.errors == {"name": ["Required."]}


def test_update_segment_records_what_changed(db, staff):
    segment = segments.create_segment(name="Dutch", rules=DUTCH, actor=staff)
    belgian = {"op": "and", "rules": [{"field": "country", "operator": "eq", "value": "BE"}]}
    changes = segments.update_segment(segment, name="Belgian", rules=belgian, actor=staff)
    assert set(changes) == {"name", "rules"} and changes["name"] == ["Dutch", "Belgian"]
    assert segment.rules["rules"][0]["value"] == "BE"
    assert segments.update_segment(segment, name="Belgian", actor=staff) == {}
    assert audit_actions(db, segment.id) == ["segment.created", "segment.updated"]


def test_update_segment_refuses_bad_rules_and_keeps_the_old_ones(db, staff):
    segment = segments.create_segment(name="Dutch", rules=DUTCH, actor=staff)
    with pytest.raises(InvalidInput) as caught:
        segments.update_segment(segment, rules={"op": "and", "rules": [{"field": "age"}]}, actor=staff)
    assert list(caught.value.errors) == ["rules.rules.0.operator"]
    assert segment.rules["rules"][0]["value"] == "NL"


def test_a_static_segment_takes_no_rules(db, staff):
    segment = static_list(staff)
    with pytest.raises(InvalidInput):
        segments.update_segment(segment, rules=DUTCH, actor=staff)


def test_delete_segment_forgets_its_members_but_not_the_customers(db, staff):
    customer = CustomerFactory()
    segment = static_list(staff)
    segments.add_members(segment, [customer.id], actor=staff)
    segment_id = segment.id
    segments.delete_segment(segment, actor=staff)
    assert db.session.get(Segment, segment_id) is None
    assert db.session.scalar(select(SegmentMember)) is None
    assert customer.id is not None and db.session.get(type(customer), customer.id) is not None
    assert audit_actions(db, segment_id)[-1] == "segment.deleted"


# --- Static lists -----------------------------------------------------------------------------


def test_add_members_skips_customers_already_on_the_list(db, staff):
    ann, bob = CustomerFactory(last_name="A"), CustomerFactory(last_name="B")
    segment = static_list(staff)
    assert segments.add_members(segment, [ann.id, ann.id], actor=staff) == 1
    assert segments.add_members(segment, [ann.id, bob.id], actor=staff) == 1
    assert member_emails(segment) == [ann.email, bob.email]
    assert audit_actions(db, segment.id).count("segment.members_added") == 2


def test_add_members_refuses_unknown_and_merged_customers(db, staff):
    ann = CustomerFactory()
    merged = CustomerFactory(merged_into_id=ann.id)
    segment = static_list(staff)
    with pytest.raises(InvalidInput) as caught:
        segments.add_members(segment, [ann.id, merged.id, 999999], actor=staff)
    assert caught.value.errors == {"customer_ids": [f"No such customers: {merged.id}, 999999."]}
    assert member_emails(segment) == []


def test_add_members_by_email_reports_addresses_of_nobody(db, staff):
    ann = CustomerFactory(email="ann@example.org")
    segment = static_list(staff)
    added, unknown = segments.add_members_by_email(
        segment, [" ANN@example.org", "", "ghost@example.org"], actor=staff
    )
    assert (added, unknown) == (1, ["ghost@example.org"])
    assert member_emails(segment) == [ann.email]


def test_remove_members_takes_customers_off_the_list(db, staff):
    ann, bob = CustomerFactory(last_name="A"), CustomerFactory(last_name="B")
    segment = static_list(staff)
    segments.add_members(segment, [ann.id, bob.id], actor=staff)
    assert segments.remove_members(segment, [ann.id], actor=staff) == 1
    assert segments.remove_members(segment, [ann.id], actor=staff) == 0
    assert member_emails(segment) == [bob.email]
    assert audit_actions(db, segment.id).count("segment.members_removed") == 1


def test_members_of_a_dynamic_segment_cannot_be_picked_by_hand(db, staff):
    segment = segments.create_segment(name="Dutch", rules=DUTCH, actor=staff)
    with pytest.raises(Conflict) as caught:
        segments.add_members(segment, [CustomerFactory().id], actor=staff)
    assert caught.value.code == "segment_not_static"


# --- Members for other domains ----------------------------------------------------------------


def test_members_query_leaves_merged_customers_out_of_both_kinds(db, staff):
    ann = CustomerFactory(country="NL", last_name="A")
    merged = CustomerFactory(country="NL", last_name="B")
    dynamic = segments.create_segment(name="Dutch", rules=DUTCH, actor=staff)
    static = static_list(staff)
    segments.add_members(static, [ann.id, merged.id], actor=staff)
    merged.merged_into_id = ann.id
    db.session.flush()
    assert member_emails(dynamic) == member_emails(static) == [ann.email]
    assert segments.member_count(dynamic) == segments.member_count(static) == 1


def test_member_counts_of_many_segments_take_one_statement(db, staff):
    CustomerFactory(country="NL")
    CustomerFactory(country="BE", total_spent=Decimal("99.00"))
    dutch = segments.create_segment(name="Dutch", rules=DUTCH, actor=staff)
    spenders = segments.create_segment(
        name="Spenders",
        rules={"op": "and", "rules": [{"field": "total_spent", "operator": "gte", "value": "50"}]},
        actor=staff,
    )
    empty = static_list(staff)
    db.session.flush()
    connection = db.session.connection()
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(connection, "before_cursor_execute", listener)
    try:
        counts = segments.member_counts([dutch, spenders, empty])
    finally:
        event.remove(connection, "before_cursor_execute", listener)
    assert counts == {dutch.id: 1, spenders.id: 1, empty.id: 0}
    assert len(statements) == 1


def test_a_segment_whose_field_was_withdrawn_counts_none(db, staff):
    segment = segments.create_segment(name="Dutch", rules=DUTCH, actor=staff)
    segment.rules = {"op": "and", "rules": [{"field": "withdrawn", "operator": "eq", "value": 1}]}
    assert segments.member_counts([segment]) == {segment.id: None}


# --- CSV export -------------------------------------------------------------------------------


def test_csv_rows_hold_the_members_with_formulas_neutralized(db, staff):
    CustomerFactory(
        email="ann@example.org",
        first_name="=HYPERLINK(1)",
        last_name="Ant",
        company="+31 Corp",
        country="NL",
        total_spent=Decimal("12.50"),
        order_count=2,
        last_order_at=datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC),
    )
    CustomerFactory(country="BE")
    segment = segments.create_segment(name="Dutch", rules=DUTCH, actor=staff)
    text = "".join(segments.csv_lines(segments.export_rows(segment)))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0] == ",".join(segments.EXPORT_COLUMNS)
    assert len(rows) == 1
    row = rows[0]
    assert (row["email"], row["first_name"], row["company"]) == (
        "ann@example.org",
        "'=HYPERLINK(1)",
        "'+31 Corp",
    )
    assert (row["total_spent"], row["order_count"], row["last_order_at"]) == (
        "12.50",
        "2",
        "2026-05-04T03:02:01+00:00",
    )


def test_update_segment_changes_nothing_when_any_field_is_bad(db, staff):
    segment = segments.create_segment(name="Dutch", rules=DUTCH, actor=staff)
    with pytest.raises(InvalidInput) as caught:
        segments.update_segment(segment, name="Renamed", rules={"op": "and", "rules": []}, actor=staff)
    assert list(caught.value.errors) == ["rules.rules"]
    assert segment.name == "Dutch"


def test_a_name_taken_by_a_concurrent_request_is_a_conflict_too(db, staff):
    segments.create_segment(name="Dutch", rules=DUTCH, actor=staff)
    with pytest.raises(Conflict) as caught, segments.name_race_is_a_conflict(), transaction():
        # What a second request that passed the name check before the first committed does.
        db.session.add(Segment(name="Dutch", kind="static"))
    assert caught.value.code == "segment_name_taken"
