"""Operator commands for staff identity."""

from datetime import timedelta

import click

from app.blueprints.auth import authentication, services, tokens
from app.core import crypto
from app.core.cli import crm
from app.core.errors import DomainError
from app.core.timeutil import utcnow
from app.core.transaction import transaction


def describe(exc: DomainError) -> str:
    """The error for a terminal: the field messages when there are any, else the detail."""
    if not exc.errors:
        return exc.detail
    return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.errors.items())


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
        raise click.ClickException(describe(exc)) from exc
    click.echo(f"Created {user.email} with roles {', '.join(roles)}.")


@crm.command("sync-roles")
def sync_roles():
    """Create the built-in roles and grant them the default permissions of new domains."""
    with transaction():
        roles = services.ensure_built_in_roles(actor=None)
    for role in roles:
        click.echo(f"{role.name}: {len(role.permission_codes)} permission(s)")


@crm.command("create-admin")
@click.option("--email", required=True)
@click.option("--name", default="Administrator", show_default=True)
@click.option("--password", help="Prompted for (hidden) when not given.")
def create_admin(email, name, password):
    """Create the first administrator of a new installation."""
    if not password:
        password = click.prompt("Password (12 to 128 characters)", hide_input=True, confirmation_prompt=True)
    try:
        with transaction():
            services.ensure_built_in_roles()
            user = services.create_user(
                email=email, name=name, password=password, role_names=["admin"], actor=None
            )
    except DomainError as exc:
        raise click.ClickException(describe(exc)) from exc
    click.echo(f"Administrator {user.email} created. Sign in at /login.")


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
            token, secret = tokens.create_api_token(
                user, name=name, scopes=list(scopes), expires_at=expires_at, actor=None
            )
    except DomainError as exc:
        raise click.ClickException(describe(exc)) from exc
    click.echo(f"Token {token.name} ({token.prefix}…) for {user.email}; scopes: {', '.join(token.scopes)}")
    click.echo("Store this secret now, it is not shown again:")
    click.echo(secret)


@crm.command("unlock-user")
@click.option("--email", required=True)
def unlock_user(email):
    """Lift a sign-in lock caused by failed passwords."""
    with transaction():
        user = services.find_user_by_email(email)
        if user is None:
            raise click.ClickException(f"No user with the email {email}.")
        if not authentication.is_locked(user):
            click.echo(f"{user.email} is not locked; nothing to do.")
            return
        authentication.unlock(user, actor=None, how="operator (CLI)")
    click.echo(f"{user.email} is unlocked.")


@crm.command("rotate-encryption-key")
def rotate_encryption_key():
    """Re-encrypt stored secrets with the first key of DATA_ENCRYPTION_KEY.

    Rotation: put a new key first (keep the old ones after it), restart, run this, then
    remove the old keys."""
    try:
        with transaction():
            counts = [(label, reencrypt_all()) for label, reencrypt_all in crypto.REENCRYPTIONS]
    except crypto.DecryptionError as exc:
        raise click.ClickException(
            "A stored secret cannot be read with any key in DATA_ENCRYPTION_KEY: "
            "keep the old keys after the new one."
        ) from exc
    for label, count in counts:
        click.echo(f"Re-encrypted {count} {label} with the current key.")


@crm.command("new-encryption-key")
def new_encryption_key():
    """Print a new key for DATA_ENCRYPTION_KEY (put it first to rotate; keep old ones after it)."""
    click.echo(crypto.new_key())
