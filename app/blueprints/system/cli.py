"""Operator commands: test mail and the failed-job registry."""

import click
from flask import current_app

from app.blueprints.system import services
from app.core import jobs
from app.core.cli import crm
from app.core.errors import DomainError
from app.core.transaction import transaction


@crm.command("send-test-mail")
@click.option("--to", "recipient", required=True, help="Address to send the test message to.")
def send_test_mail(recipient):
    """Send a test message through the mail queue and the configured backend."""
    with transaction():
        mail = services.send_test_mail(recipient, actor=None)
    where = (
        "queued on 'email'"
        if not jobs.jobs_inline()
        else f"delivered by {current_app.config['MAIL_BACKEND']}"
    )
    click.echo(f"Test message {mail.message_id} to {recipient}: {where}.")


def require_queue():
    if jobs.jobs_inline():
        raise click.ClickException("REDIS_URL is not set: jobs run inline and nothing is queued.")
    try:
        jobs.require_queue()
    except DomainError as exc:
        raise click.ClickException(exc.detail) from exc


@crm.command("failed-jobs")
def failed_jobs():
    """List failed background jobs, newest first."""
    require_queue()
    rows = jobs.failed_jobs()
    if not rows:
        click.echo("No failed jobs.")
    for job in rows:
        when = job.failed_at.isoformat(timespec="seconds") if job.failed_at else "?"
        click.echo(f"{job.id}  {job.queue:<8} {when}  {job.func_name}: {job.error}")


@crm.command("retry-job")
@click.argument("job_ids", nargs=-1, required=True)
def retry_job(job_ids):
    """Queue failed jobs again."""
    require_queue()
    for job_id in job_ids:
        try:
            with transaction():
                job = services.retry_failed_job(job_id, actor=None)
        except DomainError as exc:
            raise click.ClickException(exc.detail) from exc
        click.echo(f"Queued {job.func_name} ({job_id}) again on {job.queue}.")
