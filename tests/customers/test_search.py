"""Customer search: beginnings of names, emails and companies in best-match order, a
"contains" fallback when nothing starts with the text, and a total counted up to a limit
(the list page and GET /api/v1/admin/customers?q= share it)."""

import pytest
from sqlalchemy import event, insert, text

from app.blueprints.customers import queries, search
from app.blueprints.customers.models import Customer, CustomerPhone
from app.blueprints.customers.queries import CustomerFilter
from app.extensions import db as _db
from tests.factories.customers import CustomerFactory, with_phone


def found(text: str, **filters) -> list[str]:
    page = queries.customer_page(
        CustomerFilter(search=text, sort="relevance", **filters), page=1, per_page=25
    )
    return [customer.email for customer in page.items]


def test_a_search_matches_the_beginning_of_either_name_order_the_email_or_the_company(db):
    CustomerFactory(first_name="Emma", last_name="de Vries", email="emma@example.org")
    CustomerFactory(first_name="Bram", last_name="Jansen", email="bram@example.org")
    CustomerFactory(first_name="Cor", last_name="Bakker", email="jansje@example.org")
    CustomerFactory(first_name="Dirk", last_name="Smit", email="dirk@example.org", company="Jansen Tools")
    CustomerFactory(first_name="Eva", last_name="Kooi", email="eva@example.org")

    assert set(found("jans")) == {"bram@example.org", "jansje@example.org", "dirk@example.org"}
    assert found("emma de v") == ["emma@example.org"]
    assert found("DE VRIES") == ["emma@example.org"]


def test_a_surname_is_found_without_its_particles(db):
    CustomerFactory(first_name="Piet", last_name="van der Berg", email="piet@example.org")
    CustomerFactory(first_name="Anna", last_name="Bergman", email="anna@example.org")

    assert found("berg") == ["piet@example.org", "anna@example.org"]  # "berg piet" < "bergman anna"
    assert found("van der b") == ["piet@example.org"]


def test_best_match_order_is_the_matched_text_a_to_z(db):
    CustomerFactory(first_name="Zoe", last_name="Jansen", email="zoe@example.org")  # "jansen zoe"
    CustomerFactory(first_name="Anna", last_name="Jansen", email="anna@example.org")  # "jansen anna"
    CustomerFactory(first_name="Jan", last_name="Visser", email="jan@example.org")  # "jan visser"

    assert found("jan") == ["jan@example.org", "anna@example.org", "zoe@example.org"]


def test_nothing_starting_with_the_text_falls_back_to_contains(db):
    CustomerFactory(first_name="Ada", last_name="Lovelace", email="ada@analytical.example")
    CustomerFactory(first_name="Bob", last_name="Byte", email="bob@other.example")

    assert found("@analytical") == ["ada@analytical.example"]
    assert found("velac") == ["ada@analytical.example"]
    assert found("qqq") == []


def test_like_wildcards_in_the_text_are_literal(db):
    CustomerFactory(first_name="Ann", last_name="Percent", email="ann@example.org")
    assert found("a%") == []
    assert found("a_n") == []


def test_a_search_keeps_the_other_filters(db):
    CustomerFactory(first_name="Bram", last_name="Jansen", email="nl@example.org", country="NL")
    CustomerFactory(first_name="Bart", last_name="Jansen", email="be@example.org", country="BE")

    assert found("jansen", country="BE") == ["be@example.org"]


def test_merged_records_are_never_found(db):
    kept = CustomerFactory(first_name="Mia", last_name="Kok", email="mia@example.org")
    CustomerFactory(first_name="Mia", last_name="Kok", email="mia.old@example.org", merged_into_id=kept.id)

    assert found("kok") == ["mia@example.org"]


def test_pages_follow_each_other_without_gaps_or_repeats(db):
    for index in range(7):
        CustomerFactory(first_name=f"Jan{index}", last_name="Smit", email=f"smit{index}@example.org")
    pages = [
        queries.customer_page(CustomerFilter(search="smit", sort="relevance"), page=number, per_page=3)
        for number in (1, 2, 3)
    ]

    emails = [customer.email for page in pages for customer in page.items]
    assert len(emails) == 7 == len(set(emails))
    assert pages[0].total == 7


def test_the_total_of_a_broad_search_stops_past_the_limit(db, monkeypatch):
    monkeypatch.setattr(search, "SEARCH_COUNT_LIMIT", 5)
    for index in range(9):
        CustomerFactory(last_name="Visser", email=f"visser{index}@example.org")

    page = queries.customer_page(CustomerFilter(search="viss", sort="relevance"), page=1, per_page=3)

    assert page.total == 6  # "more than 5"
    assert page.total_is_capped
    assert page.pages == 2


