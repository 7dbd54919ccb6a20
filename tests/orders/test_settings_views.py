"""The portal's shipping and tax settings pages: zones with their countries and methods,
methods with weight bands, tax rates edited in place; forms that keep what was typed and
show errors beside the fields; read-only pages without orders.settings; the demo data."""

import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.blueprints.orders import seed, shipping, taxes
from app.blueprints.orders.models import ShippingMethod, ShippingZone, TaxRate
from app.extensions import db
from tests.catalog.views_support import field_error, flashes, htmx, input_value, role_with, signed_in
from tests.factories.orders import tax_rates, zone_with_methods

D = Decimal
SHIPPING = "/orders/settings/shipping"
TAX_RATES = "/orders/settings/tax-rates"


@pytest.fixture
def settings_portal(portal, db):
    signed_in(portal, role_with("Shipping admin", "orders.read", "orders.settings"))
    return portal


@pytest.fixture
def reader_portal(portal, db):
    signed_in(portal, "sales")  # orders.read by default, not orders.settings
    return portal


def demo_zone():
    return zone_with_methods(
        "Netherlands",
        ["NL", ("ES", "Canarias")],
        [
            {"code": "standard", "name": "Standard", "flat_rate": D("4.95"), "free_over": D("50.00")},
            {"code": "express", "name": "Express", "bands": [(2000, "9.95"), (10000, "14.95")]},
        ],
    )


def textarea_value(page: str, field_id: str) -> str:
    match = re.search(rf'<textarea[^>]*\bid="{re.escape(field_id)}"[^>]*>(.*?)</textarea>', page, re.S)
    return match.group(1).strip() if match else ""


# ---- navigation and access ---------------------------------------------------------------


def test_the_orders_group_shows_shipping_and_tax_rates_to_readers(reader_portal):
    page = reader_portal.get("/").text
    assert re.search(r"Orders.*?Shipping.*?Tax rates", page, re.S)
    assert f'href="{SHIPPING}"' in page and f'href="{TAX_RATES}"' in page


def test_without_orders_read_the_pages_are_forbidden_and_not_in_the_sidebar(portal, db):
    signed_in(portal, role_with("Nothing", "customers.read"))
    assert portal.get(SHIPPING).status_code == 403
    assert portal.get(TAX_RATES).status_code == 403
    assert f'href="{SHIPPING}"' not in portal.get("/").text


def test_readers_see_everything_but_no_forms_and_cannot_change(reader_portal):
    zone = demo_zone()
    [rate] = tax_rates("NL", {"standard": 21})
    page = reader_portal.get(SHIPPING).text
    assert "Netherlands" in page and "ES / Canarias" in page and "up to 2 kg" in page
    assert "Add a zone" not in page and "New zone" not in page
    zone_page = reader_portal.get(f"{SHIPPING}/zones/{zone.id}").text
    assert "Save zone" not in zone_page and "Delete" not in zone_page and "Express" in zone_page
    method_page = reader_portal.get(f"{SHIPPING}/methods/{zone.methods[1].id}").text
    assert "Save method" not in method_page and "€14.95" in method_page
    tax_page = reader_portal.get(TAX_RATES).text
    assert "VAT 21%" in tax_page and "Add a tax rate" not in tax_page and "Edit" not in tax_page
    for url, data in [
        (f"{SHIPPING}/zones", {"name": "X"}),
        (f"{SHIPPING}/zones/{zone.id}", {"name": "X"}),
        (f"{SHIPPING}/zones/{zone.id}/delete", {}),
        (f"{SHIPPING}/zones/{zone.id}/methods", {"name": "X"}),
        (f"{SHIPPING}/methods/{zone.methods[0].id}/delete", {}),
        (TAX_RATES, {"country": "BE"}),
        (f"{TAX_RATES}/{rate.id}/delete", {}),
    ]:
        assert reader_portal.post(url, data=data).status_code == 403, url
    assert reader_portal.get(f"{SHIPPING}/zones/{zone.id}/methods/new").status_code == 403
    assert reader_portal.get(f"{TAX_RATES}/{rate.id}/edit").status_code == 403
    assert db.session.scalar(select(func.count(ShippingMethod.id))) == 2


