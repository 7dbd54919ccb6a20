"""Second factor: the sign-in challenge, enrollment and turning MFA off."""

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from app.blueprints.auth import authentication, bp, mfa, session_flow
from app.blueprints.auth.forms import CodeForm, EnableMfaForm
from app.blueprints.auth.reauth import require_recent_auth
from app.blueprints.auth.views import login_rate_limit, safe_next
from app.core.errors import DomainError
from app.core.permissions import public, require_login
from app.core.transaction import transaction
from app.extensions import limiter

SETUP_KEY = "mfa_setup_secret"
WRONG_CODE = "That code is not right. Use the current code from your app, or a recovery code."


@bp.route("/login/mfa", methods=["GET", "POST"])
@public
@limiter.limit(login_rate_limit, methods=["POST"])
def mfa_challenge():
    form = CodeForm()
    with transaction():
        user = session_flow.pending_user()
    if user is None:
        flash("Sign in again to continue.", "info")
        return redirect(url_for("auth.login"))
    if form.validate_on_submit():
        next_url = session.get("after_sign_in")
        with transaction():
            # A locked account gets the same answer as a wrong code, and its codes are not tried.
            locked = authentication.is_locked(user)
            factor = None if locked else mfa.verify_second_factor(user, form.code.data)
            if factor:
                session_flow.open_session(user, factors=f"password and {factor}")
            elif not locked:
                authentication.record_failure(user, "Wrong second-factor code", action="auth.mfa_failed")
        if factor:
            flash(f"Welcome back, {user.name}.", "success")
            return redirect(safe_next(next_url))
        form.code.errors.append(WRONG_CODE)
    return render_template("auth/mfa_challenge.html", form=form), 422 if form.errors else 200


@bp.route("/account/mfa", methods=["GET", "POST"])
@require_login
@require_recent_auth
def mfa_enroll():
    """Turn MFA on, or with ?replace=1 move it to a new device (after re-authentication)."""
    replace = request.args.get("replace") == "1" and current_user.mfa_enabled
    if current_user.mfa_enabled and not replace:
        return redirect(url_for("auth.account"))
    form = EnableMfaForm()
    secret = session.get(SETUP_KEY) or mfa.new_secret()
    session[SETUP_KEY] = secret
    if form.validate_on_submit():
        try:
            with transaction():
                codes = mfa.enable(current_user, secret, form.code.data, actor=current_user, replace=replace)
        except DomainError as error:
            form.code.errors.extend((error.errors or {}).get("code", [error.detail]))
        else:
            session.pop(SETUP_KEY, None)
            session.pop(session_flow.ENROLL_KEY, None)
            flash("Two-factor authentication is on.", "success")
            return render_template("auth/recovery_codes.html", codes=codes)
    uri = mfa.provisioning_uri(current_user, secret)
    return render_template(
        "auth/mfa_enroll.html",
        form=form,
        secret=secret,
        qr_svg=mfa.qr_code_svg(uri),
        required=current_user.mfa_required and not replace,
        replace=replace,
    ), (422 if form.errors else 200)


@bp.route("/account/mfa/disable", methods=["POST"])
@require_login
@require_recent_auth
def mfa_disable():
    try:
        with transaction():
            mfa.turn_off(current_user, actor=current_user)
    except DomainError as error:
        flash(error.detail, "error")
    else:
        flash("Two-factor authentication is off. Your recovery codes no longer work.", "success")
    return redirect(url_for("auth.account"))


@bp.route("/account/mfa/recovery-codes", methods=["POST"])
@require_login
@require_recent_auth
def mfa_new_recovery_codes():
    if not current_user.mfa_enabled:
        return redirect(url_for("auth.account"))
    with transaction():
        codes = mfa.regenerate_recovery_codes(current_user, actor=current_user)
    flash("New recovery codes are ready; the old ones no longer work.", "success")
    return render_template("auth/recovery_codes.html", codes=codes)
