"""Portal pages and public endpoints of the system domain."""

from __future__ import annotations

from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from app.blueprints.system import JOBS_MANAGE, OUTBOX_READ, bp, health, outbox_redaction, services
from app.blueprints.system.forms import ConfirmForm, TestMailForm
from app.core import jobs
from app.core.dashboard import visible_panels
from app.core.errors import DomainError, NotFound
from app.core.models import OutboxMessage
from app.core.pagination import paginate
from app.core.permissions import current_identity_can, public, require_login, require_permission
from app.core.transaction import transaction
from app.extensions import db


@bp.route("/")
@require_login
def dashboard():
    attention = []
    if current_identity_can(JOBS_MANAGE) and not jobs.jobs_inline():
        attention.extend(job_attention())
    outbox_count = None
    if current_identity_can(OUTBOX_READ):
        outbox_count = db.session.scalar(select(func.count(OutboxMessage.id)))
    return render_template(
        "system/dashboard.html",
        attention=attention,
        outbox_count=outbox_count,
        panels=visible_panels(),
    )


def job_attention() -> list[dict]:
    """Failed jobs for the dashboard; a queue outage is itself something to look at."""
    try:
        jobs.require_queue()
        failed = len(jobs.failed_jobs(limit=100))
    except DomainError as error:
        return [{"label": error.detail, "url": url_for("system.jobs")}]
    return [{"label": f"{failed} failed background job(s)", "url": url_for("system.jobs")}] if failed else []


@bp.route("/healthz")
@public
def healthz():
    return jsonify(status="ok")


@bp.route("/readyz")
@public
def readyz():
    checks = health.readiness()
    ready = all(value == "ok" or value.startswith("not configured") for value in checks.values())
    return jsonify(status="ready" if ready else "unavailable", checks=checks), 200 if ready else 503


@bp.route("/api/v1/docs")
@public
def api_docs():
    return render_template("system/api_docs.html")


@bp.route("/admin/jobs", endpoint="jobs")
@require_permission(JOBS_MANAGE)
def jobs_page():
    inline = jobs.jobs_inline()
    if not inline:
        jobs.require_queue()
    return render_template(
        "system/jobs.html",
        inline=inline,
        failed=[] if inline else jobs.failed_jobs(),
        sizes={} if inline else jobs.queue_sizes(),
        scheduler_seen=None if inline else services.scheduler_last_seen(),
    )


@bp.route("/admin/jobs/<job_id>")
@require_permission(JOBS_MANAGE)
def job_detail(job_id):
    jobs.require_queue()
    return render_template("system/job_detail.html", job=jobs.get_failed_job(job_id), form=ConfirmForm())


@bp.route("/admin/jobs/<job_id>/retry", methods=["POST"])
@require_permission(JOBS_MANAGE)
def retry_job(job_id):
    jobs.require_queue()
    with transaction():
        job = services.retry_failed_job(job_id, actor=current_user)
    flash(f"Job {job.func_name} was queued again on “{job.queue}”.", "success")
    return redirect(url_for("system.jobs"))


@bp.route("/admin/jobs/<job_id>/delete", methods=["POST"])
@require_permission(JOBS_MANAGE)
def delete_job(job_id):
    jobs.require_queue()
    with transaction():
        job = services.delete_failed_job(job_id, actor=current_user)
    flash(f"Failed job {job.func_name} was deleted.", "success")
    return redirect(url_for("system.jobs"))


@bp.route("/admin/outbox", methods=["GET", "POST"])
@require_permission(OUTBOX_READ)
def outbox():
    form = TestMailForm()
    if form.validate_on_submit():
        with transaction():
            services.send_test_mail(form.to.data, actor=current_user)
        flash(f"A test message to {form.to.data} is on its way.", "success")
        return redirect(url_for("system.outbox"))
    query = select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    search = request.args.get("q", "").strip()
    if search:
        # Literally: % and _ typed in the box are characters, not wildcards.
        text = search.lower()
        query = query.where(
            func.lower(OutboxMessage.recipients).contains(text, autoescape=True)
            | func.lower(OutboxMessage.subject).contains(text, autoescape=True)
        )
    page = paginate(query, per_page=25)
    return render_template(
        "system/outbox.html",
        page=page,
        search=search,
        form=form,
        backend=current_app.config["MAIL_BACKEND"],
    ), (422 if form.errors else 200)


@bp.route("/admin/outbox/<int:message_id>")
@require_permission(OUTBOX_READ)
def outbox_message(message_id):
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound("No such message.")
    text_body, html_body = outbox_redaction.shown_bodies(message)
    return render_template(
        "system/outbox_message.html",
        message=message,
        text_body=text_body,
        html_body=html_body,
        secrets_hidden=(text_body, html_body) != (message.text_body, message.html_body),
    )
