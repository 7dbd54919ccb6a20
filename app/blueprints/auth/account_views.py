"""My account: profile, email, password, sessions, two-factor authentication, API tokens."""

from __future__ import annotations

from datetime import timedelta

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user

from app.blueprints.auth import account, bp, mfa, reauth, session_flow, sessions, tokens
from app.blueprints.auth.forms import (
    PASSWORD_HINT,
    ChangePasswordForm,
    ConfirmForm,
    EmailChangeForm,
    ProfileForm,
    TokenForm,
)
from app.core.errors import DomainError
from app.core.permissions import PERMISSIONS, require_login
from app.core.timeutil import utcnow
from app.core.transaction import transaction


def render_account(**forms):
    forms.setdefault("profile_form", ProfileForm(obj=current_user))
    forms.setdefault("token_form", token_form_for(current_user))
    current_sid = session.get(session_flow.SESSION_ID_KEY)
    return render_template(
        "auth/account.html",
        sessions=[
            (row, sessions.is_current(row, current_sid)) for row in sessions.live_sessions(current_user)
        ],
        tokens=tokens.tokens_of(current_user),
        recovery_left=mfa.unused_recovery_codes(current_user) if current_user.mfa_enabled else None,
        confirm_form=ConfirmForm(),
        **forms,
    )


def token_form_for(user, formdata=None) -> TokenForm:
    form = TokenForm(formdata=formdata) if formdata is not None else TokenForm()
    form.scopes.choices = [
        (code, f"{code} — {PERMISSIONS[code].description}") for code in sorted(user.permission_codes)
    ]
    return form


def token_expiry(form: TokenForm):
    if form.no_expiry.data or not form.expires_in_days.data:
        return None
    return utcnow() + timedelta(days=form.expires_in_days.data)


def field_errors_into(form, error: DomainError, default_field: str) -> None:
    for name, messages in (error.errors or {default_field: [error.detail]}).items():
        getattr(form, name, getattr(form, default_field)).errors.extend(messages)


@bp.route("/account", methods=["GET", "POST"], endpoint="account")
@require_login
def account_page():
    form = ProfileForm(obj=current_user)
    if form.validate_on_submit():
        try:
            with transaction():
                account.update_profile(
                    current_user, name=form.name.data, timezone=form.timezone.data, actor=current_user
                )
        except DomainError as error:
            field_errors_into(form, error, "name")
        else:
            flash("Your profile is saved.", "success")
            return redirect(url_for("auth.account"))
    return render_account(profile_form=form), 422 if form.errors else 200


@bp.route("/account/email", methods=["GET", "POST"])
@require_login
@reauth.require_recent_auth
def change_email():
    form = EmailChangeForm()
    if form.validate_on_submit():
        try:
            with transaction():
                account.change_email(current_user, form.email.data, actor=current_user)
        except DomainError as error:
            field_errors_into(form, error, "email")
        else:
            flash("Your email address is changed. We told your old address about it.", "success")
            return redirect(url_for("auth.account"))
    return render_template("auth/change_email.html", form=form), 422 if form.errors else 200


@bp.route("/account/password", methods=["GET", "POST"])
@require_login
@reauth.require_recent_auth
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            with transaction():
                account.change_password(
                    current_user, form.current_password.data, form.password.data, actor=current_user
                )
        except DomainError as error:
            field_errors_into(form, error, "password")
        else:
            logout_user()
            flash("Your password is changed and every session was signed out. Sign in again.", "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/change_password.html", form=form, hint=PASSWORD_HINT), (
        422 if form.errors else 200
    )


@bp.route("/account/sign-out-everywhere", methods=["POST"])
@require_login
def sign_out_everywhere():
    with transaction():
        account.sign_out_everywhere(current_user, actor=current_user)
    logout_user()
    flash("You are signed out on every device.", "success")
    return redirect(url_for("auth.login"))


@bp.route("/account/sessions/<int:session_id>/end", methods=["POST"])
@require_login
@reauth.require_recent_auth
def end_session(session_id):
    with transaction():
        account.end_session(current_user, session_id, actor=current_user)
    flash("That session is signed out.", "success")
    return redirect(url_for("auth.account"))


def create_token_from_form(owner, render_invalid):
    """Create a token for `owner` from the posted form and show its secret once; an invalid
    form goes back to `render_invalid(form)` with its errors."""
    form = token_form_for(owner, formdata=request.form)
    if form.validate():
        try:
            with transaction():
                token, secret = tokens.create_api_token(
                    owner,
                    name=form.name.data,
                    scopes=form.scopes.data,
                    expires_at=token_expiry(form),
                    actor=current_user,
                    # An admin making a token for someone else grants only what they hold too.
                    within_scopes=sorted(current_user.permission_codes),
                )
        except DomainError as error:
            field_errors_into(form, error, "name")
        else:
            shown_owner = owner if owner.id != current_user.id else None
            return render_template("auth/token_created.html", token=token, secret=secret, owner=shown_owner)
    return render_invalid(form), 422


@bp.route("/account/tokens", methods=["POST"])
@require_login
@reauth.require_recent_auth  # a token outlives the session: a stolen session must not mint one
def create_token():
    return create_token_from_form(current_user, lambda form: render_account(token_form=form))


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@require_login
def revoke_token(token_id):
    with transaction():
        token = tokens.revoke_api_token(tokens.own_token(current_user, token_id), actor=current_user)
    flash(f"The token “{token.name}” is revoked; it stopped working at once.", "success")
    return redirect(url_for("auth.account"))
