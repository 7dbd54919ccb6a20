"""Bearer tokens: hashed at rest, scoped, revocable, expiring; never stronger than their maker."""

from datetime import timedelta

from sqlalchemy import select

from app.blueprints.auth.models import ApiToken
from app.core.timeutil import utcnow
from tests.factories.auth import UserFactory, make_token


def bearer(secret):
    return {"Authorization": f"Bearer {secret}"}


def test_token_identifies_its_user_and_scopes(client, db):
    user = UserFactory(roles=["admin"])
    response = client.get("/api/v1/admin/me", headers=bearer(make_token(user, ["system.jobs"])))
    assert response.status_code == 200
    body = response.get_json()
    assert body["email"] == user.email and body["scopes"] == ["system.jobs"]


def test_only_the_hash_of_a_token_is_stored(client, db):
    user = UserFactory()
    secret = make_token(user, ["system.jobs"])
    stored = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert secret not in (stored.token_hash, stored.prefix) and len(stored.token_hash) == 64
    assert secret.startswith(stored.prefix)


def test_token_can_do_only_what_its_scopes_allow(client, db):
    user = UserFactory(roles=["admin"])
    response = client.get("/api/v1/admin/jobs/failed", headers=bearer(make_token(user, ["system.outbox"])))
    assert response.status_code == 403


def test_token_cannot_carry_permissions_its_user_lacks(db):
    import pytest

    from app.blueprints.auth import tokens
    from app.core.errors import InvalidInput

    sales = UserFactory(roles=["sales"])
    with pytest.raises(InvalidInput) as error:
        tokens.create_api_token(sales, name="sneaky", scopes=["system.jobs"], expires_at=None, actor=sales)
    assert "lacks: system.jobs" in error.value.errors["scopes"][0]


def test_a_token_cannot_mint_a_stronger_token(client, db):
    user = UserFactory(roles=["admin"])
    weak = make_token(user, ["system.outbox"])
    response = client.post(
        "/api/v1/admin/tokens", json={"name": "stronger", "scopes": ["system.jobs"]}, headers=bearer(weak)
    )
    assert response.status_code == 422
    same = client.post(
        "/api/v1/admin/tokens", json={"name": "same", "scopes": ["system.outbox"]}, headers=bearer(weak)
    )
    assert same.status_code == 201
    new_secret = same.get_json()["secret"]
    assert client.get("/api/v1/admin/me", headers=bearer(new_secret)).get_json()["scopes"] == [
        "system.outbox"
    ]


def test_revoked_token_stops_working_at_once(client, db):
    user = UserFactory(roles=["admin"])
    secret = make_token(user, ["system.jobs"])
    listed = client.get("/api/v1/admin/tokens", headers=bearer(secret)).get_json()
    assert all("secret" not in t for t in listed)
    token_id = listed[0]["id"]
    assert client.delete(f"/api/v1/admin/tokens/{token_id}", headers=bearer(secret)).status_code == 204
    assert client.get("/api/v1/admin/me", headers=bearer(secret)).status_code == 401


def test_someone_elses_token_is_not_found(client, db):
    owner = UserFactory(roles=["admin"])
    make_token(owner, ["system.jobs"])
    theirs = db.session.scalar(select(ApiToken).where(ApiToken.user_id == owner.id))
    intruder = UserFactory(roles=["admin"])
    response = client.delete(
        f"/api/v1/admin/tokens/{theirs.id}", headers=bearer(make_token(intruder, ["system.jobs"]))
    )
    assert response.status_code == 404


def test_expired_token_is_refused(client, db):
    user = UserFactory(roles=["admin"])
    secret = make_token(user, ["system.jobs"], expires_at=utcnow() + timedelta(seconds=30))
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.flush()
    assert client.get("/api/v1/admin/me", headers=bearer(secret)).status_code == 401


def test_token_of_a_deactivated_user_is_refused(client, db):
    user = UserFactory(roles=["admin"])
    secret = make_token(user, ["system.jobs"])
    user.active = False
    db.session.flush()
    assert client.get("/api/v1/admin/me", headers=bearer(secret)).status_code == 401


def test_garbage_bearer_values_are_401_not_500(client, db):
    for value in ("Bearer", "Bearer ", "Bearer crm_" + "x" * 500, "Basic abc", "Bearer \u00e9\u00e9"):
        response = client.get("/api/v1/admin/me", headers={"Authorization": value})
        assert response.status_code == 401, value


def test_unknown_scope_is_a_field_error(client, db):
    user = UserFactory(roles=["admin"])
    response = client.post(
        "/api/v1/admin/tokens",
        json={"name": "x", "scopes": ["orders.refnud"]},
        headers=bearer(make_token(user, ["system.jobs"])),
    )
    assert response.status_code == 422 and "scopes" in response.get_json()["errors"]


def test_expiry_in_the_past_is_a_field_error(client, db):
    user = UserFactory(roles=["admin"])
    response = client.post(
        "/api/v1/admin/tokens",
        json={"name": "x", "scopes": ["system.jobs"], "expires_at": "2001-01-01T00:00:00+00:00"},
        headers=bearer(make_token(user, ["system.jobs"])),
    )
    assert response.status_code == 422 and "expires_at" in response.get_json()["errors"]


def test_a_token_cannot_revoke_a_stronger_token(client, db):
    user = UserFactory(roles=["admin"])
    strong = make_token(user, ["system.jobs", "system.outbox"])
    weak = make_token(user, ["system.outbox"])
    strong_id = next(
        t
        for t in client.get("/api/v1/admin/tokens", headers=bearer(weak)).get_json()
        if len(t["scopes"]) == 2
    )["id"]
    assert client.delete(f"/api/v1/admin/tokens/{strong_id}", headers=bearer(weak)).status_code == 403
    assert client.get("/api/v1/admin/me", headers=bearer(strong)).status_code == 200
