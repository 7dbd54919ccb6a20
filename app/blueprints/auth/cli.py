"""Operator commands for staff identity."""

from datetime import timedelta

import click

from app.blueprints.auth import services
from app.core.cli import crm
from app.core.errors import DomainError
from app.core.timeutil import utcnow
from app.core.transaction import transaction


@crm.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", "roles", multiple=True, required=True, help="Role name; repeat for several.")
@click.password_option(help="12 to 128 characters.")
def create_user(email, name, roles, password):
    """Create a staff user."""
    try:
        with transaction():
            services.ensure_built_in_roles()
            user = services.create_user(
                email=email, name=name, password=password, role_names=list(roles), actor=None
            )
    except DomainError as exc:
        raise click.ClickException(_describe(exc)) from exc
    click.echo(f"Created {user.email} with roles {', '.join(roles)}.")


@crm.command("create-token")
@click.option("--email", required=True, help="The user the token acts for.")
@click.option("--name", required=True, help="What the token is for, e.g. 'ERP sync'.")
@click.option("--scope", "scopes", multiple=True, required=True, help="Permission code; repeat for several.")
@click.option("--expires-in-days", type=click.IntRange(min=1), default=None)
def create_token(email, name, scopes, expires_in_days):
    """Create an API token; the secret is printed once and never stored."""
    expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    try:
        with transaction():
            user = services.find_user_by_email(email)
            if user is None:
                raise click.ClickException(f"No user with the email {email}.")
            token, secret = services.create_api_token(
                user, name=name, scopes=list(scopes), expires_at=expires_at, actor=None
            )
    except DomainError as exc:
        raise click.ClickException(_describe(exc)) from exc
    click.echo(f"Token {token.name} ({token.prefix}…) for {user.email}; scopes: {', '.join(token.scopes)}")
    click.echo("Store this secret now, it is not shown again:")
    click.echo(secret)


def _describe(exc: DomainError) -> str:
    details = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in (exc.errors or {}).items())
    return f"{exc.detail} {details}".strip()
