"""Duplicates: detecting likely duplicate customers in SQL, merging one into another in
one piece (history moved, audited, announced), the portal pages and the staff API."""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask import render_template_string
from sqlalchemy import event, select

from app.blueprints.auth import passwords
from app.blueprints.auth.models import ApiToken, User
from app.blueprints.auth.tokens import issue_customer_token
from app.blueprints.customers import accounts, consents, duplicates, queries, segments, timeline
from app.blueprints.customers import merge as merging
from app.blueprints.customers.models import (
    ConsentEvent,
    Customer,
    CustomerAddress,
    CustomerPhone,
    Interaction,
)
from app.blueprints.customers.segment_models import SegmentMember
from app.core import events
from app.core.errors import Conflict, InvalidInput
from app.core.models import AuditEntry
from app.core.transaction import transaction
from tests.factories.auth import PASSWORD, UserFactory, make_token
from tests.factories.customers import CustomerFactory, InteractionFactory

ADMIN = "/api/v1/admin"
PROBLEM = "application/problem+json"
CUSTOMER_PASSWORD = "a-long-storefront-password"
CUSTOMER_HASH = passwords.hash_password(CUSTOMER_PASSWORD)
_names = itertools.count(1)


def person(first=None, last=None, **fields):
    """A customer whose name is unique unless given, so no pair appears by chance."""
    n = next(_names)
    return CustomerFactory(first_name=first or f"First{n}", last_name=last or f"Last{n}", **fields)


def add_phone(customer, number):
    customer.phones.append(CustomerPhone(number=number, kind="mobile"))
    duplicates.db.session.flush()


def add_address(customer, *, postal_code="1012 AB", country="NL", billing=False, shipping=False):
    address = CustomerAddress(
        line1="Dam 1",
        city="Amsterdam",
        postal_code=postal_code,
        country=country,
        is_default_billing=billing,
        is_default_shipping=shipping,
    )
    customer.addresses.append(address)
    duplicates.db.session.flush()
    return address


def pairs(**kwargs):
    return [
        ({pair.first.id, pair.second.id}, pair.reasons)
        for pair in duplicates.candidate_pairs(page=1, per_page=100, **kwargs).items
    ]


def pair_ids():
    return [ids for ids, _ in pairs()]


@pytest.fixture
def staff(db):
    return UserFactory(roles=["sales"])


def merge(survivor, duplicate, staff, **kwargs):
    with transaction():
        return merging.merge_customers(survivor, duplicate, actor=staff, **kwargs)


# --- Detection ----------------------------------------------------------------------------------


def test_customers_sharing_a_phone_number_are_a_pair(db):
    ann, bob, other = person(), person(), person()
    add_phone(ann, "+31612345678")
    add_phone(bob, "+31612345678")
    add_phone(other, "+31687654321")
    assert pairs() == [({ann.id, bob.id}, ("phone",))]


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("j.doe+shop@gmail.com", "jdoe@gmail.com"),
        ("jdoe@googlemail.com", "j.d.o.e@gmail.com"),
        ("ann+newsletter@example.org", "ann@example.org"),
    ],
)
def test_variants_of_one_mailbox_are_a_pair(db, one, other):
    a, b = person(email=one), person(email=other)
    assert pairs() == [({a.id, b.id}, ("email",))]


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("a.nn@example.org", "ann@example.org"),  # dots matter outside Gmail
        ("ann@example.org", "ann@example.com"),  # another domain
        ("ann@gmail.com", "ann@gmail.com.evil.example"),
        ("+ann@example.org", "ann@example.org"),  # a leading "+" is not a tag
    ],
)
def test_different_mailboxes_are_not_a_pair(db, one, other):
    person(email=one), person(email=other)
    assert pairs() == []


def test_the_same_name_alone_is_not_a_pair(db):
    person("Ann", "Smith", city="Amsterdam"), person("ann", "SMITH", city="Utrecht")
    assert pairs() == []


def test_same_name_and_city_is_a_pair_whatever_the_case(db):
    a, b = person("Ann", "Smith", city="Amsterdam"), person("ANN", "smith", city="amsterdam")
    assert pairs() == [({a.id, b.id}, ("name_city",))]


def test_same_name_and_date_of_birth_is_a_pair(db):
    a = person("Ann", "Smith", city="Amsterdam", date_of_birth=date(1990, 5, 1))
    b = person("Ann", "Smith", city="Utrecht", date_of_birth=date(1990, 5, 1))
    person("Ann", "Smith", city="Leiden", date_of_birth=date(1991, 5, 1))
    assert pairs() == [({a.id, b.id}, ("name_birth_date",))]


