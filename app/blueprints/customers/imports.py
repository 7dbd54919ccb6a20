"""Customers from a CSV file: the file is checked whole before any row is written, then
imported row by row in constant memory, idempotent on the email address.

The file's format, and reading and checking it, are in import_files; this module holds
the use cases: starting a run, writing its rows in batches, and the job that does it.

Rules:
- A file that cannot be read (not UTF-8, not CSV, no email column, unknown columns,
  consent values without a wording version) is refused before any row is written; the run
  is marked failed with the reason.
- An email already known updates that customer with the row's non-empty values, only
  where they differ: importing the same file twice changes nothing the second time.
  Phones and tags in a row replace the customer's.
- Each row is validated and written in its own savepoint inside batches of BATCH_SIZE
  rows, each batch one commit: a bad row is reported (row number, email, messages per
  field) and skipped, the others go in. The run's counters and report are committed with
  the batch they describe, so an interrupted run resumes where its last batch ended.
- Every customer change goes through the customer services, audited as the uploader.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import selectinload

from app.blueprints.customers import consents, services, validation
from app.blueprints.customers.import_files import COLUMNS as COLUMNS  # read by the import page
from app.blueprints.customers.import_files import (
    ROW,
    FileLayout,
    RowInput,
    cell_at,
    inspect_file,
    parse_row,
)
from app.blueprints.customers.import_files import data_rows as data_rows
from app.blueprints.customers.import_models import MAX_ROW_ERRORS, ImportRun
from app.blueprints.customers.models import Customer
from app.core import import_runs
from app.core.errors import DomainError, InvalidInput, NotFound
from app.core.import_runs import ImportKind, Progress, row_batches
from app.core.jobs import enqueue, jobs_inline
from app.core.transaction import savepoint
from app.extensions import db

BATCH_SIZE = 500
JOB_SLICE_SECONDS = 120  # below RQ's default job timeout (180 s)
MAX_MERGE_HOPS = 10
KIND = ImportKind(domain="customers", things="customers", imported="Imported {filename}", key="email")


# --- Starting a run ---------------------------------------------------------------------


def import_folder() -> Path:
    configured = current_app.config.get("CUSTOMER_IMPORT_DIR")
    folder = Path(configured) if configured else Path(current_app.instance_path) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _wording(raw: str | None) -> str | None:
    wording = (raw or "").strip() or None
    if wording and len(wording) > 32:
        raise InvalidInput(
            "The consent wording version is too long.",
            errors={"consent_wording": ["At most 32 characters."]},
        )
    return wording


def _new_run(*, source: str, filename: str, consent_wording: str | None, actor) -> ImportRun:
    return import_runs.new_run(
        ImportRun, source=source, filename=filename, actor=actor, consent_wording=_wording(consent_wording)
    )


def queue_upload(stream: BinaryIO, *, filename: str, consent_wording: str | None, actor) -> ImportRun:
    """Store an uploaded file under the import folder and queue its import after the commit.
    The file is only copied here; reading it is the job's work."""
    run = _new_run(source="upload", filename=filename, consent_wording=consent_wording, actor=actor)
    run.stored_path = str(import_runs.store_upload(stream, import_folder(), run.id))
    enqueue(run_import, run.id, queue="default")
    return run


def register_file(path: Path, *, consent_wording: str | None, actor=None) -> ImportRun:
    """A run for an operator's file, read where it is (and left there)."""
    run = _new_run(source="cli", filename=str(path), consent_wording=consent_wording, actor=actor)
    run.stored_path = str(Path(path).resolve())
    return run


# --- Writing one row --------------------------------------------------------------------


def existing_customers(emails: list[str]) -> dict[str, Customer]:
    """The customers of a batch by email, with their phones and tags, in one query; an
    email of a merged record leads to the customer it was merged into."""
    if not emails:
        return {}
    query = (
        select(Customer)
        .where(Customer.email.in_(set(emails)))
        .options(selectinload(Customer.phones), selectinload(Customer.tags))
    )
    found = {}
    for customer in db.session.scalars(query):
        email = customer.email
        for _ in range(MAX_MERGE_HOPS):
            if customer is None or customer.merged_into_id is None:
                break
            customer = db.session.get(Customer, customer.merged_into_id)
        if customer is not None:
            found[email] = customer
    return found


def phone_numbers(raws: list[str], country: str | None) -> list[str]:
    numbers: list[str] = []
    for raw in raws:
        number = validation.phone(raw, country=country, field="phones")
        if number not in numbers:
            numbers.append(number)
    return numbers


