"""One error path: problem+json under /api, HTML pages in the portal, never a trace."""

import pytest
from flask import Blueprint, abort

PROBLEM = "application/problem+json"


@pytest.fixture
def failing_app(app):
    """Routes that fail on purpose, added to a copy of the error handling under test."""
    from app import create_app

    broken = create_app("testing", JOBS_INLINE=True, PROPAGATE_EXCEPTIONS=False)
    broken.testing = False  # let Flask turn exceptions into 500s as in production
    bp = Blueprint("broken", __name__)

    @bp.route("/api/v1/boom")
    def api_boom():
        raise RuntimeError("secret internals: password=hunter2")

    @bp.route("/boom")
    def portal_boom():
        raise RuntimeError("secret internals: password=hunter2")

    @bp.route("/api/v1/teapot")
    def teapot():
        abort(418)

    broken.register_blueprint(bp)
    return broken


def test_unknown_api_path_is_problem_json_404(client):
    response = client.get("/api/v1/does-not-exist")
    assert response.status_code == 404
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == 404 and body["title"] == "Not Found" and body["type"] == "about:blank"


def test_wrong_method_on_api_is_problem_json_405_with_allow(client):
    response = client.delete("/api/v1/admin/me")
    assert response.status_code == 405
    assert response.mimetype == PROBLEM
    assert "GET" in response.headers["Allow"]


def test_unknown_portal_path_is_an_html_page(client):
    response = client.get("/does-not-exist")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "<h1>Not Found</h1>" in response.text


def test_api_500_is_problem_json_without_trace(failing_app):
    response = failing_app.test_client().get("/api/v1/boom")
    assert response.status_code == 500
    assert response.mimetype == PROBLEM
    assert "hunter2" not in response.text and "Traceback" not in response.text
    assert response.get_json(force=True)["status"] == 500


def test_portal_500_is_html_without_trace(failing_app):
    response = failing_app.test_client().get("/boom")
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    assert "hunter2" not in response.text and "Traceback" not in response.text


def test_unusual_http_errors_keep_their_status(failing_app):
    response = failing_app.test_client().get("/api/v1/teapot")
    assert response.status_code == 418 and response.mimetype == PROBLEM


def test_malformed_json_is_400_problem(client, admin):
    from tests.factories.auth import make_token

    secret = make_token(admin, ["tokens.manage"])
    response = client.post(
        "/api/v1/admin/tokens",
        data="{not json",
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 400
    assert response.mimetype == PROBLEM


def test_invalid_fields_are_422_with_field_messages(client, admin):
    from tests.factories.auth import make_token

    secret = make_token(admin, ["tokens.manage"])
    response = client.post(
        "/api/v1/admin/tokens",
        json={"name": "", "scopes": "not-a-list"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    errors = response.get_json(force=True)["errors"]
    assert "name" in errors and "scopes" in errors


def test_wrong_content_type_is_415_problem(client, admin):
    from tests.factories.auth import make_token

    secret = make_token(admin, ["tokens.manage"])
    response = client.post(
        "/api/v1/admin/tokens",
        data="name=x",
        content_type="application/x-www-form-urlencoded",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 415
    assert response.mimetype == PROBLEM


def test_oversized_body_is_413_problem(app, client, admin):
    from tests.factories.auth import make_token

    secret = make_token(admin, ["tokens.manage"])
    too_big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = client.post(
        "/api/v1/admin/tokens",
        data='{"name": "' + too_big + '"}',
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 413
    assert response.mimetype == PROBLEM


def test_oversized_portal_form_is_413_page(app, client):
    response = client.post("/login", data={"email": "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)})
    assert response.status_code == 413
    assert response.mimetype == "text/html"


def test_missing_token_is_401_problem_with_challenge(client):
    response = client.get("/api/v1/admin/me")
    assert response.status_code == 401
    assert response.mimetype == PROBLEM
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_ids_beyond_a_database_integer_are_404_not_500(client, admin):
    from tests.factories.auth import make_token

    secret = make_token(admin, ["tokens.manage"])
    response = client.delete(
        "/api/v1/admin/tokens/99999999999999999999", headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.status_code == 404