def test_unknown_ids_are_404_pages(settings_portal):
    for url in (f"{SHIPPING}/zones/987654", f"{SHIPPING}/methods/987654", f"{TAX_RATES}/987654/edit"):
        response = settings_portal.get(url)
        assert response.status_code == 404 and response.mimetype == "text/html"


# ---- zones -------------------------------------------------------------------------------


def test_the_shipping_page_lists_zones_with_countries_and_methods(settings_portal):
    demo_zone()
    zone_with_methods("Empty", ["BE"], [])
    page = settings_portal.get(SHIPPING).text
    assert "<h1>Shipping</h1>" in page and "<title>Shipping" in page
    assert "€4.95" in page and "€50.00" in page
    assert "up to 2 kg: €9.95" in page and "up to 10 kg: €14.95" in page
    assert "customers in this zone cannot check out" in page  # the zone without methods


def test_add_a_zone_with_countries_and_a_region(settings_portal):
    response = settings_portal.post(
        f"{SHIPPING}/zones", data={"name": "Islands", "countries": "pt: Madeira, ES:Canarias"}
    )
    zone = db.session.scalar(select(ShippingZone).where(ShippingZone.name == "Islands"))
    assert response.status_code == 302 and response.location.endswith(f"/zones/{zone.id}")
    assert shipping.format_destinations(zone) == "ES: Canarias, PT: Madeira"
    page = settings_portal.get(response.location).text
    assert "Added the shipping zone Islands. Add its methods next." in flashes(page)
    assert textarea_value(page, "countries") == "ES: Canarias, PT: Madeira"


def test_a_bad_zone_re_renders_with_errors_beside_the_fields_and_keeps_the_input(settings_portal):
    demo_zone()
    response = settings_portal.post(f"{SHIPPING}/zones", data={"name": "Europe", "countries": "BE, XX, NL"})
    assert response.status_code == 422
    page = response.text
    error = field_error(page, "countries")
    assert (
        "“XX” is not an ISO 3166 country code" in error and "NL is already in the zone “Netherlands”" in error
    )
    assert input_value(page, "name") == "Europe"
    assert textarea_value(page, "countries") == "BE, XX, NL"
    assert db.session.scalar(select(func.count(ShippingZone.id))) == 1
    response = settings_portal.post(f"{SHIPPING}/zones", data={"name": "", "countries": "BE"})
    assert response.status_code == 422 and field_error(response.text, "name") == "Give the zone a name."


def test_edit_a_zone_replaces_its_countries(settings_portal):
    zone = demo_zone()
    page = settings_portal.get(f"{SHIPPING}/zones/{zone.id}").text
    assert textarea_value(page, "countries") == "ES: Canarias, NL"
    response = settings_portal.post(
        f"{SHIPPING}/zones/{zone.id}", data={"name": "Benelux", "countries": "NL, BE, LU", "position": "3"}
    )
    assert response.status_code == 302
    db.session.expire_all()
    zone = shipping.get_zone(zone.id)
    assert (zone.name, zone.position, shipping.format_destinations(zone)) == ("Benelux", 3, "BE, LU, NL")
    assert "Saved the shipping zone Benelux." in flashes(settings_portal.get(response.location).text)


def test_edit_a_zone_with_a_taken_name_keeps_what_was_typed(settings_portal):
    zone = demo_zone()
    zone_with_methods("Belgium", ["BE"])
    response = settings_portal.post(
        f"{SHIPPING}/zones/{zone.id}", data={"name": "belgium", "countries": "NL, DE"}
    )
    assert response.status_code == 422
    assert field_error(response.text, "name") == "Another shipping zone has this name."
    assert textarea_value(response.text, "countries") == "NL, DE"


