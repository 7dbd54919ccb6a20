"""What every CSV import run records, whatever it imports: who started it, which file, its
status, its progress and its row error report; and the run itself, batch by batch.

A domain's run model is `class XImportRun(ImportRunMixin, db.Model)` with its own table
name (and any columns of its own). The counters and the report are committed together with
each batch of rows they describe, so they always say exactly what is in the database, and an
interrupted run resumes after `rows_done`.

A domain's import keeps what is its own (checking its file, cutting its rows into batches,
writing one batch) and hands them to `process_run()`, which starts, runs and finishes the
run the same way for every domain; `run_in_slices()` is the job that calls it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from pathlib import Path, PureWindowsPath
from typing import Any, BinaryIO, Protocol, TypeVar

from flask import Response, current_app, flash
from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from app.core import audit, csv_stream
from app.core.csv_import import ROW, FileLayout, UnreadableFile, data_rows
from app.core.timeutil import UTCDateTime, utcnow
from app.core.transaction import transaction
from app.extensions import db

log = logging.getLogger(__name__)

RUN_STATUSES = ("queued", "running", "done", "failed")
RUN_SOURCES = ("upload", "cli")
MAX_ROW_ERRORS = 1000  # the report keeps the first ones; rows_failed counts them all
COPY_CHUNK = 64 * 1024


class ImportRunMixin:
    """The shared columns of an import run table (a new table each time the mixin is used)."""

    @declared_attr.directive
    def __table_args__(cls) -> tuple:
        return (
            CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status_known"),
            CheckConstraint("source IN ('upload', 'cli')", name="source_known"),
        )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(16), default="upload")
    filename: Mapped[str] = mapped_column(String(255))  # as the person named it; shown, never opened
    # Where the file is read from: an upload stored under the import folder (deleted once
    # the run ends), or the operator's own file for a CLI run (left alone).
    stored_path: Mapped[str] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    failure_reason: Mapped[str | None] = mapped_column(Text)
    rows_total: Mapped[int | None] = mapped_column()
    rows_done: Mapped[int] = mapped_column(default=0)
    rows_created: Mapped[int] = mapped_column(default=0)
    rows_updated: Mapped[int] = mapped_column(default=0)
    rows_failed: Mapped[int] = mapped_column(default=0)
    # [{"row": 7, "<key column>": "…", "errors": {"column": ["…"]}}, …], the first MAX_ROW_ERRORS.
    row_errors: Mapped[list] = mapped_column(JSON, default=list)

    @declared_attr
    def created_by(cls) -> Mapped[object | None]:
        # By name: core does not import the auth domain's models.
        return relationship("User", lazy="joined")

    @property
    def rows_unchanged(self) -> int:
        return self.rows_done - self.rows_created - self.rows_updated - self.rows_failed

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    @property
    def interrupted(self) -> bool:
        """Stopped by an unexpected error (not refused, not done): it may resume."""
        return self.status == "failed" and self.finished_at is None

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        if not self.rows_total:
            return 0
        return min(100, self.rows_done * 100 // self.rows_total)

    def add_row_errors(self, errors: list[dict], *, limit: int = MAX_ROW_ERRORS) -> None:
        """Keep the first `limit` row errors (a new list, so the JSON column sees the change)."""
        room = limit - len(self.row_errors)
        if errors and room > 0:
            self.row_errors = [*self.row_errors, *errors[:room]]


Run = TypeVar("Run", bound=ImportRunMixin)


def new_run(model: type[Run], *, source: str, filename: str, actor, **columns: Any) -> Run:
    """A queued run of `model` (flushed, so it has its id), started by `actor` when staff."""
    run = model(
        created_by=actor if audit.is_staff(actor) else None,
        source=source,
        filename=display_filename(filename),
        stored_path="",
        status="queued",
        row_errors=[],
        **columns,
    )
    db.session.add(run)
    db.session.flush()
    return run


def display_filename(filename: str | None, default: str = "upload.csv") -> str:
    """The file's own name, without the folders of either kind of slash a browser may send."""
    return (PureWindowsPath(filename or "").name or default)[:255]


def store_upload(stream: BinaryIO, folder: Path, run_id: int) -> Path:
    """Copy an uploaded file to `folder` as <run id>.csv, in chunks (never whole in memory)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run_id}.csv"
    with path.open("wb") as stored:
        while chunk := stream.read(COPY_CHUNK):
            stored.write(chunk)
    return path


# --- Running an import ------------------------------------------------------------------

Batch = TypeVar("Batch")
Rows = Iterator[tuple[int, list[str]]]  # (row number, cells), as data_rows() yields them
Progress = Callable[[int, int], None]  # (rows done, rows in the file)


@dataclass(frozen=True)
class ImportKind:
    """How one domain's import runs name themselves in the audit log and the report."""

    domain: str  # audit actions "<domain>.import_started" and "<domain>.import_finished"
    things: str  # "Started importing <things> from <file>"
    imported: str  # the finished summary's start, "Imported …" with {filename}
    key: str  # the column that names a row in the error report ("email", "sku")
    log_name: str = "import run"


class ProcessRun(Protocol):
    def __call__(self, run_id: int, *, deadline: float | None = None) -> Any: ...


