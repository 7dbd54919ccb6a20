"""Customer search: beginnings of names, emails and companies in best-match order, a
"contains" fallback when nothing starts with the text, and a total counted up to a limit
(the list page and GET /api/v1/admin/customers?q= share it)."""

from sqlalchemy import event

from app.blueprints.customers import queries, search
from app.blueprints.customers.queries import CustomerFilter
from tests.factories.customers import CustomerFactory


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
    assert len(statements) <= 5  # ids, customers, phones, tags, total