def test_same_name_and_postal_code_of_an_address_is_a_pair(db):
    a, b = person("Ann", "Smith", city="Amsterdam"), person("Ann", "Smith", city=None)
    c = person("Ann", "Smith", city="Brussels")
    add_address(a, postal_code="1012 AB")
    add_address(b, postal_code="1012ab")
    add_address(c, postal_code="1012AB", country="BE")  # the same code in another country
    assert pairs() == [({a.id, b.id}, ("name_postal_code",))]


def test_an_empty_name_never_makes_a_pair(db):
    CustomerFactory(first_name="", last_name="", city="Amsterdam")
    CustomerFactory(first_name="", last_name="", city="Amsterdam")
    assert pairs() == []


def test_merged_customers_are_never_in_a_pair(db, staff):
    a, b, c = person(), person(), person()
    for customer in (a, b, c):
        add_phone(customer, "+31612345678")
    merge(a, c, staff)
    assert pair_ids() == [{a.id, b.id}]


def test_each_pair_comes_once_with_all_its_reasons(db):
    a = person("Ann", "Smith", email="ann.smith@gmail.com", city="Amsterdam", date_of_birth=date(1990, 1, 1))
    b = person("Ann", "Smith", email="annsmith@gmail.com", city="Amsterdam", date_of_birth=date(1990, 1, 1))
    for number in ("+31612345678", "+31687654321"):
        add_phone(a, number)
        add_phone(b, number)
    for _ in range(2):
        add_address(a)
        add_address(b)
    assert pairs() == [({a.id, b.id}, ("email", "phone", "name_birth_date", "name_postal_code", "name_city"))]


def test_pairs_come_strongest_first(db):
    weak = (person("Ann", "Smith", city="Leiden"), person("Ann", "Smith", city="Leiden"))
    phone = (person(), person())
    both = (person(email="bo.b@gmail.com"), person(email="bob@gmail.com"))
    for customer in phone:
        add_phone(customer, "+31612345670")
    for customer in both:
        add_phone(customer, "+31612345680")
    assert pair_ids() == [{c.id for c in pair} for pair in (both, phone, weak)]
    scores = [pair.score for pair in duplicates.candidate_pairs(page=1, per_page=10).items]
    assert scores == sorted(scores, reverse=True) and scores[0] == 190


def test_candidate_pairs_are_paginated(db):
    for n in range(5):
        a, b = person(), person()
        add_phone(a, f"+3161234567{n}")
        add_phone(b, f"+3161234567{n}")
    first = duplicates.candidate_pairs(page=1, per_page=2)
    last = duplicates.candidate_pairs(page=3, per_page=2)
    assert (first.total, first.pages, len(first.items), len(last.items)) == (5, 3, 2, 1)
    seen = [
        {p.first.id, p.second.id}
        for page in (1, 2, 3)
        for p in duplicates.candidate_pairs(page=page, per_page=2)
    ]
    assert len({frozenset(ids) for ids in seen}) == 5
    beyond = duplicates.candidate_pairs(page=9, per_page=2)
    assert (beyond.items, beyond.total) == ([], 5)


