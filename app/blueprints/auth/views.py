"""Portal sign-in and sign-out."""

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from app.blueprints.auth import bp, services
from app.blueprints.auth.forms import LoginForm
from app.core import audit
from app.core.permissions import public, require_login
from app.core.transaction import transaction

LOGIN_FAILED = "That email and password do not match an active account."


def safe_next(target: str | None) -> str:
    """Only same-site relative paths, so the login form cannot redirect elsewhere."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("system.dashboard")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        with transaction():
            user = services.authenticate(form.email.data, form.password.data)
            if user is not None:
                audit.record("auth.login", actor=user, target=user, summary="Signed in")
        if user is None:
            form.password.errors.append(LOGIN_FAILED)
        else:
            session.clear()  # a fresh session on sign-in: no fixation
            login_user(user)
            session.permanent = True
            flash(f"Welcome back, {user.name}.", "success")
            return redirect(safe_next(request.args.get("next")))
    status = 422 if form.errors else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@require_login
def logout():
    logout_user()
    session.clear()
    flash("You are signed out.", "success")
    return redirect(url_for("auth.login"))