def test_delete_a_zone_after_confirmation(settings_portal):
    zone = demo_zone()
    page = settings_portal.get(f"{SHIPPING}/zones/{zone.id}").text
    assert 'data-confirm="Delete the shipping zone Netherlands and its 2 method(s)?' in page
    response = settings_portal.post(f"{SHIPPING}/zones/{zone.id}/delete")
    assert response.status_code == 302 and response.location.endswith(SHIPPING)
    assert db.session.scalar(select(ShippingZone.id)) is None
    assert any(
        "Deleted the shipping zone Netherlands" in m for m in flashes(settings_portal.get(SHIPPING).text)
    )


# ---- methods -----------------------------------------------------------------------------


def test_add_a_weight_band_method_from_the_form(settings_portal):
    zone = zone_with_methods("Netherlands", ["NL"], [])
    page = settings_portal.get(f"{SHIPPING}/zones/{zone.id}/methods/new").text
    assert "Add a method to Netherlands" in page and 'name="bands-1-price"' in page  # blank band rows
    response = settings_portal.post(
        f"{SHIPPING}/zones/{zone.id}/methods",
        data={
            "name": "Express",
            "code": "express",
            "kind": "weight_band",
            "flat_rate": "",
            "free_over": "150",
            "tax_class": "standard",
            "is_active": "y",
            "position": "",
            "bands-0-max_weight_grams": "10000",
            "bands-0-price": "14.95",
            "bands-1-max_weight_grams": "",
            "bands-1-price": "",
            "bands-2-max_weight_grams": "2000",
            "bands-2-price": "9.95",
        },
    )
    assert response.status_code == 302, response.text
    method = db.session.scalar(select(ShippingMethod))
    assert (method.kind, method.free_over, method.is_active) == ("weight_band", D("150.00"), True)
    assert [(b.max_weight_grams, b.price) for b in method.bands] == [(2000, D("9.95")), (10000, D("14.95"))]
    assert "Saved the shipping method Express of Netherlands." in flashes(
        settings_portal.get(response.location).text
    )


def test_a_bad_method_re_renders_with_errors_on_the_band_rows_and_keeps_the_input(settings_portal):
    zone = zone_with_methods("Netherlands", ["NL"], [{"code": "standard"}])
    response = settings_portal.post(
        f"{SHIPPING}/zones/{zone.id}/methods",
        data={
            "name": "Express",
            "code": "standard",
            "kind": "weight_band",
            "tax_class": "standard",
            "bands-0-max_weight_grams": "2000",
            "bands-0-price": "9.95",
            "bands-1-max_weight_grams": "",
            "bands-1-price": "",
            "bands-2-max_weight_grams": "2000",
            "bands-2-price": "12.50",
        },
    )
    assert response.status_code == 422
    page = response.text
    assert field_error(page, "code") == "Another method of this zone has this code."
    # The second band sent is the third row on screen.
    assert "listed twice" in field_error(page, "bands-2-max_weight_grams")
    assert input_value(page, "bands-2-price") == "12.50" and input_value(page, "name") == "Express"
    assert db.session.scalar(select(func.count(ShippingMethod.id))) == 1


def test_a_half_filled_band_row_and_a_typo_are_form_errors(settings_portal):
    zone = zone_with_methods("Netherlands", ["NL"], [])
    response = settings_portal.post(
        f"{SHIPPING}/zones/{zone.id}/methods",
        data={
            "name": "Express",
            "code": "express",
            "kind": "weight_band",
            "tax_class": "standard",
            "flat_rate": "abc",
            "bands-0-max_weight_grams": "2000",
            "bands-0-price": "",
            "bands-1-max_weight_grams": "",
            "bands-1-price": "5",
        },
    )
    assert response.status_code == 422
    assert "price of this band" in field_error(response.text, "bands-0-price")
    assert "maximum weight" in field_error(response.text, "bands-1-max_weight_grams")
    assert field_error(response.text, "flat_rate")
    assert input_value(response.text, "flat_rate") == "abc"


def test_a_flat_method_needs_its_rate(settings_portal):
    zone = zone_with_methods("Netherlands", ["NL"], [])
    response = settings_portal.post(
        f"{SHIPPING}/zones/{zone.id}/methods",
        data={
            "name": "Standard",
            "code": "standard",
            "kind": "flat",
            "tax_class": "standard",
            "flat_rate": "",
        },
    )
    assert response.status_code == 422 and field_error(response.text, "flat_rate") == "Required."


