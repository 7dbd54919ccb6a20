"""Tax rates: the rate of a class at a destination (region over country over none), entered
as a percentage and stored as a fraction, one per country, region and class, audited."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from app.blueprints.orders import taxes
from app.core.errors import InvalidInput, NotFound
from app.core.models import AuditEntry
from app.extensions import db
from tests.factories.orders import TaxRateFactory, tax_rates

D = Decimal


def audit_entries(action):
    return list(
        db.session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
    )


# ---- lookups -----------------------------------------------------------------------------


def test_a_region_rate_wins_over_the_country_rate(db):
    tax_rates("ES", {"standard": 21, "reduced": 10})
    TaxRateFactory(country="ES", region="Canarias", tax_class="standard", rate=D("0.07"), name="IGIC 7%")
    assert taxes.rate_for("ES", "Canarias", "standard") == D("0.0700")
    assert taxes.rate_for("es", " CANARIAS ", "standard") == D("0.0700")  # code and region ignore case
    assert taxes.rate_for("ES", "Canarias", "reduced") == D("0.1000")  # the region has none: the country's
    assert taxes.rate_for("ES", "", "standard") == D("0.2100")
    assert taxes.rate_for("ES", "Madrid", "standard") == D("0.2100")


def test_without_any_rate_the_class_is_taxed_at_zero(db):
    tax_rates("NL", {"standard": 21})
    assert taxes.rate_for("NL", "", "reduced") == D("0")
    assert taxes.rate_for("US", "CA", "standard") == D("0")
    assert taxes.rate_for("", "", "standard") == D("0")


def test_rates_for_answers_every_class_asked_in_one_query(db, app):
    tax_rates("NL", {"standard": 21, "reduced": 9, "zero": 0})
    TaxRateFactory(country="NL", region="Bonaire", tax_class="standard", rate=D("0.08"), name="ABB 8%")
    from sqlalchemy import event

    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        rates = taxes.rates_for("NL", "Bonaire", {"standard", "reduced", "luxury"})
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert rates == {"standard": D("0.0800"), "reduced": D("0.0900"), "luxury": D("0")}
    assert len(statements) == 1
    assert taxes.rates_for("NL", "", set()) == {}


def test_named_rates_give_the_invoice_names(db):
    tax_rates("FR", {"standard": 20, "reduced": 5.5})
    named = taxes.named_rates_for("FR", "", {"standard", "reduced", "zero"})
    assert named["reduced"] == taxes.NamedRate(D("0.0550"), "VAT 5.5%")
    assert named["zero"] == taxes.NamedRate(D("0"), "")
    assert taxes.rate_names_for("FR", "", {"standard"}) == {"standard": "VAT 20%"}


# ---- services ----------------------------------------------------------------------------


def test_a_rate_is_entered_in_percent_stored_as_a_fraction_and_named(db):
    rate = taxes.create_tax_rate(actor=None, country="fr", tax_class="reduced", percent="5.5")
    assert (rate.country, rate.region, rate.rate, rate.name) == ("FR", "", D("0.0550"), "VAT 5.5%")
    assert taxes.percent_of(rate.rate) == D("5.50")
    named = taxes.create_tax_rate(
        actor=None, country="ES", region=" Canarias ", tax_class="standard", percent=7, name="IGIC 7%"
    )
    assert (named.region, named.rate, named.name) == ("Canarias", D("0.0700"), "IGIC 7%")
    [entry, _] = audit_entries("orders.tax_rate.created")
    assert entry.data["percent"] == "5.50" and entry.data["country"] == "FR"


@pytest.mark.parametrize(
    ("percent", "message"),
    [
        ("-1", "from 0 up to 100"),
        ("100", "from 0 up to 100"),
        ("250", "from 0 up to 100"),
        ("21.125", "two decimals"),
        ("abc", "Not a percentage"),
        ("NaN", "Not a percentage"),
        ("", "Required"),
        (None, "Required"),
    ],
)
def test_a_rate_outside_0_to_100_percent_is_refused(db, percent, message):
    with pytest.raises(InvalidInput) as error:
        taxes.create_tax_rate(actor=None, country="NL", tax_class="standard", percent=percent)
    assert message in error.value.errors["percent"][0]


def test_zero_and_99_99_percent_are_allowed(db):
    assert taxes.create_tax_rate(actor=None, country="NL", tax_class="zero", percent="0").rate == D("0")
    assert taxes.create_tax_rate(actor=None, country="NL", tax_class="standard", percent="99.99").rate == D(
        "0.9999"
    )


def test_unknown_country_class_and_a_second_rate_for_the_same_class_are_refused(db):
    with pytest.raises(InvalidInput) as error:
        taxes.create_tax_rate(actor=None, country="XX", tax_class="luxury", percent="21")
    assert set(error.value.errors) == {"country", "tax_class"}
    tax_rates("NL", {"standard": 21})
    with pytest.raises(InvalidInput) as error:
        taxes.create_tax_rate(actor=None, country="nl", tax_class="standard", percent="20")
    assert "already has a standard rate" in error.value.errors["tax_class"][0]
    # A region of the same country is another destination.
    assert taxes.create_tax_rate(
        actor=None, country="NL", region="Bonaire", tax_class="standard", percent="8"
    )


def test_update_changes_the_given_fields_and_a_default_name_follows_the_percentage(db):
    rate = taxes.create_tax_rate(actor=None, country="NL", tax_class="reduced", percent="6")
    taxes.update_tax_rate(rate, actor=None, percent="9")
    assert (rate.rate, rate.name) == (D("0.0900"), "VAT 9%")
    taxes.update_tax_rate(rate, actor=None, name="Low VAT")
    taxes.update_tax_rate(rate, actor=None, percent="10")
    assert (rate.rate, rate.name) == (D("0.1000"), "Low VAT")  # a typed name stays
    taxes.update_tax_rate(rate, actor=None, name="")
    assert rate.name == "VAT 10%"
    [first, *_] = audit_entries("orders.tax_rate.updated")
    assert first.data["changes"] == {"percent": ["6.00", "9.00"], "name": ["VAT 6%", "VAT 9%"]}


def test_a_form_sending_back_the_default_name_still_renames_with_the_new_percentage(db):
    rate = taxes.create_tax_rate(actor=None, country="IT", tax_class="standard", percent="22")
    taxes.update_tax_rate(rate, actor=None, percent="23", name="VAT 22%")
    assert (rate.rate, rate.name) == (D("0.2300"), "VAT 23%")


def test_update_refuses_a_class_already_rated_and_keeps_the_row(db):
    tax_rates("NL", {"standard": 21, "reduced": 9})
    reduced = taxes.list_tax_rates("NL")[0]
    assert reduced.tax_class == "reduced"
    with pytest.raises(InvalidInput) as error:
        taxes.update_tax_rate(reduced, actor=None, tax_class="standard", percent="500")
    assert set(error.value.errors) == {"tax_class", "percent"}
    assert taxes.update_tax_rate(reduced, actor=None, tax_class="reduced", percent="9").rate == D("0.0900")


def test_delete_a_rate_and_the_class_falls_back_to_the_country(db):
    tax_rates("ES", {"standard": 21})
    island = TaxRateFactory(country="ES", region="Canarias", tax_class="standard", rate=D("0.07"))
    taxes.delete_tax_rate(island, actor=None)
    assert taxes.rate_for("ES", "Canarias", "standard") == D("0.2100")
    [entry] = audit_entries("orders.tax_rate.deleted")
    assert entry.target_type == "TaxRate" and entry.data["region"] == "Canarias"


def test_rates_are_listed_by_country_region_and_class(db):
    tax_rates("NL", {"zero": 0, "standard": 21})
    tax_rates("BE", {"standard": 21})
    TaxRateFactory(country="NL", region="Bonaire", tax_class="standard", rate=D("0.08"))
    listed = [(r.country, r.region, r.tax_class) for r in taxes.list_tax_rates()]
    assert listed == [
        ("BE", "", "standard"),
        ("NL", "", "standard"),
        ("NL", "", "zero"),
        ("NL", "Bonaire", "standard"),
    ]
    with pytest.raises(NotFound):
        taxes.get_tax_rate(987654)
