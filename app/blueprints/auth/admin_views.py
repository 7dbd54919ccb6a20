"""Portal pages for administering staff users and roles (Admin > Users, Roles & permissions)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.blueprints.auth import TOKENS_MANAGE, USERS_MANAGE, admin, bp, reauth, services, tokens
from app.blueprints.auth.account_views import create_token_from_form, token_form_for
from app.blueprints.auth.admin_forms import (
    PASSWORD_HINT,
    ActionForm,
    NewUserForm,
    PermissionMatrixForm,
    RoleForm,
    UserForm,
)
from app.core.errors import Conflict, DomainError, InvalidInput
from app.core.navigation import register_nav
from app.core.pagination import paginate
from app.core.permissions import current_identity_can, permissions_by_group, require_permission
from app.core.timeutil import utcnow
from app.core.transaction import transaction

register_nav("Admin", "Users", "auth.users", USERS_MANAGE, order=10)
register_nav("Admin", "Roles & permissions", "auth.roles", USERS_MANAGE, order=20)

# Errors a service raises without naming a field, and the field they belong to.
FIELD_OF_CODE = {"email_taken": "email", "role_name_taken": "name"}


def show_on_form(form, error: DomainError) -> None:
    """Put a service's complaint next to the fields it concerns, or at the top of the form."""
    errors = error.errors or {}
    if not errors and error.code in FIELD_OF_CODE:
        errors = {FIELD_OF_CODE[error.code]: [error.detail]}
    placed = False
    for name, messages in errors.items():
        field = form._fields.get(name)
        if field is not None:
            field.errors = [*field.errors, *messages]
            placed = True
    if not placed:
        form.form_errors.append(error.detail)


def users_url(**changes) -> str:
    """The user list with the current search and filters, some of them changed (page 1)."""
    args = {key: value for key, value in request.args.items() if key != "page"}
    args.update(changes)
    return url_for("auth.users", **{key: value for key, value in args.items() if value})


# --- Users ----------------------------------------------------------------------------


@bp.route("/admin/users", endpoint="users")
@require_permission(USERS_MANAGE)
def users_page():
    filters = {
        "search": request.args.get("q", "").strip(),
        "role": request.args.get("role", ""),
        "status": request.args.get("status", "") if request.args.get("status") in admin.USER_STATUSES else "",
        "sort": request.args.get("sort", "name") if request.args.get("sort") in admin.USER_SORTS else "name",
    }
    page = paginate(admin.user_list_query(**filters), per_page=25)
    return render_template(
        "auth/admin/users.html",
        page=page,
        roles=admin.all_roles(),
        statuses=admin.USER_STATUSES,
        users_url=users_url,
        now=utcnow(),
        **filters,
    )


@bp.route("/admin/users/new", methods=["GET", "POST"])
@require_permission(USERS_MANAGE)
def new_user():
    form = NewUserForm().with_roles(admin.all_roles())
    if form.validate_on_submit():
        try:
            with transaction():
                user = services.create_user(
                    email=form.email.data,
                    name=form.name.data,
                    password=form.password.data,
                    role_names=form.roles.data,
                    actor=current_user,
                )
        except (InvalidInput, Conflict) as error:
            show_on_form(form, error)
        else:
            flash(f"{user.name} can now sign in as {user.email}.", "success")
            return redirect(url_for("auth.user", user_id=user.id))
    return render_template(
        "auth/admin/user_new.html", form=form, roles=admin.all_roles(), password_hint=PASSWORD_HINT
    ), (422 if form.errors else 200)


def render_user_page(user, **forms):
    forms.setdefault("token_form", token_form_for(user))
    return render_template(
        "auth/admin/user.html",
        user=user,
        tokens=tokens.tokens_of(user),
        form=ActionForm(),
        now=utcnow(),
        can_manage_tokens=current_identity_can(TOKENS_MANAGE),
        **forms,
    )


@bp.route("/admin/users/<int:user_id>")
@require_permission(USERS_MANAGE)
def user(user_id):
    return render_user_page(admin.get_user(user_id))


@bp.route("/admin/users/<int:user_id>/edit", methods=["GET", "POST"])
@require_permission(USERS_MANAGE)
def edit_user(user_id):
    user = admin.get_user(user_id)
    roles = admin.all_roles()
    form = UserForm(data={"name": user.name, "email": user.email, "roles": [r.name for r in user.roles]})
    form.with_roles(roles)
    if form.validate_on_submit():
        try:
            with transaction():
                changes = admin.update_user(
                    user,
                    name=form.name.data,
                    email=form.email.data,
                    role_names=form.roles.data,
                    actor=current_user,
                )
        except (InvalidInput, Conflict) as error:
            show_on_form(form, error)
        else:
            flash(f"Saved {user.name}." if changes else "Nothing changed.", "success")
            return redirect(url_for("auth.user", user_id=user.id))
    return render_template("auth/admin/user_edit.html", user=user, form=form, roles=roles), (
        422 if form.errors else 200
    )


def user_action(user_id: int, act, success: str):
    """Run one action on a user; a refusal is flashed on the user's page."""
    user = admin.get_user(user_id)
    try:
        with transaction():
            result = act(user, actor=current_user)
    except Conflict as error:
        flash(error.detail, "error")
    else:
        flash(success.format(name=user.name, result=result), "success")
    return redirect(url_for("auth.user", user_id=user_id))


@bp.route("/admin/users/<int:user_id>/deactivate", methods=["POST"])
@require_permission(USERS_MANAGE)
def deactivate_user(user_id):
    return user_action(
        user_id,
        admin.deactivate_user,
        "{name} is deactivated: signed out everywhere and {result} API token(s) revoked.",
    )


