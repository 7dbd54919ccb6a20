"""Input no view should see is refused before any view runs: a NUL character (PostgreSQL
cannot store it, and would answer a database error, a 500), named where it was; and a JSON
body nested deeper than any endpoint takes (it would exhaust Python's recursion limit)."""

import pytest

from tests.factories.auth import UserFactory, make_token

ADMIN = "/api/v1/admin"


@pytest.fixture
def headers(db):
    secret = make_token(UserFactory(roles=["admin"]), ["audit.read", "customers.read", "customers.write"])
    return {"Authorization": f"Bearer {secret}"}


def test_a_nul_in_a_query_string_is_a_422_naming_the_argument(client, headers):
    response = client.get(f"{ADMIN}/audit?object_type=%00&action=login", headers=headers)
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "invalid_input" and body["errors"] == {
        "object_type": ["Must not contain NUL characters."]
    }


def test_a_nul_anywhere_in_a_json_body_is_a_422_naming_its_path(client, headers):
    body = {"email": "ann@example.org", "first_name": "Ann", "last_name": "B", "tags": ["ok", "bad\u0000"]}
    response = client.post(f"{ADMIN}/customers", json=body, headers=headers)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"tags.1": ["Must not contain NUL characters."]}


def test_a_nul_in_the_path_is_refused_too(client, headers):
    response = client.get(f"{ADMIN}/customers/%00", headers=headers)
    assert response.status_code in (404, 422)  # no route takes it, or refused: never a 500


def test_a_portal_form_with_a_nul_gets_a_400_page(client):
    response = client.get("/login?next=%00")
    assert response.status_code == 400
    assert "NUL character" in response.text


def test_ordinary_text_passes(client, headers):
    response = client.get(f"{ADMIN}/audit?object_type=Customer", headers=headers)
    assert response.status_code == 200


def deep_list(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize("levels", [33, 500, 100_000])
def test_a_json_body_nested_too_deep_is_a_400_before_any_view(client, levels):
    # Guests may send it: the storefront's cart creation takes a JSON body without a token.
    response = client.post("/api/v1/store/carts", data=deep_list(levels), content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["errors"] == {"json": ["Nested more than 32 levels deep."]}


def test_a_deep_object_body_on_a_sign_in_is_refused_too(client):
    body = '{"a":' * 990 + "1" + "}" * 990
    response = client.post("/api/v1/store/auth/token", data=body, content_type="application/json")
    assert response.status_code == 400


def test_a_body_as_deep_as_allowed_reaches_the_view(client):
    # 32 levels pass the guard; the view then judges the body (not a cart's fields: 422).
    response = client.post("/api/v1/store/carts", data=deep_list(32), content_type="application/json")
    assert response.status_code == 422


def test_a_too_deep_body_to_a_portal_page_gets_a_400_page(client):
    response = client.post("/login", data=deep_list(2000), content_type="application/json")
    assert response.status_code == 400
    assert "could not be understood" in response.text