def test_a_page_of_pairs_scans_the_customers_once(db):
    for customer in (person(), person()):
        add_phone(customer, "+31612345678")
    statements = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        page = duplicates.candidate_pairs(page=1, per_page=25)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert page.total == 1 and len(page.items) == 1
    assert sum("UNION ALL" in statement for statement in statements) == 1
    selects = [statement for statement in statements if statement.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 3  # the pairs with their total, their customers, their phones


def test_duplicates_of_one_customer_lists_only_its_matches(db):
    ann, twin, cousin = person("Ann", "Smith", city="Leiden"), person("Ann", "Smith", city="Leiden"), person()
    add_phone(ann, "+31612345678")
    add_phone(cousin, "+31612345678")
    x, y = person(), person()
    add_phone(x, "+31687654321")
    add_phone(y, "+31687654321")
    matches = duplicates.duplicates_of(ann)
    assert [(m.customer.id, m.reasons) for m in matches] == [
        (cousin.id, ("phone",)),
        (twin.id, ("name_city",)),
    ]
    assert matches[0].reason_labels == ["Same phone number"]
    assert duplicates.duplicates_of(person()) == []


def test_the_suggested_survivor_has_more_orders_then_a_password_then_is_older(db):
    older, newer = person(), person()
    add_phone(older, "+31612345678")
    add_phone(newer, "+31612345678")
    (pair,) = duplicates.candidate_pairs(page=1, per_page=10).items
    assert pair.suggested_survivor.id == older.id
    newer.password_hash = CUSTOMER_HASH
    assert pair.suggested_survivor.id == newer.id and pair.suggested_duplicate.id == older.id
    older.order_count = 2
    assert pair.suggested_survivor.id == older.id


# --- Merging: what moves ------------------------------------------------------------------------


def test_interactions_and_consent_events_move_to_the_survivor(db, staff):
    survivor, duplicate = person(), person()
    InteractionFactory(customer=survivor)
    moved = [InteractionFactory(customer=duplicate) for _ in range(2)]
    consents.record(duplicate, "profiling", granted=True, source="portal", wording_version="v1", actor=staff)
    result = merge(survivor, duplicate, staff)
    assert result.moved["interactions"] == 2 and result.moved["consent_events"] == 1
    owners = db.session.scalars(
        select(Interaction.customer_id).where(Interaction.id.in_([i.id for i in moved]))
    )
    assert set(owners) == {survivor.id}
    assert db.session.scalar(select(ConsentEvent.customer_id)) == survivor.id
    assert len(timeline.timeline(survivor.id, kind="phone").entries) == 3


@pytest.mark.parametrize("latest", ["survivor", "duplicate"])
def test_the_survivors_consent_is_the_latest_event_across_both(db, staff, latest):
    survivor, duplicate = person(), person()
    first, last = (duplicate, survivor) if latest == "survivor" else (survivor, duplicate)
    consents.record(
        first, "marketing_email", granted=True, source="portal", wording_version="v1", actor=staff
    )
    consents.record(
        last, "marketing_email", granted=False, source="portal", wording_version="v2", actor=staff
    )
    consents.record(duplicate, "profiling", granted=True, source="portal", wording_version="v1", actor=staff)
    merge(survivor, duplicate, staff)
    state = consents.current(survivor)
    assert state["marketing_email"].granted is False and state["marketing_email"].wording_version == "v2"
    assert state["profiling"].granted is True
    assert len(consents.history(survivor)) == 3  # the ledger is kept whole


def test_addresses_move_and_the_survivors_defaults_stay(db, staff):
    survivor, duplicate = person(), person()
    own = add_address(survivor, billing=True, shipping=True)
    theirs = add_address(duplicate, postal_code="3511 AA", billing=True, shipping=True)
    assert merge(survivor, duplicate, staff).moved["addresses"] == 1
    db.session.refresh(theirs)
    assert theirs.customer_id == survivor.id
    assert (theirs.is_default_billing, theirs.is_default_shipping) == (False, False)
    assert db.session.get(CustomerAddress, own.id).is_default_billing is True


def test_the_duplicates_default_address_stays_default_where_the_survivor_has_none(db, staff):
    survivor, duplicate = person(), person()
    add_address(survivor, shipping=True)
    theirs = add_address(duplicate, postal_code="3511 AA", billing=True, shipping=True)
    merge(survivor, duplicate, staff)
    db.session.refresh(theirs)
    assert (theirs.is_default_billing, theirs.is_default_shipping) == (True, False)


def test_phones_and_tags_are_united_without_doubles(db, staff):
    survivor = person(tags=["vip", "newsletter"])
    duplicate = person(tags=["vip", "b2b"])
    add_phone(survivor, "+31612345678")
    add_phone(duplicate, "+31612345678")
    add_phone(duplicate, "+31687654321")
    result = merge(survivor, duplicate, staff)
    assert (result.moved["phones"], result.moved["tags"]) == (1, 1)
    assert sorted(p.number for p in survivor.phones) == ["+31612345678", "+31687654321"]
    assert survivor.tag_names == ["b2b", "newsletter", "vip"]
    assert duplicate.phones == [] and duplicate.tags == []


def test_static_segment_memberships_move_skipping_the_ones_the_survivor_has(db, staff):
    survivor, duplicate = person(), person()
    both = segments.create_segment(name="Both", kind="static", actor=staff)
    theirs = segments.create_segment(name="Theirs", kind="static", actor=staff)
    segments.add_members(both, [survivor.id, duplicate.id], actor=staff)
    segments.add_members(theirs, [duplicate.id], actor=staff)
    assert merge(survivor, duplicate, staff).moved["segment_memberships"] == 1
    rows = db.session.execute(select(SegmentMember.segment_id, SegmentMember.customer_id)).all()
    assert sorted(rows) == sorted([(both.id, survivor.id), (theirs.id, survivor.id)])
    assert segments.member_count(theirs) == 1


def test_the_duplicates_storefront_tokens_are_revoked(db, staff):
    survivor, duplicate = person(), person()
    kept, _ = issue_customer_token(survivor.id)
    gone = [issue_customer_token(duplicate.id)[0] for _ in range(2)]
    assert merge(survivor, duplicate, staff).moved["storefront_tokens_revoked"] == 2
    assert all(db.session.get(ApiToken, token.id).revoked_at is not None for token in gone)
    assert db.session.get(ApiToken, kept.id).revoked_at is None


def test_purchase_figures_add_up_and_the_average_is_recomputed(db, staff, monkeypatch):
    # Customers' own hand-over; orders then recompute both from the orders they move
    # (tests/orders/test_customer_merge.py), so their listener stays out of this one.
    monkeypatch.setitem(events.LISTENERS, "customer.merged", [])
    jan, mar, jun = (datetime(2025, month, 1, tzinfo=UTC) for month in (1, 3, 6))
    survivor = person(
        order_count=2,
        total_spent=Decimal("100.00"),
        average_order_value=Decimal("50.00"),
        lifetime_value=Decimal("100.00"),
        first_order_at=mar,
        last_order_at=mar,
        rfm_recency=3,
    )
    duplicate = person(
        order_count=1,
        total_spent=Decimal("20.00"),
        average_order_value=Decimal("20.00"),
        lifetime_value=Decimal("20.00"),
        first_order_at=jan,
        last_order_at=jun,
        rfm_recency=5,
    )
    merge(survivor, duplicate, staff)
    assert (survivor.order_count, survivor.total_spent, survivor.average_order_value) == (
        3,
        Decimal("120.00"),
        Decimal("40.00"),
    )
    assert (survivor.first_order_at, survivor.last_order_at) == (jan, jun)
    assert survivor.lifetime_value == Decimal("120.00")
    assert survivor.rfm_recency == 3  # left for the next recompute
    # The duplicate hands its figures over, so sums over every record stay right.
    assert (duplicate.order_count, duplicate.total_spent, duplicate.last_order_at) == (0, Decimal("0"), None)


def test_figures_without_orders_stay_empty(db, staff):
    survivor, duplicate = person(), person()
    merge(survivor, duplicate, staff)
    assert (survivor.order_count, survivor.average_order_value, survivor.first_order_at) == (
        0,
        Decimal("0"),
        None,
    )


def test_earlier_merges_into_the_duplicate_now_point_to_the_survivor(db, staff):
    survivor, duplicate, older = person(), person(), person()
    merge(duplicate, older, staff)
    assert merge(survivor, duplicate, staff).moved["merged_records"] == 1
    assert older.merged_into_id == survivor.id


# --- Merging: the profile -----------------------------------------------------------------------


def test_profile_fields_are_the_survivors_unless_chosen(db, staff):
    survivor = person("Ann", "Smith", company=None, city="Amsterdam", language="nl")
    duplicate = person("Anne", "Smyth", company="Acme", city="Utrecht", language="en")
    result = merge(survivor, duplicate, staff, field_choices={"last_name": "duplicate", "city": "duplicate"})
    assert (survivor.first_name, survivor.last_name, survivor.city) == ("Ann", "Smyth", "Utrecht")
    assert (survivor.company, survivor.language) == (None, "nl")  # not chosen: the survivor's, even empty
    assert result.field_choices == {"last_name": "duplicate", "city": "duplicate"}


def test_choosing_the_duplicates_email_swaps_the_two_addresses(db, staff):
    survivor, duplicate = person(email="old@example.org"), person(email="current@example.org")
    merge(survivor, duplicate, staff, field_choices={"email": "duplicate"})
    assert (survivor.email, duplicate.email) == ("current@example.org", "old@example.org")
    summaries = db.session.scalars(
        select(AuditEntry.summary).where(AuditEntry.action == "customer.merged").order_by(AuditEntry.id)
    ).all()
    assert summaries == [
        f"Merged current@example.org (#{duplicate.id}) into this customer",
        f"Merged into current@example.org (#{survivor.id})",
    ]


def test_the_password_is_the_survivors_first_then_the_duplicates(db, staff):
    survivor = person(email="ann@example.org")
    duplicate = person(email="ann.old@example.org", password_hash=CUSTOMER_HASH)
    merge(survivor, duplicate, staff)
    assert survivor.password_hash == CUSTOMER_HASH and duplicate.password_hash is None
    assert accounts.sign_in("ann@example.org", CUSTOMER_PASSWORD) is not None
    assert accounts.sign_in("ann.old@example.org", CUSTOMER_PASSWORD) is None  # merged: no sign-in
    other_hash = passwords.hash_password("another-long-password")
    keeper, loser = person(password_hash=other_hash), person(password_hash=CUSTOMER_HASH)
    merge(keeper, loser, staff)
    assert keeper.password_hash == other_hash


def test_choosing_the_blocked_status_ends_the_survivors_storefront_sessions(db, staff):
    survivor, duplicate = person(status="active"), person(status="blocked")
    token, _ = issue_customer_token(survivor.id)
    merge(survivor, duplicate, staff, field_choices={"status": "duplicate"})
    assert survivor.status == "blocked"
    assert db.session.get(ApiToken, token.id).revoked_at is not None


def test_the_duplicate_is_kept_inactive_marked_merged_and_out_of_lists(db, staff):
    survivor, duplicate = person(), person(status="active")
    merge(survivor, duplicate, staff)
    assert (duplicate.merged_into_id, duplicate.status) == (survivor.id, "inactive")
    listed = db.session.scalars(queries.filtered_customers(queries.CustomerFilter())).all()
    assert survivor in listed and duplicate not in listed


# --- Merging: audit, event, refusals, all or nothing ------------------------------------------


def test_a_merge_is_audited_on_both_customers_with_counts_and_choices(db, staff):
    survivor, duplicate = person("Ann", "Smith"), person("Anne", "Smith")
    InteractionFactory(customer=duplicate)
    merge(survivor, duplicate, staff, field_choices={"first_name": "duplicate"})
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "customer.merged")).all()
    by_target = {entry.target_id: entry for entry in entries}
    assert set(by_target) == {str(survivor.id), str(duplicate.id)}
    for entry in entries:
        assert entry.actor_id == staff.id
        assert entry.data["moved"]["interactions"] == 1
        assert entry.data["field_choices"] == {"first_name": "duplicate"}
        assert (entry.data["survivor_id"], entry.data["duplicate_id"]) == (survivor.id, duplicate.id)
    assert by_target[str(survivor.id)].data["changes"] == {"first_name": ["Ann", "Anne"]}
    profile = timeline.timeline(survivor.id, kind="profile").entries
    assert any(entry.item.action == "customer.merged" for entry in profile)


