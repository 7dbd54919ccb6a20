"""Administration of staff users and roles: the use cases behind Admin > Users and
Admin > Roles & permissions. Services never commit (the caller's transaction() does) and
take the acting user explicitly.

One rule spans them all: after any change at least one active user still holds
users.manage, or nobody could administer users any more. Changes that could break it run
inside `keeping_an_administrator()`, which checks the rule with one query on the changed
data and undoes the change whole when it fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import delete, exists, func, select, text
from sqlalchemy.orm import aliased, selectinload

from app.blueprints.auth import USERS_MANAGE, authentication, mfa, services, tokens
from app.blueprints.auth.models import Role, RolePermission, User, holders_of, user_roles
from app.core import audit
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.mail import send_mail
from app.core.permissions import PERMISSIONS
from app.core.timeutil import utcnow
from app.extensions import db

USER_STATUSES = ("active", "deactivated", "locked")
USER_SORTS = ("name", "-name", "email", "-email", "last_login", "-last_login")
# Key of the PostgreSQL advisory lock that serializes changes under the last-administrator rule.
ADMINISTRATOR_RULE_LOCK = 4_711_001


# --- The last-administrator rule -------------------------------------------------------


def administrator_remains() -> bool:
    """True when at least one active user holds users.manage through any of their roles."""
    holder = select(User.id).where(User.active.is_(True), User.id.in_(holders_of(USERS_MANAGE)))
    return bool(db.session.scalar(select(exists(holder))))


def one_administrator_change_at_a_time() -> None:
    """On PostgreSQL, changes guarded by the rule wait for each other (a transaction-scoped
    advisory lock), so two admins deactivating each other at the same moment cannot both
    see the other one still active. SQLite lets only one transaction write at a time."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADMINISTRATOR_RULE_LOCK})


@contextmanager
def keeping_an_administrator(change: str) -> Iterator[None]:
    """Run a change in a savepoint; when it leaves no active user holding users.manage,
    roll it back (audit entries included) and raise Conflict."""
    one_administrator_change_at_a_time()
    with db.session.begin_nested():
        yield
        db.session.flush()
        if not administrator_remains():
            raise Conflict(
                f"{change} would leave no active user who can manage users (permission "
                f"“{USERS_MANAGE}”). Give that permission to another active user first.",
                code="last_administrator",
            )


# --- Users ----------------------------------------------------------------------------


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def user_list_query(*, search: str = "", role: str = "", status: str = "", sort: str = "name"):
    """Staff users matching a search on name or email, a role name and a status, with
    their roles loaded in one extra query. Unknown filter or sort values are ignored."""
    query = select(User).options(selectinload(User.roles).selectinload(Role.permissions))
    if search:
        escaped = search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        query = query.where(
            func.lower(User.name).like(pattern, escape="\\")
            | func.lower(User.email).like(pattern, escape="\\")
        )
    if role:
        query = query.where(User.roles.any(Role.name == role))
    if status == "active":
        query = query.where(User.active.is_(True))
    elif status == "deactivated":
        query = query.where(User.active.is_(False))
    elif status == "locked":
        query = query.where(User.locked_until > utcnow())
    key = sort if sort in USER_SORTS else "name"
    column = {"name": func.lower(User.name), "email": User.email, "last_login": User.last_login_at}[
        key.lstrip("-")
    ]
    order = column.desc() if key.startswith("-") else column.asc()
    if key.lstrip("-") == "last_login":
        order = order.nulls_last()
    return query.order_by(order, User.id)


def update_user(user: User, *, name: str, email: str, role_names: list[str], actor) -> dict[str, list]:
    """Change a user's name, email and roles. The email stays unique; taking away the
    last users.manage is refused. Returns the changes as {field: [old, new]}."""
    name = name.strip()
    if not name:
        raise InvalidInput("A name is required.", errors={"name": ["Enter the person's name."]})
    email = services.normalize_email(email)
    other = services.find_user_by_email(email)
    if other is not None and other.id != user.id:
        raise Conflict(
            f"A user with the email {email} already exists.",
            code="email_taken",
            errors={"email": ["Another user has this email address."]},
        )
    roles = services.roles_named(role_names)
    before = {"name": user.name, "email": user.email, "roles": sorted(r.name for r in user.roles)}
    after = {"name": name, "email": email, "roles": sorted(r.name for r in roles)}
    changes = audit.changed_fields(before, after)
    if not changes:
        return changes
    with keeping_an_administrator(f"Changing the roles of {user.email}"):
        old_email = user.email
        user.name, user.email, user.roles = name, email, roles
        if old_email != email:
            # The old address hears of it, as when people change it themselves.
            send_mail(
                old_email,
                "Your sign-in email address was changed",
                "email_changed",
                user=user,
                old_email=old_email,
            )
        audit.record_change(
            "user.updated",
            actor=actor,
            target=user,
            before=before,
            after=after,
            summary=f"Updated {', '.join(changes)} of {user.email}",
        )
    return changes


