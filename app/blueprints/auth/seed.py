"""Demo staff: one user per built-in role."""

from sqlalchemy import select

from app.blueprints.auth import services
from app.blueprints.auth.models import User
from app.core.cli import demo_seeder
from app.extensions import db

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105  (demo data only; seed-demo refuses production)
DEMO_STAFF = [
    ("admin@example.com", "Ada Admin", "admin"),
    ("sales@example.com", "Sam Sales", "sales"),
    ("support@example.com", "Sue Support", "support"),
    ("marketing@example.com", "Max Marketing", "marketing"),
]


@demo_seeder(10, "staff users and roles")
def seed_staff() -> str:
    services.ensure_built_in_roles()
    for email, name, role in DEMO_STAFF:
        if db.session.scalar(select(User.id).where(User.email == email)) is None:
            services.create_user(
                email=email, name=name, password=DEMO_PASSWORD, role_names=[role], actor=None
            )
    return f"Demo staff: {', '.join(e for e, _, _ in DEMO_STAFF)} — password {DEMO_PASSWORD}"