def test_a_merge_is_announced_after_the_commit(db, staff, monkeypatch):
    heard = []
    monkeypatch.setitem(events.LISTENERS, "customer.merged", [heard.append])
    survivor, duplicate = person(), person()
    with transaction():
        merging.merge_customers(survivor, duplicate, actor=staff)
        assert heard == []
    assert [(e.payload["survivor_id"], e.payload["duplicate_id"]) for e in heard] == [
        (survivor.id, duplicate.id)
    ]


def test_merging_a_customer_into_itself_is_refused(db, staff):
    ann = person()
    with pytest.raises(Conflict) as refused:
        merge(ann, ann, staff)
    assert refused.value.code == "merge_same_customer"


def test_merging_an_already_merged_customer_is_refused(db, staff):
    survivor, duplicate, other = person(), person(), person()
    merge(survivor, duplicate, staff)
    with pytest.raises(Conflict) as refused:
        merge(other, duplicate, staff)
    assert refused.value.code == "customer_already_merged"


def test_merging_into_a_merged_customer_is_refused(db, staff):
    survivor, duplicate, other = person(), person(), person()
    merge(survivor, duplicate, staff)
    with pytest.raises(Conflict) as refused:
        merge(duplicate, other, staff)
    assert refused.value.code == "survivor_merged"
    assert other.merged_into_id is None