def deactivate_user(user: User, *, actor) -> int:
    """Stop a user from working: every session ends at once and every API token is
    revoked. Nobody deactivates themselves, and the last administrator stays.
    Returns how many tokens were revoked."""
    if actor is not None and getattr(actor, "id", None) == user.id:
        raise Conflict("You cannot deactivate your own account.", code="self_deactivation")
    if not user.active:
        return 0
    with keeping_an_administrator(f"Deactivating {user.email}"):
        user.active = False
        services.end_all_sessions(user)
        revoked = tokens.revoke_all_tokens(user, actor=actor)
        audit.record(
            "user.deactivated",
            actor=actor,
            target=user,
            summary=f"Deactivated {user.email}; sessions ended, {revoked} API token(s) revoked",
            revoked=revoked,
        )
    return revoked


def reactivate_user(user: User, *, actor) -> bool:
    """Let a deactivated user sign in again (revoked tokens stay revoked). False when
    the user was active already."""
    if user.active:
        return False
    user.active = True
    audit.record("user.reactivated", actor=actor, target=user, summary=f"Reactivated {user.email}")
    return True


def end_user_sessions(user: User, *, actor) -> None:
    """Sign the user out everywhere: each open session ends at its next request."""
    services.end_all_sessions(user)
    audit.record(
        "user.sessions_ended", actor=actor, target=user, summary=f"Ended all sessions of {user.email}"
    )


def reset_user_mfa(user: User, *, actor) -> User:
    """For a user who lost their second factor and recovery codes, after the store has
    checked who they are: MFA is turned off and every session ends; a role that requires
    MFA makes them enroll again at their next sign-in."""
    if not user.mfa_enabled:
        raise Conflict(f"{user.name} does not use two-factor authentication.", code="mfa_not_enabled")
    mfa.disable(user, actor=actor)
    services.end_all_sessions(user, reason="two-factor reset by an administrator")
    audit.record("auth.mfa_reset", actor=actor, target=user, summary=f"Two-factor reset for {user.email}")
    return user


def unlock_user(user: User, *, actor) -> User:
    """Lift a brute-force lock before it runs out (audited as auth.unlocked)."""
    return authentication.unlock(user, actor=actor, how="admin")


# --- Roles and permissions ------------------------------------------------------------


@dataclass(frozen=True)
class RoleLoss:
    """A holder of a role about to be deleted, and the codes no other role of theirs grants."""

    user: User
    lost: list[str]


def get_role(role_id: int) -> Role:
    role = db.session.get(Role, role_id)
    if role is None:
        raise NotFound("No such role.")
    return role


def all_roles() -> list[Role]:
    query = select(Role).options(selectinload(Role.permissions))
    return list(db.session.scalars(query.order_by(Role.built_in.desc(), func.lower(Role.name))))


def role_member_counts() -> dict[int, int]:
    rows = db.session.execute(select(user_roles.c.role_id, func.count()).group_by(user_roles.c.role_id))
    return {role_id: count for role_id, count in rows}


def role_members(role: Role) -> list[User]:
    query = (
        select(User)
        .join(user_roles, user_roles.c.user_id == User.id)
        .where(user_roles.c.role_id == role.id)
        .order_by(func.lower(User.name), User.id)
    )
    return list(db.session.scalars(query))


def _checked_role_name(name: str, *, role: Role | None = None) -> str:
    name = name.strip()
    if not name:
        raise InvalidInput("A role needs a name.", errors={"name": ["Enter a name."]})
    if role is not None and role.built_in and name != role.name:
        raise InvalidInput(
            "Built-in roles keep their name.",
            errors={"name": [f"“{role.name}” is built in: the system finds it by this name."]},
        )
    taken = db.session.scalar(select(Role).where(func.lower(Role.name) == name.lower()))
    if taken is not None and taken is not role:
        raise Conflict(
            f"A role named {taken.name} already exists.",
            code="role_name_taken",
            errors={"name": ["Another role has this name."]},
        )
    return name


def create_role(*, name: str, description: str, require_mfa: bool = False, actor) -> Role:
    """A new role without permissions; names are unique regardless of case."""
    role = Role(
        name=_checked_role_name(name),
        description=description.strip(),
        require_mfa=require_mfa,
        built_in=False,
    )
    db.session.add(role)
    db.session.flush()
    audit.record(
        "role.created",
        actor=actor,
        target=role,
        summary=f"Created role {role.name}",
        name=role.name,
        two_factor_required=require_mfa,
    )
    return role


