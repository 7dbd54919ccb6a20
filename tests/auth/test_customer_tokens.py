"""Customer tokens share the token mechanism and carry no staff permission."""

from app.blueprints.auth import tokens


def test_customer_token_identifies_only_its_customer_and_no_staff_permission(db, client):
    token, secret = tokens.issue_customer_token(customer_id=42)
    assert token.kind == "customer" and token.expires_at is not None
    assert tokens.identify_bearer(secret).customer_id == 42
    response = client.get("/api/v1/admin/me", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 403


def test_revoked_customer_token_is_refused(db):
    token, secret = tokens.issue_customer_token(customer_id=7)
    tokens.revoke_api_token(token, actor=None)
    assert tokens.identify_bearer(secret) is None
