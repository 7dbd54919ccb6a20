"""The segment field registry: what a rule may test, with which operators and values, and
the SQLAlchemy expression over `Customer` each field stands for.

Domains to the right of customers add their fields with `register_field()` at import
(orders: "bought a product or category", an EXISTS over order lines; marketing: "opened or
clicked a campaign"); the rule checker, the compiler, the API and the builder all read
the registry, so a new field is one entry and nothing else changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select, true

from app.blueprints.customers import validation
from app.blueprints.customers.models import (
    CONSENT_PURPOSES,
    INTERACTION_KINDS,
    STATUSES,
    ConsentEvent,
    Customer,
    CustomerTag,
    Interaction,
)
from app.blueprints.customers.segment_values import (
    MAX_DAYS,
    MAX_LIST,
    ValueProblem,
    choice,
    money,
    tag,
    text,
    via_customer_validation,
    whole,
)

LIST_OPERATORS = ("in", "not_in", "has_any", "has_all", "has_none")
OPERATOR_LABELS = {
    "eq": "is",
    "in": "is one of",
    "not_in": "is not one of",
    "gt": "more than",
    "gte": "at least",
    "lt": "less than",
    "lte": "at most",
    "between": "between",
    "has_any": "has any of",
    "has_all": "has all of",
    "has_none": "has none of",
    "granted": "is granted",
    "not_granted": "is not granted",
    "any_of": "any of",
    "none_of": "none of",
}
NUMERIC = ("gt", "gte", "lt", "lte", "between")


@dataclass(frozen=True)
class Field:
    """One thing a rule can test. `build(operator, value, now)` gets a checked value."""

    name: str
    label: str
    section: str  # "Demographics", "Behaviour", "Purchases": how the builder groups fields
    operators: tuple[str, ...]
    scalar: Callable[[Any], Any]  # checks and normalizes one value (raises ValueProblem)
    build: Callable[[str, Any, datetime], ColumnElement[bool]]
    widget: str = "text"  # text | number | money | choice | interactions | purchases (portal input)
    choices: tuple = ()
    hint: str = ""
    # Fields whose value is not "one value / a list / a [low, high] pair" check it whole.
    whole_value: Callable[[str, Any], Any] | None = None
    # Choices read when the builder renders (a picker over rows of another domain): (value, label).
    options: Callable[[], list[tuple[str, str]]] | None = None
    # The "purchases" widget's value is {value_key: [...], "days": n | None}.
    value_key: str = ""
    # The checked value in words for the rule's description, when a list does not say it.
    words: Callable[[str, Any], str] | None = None


FIELDS: dict[str, Field] = {}


def register_field(field: Field) -> Field:
    if field.name in FIELDS and FIELDS[field.name] != field:
        raise ValueError(f"segment field {field.name} is registered twice")
    unknown = set(field.operators) - set(OPERATOR_LABELS)
    if unknown:
        raise ValueError(f"segment field {field.name} uses unknown operators {sorted(unknown)}")
    FIELDS[field.name] = field
    return field


def check_value(field: Field, operator: str, value):
    """The value of a rule, checked and normalized for `operator` (raises ValueProblem)."""
    if field.whole_value is not None:
        return field.whole_value(operator, value)
    if operator in LIST_OPERATORS:
        if not isinstance(value, list) or not value:
            raise ValueProblem("Give a non-empty list of values.")
        if len(value) > MAX_LIST:
            raise ValueProblem(f"At most {MAX_LIST} values.")
        checked = []
        for item in value:
            normalized = field.scalar(item)
            if normalized not in checked:
                checked.append(normalized)
        return checked
    if operator == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise ValueProblem("Give two values: [lowest, highest].")
        low, high = field.scalar(value[0]), field.scalar(value[1])
        if Decimal(str(low)) > Decimal(str(high)):
            raise ValueProblem("The first value must not be larger than the second.")
        return [low, high]
    return field.scalar(value)


# --- Expressions --------------------------------------------------------------------------


def compare(column, as_number: Callable = lambda v: v):
    """gt/gte/lt/lte/between/eq on a numeric column."""

    def build(operator, value, _now):
        if operator == "between":
            return column.between(as_number(value[0]), as_number(value[1]))
        number = as_number(value)
        return {
            "eq": column == number,
            "gt": column > number,
            "gte": column >= number,
            "lt": column < number,
            "lte": column <= number,
        }[operator]

    return build


def membership(column, case_insensitive: bool = False):
    """eq / in / not_in on a text column. "Is not one of" keeps customers with no value."""

    def build(operator, value, _now):
        target = func.lower(column) if case_insensitive else column
        values = value if isinstance(value, list) else [value]
        if case_insensitive:
            values = [v.lower() for v in values]
        if operator == "eq":
            return target == values[0]
        if operator == "in":
            return target.in_(values)
        return or_(column.is_(None), target.not_in(values))

    return build


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)


def age(operator, value, now: datetime):
    """Ages become date bounds computed here, so the database compares one indexed column."""
    today = now.date()

    def at_least(years):
        return Customer.date_of_birth <= years_before(today, years)

    def at_most(years):
        return Customer.date_of_birth > years_before(today, years + 1)

    if operator == "between":
        return and_(at_least(value[0]), at_most(value[1]))
    return at_least(value) if operator == "gte" else at_most(value)


def tags(operator, value, _now):
    matching = CustomerTag.customer_id == Customer.id
    if operator == "has_all":
        # (customer_id, tag) is unique, so counting the matches counts distinct tags.
        found = (
            select(func.count(CustomerTag.id))
            .where(matching, CustomerTag.tag.in_(value))
            .correlate(Customer)
            .scalar_subquery()
        )
        return found == len(value)
    any_of = exists().where(matching, CustomerTag.tag.in_(value)).correlate(Customer)
    return any_of if operator == "has_any" else ~any_of


def since(column, *, within: bool):
    def build(_operator, days, now):
        start = now - timedelta(days=days)
        return column >= start if within else or_(column.is_(None), column < start)

    return build


def interactions_value(operator, value):
    if not isinstance(value, dict):
        raise ValueProblem('Give {"count": n, "days": d} and optionally "kind".')
    unknown = set(value) - {"count", "days", "kind"}
    if unknown:
        raise ValueProblem(f"Unknown keys: {', '.join(sorted(unknown))}.")
    if "count" not in value or "days" not in value:
        raise ValueProblem("Give both a count and a number of days.")
    count = whole(1, 10000)(value["count"])
    days = whole(1, MAX_DAYS)(value["days"])
    kind = value.get("kind") or None
    if kind is not None and kind not in INTERACTION_KINDS:
        raise ValueProblem(f"The kind is one of: {', '.join(INTERACTION_KINDS)}.")
    return {"count": count, "days": days, "kind": kind}


def interactions(operator, value, now):
    conditions = [
        Interaction.customer_id == Customer.id,
        Interaction.occurred_at >= now - timedelta(days=value["days"]),
    ]
    if value["kind"]:
        conditions.append(Interaction.kind == value["kind"])
    if operator == "gte" and value["count"] == 1:
        return exists().where(*conditions).correlate(Customer)
    counted = select(func.count(Interaction.id)).where(*conditions).correlate(Customer).scalar_subquery()
    return counted >= value["count"] if operator == "gte" else counted < value["count"]


def consent(operator, purpose, _now):
    """The state of a purpose is its latest ledger event (as in consents.current)."""
    latest = (
        select(ConsentEvent.granted)
        .where(ConsentEvent.customer_id == Customer.id, ConsentEvent.purpose == purpose)
        .order_by(ConsentEvent.id.desc())
        .limit(1)
        .correlate(Customer)
        .scalar_subquery()
    )
    granted = func.coalesce(latest, false())
    return granted.is_(true()) if operator == "granted" else granted.is_(false())


EQ_IN = ("eq", "in", "not_in")
BANDS = (1, 2, 3, 4, 5)


def free_text(name, label, column, length, section="Demographics"):
    return Field(name, label, section, EQ_IN, text(length), membership(column, True), hint="Any case")


def days(name, label, column, *, within: bool, hint=""):
    check = whole(1, MAX_DAYS)
    return Field(name, label, "Behaviour", ("eq",), check, since(column, within=within), "number", hint=hint)


def amount(name, label, column):
    return Field(name, label, "Purchases", NUMERIC, money, compare(column, Decimal), "money")


def band(name, label, column):
    return Field(name, label, "Purchases", ("eq", "in"), choice(BANDS), membership(column), "choice", BANDS)


for _field in (
    Field("age", "Age", "Demographics", ("between", "gte", "lte"), whole(0, 130), age, "number"),
    Field(
        "country",
        "Country",
        "Demographics",
        EQ_IN,
        via_customer_validation(validation.country),
        membership(Customer.country),
        hint="ISO codes, like NL, BE",
    ),
    free_text("city", "City", Customer.city, 100),
    free_text("gender", "Gender", Customer.gender, 40),
    Field(
        "language",
        "Language",
        "Demographics",
        EQ_IN,
        via_customer_validation(validation.language),
        membership(Customer.language),
        hint="Codes, like en, nl-BE",
    ),
    Field("tags", "Tags", "Demographics", ("has_any", "has_all", "has_none"), tag, tags),
    free_text("acquisition_source", "Acquisition source", Customer.acquisition_source, 100),
    Field(
        "status",
        "Status",
        "Behaviour",
        EQ_IN,
        choice(STATUSES),
        membership(Customer.status),
        "choice",
        STATUSES,
    ),
    days("created_within_days", "Became a customer within (days)", Customer.created_at, within=True),
    days("last_order_within_days", "Ordered within (days)", Customer.last_order_at, within=True),
    days(
        "no_order_within_days",
        "No order within (days)",
        Customer.last_order_at,
        within=False,
        hint="Includes customers who never ordered",
    ),
    Field(
        "interactions_in_period",
        "Interactions",
        "Behaviour",
        ("gte", "lt"),
        whole(1, 10000),
        interactions,
        "interactions",
        INTERACTION_KINDS,
        whole_value=interactions_value,
    ),
    Field(
        "consent",
        "Consent",
        "Behaviour",
        ("granted", "not_granted"),
        choice(CONSENT_PURPOSES),
        consent,
        "choice",
        CONSENT_PURPOSES,
    ),
    Field(
        "order_count",
        "Orders",
        "Purchases",
        ("eq", *NUMERIC),
        whole(0, 10**9),
        compare(Customer.order_count),
        "number",
    ),
    amount("total_spent", "Total spent", Customer.total_spent),
    amount("average_order_value", "Average order value", Customer.average_order_value),
    amount("lifetime_value", "Lifetime value", Customer.lifetime_value),
    band("rfm_recency", "RFM recency band", Customer.rfm_recency),
    band("rfm_frequency", "RFM frequency band", Customer.rfm_frequency),
    band("rfm_monetary", "RFM monetary band", Customer.rfm_monetary),
):
    register_field(_field)