def _role_facts(role: Role) -> dict:
    # The audit log hides fields named after secrets ("mfa" among them), and whether a
    # role requires two-factor authentication is policy, not a secret.
    return {"name": role.name, "description": role.description, "two_factor_required": role.require_mfa}


def update_role(role: Role, *, name: str, description: str, require_mfa: bool, actor) -> dict[str, list]:
    """Rename a role (built-in roles keep their name), change its description or whether
    its members must use MFA. Returns the changes as {field: [old, new]}."""
    name = _checked_role_name(name, role=role)
    before = _role_facts(role)
    role.name, role.description, role.require_mfa = name, description.strip(), bool(require_mfa)
    after = _role_facts(role)
    audit.record_change(
        "role.updated", actor=actor, target=role, before=before, after=after, summary=f"Updated role {name}"
    )
    return audit.changed_fields(before, after)


def save_permission_matrix(grants: dict[int, set[str]], *, actor) -> dict[str, dict[str, list[str]]]:
    """Make each role in `grants` hold exactly the given codes among the known permissions
    (roles not in `grants` are untouched, codes no domain defines any more are kept), in
    one go: taking users.manage from the last active holder refuses the whole save.
    Returns {role name: {"added": [...], "removed": [...]}} for the roles that changed."""
    unknown = sorted({code for codes in grants.values() for code in codes} - set(PERMISSIONS))
    if unknown:
        raise InvalidInput(
            f"Unknown permission(s): {', '.join(unknown)}.", errors={"permissions": ["Unknown permission."]}
        )
    roles = list(db.session.scalars(select(Role).where(Role.id.in_(grants)).order_by(Role.id)))
    if len(roles) != len(grants):
        raise Conflict("A role on this page was deleted meanwhile; reload the page.", code="stale_roles")
    changed: dict[str, dict[str, list[str]]] = {}
    with keeping_an_administrator(f"Taking “{USERS_MANAGE}” away there"):
        for role in roles:
            held = role.permission_codes & set(PERMISSIONS)
            added, removed = sorted(grants[role.id] - held), sorted(held - grants[role.id])
            if not added and not removed:
                continue
            role.permissions = [p for p in role.permissions if p.code not in removed] + [
                RolePermission(code=code) for code in added
            ]
            audit.record(
                "role.permissions_changed",
                actor=actor,
                target=role,
                summary=f"Permissions of {role.name}: {len(added)} added, {len(removed)} removed",
                added=added,
                removed=removed,
            )
            changed[role.name] = {"added": added, "removed": removed}
    return changed


def role_deletion_impact(role: Role) -> list[RoleLoss]:
    """Every holder of the role with the permission codes they would lose, that is the
    role's codes that no other role of theirs grants (two queries, whatever the count)."""
    holders = role_members(role)
    other_membership = user_roles.alias("other_membership")
    other_grant = aliased(RolePermission)
    granted_elsewhere = (
        select(other_grant.id)
        .join(other_membership, other_membership.c.role_id == other_grant.role_id)
        .where(
            other_membership.c.user_id == user_roles.c.user_id,
            other_membership.c.role_id != role.id,
            other_grant.code == RolePermission.code,
        )
    )
    rows = db.session.execute(
        select(user_roles.c.user_id, RolePermission.code)
        .join(RolePermission, RolePermission.role_id == user_roles.c.role_id)
        .where(user_roles.c.role_id == role.id, ~granted_elsewhere.exists())
        .order_by(RolePermission.code)
    )
    lost: dict[int, list[str]] = {}
    for user_id, code in rows:
        lost.setdefault(user_id, []).append(code)
    return [RoleLoss(user=user, lost=lost.get(user.id, [])) for user in holders]


def delete_role(role: Role, *, actor) -> list[RoleLoss]:
    """Delete a role that is not built in; its holders lose what no other role of theirs
    grants (recorded in the audit entry), and the last administrator stays."""
    if role.built_in:
        raise Conflict(f"{role.name} is a built-in role and cannot be deleted.", code="built_in_role")
    impact = role_deletion_impact(role)
    with keeping_an_administrator(f"Deleting the role {role.name}"):
        audit.record(
            "role.deleted",
            actor=actor,
            target=role,
            summary=f"Deleted role {role.name} held by {len(impact)} user(s)",
            name=role.name,
            permissions=sorted(role.permission_codes),
            holders=[{"email": loss.user.email, "lost": loss.lost} for loss in impact],
        )
        db.session.execute(delete(user_roles).where(user_roles.c.role_id == role.id))
        for loss in impact:
            db.session.expire(loss.user, ["roles"])
        db.session.delete(role)
    return impact