def import_row(row: RowInput, customer: Customer | None, *, actor, consent_wording: str | None):
    """Create or update one customer from a row: ("created" | "updated" | "unchanged", customer)."""
    country = row.data.get("country") or (customer.country if customer else None)
    numbers = phone_numbers(row.phones, country) if row.phones is not None else None
    if customer is None:
        customer = services.create_customer(
            {"email": row.email, **row.data},
            actor=actor,
            phones=[services.PhoneInput(number) for number in numbers or ()],
            tags=row.tags or (),
        )
        outcome = "created"
    else:
        outcome = "updated" if update_if_different(customer, row, numbers, actor=actor) else "unchanged"
    if row.consent is not None:
        state = None if outcome == "created" else consents.current(customer)["marketing_email"]
        if state is None or state.since is None or state.granted != row.consent:
            consents.record(
                customer,
                "marketing_email",
                granted=row.consent,
                source="import",
                wording_version=consent_wording or "",
                actor=actor,
            )
            outcome = "created" if outcome == "created" else "updated"
    return outcome, customer


def update_if_different(customer: Customer, row: RowInput, numbers: list[str] | None, *, actor) -> bool:
    """Compare first, write only what differs: a re-import writes nothing."""
    changes = {name: value for name, value in row.data.items() if getattr(customer, name) != value}
    phones = None
    if numbers is not None and set(numbers) != {phone.number for phone in customer.phones}:
        kinds = {phone.number: phone.kind for phone in customer.phones}
        phones = [services.PhoneInput(number, kinds.get(number, "mobile")) for number in numbers]
    tags = row.tags if row.tags is not None and set(row.tags) != set(customer.tag_names) else None
    if not changes and phones is None and tags is None:
        return False
    services.update_customer(customer, changes, actor=actor, phones=phones, tags=tags)
    return True


def row_error(number: int, email: str, error: Exception) -> dict:
    if isinstance(error, DomainError):
        messages = error.errors or {ROW: [error.detail]}
    else:  # the database refused it (a customer with this email saved at the same moment)
        messages = {ROW: ["The database refused this row; import the file again to retry it."]}
    return {"row": number, "email": email[:254], "errors": messages}


# --- The run ----------------------------------------------------------------------------


def get_run(run_id: int) -> ImportRun:
    run = db.session.get(ImportRun, run_id)
    if run is None:
        raise NotFound("No such import.")
    return run


def recent_runs(limit: int = 20) -> list[ImportRun]:
    return list(db.session.scalars(select(ImportRun).order_by(ImportRun.id.desc()).limit(limit)))


def run_import(run_id: int) -> None:
    """Job: import the run's file. Idempotent: a finished run is left alone, an interrupted
    one resumes after its last committed batch (RQ retries it)."""
    import_runs.run_in_slices(
        run_id,
        process_run,
        slice_seconds=None if jobs_inline() else JOB_SLICE_SECONDS,
        requeue=lambda: enqueue(run_import, run_id, queue="default"),
    )


def process_run(
    run_id: int,
    *,
    progress: Progress | None = None,
    batch_size: int | None = None,
    deadline: float | None = None,
) -> ImportRun:
    """Import the file of run `run_id`, one commit per batch of rows; the run as it ended,
    or still "running" when `deadline` (a time.monotonic() value) came first."""
    return import_runs.process_run(
        get_run(run_id),
        KIND,
        inspect=lambda run: inspect_file(run.stored_path, consent_wording=run.consent_wording),
        batches=lambda rows, layout, size: row_batches(rows, size),
        import_batch=import_batch,
        batch_size=batch_size or BATCH_SIZE,
        progress=progress,
        deadline=deadline,
    )


def import_batch(run: ImportRun, layout: FileLayout, batch: list[tuple[int, list[str]]]) -> None:
    """Each row in its own savepoint: a bad row is rolled back alone (with the events it
    queued) and reported; the run's counters move with the rows they count."""
    actor = run.created_by
    counts: Counter[str] = Counter()
    errors = []
    email_at = layout.columns.index("email")
    parsed = []
    for number, cells in batch:
        try:
            parsed.append((number, cells, parse_row(layout.columns, cells)))
        except InvalidInput as error:
            counts["failed"] += 1
            errors.append(row_error(number, cell_at(cells, email_at), error))
    known = existing_customers([row.email for _, _, row in parsed])
    for number, cells, row in parsed:
        try:
            with savepoint():
                outcome, customer = import_row(
                    row, known.get(row.email), actor=actor, consent_wording=run.consent_wording
                )
        except (DomainError, IntegrityError, DataError) as error:
            counts["failed"] += 1
            errors.append(row_error(number, cell_at(cells, email_at), error))
        else:
            counts[outcome] += 1
            known[row.email] = customer  # the same email further down updates it
    errors.sort(key=lambda error: error["row"])
    run.rows_done += len(batch)
    run.rows_created += counts["created"]
    run.rows_updated += counts["updated"]
    run.rows_failed += counts["failed"]
    run.add_row_errors(errors, limit=MAX_ROW_ERRORS)


def error_report_lines(run: ImportRun) -> Iterator[str]:
    """The row error report as CSV: one line per message."""
    return import_runs.error_report_lines(run, KIND)


from app.blueprints.customers import import_cli as _import_cli  # noqa: E402,F401
from app.blueprints.customers import import_views as _import_views  # noqa: E402,F401