def test_two_people_merging_one_duplicate_at_once_merge_it_once(app, committed_db):
    if committed_db.engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL; SQLite lets one transaction write at a time")
    first, second, duplicate = person(), person(), person()
    staff_ids = [UserFactory(roles=["sales"]).id for _ in range(2)]
    InteractionFactory(customer=duplicate)
    committed_db.session.commit()
    survivor_ids, duplicate_id = [first.id, second.id], duplicate.id
    both_loaded = threading.Barrier(2, timeout=10)
    outcomes = {}

    def merge_into(survivor_id, staff_id):
        with app.app_context():
            try:
                with transaction():
                    survivor = committed_db.session.get(Customer, survivor_id)
                    loser = committed_db.session.get(Customer, duplicate_id)
                    actor = committed_db.session.get(User, staff_id)
                    both_loaded.wait()
                    merging.merge_customers(survivor, loser, actor=actor)
                    time.sleep(0.3)  # still uncommitted while the other one checks
                outcomes[survivor_id] = "merged"
            except Conflict as refused:
                outcomes[survivor_id] = refused.code
            finally:
                committed_db.session.remove()

    threads = [
        threading.Thread(target=merge_into, args=(survivor_id, staff_id))
        for survivor_id, staff_id in zip(survivor_ids, staff_ids, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(outcomes.values()) == ["customer_already_merged", "merged"]
    winner = next(survivor_id for survivor_id, outcome in outcomes.items() if outcome == "merged")
    committed_db.session.expire_all()
    assert committed_db.session.get(Customer, duplicate_id).merged_into_id == winner
    assert set(committed_db.session.scalars(select(Interaction.customer_id))) == {winner}


def test_unknown_fields_and_sides_in_field_choices_are_refused(db, staff):
    survivor, duplicate = person(), person()
    with pytest.raises(InvalidInput) as refused:
        merge(survivor, duplicate, staff, field_choices={"password_hash": "duplicate", "city": "both"})
    assert set(refused.value.errors) == {"field_choices.password_hash", "field_choices.city"}
    assert duplicate.merged_into_id is None


def a_duplicate_with_history(staff):
    survivor, duplicate = person(), person(tags=["vip"], order_count=1, total_spent=Decimal("9.00"))
    InteractionFactory(customer=duplicate)
    consents.record(duplicate, "profiling", granted=True, source="portal", wording_version="v1", actor=staff)
    add_address(duplicate, billing=True)
    add_phone(duplicate, "+31612345678")
    static = segments.create_segment(name="Picked", kind="static", actor=staff)
    segments.add_members(static, [duplicate.id], actor=staff)
    token, _ = issue_customer_token(duplicate.id)
    return survivor, duplicate, token


def assert_nothing_moved(db, survivor, duplicate, token):
    db.session.expire_all()
    for model in (Interaction, ConsentEvent, CustomerAddress, CustomerPhone, SegmentMember):
        assert set(db.session.scalars(select(model.customer_id))) == {duplicate.id}, model
    assert duplicate.tag_names == ["vip"] and survivor.tag_names == []
    assert (duplicate.merged_into_id, duplicate.status, duplicate.order_count) == (None, "active", 1)
    assert survivor.order_count == 0
    assert db.session.get(ApiToken, token.id).revoked_at is None
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "customer.merged")) is None


