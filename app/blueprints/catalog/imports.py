"""Products and variants from a CSV file: the file is checked whole before any row is
written, then imported product by product in constant memory, idempotent on the SKU.

The format and the parsing are in import_files, writing one product in import_groups;
this module holds the use cases: starting a run, writing its products in batches, and
the job that does it.

Rules:
- A file that cannot be read (not UTF-8, not CSV, no sku column, unknown columns) is
  refused before any row is written; the run is marked failed with the reason.
- A known SKU updates its variant (and its product) where the row's non-empty values
  differ: importing the same file twice changes nothing the second time.
- The rows of one product are written in one savepoint: a bad row fails its product whole
  (every row of it reported), the other products go in. Batches of about BATCH_SIZE rows,
  ending at a product's last row, are one commit each, with the run's counters and report,
  so an interrupted run resumes at the first product not committed.
- Every catalog change goes through the catalog services, audited as the uploader.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError

from app.blueprints.catalog.import_files import COLUMNS as COLUMNS  # read by the import page
from app.blueprints.catalog.import_files import ProductGroup, inspect_file, product_groups
from app.blueprints.catalog.import_groups import GroupFailed, Lookup, import_group, lookup_for
from app.blueprints.catalog.import_models import ProductImportRun
from app.core import import_runs
from app.core.csv_import import ROW as ROW
from app.core.csv_import import data_rows as data_rows
from app.core.errors import DomainError, NotFound
from app.core.import_runs import MAX_ROW_ERRORS, ImportKind, Progress, store_upload
from app.core.jobs import enqueue, jobs_inline
from app.core.transaction import savepoint
from app.extensions import db

log = logging.getLogger(__name__)

BATCH_SIZE = 500  # rows; a batch ends with the last row of a product
JOB_SLICE_SECONDS = 120  # below RQ's default job timeout (180 s)
KIND = ImportKind(
    domain="catalog",
    things="products",
    imported="Imported products from {filename}",
    key="sku",
    log_name="product import run",
)


# --- Starting a run ---------------------------------------------------------------------


def import_folder() -> Path:
    configured = current_app.config.get("PRODUCT_IMPORT_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "imports" / "products"


def _new_run(*, source: str, filename: str, actor) -> ProductImportRun:
    return import_runs.new_run(ProductImportRun, source=source, filename=filename, actor=actor)


def queue_upload(stream: BinaryIO, *, filename: str, actor) -> ProductImportRun:
    """Store an uploaded file under the import folder and queue its import after the commit.
    The file is only copied here; reading it is the job's work."""
    run = _new_run(source="upload", filename=filename, actor=actor)
    run.stored_path = str(store_upload(stream, import_folder(), run.id))
    enqueue(run_import, run.id, queue="default")
    return run


def register_file(path: Path, *, actor=None) -> ProductImportRun:
    """A run for an operator's file, read where it is (and left there)."""
    run = _new_run(source="cli", filename=str(path), actor=actor)
    run.stored_path = str(Path(path).resolve())
    return run


def get_run(run_id: int) -> ProductImportRun:
    run = db.session.get(ProductImportRun, run_id) if 0 < run_id < 2**31 else None
    if run is None:
        raise NotFound("No such import.")
    return run


def recent_runs(limit: int = 20) -> list[ProductImportRun]:
    query = select(ProductImportRun).order_by(ProductImportRun.id.desc()).limit(limit)
    return list(db.session.scalars(query))


# --- The run ----------------------------------------------------------------------------


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
) -> ProductImportRun:
    """Import the file of run `run_id`, one commit per batch of whole products; the run as
    it ended, or still "running" when `deadline` (a time.monotonic() value) came first."""
    return import_runs.process_run(
        get_run(run_id),
        KIND,
        inspect=lambda run: inspect_file(run.stored_path),
        batches=lambda rows, layout, size: batches(product_groups(rows, layout.columns), size),
        import_batch=lambda run, layout, batch: import_batch(run, batch),
        batch_size=batch_size or BATCH_SIZE,
        progress=progress,
        deadline=deadline,
    )


def batches(groups: Iterable[ProductGroup], size: int) -> Iterator[list[ProductGroup]]:
    """Whole products, about `size` rows a batch (more when one product has more rows)."""
    batch: list[ProductGroup] = []
    rows = 0
    for group in groups:
        batch.append(group)
        rows += group.size
        if rows >= size:
            yield batch
            batch, rows = [], 0
    if batch:
        yield batch


def import_batch(run: ProductImportRun, batch: list[ProductGroup]) -> None:
    """Each product in its own savepoint: a bad one is rolled back whole (with the events it
    queued) and reported; the run's counters move with the rows they count."""
    counts: Counter[str] = Counter()
    errors: list[dict] = []
    lookup: Lookup = lookup_for(batch)
    for group in batch:
        try:
            with savepoint():
                result = import_group(group, lookup, actor=run.created_by)
        except GroupFailed as failure:
            errors.extend(group_errors(group, failure.errors))
        except (DomainError, IntegrityError, DataError) as error:
            log.info("product import run %s: a product refused by the database: %s", run.id, error)
            refused = {ROW: ["The database refused this product; import the file again to retry it."]}
            errors.extend(group_errors(group, {group.rows[0].number: refused}))
        else:
            counts.update(result.outcomes.values())
            lookup.learn(result.product)
    run.rows_done += sum(group.size for group in batch)
    run.rows_created += counts["created"]
    run.rows_updated += counts["updated"]
    run.rows_failed += len(errors)
    run.add_row_errors(sorted(errors, key=lambda error: error["row"]), limit=MAX_ROW_ERRORS)


def group_errors(group: ProductGroup, errors: dict[int, dict[str, list[str]]]) -> list[dict]:
    """One report entry per row of a failed product: its own problems, or where they are."""
    at_fault = sorted(errors)
    pointer = {
        ROW: [
            f"Not imported with its product: see row{'s' if len(at_fault) > 1 else ''} "
            f"{', '.join(str(number) for number in at_fault[:10])}."
        ]
    }
    rows = [(row.number, row.sku) for row in group.rows] + group.overflow
    report = [
        {"row": number, "sku": sku[:64], "errors": errors.get(number) or pointer} for number, sku in rows
    ]
    return report


def error_report_lines(run: ProductImportRun) -> Iterator[str]:
    """The row error report as CSV: one line per message."""
    return import_runs.error_report_lines(run, KIND)
