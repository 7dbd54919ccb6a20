"""Segment rules: every field and operator selects exactly the right customers, groups nest,
a count is one SQL statement, and bad rules are refused with an error per path."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from app.blueprints.customers import segments
from app.blueprints.customers.models import ConsentEvent, Customer
from app.blueprints.customers.segment_fields import FIELDS, Field, register_field, years_before
from app.blueprints.customers.segment_rules import MAX_RULES, compile_rules, describe, validate_rules
from app.core.errors import InvalidInput
from app.core.timeutil import utcnow
from app.extensions import db
from tests.factories.customers import CustomerFactory, InteractionFactory

NOW = utcnow()


def person(name, **attributes):
    return CustomerFactory(email=f"{name}@example.org", first_name=name.capitalize(), **attributes)


@pytest.fixture
def people(db):
    """Four customers who differ in every field, and one merged record that matches a lot."""
    today = NOW.date()
    ann = person(
        "ann",
        date_of_birth=years_before(today, 25),  # 25 today
        country="NL",
        city="Amsterdam",
        gender="female",
        language="nl",
        tags=["vip", "newsletter"],
        status="active",
        acquisition_source="Google Ads",
        created_at=NOW - timedelta(days=10),
        last_order_at=NOW - timedelta(days=5),
        order_count=5,
        total_spent=Decimal("500.00"),
        average_order_value=Decimal("100.00"),
        lifetime_value=Decimal("800.00"),
        rfm_recency=5,
        rfm_frequency=4,
        rfm_monetary=5,
    )
    bob = person(
        "bob",
        date_of_birth=years_before(today + timedelta(days=1), 30),  # 30 tomorrow: 29 now
        country="BE",
        city="Brussels",
        gender="male",
        language="fr-BE",
        tags=["vip"],
        status="inactive",
        acquisition_source="referral",
        created_at=NOW - timedelta(days=400),
        last_order_at=NOW - timedelta(days=200),
        order_count=1,
        total_spent=Decimal("20.00"),
        average_order_value=Decimal("20.00"),
        lifetime_value=Decimal("20.00"),
        rfm_recency=1,
        rfm_frequency=1,
        rfm_monetary=1,
    )
    cem = person(
        "cem",
        date_of_birth=None,
        country="DE",
        city="Berlin",
        gender=None,
        language="de",
        status="lead",
        created_at=NOW - timedelta(days=1),
    )
    dee = person(
        "dee",
        date_of_birth=years_before(today, 40),
        country="NL",
        city="rotterdam",
        gender="Female",
        language="en",
        tags=["newsletter"],
        status="blocked",
        created_at=NOW - timedelta(days=40),
        last_order_at=NOW - timedelta(days=45),
        order_count=3,
        total_spent=Decimal("150.00"),
        average_order_value=Decimal("50.00"),
        lifetime_value=Decimal("150.00"),
        rfm_recency=3,
        rfm_frequency=3,
        rfm_monetary=2,
    )
    person("old", country="NL", status="active", tags=["vip"], merged_into_id=ann.id, order_count=9)
    InteractionFactory(customer=ann, kind="phone", occurred_at=NOW - timedelta(days=2))
    InteractionFactory(customer=ann, kind="phone", occurred_at=NOW - timedelta(days=8))
    InteractionFactory(customer=bob, kind="email", occurred_at=NOW - timedelta(days=60))
    InteractionFactory(customer=dee, kind="chat", occurred_at=NOW - timedelta(days=5))
    # The latest event of a purpose is its state: ann withdrew, dee came back.
    for customer, granted in ((ann, True), (ann, False), (bob, True), (dee, False), (dee, True)):
        db.session.add(
            ConsentEvent(
                customer_id=customer.id,
                purpose="marketing_email",
                granted=granted,
                source="portal",
                wording_version="v1",
            )
        )
    db.session.flush()
    return {c.first_name.lower(): c for c in (ann, bob, cem, dee)}


def selected(tree) -> set[str]:
    """First names of the live customers `tree` selects, through the compiled expression."""
    query = select(Customer.first_name).where(compile_rules(tree), Customer.merged_into_id.is_(None))
    return {name.lower() for name in db.session.scalars(query)}


def one(field, operator, value) -> dict:
    return {"op": "and", "rules": [{"field": field, "operator": operator, "value": value}]}


CASES = [
    ("age", "gte", 25, {"ann", "bob", "dee"}),
    ("age", "gte", 26, {"bob", "dee"}),
    ("age", "lte", 29, {"ann", "bob"}),
    ("age", "lte", 28, {"ann"}),
    ("age", "between", [25, 29], {"ann", "bob"}),
    ("age", "between", [30, 40], {"dee"}),
    ("country", "eq", "NL", {"ann", "dee"}),
    ("country", "eq", "nl", {"ann", "dee"}),
    ("country", "in", ["BE", "DE"], {"bob", "cem"}),
    ("country", "not_in", ["NL"], {"bob", "cem"}),
    ("city", "eq", "Rotterdam", {"dee"}),
    ("city", "in", ["amsterdam", "BERLIN"], {"ann", "cem"}),
    ("city", "not_in", ["Amsterdam"], {"bob", "cem", "dee"}),
    ("gender", "eq", "female", {"ann", "dee"}),
    ("gender", "in", ["MALE", "other"], {"bob"}),
    ("gender", "not_in", ["male"], {"ann", "cem", "dee"}),
    ("language", "eq", "nl", {"ann"}),
    ("language", "in", ["fr_BE", "de"], {"bob", "cem"}),
    ("language", "not_in", ["nl", "en"], {"bob", "cem"}),
    ("tags", "has_any", ["VIP"], {"ann", "bob"}),
    ("tags", "has_all", ["vip", "newsletter"], {"ann"}),
    ("tags", "has_none", ["vip"], {"cem", "dee"}),
    ("acquisition_source", "eq", "google ads", {"ann"}),
    ("acquisition_source", "in", ["Referral"], {"bob"}),
    ("acquisition_source", "not_in", ["referral"], {"ann", "cem", "dee"}),
    ("status", "eq", "active", {"ann"}),
    ("status", "in", ["lead", "blocked"], {"cem", "dee"}),
    ("status", "not_in", ["active", "inactive"], {"cem", "dee"}),
    ("created_within_days", "eq", 30, {"ann", "cem"}),
    ("last_order_within_days", "eq", 30, {"ann"}),
    ("last_order_within_days", "eq", 60, {"ann", "dee"}),
    ("no_order_within_days", "eq", 30, {"bob", "cem", "dee"}),
    ("no_order_within_days", "eq", 100, {"bob", "cem"}),
    ("interactions_in_period", "gte", {"count": 2, "days": 30}, {"ann"}),
    ("interactions_in_period", "gte", {"count": 1, "days": 30}, {"ann", "dee"}),
    ("interactions_in_period", "gte", {"count": 1, "days": 90, "kind": "email"}, {"bob"}),
    ("interactions_in_period", "lt", {"count": 1, "days": 30}, {"bob", "cem"}),
    ("interactions_in_period", "lt", {"count": 2, "days": 30, "kind": "phone"}, {"bob", "cem", "dee"}),
    ("consent", "granted", "marketing_email", {"bob", "dee"}),
    ("consent", "not_granted", "marketing_email", {"ann", "cem"}),
    ("consent", "not_granted", "marketing_sms", {"ann", "bob", "cem", "dee"}),
    ("order_count", "eq", 0, {"cem"}),
    ("order_count", "gt", 1, {"ann", "dee"}),
    ("order_count", "gte", 3, {"ann", "dee"}),
    ("order_count", "lt", 3, {"bob", "cem"}),
    ("order_count", "lte", 3, {"bob", "cem", "dee"}),
    ("order_count", "between", [1, 3], {"bob", "dee"}),
    ("total_spent", "gt", "150", {"ann"}),
    ("total_spent", "gte", "150.00", {"ann", "dee"}),
    ("total_spent", "lt", "20.00", {"cem"}),
    ("total_spent", "lte", 20, {"bob", "cem"}),
    ("total_spent", "between", ["20", "150"], {"bob", "dee"}),
    ("average_order_value", "gte", "50", {"ann", "dee"}),
    ("average_order_value", "lt", "50.01", {"bob", "cem", "dee"}),
    ("average_order_value", "gt", "50", {"ann"}),
    ("average_order_value", "lte", "20", {"bob", "cem"}),
    ("average_order_value", "between", ["20.00", "50.00"], {"bob", "dee"}),
    ("lifetime_value", "between", ["100", "1000"], {"ann", "dee"}),
    ("lifetime_value", "gt", "799.99", {"ann"}),
    ("lifetime_value", "gte", "150", {"ann", "dee"}),
    ("lifetime_value", "lt", "150", {"bob", "cem"}),
    ("lifetime_value", "lte", "150", {"bob", "cem", "dee"}),
    ("rfm_recency", "eq", 5, {"ann"}),
    ("rfm_recency", "in", [1, 3], {"bob", "dee"}),
    ("rfm_frequency", "eq", 4, {"ann"}),
    ("rfm_frequency", "in", [1, 3, 4], {"ann", "bob", "dee"}),
    ("rfm_monetary", "eq", 2, {"dee"}),
    ("rfm_monetary", "in", [2, 5], {"ann", "dee"}),
]


@pytest.mark.parametrize(
    ("field", "operator", "value", "expected"), CASES, ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(CASES)]
)
def test_each_field_and_operator_selects_the_right_customers(people, field, operator, value, expected):
    assert selected(one(field, operator, value)) == expected


def test_every_registered_field_and_operator_is_covered_by_a_case():
    # Customers' own fields; the fields other domains register are tested there
    # (orders: tests/orders/test_customer_segments.py).
    covered = {(field, operator) for field, operator, _, _ in CASES}
    own = {name: spec for name, spec in FIELDS.items() if spec.build.__module__ == Field.__module__}
    expected = {(name, op) for name, spec in own.items() for op in spec.operators}
    assert expected - covered == set()


def test_is_not_one_of_keeps_customers_without_a_value(db):
    person("nocountry", country=None)
    person("dutch", country="NL")
    assert selected(one("country", "not_in", ["NL"])) == {"nocountry"}


def test_and_requires_every_rule_and_or_any(people):
    vip = {"field": "tags", "operator": "has_any", "value": ["vip"]}
    dutch = {"field": "country", "operator": "eq", "value": "NL"}
    assert selected({"op": "and", "rules": [vip, dutch]}) == {"ann"}
    assert selected({"op": "or", "rules": [vip, dutch]}) == {"ann", "bob", "dee"}


def test_groups_nest(people):
    # Blocked or lead customers, or (Dutch and (VIP or over 35)).
    tree = {
        "op": "or",
        "rules": [
            {"field": "status", "operator": "in", "value": ["blocked", "lead"]},
            {
                "op": "and",
                "rules": [
                    {"field": "country", "operator": "eq", "value": "NL"},
                    {
                        "op": "or",
                        "rules": [
                            {"field": "tags", "operator": "has_any", "value": ["vip"]},
                            {"field": "age", "operator": "gte", "value": 35},
                        ],
                    },
                ],
            },
        ],
    }
    assert selected(tree) == {"ann", "cem", "dee"}
    tree["rules"][0]["value"] = ["inactive"]
    assert selected(tree) == {"ann", "bob", "dee"}


def test_a_group_nested_four_deep_is_accepted(people):
    tree = one("country", "eq", "NL")
    for _ in range(3):
        tree = {"op": "and", "rules": [tree]}
    assert selected(tree) == {"ann", "dee"}


def test_counting_members_is_one_sql_statement(people, db):
    tree = {
        "op": "and",
        "rules": [
            {"field": "tags", "operator": "has_all", "value": ["vip", "newsletter"]},
            {"field": "consent", "operator": "not_granted", "value": "marketing_email"},
            {
                "op": "or",
                "rules": [
                    {"field": "interactions_in_period", "operator": "gte", "value": {"count": 2, "days": 30}},
                    {"field": "age", "operator": "between", "value": [18, 30]},
                ],
            },
        ],
    }
    connection = db.session.connection()
    statements = []

    def remember(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(connection, "before_cursor_execute", remember)
    try:
        count = segments.count_members(tree)
    finally:
        event.remove(connection, "before_cursor_execute", remember)
    assert count == 1
    assert len(statements) == 1 and statements[0].lstrip().upper().startswith("SELECT COUNT")


def test_merged_customers_are_never_counted(people):
    assert segments.count_members(one("tags", "has_any", ["vip"])) == 2  # ann, bob; not old


def test_relative_dates_are_taken_from_now(people):
    rules = one("created_within_days", "eq", 5)
    assert selected(rules) == {"cem"}
    later = compile_rules(rules, now=NOW + timedelta(days=5))
    assert db.session.scalars(select(Customer.id).where(later, Customer.merged_into_id.is_(None))).all() == []


# --- Checking -----------------------------------------------------------------------------


def errors_of(tree, **kwargs) -> dict:
    with pytest.raises(InvalidInput) as caught:
        validate_rules(tree, **kwargs)
    assert caught.value.code == "invalid_segment_rules"
    return caught.value.errors


def test_unknown_field_is_an_error_on_its_path():
    errors = errors_of(one("shoe_size", "eq", 44))
    assert list(errors) == ["rules.0.field"] and "Unknown field" in errors["rules.0.field"][0]


def test_operator_the_field_does_not_take_is_an_error_on_its_path():
    errors = errors_of(one("country", "gt", "NL"))
    assert errors == {"rules.0.operator": ["Country takes the operators: eq, in, not_in."]}


@pytest.mark.parametrize(
    ("field", "operator", "value"),
    [
        ("age", "between", [40, 18]),
        ("age", "gte", "30"),
        ("age", "gte", True),
        ("age", "lte", 200),
        ("country", "eq", "XX"),
        ("country", "in", []),
        ("language", "eq", "not a language"),
        ("status", "eq", "vip"),
        ("tags", "has_any", "vip"),
        ("total_spent", "gte", 19.9),
        ("total_spent", "gte", "19.999"),
        ("total_spent", "gte", "-1"),
        ("total_spent", "between", ["10"]),
        ("rfm_recency", "eq", 6),
        ("consent", "granted", "newsletter"),
        ("last_order_within_days", "eq", 0),
        ("interactions_in_period", "gte", {"count": 1}),
        ("interactions_in_period", "gte", {"count": 1, "days": 30, "kind": "fax"}),
        ("interactions_in_period", "gte", 3),
        ("city", "eq", "x" * 101),
    ],
)
def test_bad_values_are_errors_on_the_value_path(field, operator, value):
    errors = errors_of(one(field, operator, value))
    assert list(errors) == ["rules.0.value"]


def test_errors_in_nested_groups_carry_the_full_path():
    tree = {
        "op": "and",
        "rules": [
            {"field": "country", "operator": "eq", "value": "NL"},
            {
                "op": "or",
                "rules": [
                    {"field": "status", "operator": "eq", "value": "active"},
                    {"field": "tags", "operator": "has_any", "value": ["vip"]},
                    {"field": "age", "operator": "gte", "value": -3},
                ],
            },
        ],
    }
    assert list(errors_of(tree)) == ["rules.1.rules.2.value"]
    assert list(errors_of(tree, path="rules")) == ["rules.rules.1.rules.2.value"]


def test_every_problem_is_reported_at_once():
    tree = {
        "op": "xor",
        "rules": [
            {"field": "nope", "operator": "eq", "value": 1},
            {"field": "age", "operator": "eq", "value": 1},
            {"field": "status", "operator": "eq"},
            {"field": "status", "operator": "eq", "value": "active", "extra": 1},
        ],
    }
    assert set(errors_of(tree)) == {
        "op",
        "rules.0.field",
        "rules.1.operator",
        "rules.2.value",
        "rules.3.extra",
    }


def test_groups_nested_more_than_four_deep_are_refused():
    tree = one("country", "eq", "NL")
    for _ in range(4):
        tree = {"op": "and", "rules": [tree]}
    errors = errors_of(tree)
    assert errors == {"rules.0.rules.0.rules.0.rules.0": ["Groups nest at most 4 deep."]}


def test_at_most_fifty_rules():
    rule = {"field": "country", "operator": "eq", "value": "NL"}
    validate_rules({"op": "or", "rules": [rule] * MAX_RULES})
    errors = errors_of({"op": "or", "rules": [rule] * 30 + [{"op": "and", "rules": [rule] * 21}]})
    assert errors == {"rules": ["At most 50 rules in a segment."]}


@pytest.mark.parametrize("tree", [{"op": "and", "rules": []}, {"op": "and"}, ["country"], "country = NL"])
def test_a_group_needs_rules(tree):
    assert list(errors_of(tree)) == ["rules"]


def test_checked_rules_are_normalized():
    tree = {
        "rules": [
            {"field": "country", "operator": "in", "value": ["nl", "NL", "be"]},
            {"field": "total_spent", "operator": "between", "value": [20, "99.5"]},
            {"field": "tags", "operator": "has_all", "value": [" VIP ", "vip"]},
            {"field": "interactions_in_period", "operator": "gte", "value": {"count": 1, "days": 7}},
        ]
    }
    assert validate_rules(tree) == {
        "op": "and",
        "rules": [
            {"field": "country", "operator": "in", "value": ["NL", "BE"]},
            {"field": "total_spent", "operator": "between", "value": ["20.00", "99.50"]},
            {"field": "tags", "operator": "has_all", "value": ["vip"]},
            {
                "field": "interactions_in_period",
                "operator": "gte",
                "value": {"count": 1, "days": 7, "kind": None},
            },
        ],
    }


def test_rules_read_in_words():
    tree = validate_rules(
        {
            "op": "or",
            "rules": [
                {"field": "country", "operator": "in", "value": ["NL", "BE"]},
                {
                    "op": "and",
                    "rules": [{"field": "total_spent", "operator": "between", "value": ["1", "9"]}],
                },
            ],
        }
    )
    assert describe(tree) == [
        "any of",
        ["Country is one of NL, BE", ["all of", ["Total spent between 1.00 and 9.00"]]],
    ]


def test_a_later_domain_adds_a_field_with_one_registry_entry(people):
    """How orders will add "bought a product": a Field whose build is an EXISTS."""
    register_field(
        Field(
            "first_name_is",
            "First name",
            "Purchases",
            ("eq",),
            lambda value: str(value),
            lambda _operator, value, _now: Customer.first_name == value,
        )
    )
    try:
        assert selected(one("first_name_is", "eq", "Bob")) == {"bob"}
    finally:
        FIELDS.pop("first_name_is")