def test_a_merge_failing_midway_leaves_nothing_moved(db, staff, monkeypatch):
    with transaction():  # stored first: the failed use case rolls back to here
        survivor, duplicate, token = a_duplicate_with_history(staff)
    heard = []
    monkeypatch.setitem(events.LISTENERS, "customer.merged", [heard.append])

    def broken(*_args):
        raise RuntimeError("the database went away")

    # Interactions, consents, addresses, phones and tags have moved when this step runs.
    monkeypatch.setattr(merging, "_move_segment_memberships", broken)
    with pytest.raises(RuntimeError):
        merge(survivor, duplicate, staff)
    assert_nothing_moved(db, survivor, duplicate, token)
    assert heard == []


def test_a_failed_merge_stays_undone_when_the_caller_carries_on(db, staff, monkeypatch):
    survivor, duplicate, token = a_duplicate_with_history(staff)
    heard = []
    monkeypatch.setitem(events.LISTENERS, "customer.merged", [heard.append])

    def broken(*_args):
        raise RuntimeError("a bug late in the merge")

    monkeypatch.setattr(merging, "_take_profile", broken)
    with transaction():
        with pytest.raises(RuntimeError):
            merging.merge_customers(survivor, duplicate, actor=staff)
        survivor.company = "Acme"  # the caller's own change commits
    assert_nothing_moved(db, survivor, duplicate, token)
    assert survivor.company == "Acme" and heard == []


def test_the_preview_counts_what_would_move(db, staff):
    survivor, duplicate, _token = a_duplicate_with_history(staff)
    add_phone(survivor, "+31612345678")
    assert merging.merge_preview(survivor, duplicate) == {
        "interactions": 1,
        "consent_events": 1,
        "addresses": 1,
        "phones": 0,
        "tags": 1,
        "segment_memberships": 1,
        "storefront_tokens": 1,
    }


def test_the_customer_page_panel_links_each_possible_duplicate_to_its_review(app, db):
    ann, twin = person("Ann", "Smith", city="Leiden"), person("Ann", "Smith", city="Leiden")
    template = (
        '{% from "customers/merge/_merge.html" import possible_duplicates %}'
        "{{ possible_duplicates(customer, matches) }}"
    )
    with app.test_request_context():
        html = render_template_string(template, customer=ann, matches=duplicates.duplicates_of(ann))
        empty = render_template_string(template, customer=ann, matches=[])
    assert "Same name and city" in html and twin.email in html
    assert f"/customers/merge?survivor={ann.id}&amp;duplicate={twin.id}" in html
    assert empty.strip() == ""


# --- Portal -------------------------------------------------------------------------------------


def signed_in(portal, role):
    user = UserFactory(roles=[role])
    portal.login(user.email, PASSWORD)
    return user


@pytest.fixture
def seller(portal, db):
    signed_in(portal, "sales")
    return portal


def flashes(html):
    return re.findall(r'<div class="alert (?:success|error|info|warning)">(.*?)</div>', html, re.S)


def test_every_duplicate_page_needs_the_merge_permission(app):
    from app.blueprints.customers import merge_views

    endpoints = [
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if app.view_functions[rule.endpoint].__module__ == merge_views.__name__
    ]
    assert sorted(endpoints) == ["customers.duplicates", "customers.merge"]
    for endpoint in endpoints:
        assert app.view_functions[endpoint].required_permission == "customers.merge"


