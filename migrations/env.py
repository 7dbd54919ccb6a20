"""Alembic environment, run through Flask-Migrate (`flask db upgrade`).

Logging is left as the app configured it (no fileConfig), and SQLite gets batch mode
so the same revisions can alter tables on both databases.
"""

import logging

from alembic import context
from flask import current_app

from app.core.migration_filters import include_object

config = context.config
logger = logging.getLogger("alembic.env")


def get_engine():
    return current_app.extensions["migrate"].db.engine


def get_metadata():
    return current_app.extensions["migrate"].db.metadata


def render_item(type_, obj, autogen_context):
    """Render the app's UTC timestamp type by import, not by repr."""
    if type_ == "type" and type(obj).__name__ == "UTCDateTime":
        autogen_context.imports.add("from app.core.timeutil import UTCDateTime")
        return "UTCDateTime()"
    return False


def run_migrations_offline():
    url = get_engine().url.render_as_string(hide_password=False)
    context.configure(url=url, target_metadata=get_metadata(), literal_binds=True, render_item=render_item)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    def skip_empty_autogenerate(context_, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    connectable = get_engine()
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=get_metadata(),
            process_revision_directives=skip_empty_autogenerate,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            render_item=render_item,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
