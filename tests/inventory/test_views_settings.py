"""The "Stock settings" form of a variant's stock page: low-stock threshold, backorder
policy and limit, expected restock date, saved through the catalog's update_variant
(validated and audited there), with inventory.write."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from app.blueprints.inventory import variant_views
from app.core.errors import InvalidInput
from app.core.models import AuditEntry
from app.extensions import db
from tests.inventory.helpers import make_variant, receive
from tests.inventory.views_support import field_error, flashes, htmx, input_value, signed_in

SETTINGS = {
    "settings-low_stock_threshold": "7",
    "settings-backorder_policy": "allow",
    "settings-backorder_limit": "20",
    "settings-expected_restock_date": "2026-12-20",
}


@pytest.fixture
def variant(db, warehouse, staff):
    variant = make_variant(sku="TEE-RED-M")
    receive(variant, warehouse, 10, actor=staff)
    return variant


@pytest.fixture
def clerk(portal, db):
    return signed_in(portal, "support")  # inventory.read and inventory.write


def selected_option(page: str, field_id: str) -> str:
    select_html = page.split(f'id="{field_id}"', 1)[1].split("</select>", 1)[0]
    [value] = re.findall(r'<option selected value="([^"]*)"', select_html)
    return value


def test_the_page_shows_the_form_with_the_current_settings(portal, clerk, variant):
    variant.low_stock_threshold = 3
    db.session.flush()
    page = portal.get(f"/inventory/variants/{variant.id}").text
    assert 'id="settings-stock"' in page and "Stock settings" in page
    assert input_value(page, "settings-low_stock_threshold") == "3"
    assert selected_option(page, "settings-backorder_policy") == "deny"


def test_saving_the_settings_changes_the_variant_audits_and_flashes(portal, clerk, variant):
    response = portal.post(f"/inventory/variants/{variant.id}/settings", data=SETTINGS, follow_redirects=True)
    assert response.status_code == 200
    assert flashes(response.text) == ["Stock settings of TEE-RED-M saved."]
    db.session.refresh(variant)
    assert (
        variant.low_stock_threshold,
        variant.backorder_policy,
        variant.backorder_limit,
        variant.expected_restock_date,
    ) == (7, "allow", 20, date(2026, 12, 20))
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "catalog.variant.updated"))
    assert entry is not None and entry.actor_id == clerk.id


def test_blank_threshold_limit_and_date_clear_them(portal, clerk, variant):
    variant.low_stock_threshold, variant.backorder_limit = 4, 9
    db.session.flush()
    data = {"settings-backorder_policy": "deny"}
    assert portal.post(f"/inventory/variants/{variant.id}/settings", data=data).status_code == 302
    db.session.refresh(variant)
    assert (variant.low_stock_threshold, variant.backorder_limit, variant.expected_restock_date) == (
        None,
        None,
        None,
    )


def test_an_htmx_save_swaps_the_figures_and_refreshes_the_form_out_of_band(portal, clerk, variant):
    response = portal.post(
        f"/inventory/variants/{variant.id}/settings", data=SETTINGS, headers=htmx("stock-figures")
    )
    assert response.status_code == 200
    body = response.text
    assert body.lstrip().startswith('<section id="stock-figures"')
    assert "Stock settings of TEE-RED-M saved." in body
    assert "Backorders: allowed up to 20 units" in body  # the figures show the new policy
    assert 'id="settings-stock" class="panel" aria-labelledby="settings-heading" hx-swap-oob="true"' in body
    assert input_value(body, "settings-backorder_limit") == "20"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("low_stock_threshold", "-1", "A whole number, 0 or more."),
        ("backorder_limit", "many", "Not a valid integer value."),
        ("backorder_policy", "sometimes", "Not a valid choice."),
        ("expected_restock_date", "soon", "Not a valid date value."),
    ],
)
def test_bad_settings_are_refused_next_to_the_field_keeping_the_input(
    portal, clerk, variant, field, value, message
):
    data = {**SETTINGS, f"settings-{field}": value}
    response = portal.post(
        f"/inventory/variants/{variant.id}/settings", data=data, headers=htmx("stock-figures")
    )
    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == "#settings-stock"
    assert response.text.lstrip().startswith('<section id="settings-stock"')
    assert message in field_error(response.text, f"settings-{field}")
    assert input_value(response.text, "settings-low_stock_threshold") == data["settings-low_stock_threshold"]
    db.session.refresh(variant)
    assert (variant.low_stock_threshold, variant.backorder_policy) == (None, "deny")


def test_a_number_beyond_the_column_is_a_field_error(portal, clerk, variant):
    data = {**SETTINGS, "settings-backorder_limit": str(2**31)}
    response = portal.post(f"/inventory/variants/{variant.id}/settings", data=data)
    assert response.status_code == 422
    assert field_error(response.text, "settings-backorder_limit") == "A whole number, 0 or more."
    db.session.refresh(variant)
    assert variant.backorder_limit is None


def test_a_refusal_of_the_catalog_service_lands_next_to_its_field(portal, clerk, variant, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise InvalidInput("No.", errors={"expected_restock_date": ["Not a date."]})

    monkeypatch.setattr(variant_views.catalog_services, "update_variant", refuse)
    response = portal.post(f"/inventory/variants/{variant.id}/settings", data=SETTINGS)
    assert response.status_code == 422
    assert field_error(response.text, "settings-expected_restock_date") == "Not a date."
    assert input_value(response.text, "settings-backorder_limit") == "20"


def test_reading_stock_does_not_allow_changing_its_settings(portal, db, variant):
    signed_in(portal, "sales")  # inventory.read only
    page = portal.get(f"/inventory/variants/{variant.id}").text
    assert 'id="settings-stock"' not in page
    assert portal.post(f"/inventory/variants/{variant.id}/settings", data=SETTINGS).status_code == 403
    db.session.refresh(variant)
    assert variant.backorder_policy == "deny"


def test_the_settings_form_is_offered_before_any_location_exists(portal, clerk, db):
    variant = make_variant(sku="NEW-1")
    page = portal.get(f"/inventory/variants/{variant.id}").text
    assert 'id="settings-stock"' in page and 'id="adjust-stock"' not in page