def test_staff_without_the_merge_permission_get_403(portal, db):
    signed_in(portal, "support")
    a, b = person(), person()
    assert portal.get("/customers/duplicates").status_code == 403
    assert portal.get(f"/customers/merge?survivor={a.id}&duplicate={b.id}").status_code == 403
    assert portal.post(f"/customers/merge?survivor={a.id}&duplicate={b.id}").status_code == 403
    assert b.merged_into_id is None
    assert 'href="/customers/duplicates"' not in portal.get("/customers").text


def test_the_duplicates_page_lists_pairs_with_reasons_and_a_review_link(seller, db):
    older, newer = person("Ann", "Smith", city="Leiden"), person("Ann", "Smith", city="Leiden")
    newer.order_count = 3
    db.session.flush()
    page = seller.get("/customers/duplicates")
    assert page.status_code == 200
    assert "<h1>Duplicates</h1>" in page.text and 'href="/customers/duplicates"' in page.text
    assert "Same name and city" in page.text
    assert f"/customers/merge?survivor={newer.id}&amp;duplicate={older.id}" in page.text


def test_the_duplicates_page_says_what_to_expect_when_empty(seller, db):
    page = seller.get("/customers/duplicates")
    assert page.status_code == 200 and "No likely duplicates right now" in page.text


def test_the_merge_page_compares_the_two_side_by_side(seller, db, staff):
    survivor = person("Ann", "Smith", email="ann@example.org", city="Leiden")
    duplicate = person("Anne", "Smith", email="anne@example.org", city="Leiden", company="Acme")
    InteractionFactory(customer=duplicate)
    issue_customer_token(duplicate.id)
    page = seller.get(f"/customers/merge?survivor={survivor.id}&duplicate={duplicate.id}")
    assert page.status_code == 200 and "<title>Merge customers" in page.text
    assert 'name="keep-first_name"' in page.text and 'name="keep-email"' in page.text
    assert 'name="keep-last_name"' not in page.text and 'name="keep-city"' not in page.text
    # A value only the duplicate has is picked for the survivor by default.
    assert re.search(r'id="keep-company-duplicate"[^>]*checked', page.text)
    assert re.search(r'id="keep-first_name-survivor"[^>]*checked', page.text)
    assert f"/customers/merge?survivor={duplicate.id}&amp;duplicate={survivor.id}" in page.text  # swap
    confirm = re.search(r'data-confirm="([^"]*)"', page.text).group(1)
    assert "Merge Anne Smith (anne@example.org) into Ann Smith (ann@example.org)?" in confirm
    assert "Their history (1 interaction) and purchase figures move to Ann Smith" in confirm
    assert "1 storefront sign-in is ended, and Anne Smith stays only as an inactive, merged" in confirm
    assert confirm.endswith("This cannot be undone.")
    assert "Merge into Ann Smith" in page.text


def test_merging_in_the_portal_moves_everything_and_opens_the_survivor(seller, db, staff):
    survivor = person("Ann", "Smith", email="ann@example.org")
    duplicate = person("Anne", "Smith", email="anne@example.org")
    InteractionFactory(customer=duplicate)
    url = f"/customers/merge?survivor={survivor.id}&duplicate={duplicate.id}"
    response = seller.post(url, data={"keep-first_name": "duplicate", "keep-email": "survivor"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/customers/{survivor.id}")
    assert (duplicate.merged_into_id, survivor.first_name) == (survivor.id, "Anne")
    page = seller.get(response.headers["Location"])
    assert any(
        "Merged Anne Smith (anne@example.org) into Anne Smith: moved 1 interaction" in f
        for f in flashes(page.text)
    )


def test_the_merge_page_refuses_one_customer_twice(seller, db):
    ann = person()
    page = seller.get(f"/customers/merge?survivor={ann.id}&duplicate={ann.id}")
    assert page.status_code == 409 and "cannot be merged into itself" in page.text
    assert "data-confirm" not in page.text and "Merge into" not in page.text


def test_merging_a_merged_customer_in_the_portal_is_refused(seller, db, staff):
    survivor, duplicate, other = person(), person(), person()
    merge(survivor, duplicate, staff)
    response = seller.post(f"/customers/merge?survivor={other.id}&duplicate={duplicate.id}")
    assert response.status_code == 409 and "was already merged into" in response.text
    assert duplicate.merged_into_id == survivor.id


def test_a_bad_choice_in_the_portal_keeps_the_page_with_the_problem(seller, db):
    survivor, duplicate = person("Ann", "Smith"), person("Anne", "Smith")
    url = f"/customers/merge?survivor={survivor.id}&duplicate={duplicate.id}"
    response = seller.post(url, data={"keep-first_name": "both"})
    assert response.status_code == 422 and "Some field choices are not valid" in response.text
    assert duplicate.merged_into_id is None


@pytest.mark.parametrize(
    "query", ["", "?survivor=1", "?survivor=x&duplicate=2", "?survivor=99999999999&duplicate=1"]
)
def test_the_merge_page_without_two_customers_is_not_found(seller, db, query):
    assert seller.get(f"/customers/merge{query}").status_code == 404


# --- API ----------------------------------------------------------------------------------------


def bearer(scopes):
    return {"Authorization": f"Bearer {make_token(UserFactory(roles=['admin']), list(scopes))}"}


@pytest.fixture
def merger(db):
    return bearer(["customers.merge"])


def problem(response, status):
    assert response.status_code == status, response.text
    assert response.mimetype == PROBLEM
    return response.get_json()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("get", "/customers/duplicates", None), ("post", "/customers/{id}/merge", {"duplicate_id": 1})],
)
def test_each_duplicates_endpoint_needs_customers_merge(client, db, method, path, body):
    url = ADMIN + path.format(id=person().id)
    kwargs = {"json": body} if body is not None else {}
    assert problem(getattr(client, method)(url, **kwargs), 401)["code"] == "unauthenticated"
    others = bearer(["customers.read", "customers.write"])
    assert problem(getattr(client, method)(url, headers=others, **kwargs), 403)["code"] == "permission_denied"


