"""Factories for staff users, roles and tokens."""

from __future__ import annotations

import factory

from app.blueprints.auth import passwords, services, tokens
from app.blueprints.auth.models import User
from app.extensions import db

PASSWORD = "correct-horse-battery"
# Hashing once keeps the suite fast; the login path still verifies a real Argon2id hash.
_PASSWORD_HASH = passwords.hash_password(PASSWORD)


class UserFactory(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        model = User
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"

    email = factory.Sequence(lambda n: f"staff{n}@example.com")
    name = factory.Faker("name")
    password_hash = _PASSWORD_HASH
    active = True
    roles = ("admin",)  # role names; the built-in roles are created on demand

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        role_names = kwargs.pop("roles", ("admin",))
        services.ensure_built_in_roles()
        user = model_class(*args, **kwargs)
        user.roles = services.roles_named(list(role_names))
        db.session.add(user)
        db.session.flush()
        return user


def make_token(user, scopes, **kwargs) -> str:
    _, secret = tokens.create_api_token(
        user,
        name=kwargs.pop("name", "test token"),
        scopes=scopes,
        expires_at=kwargs.pop("expires_at", None),
        actor=user,
    )
    return secret