def run_in_slices(
    run_id: int, process: ProcessRun, *, slice_seconds: float | None, requeue: Callable[[], None]
) -> None:
    """A job's share of a run: `process` it until `slice_seconds` have passed (no limit
    when None), and `requeue` the rest. RQ stops a job that runs for minutes: a long file
    goes on in a new job, after its last committed batch."""
    deadline = None if slice_seconds is None else time.monotonic() + slice_seconds
    run = process(run_id, deadline=deadline)
    if run.status == "running":
        requeue()


def row_batches(rows: Rows, size: int) -> Iterator[list[tuple[int, list[str]]]]:
    """The rows, `size` at a time."""
    while batch := list(islice(rows, size)):
        yield batch


def process_run(
    run: Run,
    kind: ImportKind,
    *,
    inspect: Callable[[Run], FileLayout],
    batches: Callable[[Rows, FileLayout, int], Iterable[Batch]],
    import_batch: Callable[[Run, FileLayout, Batch], None],
    batch_size: int,
    progress: Progress | None = None,
    deadline: float | None = None,
) -> Run:
    """Import the file of `run`, one commit per batch; the run as it ended, or still
    "running" when `deadline` (a time.monotonic() value) came first.

    A finished run is left alone; an interrupted one resumes after `rows_done`. `inspect`
    checks the whole file before any row is written (raising UnreadableFile refuses it),
    `batches` cuts the rows not yet imported into batches of about `batch_size` rows, and
    `import_batch` writes one, moving the run's counters and report with it."""
    if run.status == "done" or (run.status == "failed" and not run.interrupted):
        return run
    with transaction():
        run.status, run.failure_reason = "running", None
        if run.started_at is None:
            run.started_at = utcnow()
            audit.record(
                f"{kind.domain}.import_started",
                actor=run.created_by,
                target=run,
                summary=f"Started importing {kind.things} from {run.filename}",
                filename=run.filename,
                source=run.source,
            )
    try:
        layout = inspect(run)
    except UnreadableFile as refusal:
        return finish_run(run, kind, failure=str(refusal))
    try:
        with transaction():
            run.rows_total = layout.rows
        if progress:
            progress(run.rows_done, layout.rows)
        with closing(data_rows(run.stored_path, layout, skip=run.rows_done)) as rows:
            started = run.rows_done
            for batch in batches(rows, layout, batch_size):
                if deadline is not None and run.rows_done > started and time.monotonic() >= deadline:
                    return run  # rows are left: the caller goes on later, from rows_done
                with transaction():
                    import_batch(run, layout, batch)
                if progress:
                    progress(run.rows_done, layout.rows)
    except Exception as exc:
        log.exception("%s %s stopped by an unexpected error", kind.log_name, run.id)
        with transaction():
            run.status = "failed"  # and no finished_at: it may resume (run.interrupted)
            run.failure_reason = (
                f"Stopped by an unexpected error ({type(exc).__name__}) after {run.rows_done} rows, "
                "which are imported. The rest follows when the job is retried, or import the file again."
            )
        raise
    return finish_run(run, kind)


def finish_run(run: Run, kind: ImportKind, *, failure: str | None = None) -> Run:
    """Mark the run done (or refused, with the reason), audit its counts and delete its
    upload: the file has served its purpose, and personal data is not kept in a side folder."""
    with transaction():
        run.status = "failed" if failure else "done"
        run.failure_reason = failure
        run.finished_at = utcnow()
        counts = {
            "rows": run.rows_done,
            "created": run.rows_created,
            "updated": run.rows_updated,
            "unchanged": run.rows_unchanged,
            "failed": run.rows_failed,
        }
        if failure:
            summary = f"Refused {run.filename}: {failure}"
        else:
            summary = (
                f"{kind.imported.format(filename=run.filename)}: {counts['created']} created, "
                f"{counts['updated']} updated, {counts['unchanged']} unchanged, {counts['failed']} failed"
            )
        audit.record(
            f"{kind.domain}.import_finished",
            actor=run.created_by,
            target=run,
            summary=summary,
            status=run.status,
            reason=failure,
            **counts,
        )
    if run.source == "upload":
        Path(run.stored_path).unlink(missing_ok=True)
    return run


def error_report_lines(run: ImportRunMixin, kind: ImportKind) -> Iterator[str]:
    """The row error report as CSV: one line per message."""
    lines = (
        [error["row"], error[kind.key], "" if column == ROW else column, message]
        for error in run.row_errors
        for column, messages in error["errors"].items()
        for message in messages
    )
    return csv_stream.csv_lines(("row", kind.key, "column", "message"), lines)


# --- The pages --------------------------------------------------------------------------


def upload_limit_mb() -> int:
    """The largest upload the portal takes, in whole megabytes, as the upload form says it."""
    return max(1, (current_app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024))


def flash_queued(run: ImportRunMixin) -> None:
    """Say where an uploaded run stands. Without a job queue the import has already run
    inside the request that uploaded it."""
    if run.status == "done":
        flash(f"{run.filename} is imported.", "success")
    elif run.status == "failed":
        flash(f"{run.filename} could not be imported.", "error")
    else:
        flash(f"Importing {run.filename}. You can leave this page: the import goes on.", "info")


def error_report_response(run: ImportRunMixin, kind: ImportKind, *, filename: str) -> Response:
    """The run's row error report, downloaded as `filename` and never cached."""
    return Response(
        "".join(error_report_lines(run, kind)),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={filename}", "Cache-Control": "no-store"},
    )
