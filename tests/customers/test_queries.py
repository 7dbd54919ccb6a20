"""The read side of customers: one filtered select for the list and its CSV, the merged
timeline with its cursor, and follow-ups with their customers loaded."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from app.blueprints.customers import consents, queries, search, timeline
from app.blueprints.customers.models import ConsentEvent, Interaction
from app.blueprints.customers.queries import CustomerFilter
from app.core import audit
from app.core.timeutil import utcnow
from tests.factories.auth import UserFactory
from tests.factories.customers import CustomerFactory, InteractionFactory, with_phone
from tests.statements import counted_statements


def emails(filters: CustomerFilter, tz=UTC) -> list[str]:
    return [c.email for c in queries.db.session.scalars(queries.customer_list_query(filters, tz=tz))]


# --- Search ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("06 1234 5678", "612345678"),
        ("+31 (6) 1234-5678", "31612345678"),
        ("0031612345678", "31612345678"),
        ("123", None),  # too short to mean a phone number
        ("ann 0612", None),  # words: not a phone search
        ("ann@example.org", None),
    ],
)
def test_phone_search_keeps_digits_and_drops_leading_zeros(text, expected):
    assert search.phone_digits(text) == expected


def test_search_matches_part_of_a_name_email_or_company_whatever_the_case(db):
    CustomerFactory(first_name="Anneke", last_name="de Vries", email="anneke@example.org")
    CustomerFactory(first_name="Bram", last_name="Jansen", email="b.jansen@shop.example", company="Acme BV")
    CustomerFactory(first_name="Cora", last_name="Smit", email="cora@example.org")
    assert emails(CustomerFilter(search="VRIES")) == ["anneke@example.org"]
    assert emails(CustomerFilter(search="anneke de v")) == ["anneke@example.org"]
    assert emails(CustomerFilter(search="jansen bram")) == ["b.jansen@shop.example"]
    assert emails(CustomerFilter(search="SHOP.EXAMPLE")) == ["b.jansen@shop.example"]
    assert emails(CustomerFilter(search="acme")) == ["b.jansen@shop.example"]
    assert emails(CustomerFilter(search="100%")) == []  # wildcards are literal


@pytest.mark.parametrize("typed", ["06 1234 5678", "+31 6 12345678", "0031-612345678", "1234 5678"])
def test_search_finds_a_phone_number_however_it_is_typed(db, typed):
    with_phone(CustomerFactory(email="phone@example.org"), "+31612345678")
    with_phone(CustomerFactory(email="other@example.org"), "+4930123456")
    assert emails(CustomerFilter(search=typed)) == ["phone@example.org"]


# --- Filters --------------------------------------------------------------------------


def test_each_filter_narrows_the_list(db):
    CustomerFactory(
        email="a@example.org",
        status="active",
        country="NL",
        city="Amsterdam",
        language="nl-BE",
        acquisition_source="Fair",
        order_count=3,
        total_spent=Decimal("250.00"),
        tags=["vip"],
    )
    CustomerFactory(
        email="b@example.org",
        status="lead",
        country="DE",
        city="Berlin",
        language="de",
        acquisition_source="Ads",
        order_count=0,
        total_spent=Decimal("0"),
        tags=["wholesale"],
    )
    assert emails(CustomerFilter(status="lead")) == ["b@example.org"]
    assert emails(CustomerFilter(country="de")) == ["b@example.org"]
    assert emails(CustomerFilter(city="AMSTERDAM")) == ["a@example.org"]
    assert emails(CustomerFilter(language="nl")) == ["a@example.org"]  # nl covers nl-BE
    assert emails(CustomerFilter(language="nl-be")) == ["a@example.org"]
    assert emails(CustomerFilter(tag="VIP")) == ["a@example.org"]
    assert emails(CustomerFilter(source="fair")) == ["a@example.org"]
    assert emails(CustomerFilter(has_orders=True)) == ["a@example.org"]
    assert emails(CustomerFilter(has_orders=False)) == ["b@example.org"]
    assert emails(CustomerFilter(spent_min=Decimal("250.00"))) == ["a@example.org"]
    assert emails(CustomerFilter(spent_max=Decimal("249.99"))) == ["b@example.org"]
    assert emails(CustomerFilter(status="active", country="DE")) == []


def test_created_dates_are_whole_days_in_the_viewers_time_zone(db):
    amsterdam = ZoneInfo("Europe/Amsterdam")
    # 23:30 UTC on 1 March is already 2 March in Amsterdam.
    CustomerFactory(email="late@example.org", created_at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    CustomerFactory(email="early@example.org", created_at=datetime(2026, 3, 1, 8, 0, tzinfo=UTC))
    march_2 = CustomerFilter(created_from=date(2026, 3, 2), created_to=date(2026, 3, 2))
    assert emails(march_2, tz=amsterdam) == ["late@example.org"]
    assert emails(march_2, tz=UTC) == []
    assert sorted(emails(CustomerFilter(created_to=date(2026, 3, 1)), tz=UTC)) == [
        "early@example.org",
        "late@example.org",
    ]


def test_merged_records_are_left_out(db):
    kept = CustomerFactory(email="kept@example.org")
    CustomerFactory(email="merged@example.org", merged_into_id=kept.id)
    assert emails(CustomerFilter()) == ["kept@example.org"]


def test_sorts_by_each_column_both_ways_with_empty_last_orders_last(db):
    now = utcnow()
    CustomerFactory(
        email="b@example.org",
        last_name="Bakker",
        total_spent=Decimal("10"),
        last_order_at=now,
        created_at=now,
    )
    CustomerFactory(
        email="a@example.org",
        last_name="Zwart",
        total_spent=Decimal("99"),
        last_order_at=now - timedelta(days=9),
        created_at=now - timedelta(days=1),
    )
    CustomerFactory(
        email="c@example.org", last_name="Appel", last_order_at=None, created_at=now - timedelta(days=2)
    )
    assert emails(CustomerFilter(sort="name")) == ["c@example.org", "b@example.org", "a@example.org"]
    assert emails(CustomerFilter(sort="email")) == ["a@example.org", "b@example.org", "c@example.org"]
    assert emails(CustomerFilter(sort="-created")) == ["b@example.org", "a@example.org", "c@example.org"]
    assert emails(CustomerFilter(sort="-total_spent"))[0] == "a@example.org"
    assert emails(CustomerFilter(sort="last_order")) == ["a@example.org", "b@example.org", "c@example.org"]
    assert emails(CustomerFilter(sort="-last_order")) == ["b@example.org", "a@example.org", "c@example.org"]
    assert emails(CustomerFilter(sort="nonsense")) == emails(CustomerFilter(sort="name"))


def test_export_rows_fold_phones_and_tags_into_one_column_each(db):
    customer = with_phone(CustomerFactory(email="x@example.org", tags=["vip", "b2b"]), "+31612345678")
    with_phone(customer, "+31201234567")
    CustomerFactory(email="y@example.org")
    rows = list(queries.export_rows(CustomerFilter(sort="email")))
    assert [row.email for row in rows] == ["x@example.org", "y@example.org"]
    assert sorted(rows[0].phones.split("; ")) == ["+31201234567", "+31612345678"]
    assert sorted(rows[0].tags.split("; ")) == ["b2b", "vip"]
    assert rows[1].phones is None and rows[1].tags is None


def test_filter_as_dict_names_only_what_is_set(db):
    filters = CustomerFilter(search="ann", created_from=date(2026, 1, 2), spent_min=Decimal("5.00"))
    assert filters.as_dict() == {"search": "ann", "created_from": "2026-01-02", "spent_min": "5.00"}
    assert filters.active and not CustomerFilter(sort="-created").active


# --- Timeline -------------------------------------------------------------------------


def make_history(db, customer, at):
    """An interaction, a consent event and a profile change, each a minute apart."""
    staff = UserFactory(roles=["sales"])
    note = InteractionFactory(customer=customer, kind="note", subject="Called back", occurred_at=at)
    consent = consents.record(
        customer, "marketing_email", granted=True, source="portal", wording_version="v1", actor=staff
    )
    consent.occurred_at = at + timedelta(minutes=1)
    change = audit.record("customer.updated", actor=staff, target=customer, summary="Updated")
    change.occurred_at = at + timedelta(minutes=2)
    db.session.flush()
    return note, consent, change


def test_timeline_merges_interactions_consents_and_profile_changes_newest_first(db):
    customer = CustomerFactory()
    note, consent, change = make_history(db, customer, utcnow() - timedelta(hours=1))
    InteractionFactory(kind="phone")  # someone else's
    page = timeline.timeline(customer.id)
    assert [entry.item for entry in page.entries] == [change, consent, note]
    assert [entry.kind for entry in page.entries] == ["profile", "consent", "note"]
    assert page.entries[1].recorded_by is not None
    assert page.next_cursor is None


def test_consent_audit_entries_are_not_shown_twice(db):
    customer = CustomerFactory()
    consents.record(customer, "profiling", granted=True, source="portal", wording_version="v1", actor=None)
    db.session.flush()
    assert [entry.kind for entry in timeline.timeline(customer.id).entries] == ["consent"]


@pytest.mark.parametrize(
    ("kind", "expected"), [("note", ["note"]), ("consent", ["consent"]), ("profile", ["profile"])]
)
def test_timeline_filters_by_kind(db, kind, expected):
    customer = CustomerFactory()
    make_history(db, customer, utcnow() - timedelta(hours=1))
    assert [entry.kind for entry in timeline.timeline(customer.id, kind=kind).entries] == expected
    assert timeline.timeline(customer.id, kind="phone").entries == []


def test_unknown_kind_or_cursor_shows_everything_from_the_newest(db):
    customer = CustomerFactory()
    make_history(db, customer, utcnow() - timedelta(hours=1))
    assert len(timeline.timeline(customer.id, kind="bogus", before="not-a-cursor").entries) == 3


def test_paging_with_the_cursor_visits_every_entry_once_in_order_even_on_ties(db):
    customer = CustomerFactory()
    at = utcnow() - timedelta(days=1)
    for minute in range(12):
        # Pairs of interactions share an instant; a consent event shares one of them.
        InteractionFactory(customer=customer, occurred_at=at + timedelta(minutes=minute // 2))
    consent = consents.record(
        customer, "marketing_sms", granted=False, source="portal", wording_version="v1", actor=None
    )
    consent.occurred_at = at + timedelta(minutes=3)
    db.session.flush()
    seen, cursor = [], None
    while True:
        page = timeline.timeline(customer.id, before=cursor, limit=5)
        seen.extend(page.entries)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == 13
    assert len({(e.source, e.item.id) for e in seen}) == 13
    keys = [(e.occurred_at, e.source, e.item.id) for e in seen]
    assert keys == sorted(keys, reverse=True)


def test_timeline_uses_a_fixed_number_of_statements_whatever_the_history(db):
    customer = CustomerFactory()
    staff = UserFactory(roles=["sales"])

    def add(count):
        start = utcnow() - timedelta(hours=count + 1)
        db.session.add_all(
            Interaction(
                customer_id=customer.id,
                kind="phone",
                subject=f"Call {n}",
                staff_id=staff.id,
                occurred_at=start + timedelta(hours=n),
            )
            for n in range(count)
        )
        db.session.add_all(
            ConsentEvent(
                customer_id=customer.id,
                purpose="profiling",
                granted=bool(n % 2),
                source="portal",
                wording_version="v1",
                occurred_at=start + timedelta(hours=n, minutes=30),
            )
            for n in range(0, count, 10)  # on every page, among the calls
        )
        db.session.flush()

    def statements_for_two_pages():
        customer_id = customer.id
        db.session.expire_all()
        with counted_statements() as statements:
            page = timeline.timeline(customer_id, limit=25)
            timeline.timeline(customer_id, before=page.next_cursor, limit=25)
        return len(statements)

    add(30)
    few = statements_for_two_pages()
    add(300)
    # Per page: the merged select, then interactions and consent events by id (sources other
    # domains register add one statement each when on the page: tests/orders/test_customer_timeline.py).
    assert statements_for_two_pages() == few == 6


# --- Follow-ups -----------------------------------------------------------------------


def test_follow_ups_come_with_their_customers_without_a_query_per_customer(db):
    staff = UserFactory(roles=["sales"])
    today = date.today()

    def statements_for(count):
        InteractionFactory.create_batch(
            count, staff_id=staff.id, follow_up_on=today, occurred_at=utcnow() - timedelta(days=1)
        )
        db.session.expire_all()
        with counted_statements() as statements:
            due = queries.follow_ups_due(staff, until=today)
            names = {interaction.customer.name for interaction in due}
        assert len(due) == len(names)
        return len(statements)

    assert statements_for(2) == statements_for(6)
