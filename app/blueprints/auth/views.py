"""Portal sign-in, sign-out, account unlock, identity confirmation and password recovery."""

from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user

from app.blueprints.auth import authentication, bp, mfa, passwords, reauth, recovery, session_flow
from app.blueprints.auth.forms import ConfirmIdentityForm, LoginForm, NewPasswordForm, ResetRequestForm
from app.core.errors import DomainError
from app.core.permissions import public, require_login
from app.core.transaction import transaction
from app.extensions import limiter

LOGIN_FAILED = "That email and password do not match an active account."
RESET_SENT = (
    "If an account uses that address, we have sent it a link to choose a new password. "
    "The link works for one hour."
)


def login_rate_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def safe_next(target: str | None) -> str:
    """Only same-site relative paths, so no link can make sign-in redirect elsewhere; and
    none with control characters (a line break cannot go into the Location header)."""
    if target and any(ord(character) < 32 or ord(character) == 127 for character in target):
        target = None
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("system.dashboard")


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(login_rate_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        next_url = request.args.get("next")
        with transaction():
            result = authentication.authenticate(form.email.data, form.password.data)
            step = session_flow.start_sign_in(result.user) if result.ok else None
        if not result.ok:
            form.password.errors.append(LOGIN_FAILED)
        elif step:
            session["after_sign_in"] = safe_next(next_url)
            return redirect(url_for(step))
        else:
            flash(f"Welcome back, {current_user.name}.", "success")
            return redirect(safe_next(next_url))
    return render_template("auth/login.html", form=form), 422 if form.errors else 200


@bp.route("/logout", methods=["POST"])
@require_login
def logout():
    with transaction():
        session_flow.close_session("signed out")
    logout_user()
    session.clear()
    flash("You are signed out.", "success")
    return redirect(url_for("auth.login"))


@bp.route("/unlock/<token>", methods=["GET", "POST"])
@public
def unlock(token):
    """The emailed unlock link. Opening it changes nothing (mail scanners open links);
    the button on the page does."""
    if request.method == "GET":
        return render_template("auth/unlock.html")
    try:
        with transaction():
            user = authentication.unlock_with_token(token)
    except DomainError as error:
        flash(error.detail, "error")
        return redirect(url_for("auth.login"))
    flash(f"The account {user.email} is unlocked. You can sign in again.", "success")
    return redirect(url_for("auth.login"))


@bp.route("/account/confirm", methods=["GET", "POST"])
@require_login
@limiter.limit(login_rate_limit, methods=["POST"])
def confirm_identity():
    """Re-authentication before a sensitive change: password, and a code with MFA on.
    Wrong answers count towards the account lock, as at sign-in."""
    form = ConfirmIdentityForm()
    if form.validate_on_submit():
        with transaction():
            confirmed = passwords.verify_password(current_user.password_hash, form.password.data) and bool(
                not current_user.mfa_enabled or mfa.verify_second_factor(current_user, form.code.data or "")
            )
            if not confirmed:
                authentication.record_failure(
                    current_user, "Failed re-authentication", action="auth.reauth_failed"
                )
        if confirmed:
            with transaction():
                session_flow.rotate_session(current_user)
            reauth.mark_reauthenticated()
            return redirect(safe_next(request.args.get("next")))
        form.password.errors.append("That did not confirm your identity. Try again.")
    return render_template("auth/confirm_identity.html", form=form), 422 if form.errors else 200


@bp.route("/password-reset", methods=["GET", "POST"])
@public
@limiter.limit(login_rate_limit, methods=["POST"])
def password_reset_request():
    form = ResetRequestForm()
    if form.validate_on_submit():
        with transaction():
            recovery.request_password_reset(form.email.data)
        flash(RESET_SENT, "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/password_reset_request.html", form=form), 422 if form.errors else 200


@bp.route("/password-reset/<token>", methods=["GET", "POST"])
@public
@limiter.limit(login_rate_limit, methods=["POST"])
def password_reset(token):
    user = recovery.user_for_reset_token(token)
    if user is None:
        flash("This password reset link is not valid any more. Ask for a new one.", "error")
        return redirect(url_for("auth.password_reset_request"))
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            with transaction():
                recovery.reset_password(user, form.password.data)
        except DomainError as error:
            form.password.errors.extend((error.errors or {}).get("password", [error.detail]))
        else:
            # No session is opened here: signing in again still asks for the second factor.
            flash("Your password is changed and every session was signed out. Sign in now.", "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/password_reset.html", form=form), 422 if form.errors else 200