def test_edit_a_method_switches_it_to_a_flat_rate_and_deactivates_it(settings_portal):
    zone = demo_zone()
    express = zone.methods[1]
    page = settings_portal.get(f"{SHIPPING}/methods/{express.id}").text
    assert input_value(page, "bands-1-max_weight_grams") == "10000"
    assert input_value(page, "bands-2-price") == ""  # blank rows to add bands
    response = settings_portal.post(
        f"{SHIPPING}/methods/{express.id}",
        data={
            "name": "Express",
            "code": "express",
            "kind": "flat",
            "flat_rate": "12",
            "tax_class": "reduced",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    method = db.session.get(ShippingMethod, express.id)
    assert (method.kind, method.flat_rate, method.tax_class, method.is_active, method.bands) == (
        "flat",
        D("12.00"),
        "reduced",
        False,
        [],
    )


def test_delete_a_method_after_confirmation(settings_portal):
    zone = demo_zone()
    page = settings_portal.get(f"{SHIPPING}/methods/{zone.methods[0].id}").text
    assert 'data-confirm="Delete the shipping method Standard of Netherlands?' in page
    response = settings_portal.post(f"{SHIPPING}/methods/{zone.methods[0].id}/delete")
    assert response.status_code == 302
    assert list(db.session.scalars(select(ShippingMethod.code))) == ["express"]


# ---- tax rates ---------------------------------------------------------------------------


def test_the_tax_rate_table_by_country_region_and_class(settings_portal):
    tax_rates("NL", {"standard": 21, "reduced": 9})
    tax_rates("FR", {"reduced": 5.5})
    tax_rates("ES", {"standard": 7}, region="Canarias")
    page = settings_portal.get(TAX_RATES).text
    assert "<h1>Tax rates</h1>" in page
    positions = [page.index(text) for text in ("Canarias", "VAT 5.5%", "VAT 9%", "VAT 21%")]
    assert positions == sorted(positions)  # ES, FR, NL; reduced before standard
    assert "5.5 %" in page
    filtered = settings_portal.get(f"{TAX_RATES}?country=fr").text
    assert "VAT 5.5%" in filtered and "VAT 9%" not in filtered and "Rates in FR" in filtered


def test_add_a_tax_rate_in_percent(settings_portal):
    response = settings_portal.post(
        TAX_RATES, data={"country": "fr", "region": "", "tax_class": "reduced", "percent": "5.5", "name": ""}
    )
    assert response.status_code == 302
    rate = db.session.scalar(select(TaxRate))
    assert (rate.country, rate.rate, rate.name) == ("FR", D("0.0550"), "VAT 5.5%")
    assert "Added the tax rate VAT 5.5% for FR." in flashes(settings_portal.get(TAX_RATES).text)


def test_a_bad_tax_rate_re_renders_with_errors_and_keeps_the_input(settings_portal):
    tax_rates("NL", {"standard": 21})
    response = settings_portal.post(
        TAX_RATES,
        data={"country": "NL", "region": "", "tax_class": "standard", "percent": "120", "name": "Luxury"},
    )
    assert response.status_code == 422
    page = response.text
    assert "already has a standard rate" in field_error(page, "tax_class")
    assert "from 0 up to 100" in field_error(page, "percent")
    assert input_value(page, "percent") == "120" and input_value(page, "name") == "Luxury"
    response = settings_portal.post(TAX_RATES, data={"country": "NL", "tax_class": "zero", "percent": "x"})
    assert field_error(response.text, "percent") and input_value(response.text, "percent") == "x"
    response = settings_portal.post(TAX_RATES, data={"country": "QQ", "tax_class": "zero", "percent": "0"})
    assert (
        "ISO 3166" in field_error(response.text, "country") and input_value(response.text, "country") == "QQ"
    )


def test_edit_a_tax_rate_in_place_with_htmx(settings_portal):
    [rate] = tax_rates("NL", {"reduced": 6})
    row = settings_portal.get(f"{TAX_RATES}/{rate.id}/edit", headers=htmx(f"rate-{rate.id}"))
    assert row.status_code == 200 and row.text.lstrip().startswith(f'<tr id="rate-{rate.id}"')
    assert input_value(row.text, f"r{rate.id}-percent") == "6"
    prefix = f"r{rate.id}-"
    data = {
        prefix + "country": "NL",
        prefix + "region": "",
        prefix + "tax_class": "reduced",
        prefix + "percent": "9",
    }
    saved = settings_portal.post(
        f"{TAX_RATES}/{rate.id}", data={**data, prefix + "name": ""}, headers=htmx(f"rate-{rate.id}")
    )
    assert saved.status_code == 200
    assert "VAT 9%" in saved.text and 'hx-swap-oob="true"' in saved.text
    db.session.expire_all()
    assert db.session.get(TaxRate, rate.id).rate == D("0.0900")
    bad = settings_portal.post(
        f"{TAX_RATES}/{rate.id}", data={**data, prefix + "percent": "-3"}, headers=htmx(f"rate-{rate.id}")
    )
    assert bad.status_code == 422 and bad.headers["HX-Retarget"] == f"#rate-{rate.id}"
    assert "from 0 up to 100" in field_error(bad.text, f"r{rate.id}-percent")
    assert input_value(bad.text, f"r{rate.id}-percent") == "-3"
    cancel = settings_portal.get(f"{TAX_RATES}/{rate.id}", headers=htmx(f"rate-{rate.id}"))
    assert "VAT 9%" in cancel.text and f'id="r{rate.id}-percent"' not in cancel.text


def test_edit_a_tax_rate_without_javascript(settings_portal):
    [rate] = tax_rates("DE", {"reduced": 7})
    page = settings_portal.get(f"{TAX_RATES}/{rate.id}/edit").text
    assert "<h1>Tax rates</h1>" in page and f'id="r{rate.id}-percent"' in page
    prefix = f"r{rate.id}-"
    response = settings_portal.post(
        f"{TAX_RATES}/{rate.id}",
        data={
            prefix + "country": "DE",
            prefix + "tax_class": "reduced",
            prefix + "percent": "5",
            prefix + "name": "Reduced",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert (db.session.get(TaxRate, rate.id).name, taxes.rate_for("DE", "", "reduced")) == (
        "Reduced",
        D("0.0500"),
    )


def test_delete_a_tax_rate_after_confirmation(settings_portal):
    [rate] = tax_rates("NL", {"standard": 21})
    page = settings_portal.get(TAX_RATES).text
    assert "Orders to NL are no longer taxed in this class." in page and "data-confirm=" in page
    response = settings_portal.post(f"{TAX_RATES}/{rate.id}/delete")
    assert response.status_code == 302
    assert db.session.scalar(select(TaxRate.id)) is None


# ---- demo data ---------------------------------------------------------------------------


def test_the_demo_settings_are_seeded_once(db):
    assert seed.seed_shipping_and_taxes().startswith(
        "Demo shipping and tax settings: 3 shipping zones, 45 tax rates"
    )
    assert seed.seed_shipping_and_taxes() is None
    assert [zone.name for zone in shipping.list_zones()] == [
        "Netherlands",
        "European Union",
        "United Kingdom",
    ]
    express = shipping.method_by_code("NL", "", "express")
    assert shipping.shipping_price(express, goods_total=D("20"), weight_grams=2500) == D("14.95")
    assert shipping.shipping_price(express, goods_total=D("20"), weight_grams=30_001) is None
    standard = shipping.method_by_code("NL", "", "standard")
    assert shipping.shipping_price(standard, goods_total=D("50.00"), weight_grams=100) == D("0.00")
    assert shipping.method_by_code("PL", "", "standard").free_over == D("100.00")
    assert shipping.method_by_code("GB", "", "standard").flat_rate == D("14.95")
    assert taxes.named_rates_for("FR", "", {"reduced"})["reduced"] == taxes.NamedRate(D("0.0550"), "VAT 5.5%")
    assert taxes.rate_for("BE", "", "reduced") == D("0.0600")