@bp.route("/admin/users/<int:user_id>/reactivate", methods=["POST"])
@require_permission(USERS_MANAGE)
def reactivate_user(user_id):
    return user_action(user_id, admin.reactivate_user, "{name} can sign in again.")


@bp.route("/admin/users/<int:user_id>/end-sessions", methods=["POST"])
@require_permission(USERS_MANAGE)
def end_user_sessions(user_id):
    return user_action(user_id, admin.end_user_sessions, "{name} is signed out everywhere.")


@bp.route("/admin/users/<int:user_id>/reset-mfa", methods=["POST"])
@require_permission(USERS_MANAGE)
def reset_user_mfa(user_id):
    return user_action(
        user_id, admin.reset_user_mfa, "Two-factor authentication is off for {name}; they are signed out."
    )


@bp.route("/admin/users/<int:user_id>/tokens", methods=["POST"])
@require_permission(TOKENS_MANAGE)
@reauth.require_recent_auth  # a token outlives the session: a stolen session must not mint one
def create_user_token(user_id):
    """An API token for an integration user, made by an admin and shown once."""
    user = admin.get_user(user_id)
    return create_token_from_form(user, lambda form: render_user_page(user, token_form=form))


@bp.route("/admin/users/<int:user_id>/tokens/<int:token_id>/revoke", methods=["POST"])
@require_permission(TOKENS_MANAGE)
def revoke_user_token(user_id, token_id):
    user = admin.get_user(user_id)
    with transaction():
        token = tokens.revoke_api_token(tokens.own_token(user, token_id), actor=current_user)
    flash(f"The token “{token.name}” of {user.name} is revoked.", "success")
    return redirect(url_for("auth.user", user_id=user_id))


@bp.route("/admin/users/<int:user_id>/unlock", methods=["POST"])
@require_permission(USERS_MANAGE)
def unlock_user(user_id):
    return user_action(user_id, admin.unlock_user, "{name} can sign in again right away.")


# --- Roles and permissions ------------------------------------------------------------


@bp.route("/admin/roles", methods=["GET", "POST"], endpoint="roles")
@require_permission(USERS_MANAGE)
def roles_page():
    form = PermissionMatrixForm()
    grants = None
    if form.validate_on_submit():
        grants = form.grants()
        try:
            with transaction():
                changed = admin.save_permission_matrix(grants, actor=current_user)
        except (InvalidInput, Conflict) as error:
            form.form_errors.append(error.detail)
        else:
            summary = "; ".join(
                f"{name}: {len(c['added'])} added, {len(c['removed'])} removed" for name, c in changed.items()
            )
            flash(f"Permissions saved. {summary}." if changed else "Nothing changed.", "success")
            return redirect(url_for("auth.roles"))
    roles = admin.all_roles()
    if grants is None:
        grants = {role.id: role.permission_codes for role in roles}
    return render_template(
        "auth/admin/roles.html",
        form=form,
        roles=roles,
        groups=permissions_by_group(),
        grants=grants,
        counts=admin.role_member_counts(),
    ), (422 if form.errors else 200)


@bp.route("/admin/roles/new", methods=["GET", "POST"])
@require_permission(USERS_MANAGE)
def new_role():
    form = RoleForm()
    if form.validate_on_submit():
        try:
            with transaction():
                role = admin.create_role(
                    name=form.name.data,
                    description=form.description.data or "",
                    require_mfa=form.require_mfa.data,
                    actor=current_user,
                )
        except (InvalidInput, Conflict) as error:
            show_on_form(form, error)
        else:
            flash(f"Role {role.name} created. Tick its permissions in the matrix.", "success")
            return redirect(url_for("auth.roles"))
    return render_template("auth/admin/role_new.html", form=form), (422 if form.errors else 200)


@bp.route("/admin/roles/<int:role_id>", methods=["GET", "POST"])
@require_permission(USERS_MANAGE)
def role(role_id):
    role = admin.get_role(role_id)
    form = RoleForm(
        data={"name": role.name, "description": role.description, "require_mfa": role.require_mfa}
    )
    if form.validate_on_submit():
        try:
            with transaction():
                changes = admin.update_role(
                    role,
                    name=form.name.data,
                    description=form.description.data or "",
                    require_mfa=form.require_mfa.data,
                    actor=current_user,
                )
        except (InvalidInput, Conflict) as error:
            show_on_form(form, error)
        else:
            flash(f"Saved role {role.name}." if changes else "Nothing changed.", "success")
            return redirect(url_for("auth.role", role_id=role.id))
    return render_template("auth/admin/role.html", role=role, form=form, members=admin.role_members(role)), (
        422 if form.errors else 200
    )


@bp.route("/admin/roles/<int:role_id>/delete", methods=["GET", "POST"])
@require_permission(USERS_MANAGE)
def delete_role(role_id):
    role = admin.get_role(role_id)
    form = ActionForm()
    if form.validate_on_submit():
        name = role.name
        try:
            with transaction():
                impact = admin.delete_role(role, actor=current_user)
        except Conflict as error:
            flash(error.detail, "error")
            return redirect(url_for("auth.role", role_id=role_id))
        flash(f"Role {name} deleted; {len(impact)} user(s) no longer hold it.", "success")
        return redirect(url_for("auth.roles"))
    return render_template(
        "auth/admin/role_delete.html", role=role, form=form, impact=admin.role_deletion_impact(role)
    )