def test_the_api_lists_pairs_page_by_page(client, db, merger):
    for n in range(3):
        a, b = person(), person()
        add_phone(a, f"+3161234567{n}")
        add_phone(b, f"+3161234567{n}")
    response = client.get(f"{ADMIN}/customers/duplicates?page_size=2", headers=merger)
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert json.loads(response.headers["X-Pagination"])["total"] == 3
    first = response.get_json()[0]
    assert first["reasons"] == ["phone"] and first["score"] == 90
    assert first["suggested_survivor_id"] == first["first"]["id"]
    assert first["first"]["phones"][0]["number"].startswith("+316")


def test_the_api_merges_and_answers_with_the_survivor(client, db, merger, monkeypatch):
    # The figures customers hand over, without orders' recompute from the (here absent) orders.
    monkeypatch.setitem(events.LISTENERS, "customer.merged", [])
    survivor, duplicate = (
        person("Ann", "Smith"),
        person("Anne", "Smith", order_count=2, total_spent=Decimal("30")),
    )
    InteractionFactory(customer=duplicate)
    body = {"duplicate_id": duplicate.id, "field_choices": {"first_name": "duplicate"}}
    response = client.post(f"{ADMIN}/customers/{survivor.id}/merge", json=body, headers=merger)
    assert response.status_code == 200, response.text
    assert response.mimetype == "application/json"
    data = response.get_json()
    assert data["survivor"]["first_name"] == "Anne" and data["survivor"]["total_spent"] == "30.00"
    assert data["duplicate"]["merged_into_id"] == survivor.id and data["duplicate"]["status"] == "inactive"
    assert data["moved"]["interactions"] == 1 and data["field_choices"] == {"first_name": "duplicate"}


def test_the_api_answers_409_for_each_refusal(client, db, merger, staff):
    survivor, duplicate, other = person(), person(), person()
    merge(survivor, duplicate, staff)
    url = ADMIN + "/customers/{}/merge"
    cases = [(other, other, "merge_same_customer"), (other, duplicate, "customer_already_merged")]
    cases.append((duplicate, other, "survivor_merged"))
    for keep, lose, code in cases:
        response = client.post(url.format(keep.id), json={"duplicate_id": lose.id}, headers=merger)
        assert problem(response, 409)["code"] == code


def test_the_api_answers_422_for_unknown_fields_in_field_choices(client, db, merger):
    survivor, duplicate = person(), person()
    body = {"duplicate_id": duplicate.id, "field_choices": {"shoe_size": "duplicate"}}
    errors = problem(client.post(f"{ADMIN}/customers/{survivor.id}/merge", json=body, headers=merger), 422)
    assert "field_choices.shoe_size" in errors["errors"]
    body = {"duplicate_id": duplicate.id, "field_choices": {"city": "neither"}}
    assert problem(client.post(f"{ADMIN}/customers/{survivor.id}/merge", json=body, headers=merger), 422)
    assert duplicate.merged_into_id is None


def test_the_api_merge_with_unknown_customers(client, db, merger):
    survivor = person()
    response = client.post(
        f"{ADMIN}/customers/{survivor.id}/merge", json={"duplicate_id": 2**31 - 1}, headers=merger
    )
    assert "duplicate_id" in problem(response, 422)["errors"]
    response = client.post(
        f"{ADMIN}/customers/{2**31 - 1}/merge", json={"duplicate_id": survivor.id}, headers=merger
    )
    assert problem(response, 404)["code"] == "not_found"


def test_the_duplicates_endpoints_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "get" in paths["/api/v1/admin/customers/duplicates"]
    assert "409" in paths["/api/v1/admin/customers/{survivor_id}/merge"]["post"]["responses"]
