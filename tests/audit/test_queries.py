"""The one filtered select behind the audit page, the CSV export and the API."""

from datetime import UTC, date, datetime

from app.blueprints.audit.queries import AuditFilter, action_groups, filtered_entries
from app.extensions import db
from tests.audit.helpers import add_entry
from tests.factories.auth import UserFactory


def ids(filters: AuditFilter) -> list[int]:
    return [entry.id for entry in db.session.scalars(filtered_entries(filters))]


def test_entries_come_newest_first(db):
    old = add_entry("test.a", at=datetime(2026, 1, 1, tzinfo=UTC))
    new = add_entry("test.a", at=datetime(2026, 1, 2, tzinfo=UTC))
    assert ids(AuditFilter(action="test.a")) == [new.id, old.id]


def test_actor_filter_matches_part_of_the_email_ignoring_case(db):
    alice = UserFactory(email="alice.smith@example.com")
    bob = UserFactory(email="bob@example.com")
    mine = add_entry("test.a", actor=alice)
    add_entry("test.a", actor=bob)
    assert ids(AuditFilter(actor="ALICE.S")) == [mine.id]


def test_actor_filter_treats_like_wildcards_literally(db):
    add_entry("test.a", actor=UserFactory(email="carol@example.com"))
    assert ids(AuditFilter(actor="%")) == []
    assert ids(AuditFilter(actor="_arol")) == []


def test_action_filter_matches_one_action_exactly(db):
    login = add_entry("test.login")
    add_entry("test.login_failed")
    assert ids(AuditFilter(action="test.login")) == [login.id]


def test_action_filter_ending_in_a_dot_matches_the_whole_family(db):
    first = add_entry("fam.one", at=datetime(2026, 1, 1, tzinfo=UTC))
    second = add_entry("fam.two", at=datetime(2026, 1, 2, tzinfo=UTC))
    add_entry("family.other")
    assert ids(AuditFilter(action="fam.")) == [second.id, first.id]


def test_object_type_filter(db):
    job = add_entry("test.a", target_type="job", target_id="1")
    add_entry("test.a", target_type="mail", target_id="1")
    assert ids(AuditFilter(action="test.a", object_type="job")) == [job.id]


def test_object_id_filter(db):
    one = add_entry("test.a", target_type="job", target_id="1")
    add_entry("test.a", target_type="job", target_id="11")
    assert ids(AuditFilter(object_type="job", object_id="1")) == [one.id]


def test_date_from_includes_the_whole_first_utc_day(db):
    add_entry("test.a", at=datetime(2026, 3, 9, 23, 59, 59, tzinfo=UTC))
    first = add_entry("test.a", at=datetime(2026, 3, 10, 0, 0, tzinfo=UTC))
    assert ids(AuditFilter(action="test.a", date_from=date(2026, 3, 10))) == [first.id]


def test_date_to_includes_the_whole_last_utc_day(db):
    last = add_entry("test.a", at=datetime(2026, 3, 10, 23, 59, 59, tzinfo=UTC))
    add_entry("test.a", at=datetime(2026, 3, 11, 0, 0, tzinfo=UTC))
    assert ids(AuditFilter(action="test.a", date_to=date(2026, 3, 10))) == [last.id]


def test_filters_combine(db):
    alice = UserFactory(email="alice@example.com")
    match = add_entry(
        "test.a", actor=alice, target_type="job", target_id="1", at=datetime(2026, 3, 10, tzinfo=UTC)
    )
    add_entry("test.a", actor=alice, target_type="job", target_id="1", at=datetime(2026, 4, 10, tzinfo=UTC))
    add_entry("other.b", actor=alice, target_type="job", target_id="1", at=datetime(2026, 3, 10, tzinfo=UTC))
    filters = AuditFilter(
        actor="alice", action="test.", object_type="job", object_id="1", date_to=date(2026, 3, 31)
    )
    assert ids(filters) == [match.id]


def test_actions_are_grouped_by_family_for_the_filter():
    assert action_groups(["auth.login", "auth.locked", "job.retried"]) == [
        ("auth", ["auth.login", "auth.locked"]),
        ("job", ["job.retried"]),
    ]


def test_the_filter_describes_itself_for_the_export_entry():
    filters = AuditFilter(actor="ann", date_from=date(2026, 1, 2))
    assert filters.as_dict() == {"actor": "ann", "date_from": "2026-01-02"}
    assert filters.active and not AuditFilter().active
