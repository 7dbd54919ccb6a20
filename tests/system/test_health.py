"""Liveness and readiness, for load balancers."""

from app import create_app


def test_healthz_says_the_process_is_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_reports_database_and_redis(client, app):
    response = client.get("/readyz")
    assert response.status_code == 200
    checks = response.get_json()["checks"]
    assert checks["database"] == "ok"
    if app.config.get("REDIS_URL"):
        assert checks["redis"] == "ok"
    else:
        assert checks["redis"].startswith("not configured")


def test_readyz_is_503_naming_an_unreachable_database(unused_tcp_port):
    broken = create_app(
        "testing", SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://nobody@127.0.0.1:{unused_tcp_port}/none"
    )
    response = broken.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"].startswith("unavailable")


def test_readyz_is_503_naming_an_unreachable_redis(app, unused_tcp_port):
    broken = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        REDIS_URL=f"redis://127.0.0.1:{unused_tcp_port}/0",
    )
    response = broken.test_client().get("/readyz")
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["database"] == "ok"
    assert checks["redis"].startswith("unavailable")
