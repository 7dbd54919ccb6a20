"""The staff API of the shipping and tax settings: zones with destinations and methods,
tax rates in percent; who may call what; problem+json errors; money as strings."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from app.blueprints.orders.models import ShippingMethod, ShippingZone, TaxRate
from app.core.models import AuditEntry
from app.extensions import db
from tests.factories.auth import UserFactory, make_token
from tests.factories.orders import TaxRateFactory, tax_rates, zone_with_methods

ADMIN = "/api/v1/admin"
ALL_SCOPES = ["orders.read", "orders.settings"]
PROBLEM = "application/problem+json"
NEW_ZONE = {"name": "Benelux", "countries": [{"country": "BE"}, {"country": "LU"}]}
NEW_METHOD = {"code": "standard", "name": "Standard", "flat_rate": "4.95"}
NEW_RATE = {"country": "BE", "tax_class": "standard", "percent": "21"}


def staff_headers(scopes=ALL_SCOPES):
    return {"Authorization": f"Bearer {make_token(UserFactory(roles=['admin']), list(scopes))}"}


@pytest.fixture
def headers(db):
    return staff_headers()


def field_errors(response, status=422):
    assert response.status_code == status, response.text
    assert response.mimetype == PROBLEM
    return response.get_json()["errors"]


# (method, path, body, the scope it needs)
ENDPOINTS = [
    ("get", "/shipping/zones", None, "orders.read"),
    ("post", "/shipping/zones", NEW_ZONE, "orders.settings"),
    ("get", "/shipping/zones/{zone}", None, "orders.read"),
    ("patch", "/shipping/zones/{zone}", {"name": "x"}, "orders.settings"),
    ("delete", "/shipping/zones/{zone}", None, "orders.settings"),
    ("post", "/shipping/zones/{zone}/methods", NEW_METHOD, "orders.settings"),
    ("get", "/shipping/methods/{method}", None, "orders.read"),
    ("patch", "/shipping/methods/{method}", {"name": "x"}, "orders.settings"),
    ("delete", "/shipping/methods/{method}", None, "orders.settings"),
    ("get", "/tax-rates", None, "orders.read"),
    ("post", "/tax-rates", NEW_RATE, "orders.settings"),
    ("get", "/tax-rates/{rate}", None, "orders.read"),
    ("patch", "/tax-rates/{rate}", {"percent": "20"}, "orders.settings"),
    ("delete", "/tax-rates/{rate}", None, "orders.settings"),
]


def concrete(path):
    zone = zone_with_methods("Netherlands", ["NL"], [{"code": "express"}])
    rate = TaxRateFactory()
    return path.format(zone=zone.id, method=zone.methods[0].id, rate=rate.id)


@pytest.mark.parametrize(("method", "path", "body", "_scope"), ENDPOINTS)
def test_every_endpoint_needs_a_bearer_token(client, db, method, path, body, _scope):
    response = getattr(client, method)(ADMIN + concrete(path), json=body)
    assert response.status_code == 401 and response.mimetype == PROBLEM


@pytest.mark.parametrize(("method", "path", "body", "scope"), ENDPOINTS)
def test_a_token_without_the_scope_is_refused(client, db, method, path, body, scope):
    others = [s for s in ALL_SCOPES if s != scope]
    response = getattr(client, method)(ADMIN + concrete(path), json=body, headers=staff_headers(others))
    assert response.status_code == 403, response.text
    assert response.mimetype == PROBLEM and scope in response.get_json()["detail"]


@pytest.mark.parametrize(("method", "path", "body", "_scope"), [e for e in ENDPOINTS if "{" in e[1]])
def test_unknown_ids_are_a_404_problem(client, headers, method, path, body, _scope):
    for missing in ("987654", "99999999999"):
        url = ADMIN + path.format(zone=missing, method=missing, rate=missing)
        response = getattr(client, method)(url, json=body, headers=headers)
        assert response.status_code == 404, response.text
        assert response.mimetype == PROBLEM


# ---- zones -------------------------------------------------------------------------------


def test_create_a_zone_then_add_methods_and_read_it_back(client, headers):
    response = client.post(
        f"{ADMIN}/shipping/zones",
        json={"name": "Europe", "countries": [{"country": "de"}, {"country": "ES", "region": "Canarias"}]},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    zone = response.get_json()
    assert zone["countries"] == [{"country": "DE", "region": ""}, {"country": "ES", "region": "Canarias"}]
    assert zone["methods"] == [] and zone["position"] == 0
    flat = client.post(
        f"{ADMIN}/shipping/zones/{zone['id']}/methods",
        json={"code": "standard", "name": "Standard", "flat_rate": "9.95", "free_over": "100"},
        headers=headers,
    )
    assert flat.status_code == 201, flat.text
    assert flat.get_json() == {
        "id": flat.get_json()["id"],
        "zone_id": zone["id"],
        "code": "standard",
        "name": "Standard",
        "kind": "flat",
        "flat_rate": "9.95",
        "free_over": "100.00",
        "bands": [],
        "currency": "EUR",
        "tax_class": "standard",
        "is_active": True,
        "position": 0,
    }
    banded = client.post(
        f"{ADMIN}/shipping/zones/{zone['id']}/methods",
        json={
            "code": "express",
            "name": "Express",
            "kind": "weight_band",
            "bands": [
                {"max_weight_grams": 10000, "price": "14.95"},
                {"max_weight_grams": 2000, "price": "9.95"},
            ],
        },
        headers=headers,
    )
    assert banded.status_code == 201, banded.text
    assert banded.get_json()["bands"] == [
        {"max_weight_grams": 2000, "price": "9.95"},
        {"max_weight_grams": 10000, "price": "14.95"},
    ]
    listed = client.get(f"{ADMIN}/shipping/zones", headers=headers)
    assert listed.status_code == 200 and listed.mimetype == "application/json"
    [only] = listed.get_json()
    assert [m["code"] for m in only["methods"]] == ["standard", "express"]


def test_zone_field_errors_name_the_body_fields(client, headers):
    zone_with_methods("Netherlands", ["NL"])
    response = client.post(
        f"{ADMIN}/shipping/zones",
        json={"name": "Europe", "countries": [{"country": "NL"}, {"country": "XX"}, {"country": "BE"}]},
        headers=headers,
    )
    errors = field_errors(response)
    assert set(errors) == {"countries.0.country", "countries.1.country"}
    assert "Netherlands" in errors["countries.0.country"][0]
    assert db.session.scalar(select(ShippingZone.id).where(ShippingZone.name == "Europe")) is None


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "A", "countries": "NL"},
        {"name": "A", "countries": [{"region": "x"}]},
        {"name": "A", "position": -1},
        {"name": 5},
    ],
)
def test_malformed_zone_bodies_are_422_never_500(client, headers, body):
    assert field_errors(client.post(f"{ADMIN}/shipping/zones", json=body, headers=headers))


def test_patch_a_zone_replaces_its_destinations(client, headers):
    zone = zone_with_methods("Benelux", ["NL", "BE"])
    response = client.patch(
        f"{ADMIN}/shipping/zones/{zone.id}",
        json={"countries": [{"country": "BE"}, {"country": "LU"}]},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert [c["country"] for c in response.get_json()["countries"]] == ["BE", "LU"]
    assert response.get_json()["name"] == "Benelux"


def test_a_taken_zone_name_is_a_field_error(client, headers):
    zone_with_methods("Netherlands", ["NL"])
    other = zone_with_methods("Belgium", ["BE"])
    errors = field_errors(
        client.patch(f"{ADMIN}/shipping/zones/{other.id}", json={"name": "netherlands"}, headers=headers)
    )
    assert set(errors) == {"name"}


def test_delete_a_zone_with_its_methods(client, headers):
    zone = zone_with_methods("Netherlands", ["NL"], [{"code": "standard"}])
    response = client.delete(f"{ADMIN}/shipping/zones/{zone.id}", headers=headers)
    assert response.status_code == 204
    assert db.session.scalar(select(ShippingMethod.id)) is None
    assert (
        db.session.scalar(select(AuditEntry.action).order_by(AuditEntry.id.desc()))
        == "orders.shipping_zone.deleted"
    )


# ---- methods -----------------------------------------------------------------------------


def test_method_field_errors_and_a_code_taken_in_the_zone(client, headers):
    zone = zone_with_methods("Netherlands", ["NL"], [{"code": "standard"}])
    url = f"{ADMIN}/shipping/zones/{zone.id}/methods"
    errors = field_errors(
        client.post(url, json={**NEW_METHOD, "flat_rate": "-4.95", "free_over": "-1"}, headers=headers)
    )
    assert set(errors) == {"code", "flat_rate", "free_over"}
    errors = field_errors(
        client.post(
            url,
            json={
                "code": "express",
                "name": "Express",
                "kind": "weight_band",
                "bands": [{"max_weight_grams": 2000, "price": "1"}, {"max_weight_grams": 2000, "price": "2"}],
            },
            headers=headers,
        )
    )
    assert set(errors) == {"bands.1.max_weight_grams"}
    errors = field_errors(
        client.post(url, json={**NEW_METHOD, "kind": "drone", "flat_rate": "abc"}, headers=headers)
    )
    assert {"kind", "flat_rate"} <= set(errors)


def test_patch_a_method_to_weight_bands_and_back(client, headers):
    zone = zone_with_methods("Netherlands", ["NL"], [{"code": "standard", "flat_rate": Decimal("4.95")}])
    url = f"{ADMIN}/shipping/methods/{zone.methods[0].id}"
    assert set(field_errors(client.patch(url, json={"kind": "weight_band"}, headers=headers))) == {"bands"}
    response = client.patch(
        url,
        json={"kind": "weight_band", "bands": [{"max_weight_grams": 500, "price": "3.50"}]},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body = response.get_json()
    assert (body["kind"], body["flat_rate"], body["bands"]) == (
        "weight_band",
        None,
        [{"max_weight_grams": 500, "price": "3.50"}],
    )
    response = client.patch(url, json={"kind": "flat", "flat_rate": "5", "is_active": False}, headers=headers)
    assert response.get_json()["bands"] == [] and response.get_json()["is_active"] is False


def test_delete_a_method(client, headers):
    zone = zone_with_methods("Netherlands", ["NL"], [{"code": "standard"}, {"code": "express"}])
    response = client.delete(f"{ADMIN}/shipping/methods/{zone.methods[0].id}", headers=headers)
    assert response.status_code == 204
    assert list(db.session.scalars(select(ShippingMethod.code))) == ["express"]


# ---- tax rates ---------------------------------------------------------------------------


def test_create_a_tax_rate_in_percent_and_read_it_as_percent_and_fraction(client, headers):
    response = client.post(
        f"{ADMIN}/tax-rates", json={"country": "fr", "tax_class": "reduced", "percent": 5.5}, headers=headers
    )
    assert response.status_code == 201, response.text
    body = response.get_json()
    assert body == {
        "id": body["id"],
        "country": "FR",
        "region": "",
        "tax_class": "reduced",
        "percent": "5.50",
        "rate": "0.0550",
        "name": "VAT 5.5%",
    }
    assert client.get(f"{ADMIN}/tax-rates/{body['id']}", headers=headers).get_json() == body


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"country": "NL", "tax_class": "standard", "percent": "100"}, {"percent"}),
        ({"country": "NL", "tax_class": "standard", "percent": "-0.5"}, {"percent"}),
        ({"country": "NL", "tax_class": "standard", "percent": "NaN"}, {"percent"}),
        ({"country": "NL", "tax_class": "standard", "percent": "abc"}, {"percent"}),
        ({"country": "ZZ", "tax_class": "standard", "percent": "21"}, {"country"}),
        ({"country": "NL", "tax_class": "luxury", "percent": "21"}, {"tax_class"}),
        ({"country": "NL", "tax_class": "standard"}, {"percent"}),
        ({"country": "NL", "tax_class": "reduced", "percent": "9"}, {"tax_class"}),  # NL already has one
    ],
)
def test_bad_tax_rates_are_field_errors(client, headers, body, fields):
    tax_rates("NL", {"reduced": 9})
    assert set(field_errors(client.post(f"{ADMIN}/tax-rates", json=body, headers=headers))) == fields


def test_tax_rates_are_listed_paginated_and_filtered(client, headers):
    tax_rates("NL", {"standard": 21, "reduced": 9, "zero": 0})
    tax_rates("BE", {"standard": 21})
    response = client.get(f"{ADMIN}/tax-rates?page_size=2", headers=headers)
    assert response.status_code == 200
    assert [(r["country"], r["tax_class"]) for r in response.get_json()] == [
        ("BE", "standard"),
        ("NL", "reduced"),
    ]
    assert '"total": 4' in response.headers["X-Pagination"]
    response = client.get(f"{ADMIN}/tax-rates?country=nl&tax_class=zero", headers=headers)
    assert [(r["country"], r["percent"]) for r in response.get_json()] == [("NL", "0.00")]
    assert field_errors(client.get(f"{ADMIN}/tax-rates?tax_class=luxury", headers=headers))


def test_patch_and_delete_a_tax_rate(client, headers):
    [rate] = tax_rates("DE", {"reduced": 7})
    url = f"{ADMIN}/tax-rates/{rate.id}"
    response = client.patch(url, json={"percent": "5", "region": ""}, headers=headers)
    assert response.status_code == 200, response.text
    assert (response.get_json()["rate"], response.get_json()["name"]) == ("0.0500", "VAT 5%")
    assert client.delete(url, headers=headers).status_code == 204
    assert db.session.scalar(select(TaxRate.id)) is None


def test_a_race_past_the_uniqueness_checks_is_a_409_not_a_500(client, headers, monkeypatch):
    from app.blueprints.orders import shipping

    zone_with_methods("Netherlands", ["NL"])
    # As if another request created the same zone between our check and our insert.
    monkeypatch.setattr(shipping, "_zone_name", lambda raw, errors, exclude_id=None: raw.strip())
    response = client.post(f"{ADMIN}/shipping/zones", json={"name": "Netherlands"}, headers=headers)
    assert response.status_code == 409 and response.mimetype == PROBLEM
    assert response.get_json()["code"] == "name_taken"