def test_a_search_page_takes_a_fixed_number_of_statements(db):
    for index in range(30):
        CustomerFactory(last_name="Mulder", email=f"mulder{index}@example.org", tags=["vip"])
    statements = []

    def count(*_args):
        statements.append(1)

    engine = db.session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        page = queries.customer_page(CustomerFilter(search="mulder", sort="relevance"), page=1, per_page=25)
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert len(page.items) == 25
    assert len(statements) <= 4  # the page's rows (ids and columns at once), phones, tags, total


def test_digits_find_a_phone_and_a_name_or_email_that_starts_with_them_in_any_order(db):
    with_phone(CustomerFactory(email="ann@example.org", last_name="Bakker"), "+31612345678")
    CustomerFactory(email="612345@example.org", last_name="Visser")
    with_phone(CustomerFactory(email="other@example.org", last_name="Smit"), "+4930123456")

    assert set(found("612345")) == {"ann@example.org", "612345@example.org"}
    for sort in ("name", "email", "-created"):
        page = queries.customer_page(CustomerFilter(search="06 1234 5", sort=sort), page=1, per_page=25)
        assert {row.email for row in page.items} == {"ann@example.org"}, sort
        assert page.total == 1


def test_a_search_sorted_otherwise_keeps_only_beginnings_and_surnames_without_particles(db):
    CustomerFactory(first_name="Piet", last_name="van der Berg", email="piet@example.org")
    CustomerFactory(first_name="Anna", last_name="Bergman", email="anna@example.org")
    CustomerFactory(first_name="Ruud", last_name="Heuvelberg", email="ruud@example.org")  # contains only

    page = queries.customer_page(CustomerFilter(search="berg", sort="email"), page=1, per_page=25)

    assert [row.email for row in page.items] == ["anna@example.org", "piet@example.org"]


def test_a_typo_sorted_otherwise_falls_back_to_contains(db):
    CustomerFactory(first_name="Ruud", last_name="Heuvelberg", email="ruud@example.org")
    assert not search.has_prefix_match("velberg", [])
    page = queries.customer_page(CustomerFilter(search="velberg", sort="name"), page=1, per_page=25)
    assert [row.email for row in page.items] == ["ruud@example.org"]


PREFIX_INDEXES = [
    "ix_customers_prefix_last_first",
    "ix_customers_prefix_surname_first",
    "ix_customers_prefix_first_last",
    "ix_customers_prefix_email",
    "ix_customers_prefix_company",
]
PHONE_INDEX = "ix_customer_phones_number_trgm"
DISCOURAGED = ("enable_seqscan", "enable_indexscan", "enable_indexonlyscan")


@pytest.fixture
def postgresql_plans(db):
    """Plans that show which indexes a statement can search (on a handful of test rows any
    plan is as cheap as any other): whole-table reads and plain index scans discouraged, a
    bitmap index scan is left, and it needs a condition the index can answer."""
    if db.session.get_bind().dialect.name != "postgresql":
        pytest.skip("the search indexes exist on PostgreSQL only")
    # Enough rows, and their statistics, that reading a key's range costs less than
    # reading a whole index (on an empty table every plan costs the same).
    rows = [
        {"email": f"bulk{n}@example.org", "first_name": "Bulk", "last_name": f"Row {n}"} for n in range(3000)
    ]
    ids = db.session.scalars(insert(Customer).returning(Customer.id), rows).all()
    phones = [{"customer_id": customer_id, "number": f"+3161{customer_id:07d}"} for customer_id in ids]
    db.session.execute(insert(CustomerPhone), phones)
    db.session.execute(text("ANALYZE customers, customer_phones"))
    for setting in DISCOURAGED:
        db.session.execute(text(f"SET LOCAL {setting} = off"))
    yield
    for setting in DISCOURAGED:
        db.session.execute(text(f"RESET {setting}"))


def plan_of(statement) -> str:
    compiled = statement.compile(_db.session.get_bind(), compile_kwargs={"literal_binds": True})
    sql = str(compiled).replace("%%", "%")
    return "\n".join(row[0] for row in _db.session.execute(text(f"EXPLAIN {sql}")))


def indexes_wanted(typed: str) -> list[str]:
    return PREFIX_INDEXES + ([PHONE_INDEX] if search.phone_digits(typed) else [])


@pytest.mark.parametrize("typed", ["jans", "612345", "06 1234 5"])
def test_on_postgresql_a_search_sorted_otherwise_reads_each_keys_index(db, postgresql_plans, typed):
    statement = queries.filtered_customers(CustomerFilter(search=typed, sort="name"), by_prefix=True)
    plan = plan_of(statement.limit(25))
    assert [name for name in indexes_wanted(typed) if f"Bitmap Index Scan on {name}" not in plan] == [], plan


@pytest.mark.parametrize("typed", ["xqzjw", "612345"])
def test_on_postgresql_asking_whether_anything_starts_with_the_text_probes_each_keys_index(
    db, postgresql_plans, typed
):
    plan = plan_of(search.prefix_probe(typed, []))
    assert [name for name in indexes_wanted(typed) if f"Bitmap Index Scan on {name}" not in plan] == [], plan
