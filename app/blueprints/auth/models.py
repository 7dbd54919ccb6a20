"""Staff users, roles (records holding permission codes) and API tokens."""

from __future__ import annotations

from datetime import datetime

from flask import g, has_request_context
from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    ForeignKey,
    Select,
    String,
    Table,
    UniqueConstraint,
    event,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db

user_roles = Table(
    "user_roles",
    db.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Role(db.Model):
    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    built_in: Mapped[bool] = mapped_column(default=False)
    # Members of a role that requires MFA are walked through enrollment at next sign-in.
    require_mfa: Mapped[bool] = mapped_column(default=False)
    # Default permissions already offered to this built-in role: a new domain's defaults are
    # granted once, and a default an admin removed later stays removed.
    defaults_applied: Mapped[list] = mapped_column(JSON, default=list)
    # Loaded when asked for (the roles pages), not with every role: a role holds dozens of
    # codes, and a sign-in needs only the codes (`User.permission_codes`), not entities.
    permissions: Mapped[list[RolePermission]] = relationship(
        back_populates="role", cascade="all, delete-orphan"
    )

    @property
    def permission_codes(self) -> set[str]:
        return {p.code for p in self.permissions}


class RolePermission(db.Model):
    __tablename__ = "role_permissions"
    __table_args__ = (UniqueConstraint("role_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(80), index=True)
    role: Mapped[Role] = relationship(back_populates="permissions")


def holders_of(code: str) -> Select:
    """The ids of the users (active or not) whose roles grant `code`."""
    return (
        select(user_roles.c.user_id)
        .join(RolePermission, RolePermission.role_id == user_roles.c.role_id)
        .where(RolePermission.code == code)
    )


def granted_codes(user_id: int) -> frozenset[str]:
    query = (
        select(RolePermission.code)
        .join(user_roles, user_roles.c.role_id == RolePermission.role_id)
        .where(user_roles.c.user_id == user_id)
    )
    return frozenset(db.session.scalars(query))


@event.listens_for(Session, "after_flush")
def forget_granted_codes(session: Session, _flush_context) -> None:
    """A change to users, roles or their permissions is seen by the rest of the request."""
    if not has_request_context() or "permission_codes" not in g:
        return
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(instance, User | Role | RolePermission) for instance in changed):
        g.pop("permission_codes", None)


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    # Bumped to end every session of the user at once (deactivation, password change).
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A password someone else chose (an admin creating the account) is only good for the
    # first sign-in: the user must choose their own before doing anything else.
    password_must_change: Mapped[bool] = mapped_column(default=False)
    # Brute-force protection: consecutive failures and the exponential lock they earn.
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # TOTP: the secret is encrypted at rest (app.core.crypto); the last accepted time step
    # is kept so a code cannot be replayed within its window.
    mfa_secret_encrypted: Mapped[str | None] = mapped_column(String(255))
    mfa_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mfa_last_step: Mapped[int | None] = mapped_column()
    timezone: Mapped[str | None] = mapped_column(String(64))
    # Loaded when shown (the portal's header): an API request never needs the roles' names.
    roles: Mapped[list[Role]] = relationship(secondary=user_roles)

    is_staff = True  # as opposed to a storefront customer's token identity

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def permission_codes(self) -> set[str]:
        """What the user's roles grant: one query of the codes alone, asked once per request
        (the portal's navigation asks for dozens)."""
        if self.id is None:  # not saved yet: what its roles in memory say
            return {code for role in self.roles for code in role.permission_codes}
        if not has_request_context():
            return set(granted_codes(self.id))
        cached = g.setdefault("permission_codes", {})
        if self.id not in cached:
            cached[self.id] = granted_codes(self.id)
        return set(cached[self.id])

    def has_permission(self, code: str) -> bool:
        return code in self.permission_codes

    @property
    def mfa_enabled(self) -> bool:
        return self.mfa_enabled_at is not None

    @property
    def mfa_required(self) -> bool:
        return any(role.require_mfa for role in self.roles)

    @property
    def initials(self) -> str:
        parts = [p for p in self.name.split() if p]
        return "".join(p[0] for p in parts[:2]).upper() or self.email[:1].upper()


class UserSession(db.Model):
    """A signed-in portal session, held on the server so it can be listed and ended.
    The browser's cookie carries only a random id whose SHA-256 is stored here."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_reason: Mapped[str | None] = mapped_column(String(64))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    factors: Mapped[str] = mapped_column(String(64), default="password")

    def is_live(self, now: datetime, idle_seconds: int) -> bool:
        if self.ended_at is not None or self.expires_at <= now:
            return False
        return (now - self.last_seen_at).total_seconds() <= idle_seconds


class MfaRecoveryCode(db.Model):
    """A single-use code that stands in for a TOTP code; only its hash is stored."""

    __tablename__ = "mfa_recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


TOKEN_KINDS = ("staff", "customer")


class ApiToken(db.Model):
    """A bearer token: staff/integration tokens act for a user within their scopes;
    customer tokens act for one storefront customer. Only the SHA-256 is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'staff' AND user_id IS NOT NULL) OR (kind = 'customer' AND customer_id IS NOT NULL)",
            name="owner_matches_kind",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="staff")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The storefront customer a customer token belongs to (the customers domain owns that table).
    customer_id: Mapped[int | None] = mapped_column(index=True)
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    user: Mapped[User | None] = relationship(foreign_keys=[user_id], lazy="joined")

    def allows(self, code: str) -> bool:
        return code in self.scopes or code == "authenticated"

    def is_usable(self, now: datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now
