"""Customer imports from CSV: idempotent on email, row errors reported while good rows
land, unreadable files refused whole, consent into the ledger, progress per batch,
resuming after an interruption, the CLI, and a real RQ worker."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tracemalloc
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.blueprints.customers import exports, imports, queries
from app.blueprints.customers.import_models import MAX_ROW_ERRORS, ImportRun
from app.blueprints.customers.models import ConsentEvent, Customer, CustomerPhone
from app.core import events
from app.core.errors import InvalidInput
from app.core.models import AuditEntry
from app.core.transaction import transaction
from tests.factories.auth import UserFactory
from tests.factories.customers import CustomerFactory

ROOT = Path(__file__).resolve().parents[2]
HEADER = "email,first_name,last_name,city,country,phones,tags,status,date_of_birth"


@pytest.fixture(autouse=True)
def import_dir(app, tmp_path, monkeypatch):
    folder = tmp_path / "imports"
    monkeypatch.setitem(app.config, "CUSTOMER_IMPORT_DIR", str(folder))
    return folder


@pytest.fixture
def uploader(db):
    return UserFactory(roles=["admin"])


def write(tmp_path, text: str, *, name="customers.csv", encoding="utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def run_file(path, *, actor=None, wording=None, **options) -> ImportRun:
    with transaction():
        run = imports.register_file(path, consent_wording=wording, actor=actor)
    return imports.process_run(run.id, **options)


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def customer(db, email) -> Customer:
    return db.session.scalar(select(Customer).where(Customer.email == email))


def audit_actions(db, action) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


# --- Creating and updating ---------------------------------------------------------------


def test_new_emails_are_created_and_known_ones_updated_with_the_non_empty_values(db, tmp_path, uploader):
    CustomerFactory(email="ann@example.org", first_name="Ann", last_name="Old", city="Amsterdam")
    path = write(
        tmp_path,
        f"{HEADER}\n"
        "ANN@Example.org,,Smith,Utrecht,,,,,\n"
        "bob@example.org,Bob,Jones,Berlin,de,030 1234567 | +31 6 12345678,VIP; wholesale,active,1990-04-23\n",
    )
    run = run_file(path, actor=uploader)

    assert (run.status, run.rows_total, run.rows_done) == ("done", 2, 2)
    assert (run.rows_created, run.rows_updated, run.rows_unchanged, run.rows_failed) == (1, 1, 0, 0)
    ann = customer(db, "ann@example.org")
    assert (ann.first_name, ann.last_name, ann.city) == ("Ann", "Smith", "Utrecht")  # empty cell: kept
    bob = customer(db, "bob@example.org")
    assert (bob.country, bob.status, bob.date_of_birth) == ("DE", "active", date(1990, 4, 23))
    assert sorted(p.number for p in bob.phones) == ["+31612345678", "+49301234567"]
    assert bob.tag_names == ["vip", "wholesale"]
    # Each change is audited by the services, as the person who uploaded the file.
    created = audit_actions(db, "customer.created")
    updated = audit_actions(db, "customer.updated")
    assert [e.target_id for e in created] == [str(bob.id)] and created[0].actor_id == uploader.id
    assert (
        updated[0].data["changes"]["city"] == ["Amsterdam", "Utrecht"] and updated[0].actor_id == uploader.id
    )


def test_importing_the_same_file_twice_changes_nothing_the_second_time(db, tmp_path, uploader):
    path = write(
        tmp_path,
        f"{HEADER},marketing_email_consent\n"
        "ann@example.org,Ann,Smith,Utrecht,NL,0612345678,vip,active,1980-01-02,yes\n"
        "bob@example.org,Bob,,,,,,,,no\n",
    )
    first = run_file(path, actor=uploader, wording="nl-2026")
    audited = count(db, AuditEntry)
    consents_before = count(db, ConsentEvent)

    second = run_file(path, actor=uploader, wording="nl-2026")

    assert (first.rows_created, first.rows_updated) == (2, 0)
    assert (second.rows_created, second.rows_updated, second.rows_unchanged) == (0, 0, 2)
    assert count(db, Customer) == 2 and count(db, ConsentEvent) == consents_before
    # Only the second run's own start and finish are new in the audit log.
    assert count(db, AuditEntry) == audited + 2


def test_the_same_email_twice_in_a_file_updates_the_customer_created_above(db, tmp_path):
    path = write(tmp_path, "email,city\nann@example.org,Delft\nANN@example.org,Leiden\n")
    run = run_file(path, batch_size=10)
    assert (run.rows_created, run.rows_updated) == (1, 1)
    assert customer(db, "ann@example.org").city == "Leiden"


def test_phones_and_tags_in_a_row_replace_the_customers_keeping_known_phone_kinds(db, tmp_path):
    ann = CustomerFactory(email="ann@example.org", tags=["old"])
    ann.phones.append(CustomerPhone(number="+31201234567", kind="work"))
    db.session.flush()
    path = write(tmp_path, "email,phones,tags\nann@example.org,+31 20 123 4567;06 12345678,new\n")
    run_file(path)
    db.session.expire_all()
    assert {(p.number, p.kind) for p in ann.phones} == {("+31201234567", "work"), ("+31612345678", "mobile")}
    assert ann.tag_names == ["new"]


def test_an_edited_export_imports_back_and_an_unedited_one_changes_nothing(db, tmp_path):
    ann = CustomerFactory(email="ann@example.org", tags=["vip", "b2b"])
    ann.phones.append(CustomerPhone(number="+31612345678", kind="mobile"))
    ann.phones.append(CustomerPhone(number="+31201234567", kind="home"))
    CustomerFactory(email="bob@example.org", company="=cmd()")  # neutralised as '=cmd() by the export
    db.session.flush()
    exported = "".join(exports.csv_lines(queries.export_rows(queries.CustomerFilter())))

    unchanged = run_file(write(tmp_path, exported))
    assert (unchanged.rows_done, unchanged.rows_updated, unchanged.rows_failed) == (2, 0, 0)

    run = run_file(write(tmp_path, exported.replace("Amsterdam", "Haarlem"), name="edited.csv"))
    assert run.rows_updated == 2
    assert customer(db, "bob@example.org").company == "=cmd()"


def test_an_email_of_a_merged_record_updates_the_customer_it_was_merged_into(db, tmp_path):
    survivor = CustomerFactory(email="ann@example.org", city="Delft")
    CustomerFactory(email="ann.old@example.org", merged_into_id=survivor.id)
    run = run_file(write(tmp_path, "email,city\nann.old@example.org,Leiden\n"))
    assert run.rows_updated == 1 and survivor.city == "Leiden"


# --- Row errors ----------------------------------------------------------------------------


def test_bad_rows_are_reported_with_row_numbers_and_skipped_while_the_good_rows_land(db, tmp_path):
    path = write(
        tmp_path,
        f"{HEADER}\n"
        "good1@example.org,Ann,,,,,,,\n"
        "not-an-email,Bob,,,,,,,\n"
        "\n"  # a blank line is no row, but keeps the numbering a spreadsheet shows
        "bad@example.org,,,,XX,,,vip,31-12-1990\n"
        "phone@example.org,,,,NL,12,,,\n"
        ",no email,,,,,,,\n"
        "good2@example.org,Cem,,,,,,,,extra\n"
        "good3@example.org,Dee,,,,,,,\n",
    )
    run = run_file(path, batch_size=2)

    assert (run.status, run.rows_total, run.rows_created, run.rows_failed) == ("done", 7, 2, 5)
    assert {e.email for e in db.session.scalars(select(Customer))} == {
        "good1@example.org",
        "good3@example.org",
    }
    report = {error["row"]: error for error in run.row_errors}
    assert sorted(report) == [3, 5, 6, 7, 8]
    assert set(report[3]["errors"]) == {"email"} and report[3]["email"] == "not-an-email"
    assert set(report[5]["errors"]) == {"country", "status", "date_of_birth"}
    assert report[5]["email"] == "bad@example.org"
    assert report[6]["errors"] == {"phones": ["“12” is not a valid phone number."]}
    assert report[7]["errors"] == {"email": ["An email address is required."]}
    assert report[8]["errors"] == {imports.ROW: ["The row has 10 cells; the header names 9 columns."]}


def test_a_value_longer_than_its_column_is_a_row_error_not_a_database_error(db, tmp_path):
    run = run_file(write(tmp_path, f"email,vat_number\nann@example.org,{'N' * 33}\n"))
    assert run.row_errors == [
        {"row": 2, "email": "ann@example.org", "errors": {"vat_number": ["At most 32 characters."]}}
    ]


def test_the_report_keeps_the_first_rows_in_error_and_counts_them_all(db, tmp_path, monkeypatch):
    monkeypatch.setattr(imports, "MAX_ROW_ERRORS", 3)
    run = run_file(write(tmp_path, "email\n" + "nope\n" * 5), batch_size=2)
    assert run.rows_failed == 5 and [e["row"] for e in run.row_errors] == [2, 3, 4]
    assert MAX_ROW_ERRORS == 1000


def test_a_row_rolled_back_drops_the_events_it_queued(db, tmp_path, monkeypatch):
    heard = []
    listener = events.subscribe("customer.created")(lambda event: heard.append(event.payload["customer_id"]))

    def refuse(customer, *args, **kwargs):
        if customer.email == "bob@example.org":
            raise InvalidInput("No.", errors={"marketing_email_consent": ["Refused."]})

    monkeypatch.setattr(imports.consents, "record", refuse)
    path = write(tmp_path, "email,marketing_email_consent\nann@example.org,yes\nbob@example.org,yes\n")
    try:
        run = run_file(path, wording="v1")
    finally:
        events.LISTENERS["customer.created"].remove(listener)
    assert (run.rows_created, run.rows_failed) == (1, 1)
    assert customer(db, "bob@example.org") is None
    assert heard == [customer(db, "ann@example.org").id]


# --- Files that cannot be imported ----------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param(
            b"email,city\n"
            + b"".join(b"p%d@example.org,Delft\n" % i for i in range(2000))  # far past the first read
            + "zoë@example.org,Köln\n".encode("latin-1"),
            "not UTF-8",
            id="latin-1 after good rows",
        ),
        pytest.param("email,city\nann@example.org,Köln\n".encode("utf-16"), "not UTF-8", id="utf-16"),
        pytest.param(b"name,city\nAnn,Delft\n", "one of them must be email", id="no email column"),
        pytest.param(b"", "The file is empty", id="empty"),
        pytest.param(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00", "email", id="spreadsheet, not CSV"),
        pytest.param(b"email,city\nann@example.org,Del\x00ft\n", "NUL", id="NUL bytes"),
        pytest.param(
            b'email,city\nann@example.org,"' + b"x" * 200_000 + b'"\n', "not readable as CSV", id="huge"
        ),
    ],
)
def test_an_unreadable_file_writes_nothing_and_fails_the_run_with_the_reason(db, tmp_path, content, reason):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    run = run_file(path, batch_size=2)
    assert run.status == "failed" and reason in run.failure_reason
    assert run.finished_at is not None and run.rows_done == 0
    assert count(db, Customer) == 0
    finished = audit_actions(db, "customers.import_finished")
    assert finished[0].data["status"] == "failed" and finished[0].data["created"] == 0


def test_an_unknown_column_refuses_the_whole_file_naming_it(db, tmp_path):
    run = run_file(write(tmp_path, "email,first_name,favourite_colour\nann@example.org,Ann,blue\n"))
    assert run.status == "failed"
    assert "unknown column favourite_colour" in run.failure_reason
    assert "marketing_email_consent" in run.failure_reason  # the columns that are understood
    assert count(db, Customer) == 0


def test_consent_values_without_a_wording_version_refuse_the_file(db, tmp_path):
    path = write(tmp_path, "email,marketing_email_consent\nann@example.org,\nbob@example.org,yes\n")
    run = run_file(path)
    assert run.status == "failed" and "Row 3 records marketing email consent" in run.failure_reason
    assert count(db, Customer) == 0


def test_a_refused_run_is_not_run_again(db, tmp_path):
    run = run_file(write(tmp_path, "name\nAnn\n"))
    entries = count(db, AuditEntry)
    assert imports.process_run(run.id).status == "failed"
    assert count(db, AuditEntry) == entries


# --- Formats --------------------------------------------------------------------------------


def test_a_semicolon_separated_file_is_read(db, tmp_path):
    path = write(tmp_path, 'email;first_name;company;tags\nann@example.org;Ann;"Smith; Sons";a, b\n')
    run = run_file(path)
    ann = customer(db, "ann@example.org")
    assert run.rows_created == 1 and ann.company == "Smith; Sons" and ann.tag_names == ["a", "b"]


def test_a_utf8_file_with_a_byte_order_mark_is_read(db, tmp_path):
    path = write(tmp_path, "Email,First Name\r\nzoë@example.org,Zoë\r\n", encoding="utf-8-sig")
    run = run_file(path)
    assert run.rows_created == 1 and customer(db, "zoë@example.org").first_name == "Zoë"


# --- Consent ---------------------------------------------------------------------------------


def test_the_consent_column_is_recorded_as_a_ledger_event_from_the_import(db, tmp_path, uploader):
    CustomerFactory(email="bob@example.org")
    path = write(
        tmp_path,
        "email,marketing_email_consent\nann@example.org,yes\nbob@example.org,NO\ncem@example.org,\n",
    )
    run = run_file(path, actor=uploader, wording="newsletter-2026")
    assert (run.rows_created, run.rows_updated) == (2, 1)
    ledger = {
        e.customer_id: e
        for e in db.session.scalars(select(ConsentEvent).where(ConsentEvent.purpose == "marketing_email"))
    }
    ann, bob, cem = (customer(db, f"{n}@example.org") for n in ("ann", "bob", "cem"))
    assert set(ledger) == {ann.id, bob.id} and cem.id not in ledger
    assert (ledger[ann.id].granted, ledger[ann.id].source, ledger[ann.id].wording_version) == (
        True,
        "import",
        "newsletter-2026",
    )
    assert ledger[bob.id].granted is False and ledger[ann.id].recorded_by_id == uploader.id

    withdrawn = run_file(
        write(tmp_path, "email,marketing_email_consent\nann@example.org,no\n", name="2.csv"), wording="v2"
    )
    assert withdrawn.rows_updated == 1
    assert (
        db.session.scalar(select(func.count(ConsentEvent.id)).where(ConsentEvent.customer_id == ann.id)) == 2
    )


# --- Progress, resuming, the job ---------------------------------------------------------------


def test_progress_is_committed_with_every_batch(db, tmp_path):
    seen = []
    path = write(tmp_path, "email\n" + "".join(f"p{i}@example.org\n" for i in range(5)))
    run = run_file(path, batch_size=2, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(0, 5), (2, 5), (4, 5), (5, 5)]
    assert (run.rows_done, run.rows_total, run.percent) == (5, 5, 100)


def test_an_interrupted_run_resumes_after_its_last_committed_batch(db, tmp_path, monkeypatch):
    path = write(tmp_path, "email\n" + "".join(f"p{i}@example.org\n" for i in range(5)))
    with transaction():
        run = imports.register_file(path, consent_wording=None)
    real = imports.import_row

    def crash_on_p3(row, *args, **kwargs):
        if row.email == "p3@example.org":
            raise RuntimeError("database went away")
        return real(row, *args, **kwargs)

    monkeypatch.setattr(imports, "import_row", crash_on_p3)
    with pytest.raises(RuntimeError):
        imports.process_run(run.id, batch_size=2)
    db.session.expire_all()
    assert (run.status, run.rows_done, run.finished_at) == ("failed", 2, None)
    assert "after 2 rows, which are imported" in run.failure_reason and count(db, Customer) == 2

    monkeypatch.setattr(imports, "import_row", real)
    run = imports.process_run(run.id, batch_size=2)
    assert (run.status, run.rows_done, run.rows_created, run.rows_unchanged) == ("done", 5, 5, 0)
    assert len(audit_actions(db, "customers.import_started")) == 1


def test_a_job_that_reaches_its_time_slice_goes_on_in_a_new_job(db, tmp_path, monkeypatch):
    path = write(tmp_path, "email\n" + "".join(f"p{i}@example.org\n" for i in range(3)))
    with transaction():
        run = imports.register_file(path, consent_wording=None)
    queued = []
    monkeypatch.setattr(imports, "jobs_inline", lambda: False)
    monkeypatch.setattr(imports, "JOB_SLICE_SECONDS", 0)
    monkeypatch.setattr(imports, "BATCH_SIZE", 2)
    monkeypatch.setattr(imports, "enqueue", lambda func, *args, **kwargs: queued.append((func, args)))

    imports.run_import(run.id)
    assert (run.status, run.rows_done) == ("running", 2) and queued == [(imports.run_import, (run.id,))]
    imports.run_import(run.id)
    assert (run.status, run.rows_done, run.rows_created) == ("done", 3, 3) and len(queued) == 1


def test_a_finished_run_is_not_run_again(db, tmp_path):
    run = run_file(write(tmp_path, "email\nann@example.org\n"))
    entries = count(db, AuditEntry)
    imports.run_import(run.id)
    assert count(db, AuditEntry) == entries and run.rows_created == 1


def test_start_and_finish_are_audited_with_the_counts(db, tmp_path, uploader):
    run = run_file(write(tmp_path, "email\nann@example.org\nnope\n"), actor=uploader)
    started, finished = (
        audit_actions(db, "customers.import_started"),
        audit_actions(db, "customers.import_finished"),
    )
    assert started[0].target_id == str(run.id) and started[0].actor_id == uploader.id
    assert {
        k: finished[0].data[k] for k in ("status", "rows", "created", "updated", "unchanged", "failed")
    } == {
        "status": "done",
        "rows": 2,
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "failed": 1,
    }


def test_an_upload_is_stored_imported_after_the_commit_and_then_deleted(db, import_dir, uploader):
    with transaction():
        run = imports.queue_upload(
            io.BytesIO(b"email\nann@example.org\n"),
            filename="C:\\Users\\me\\list.csv",
            consent_wording="",
            actor=uploader,
        )
        stored = Path(run.stored_path)
        assert stored.parent == import_dir and stored.read_bytes() == b"email\nann@example.org\n"
        assert run.status == "queued"
    # Without Redis the job ran inline once the upload was committed.
    assert (run.status, run.rows_created, run.filename) == ("done", 1, "list.csv")
    assert not stored.exists()


def test_a_wording_version_longer_than_the_ledger_holds_is_refused(db, uploader):
    with pytest.raises(InvalidInput) as error:
        imports.queue_upload(
            io.BytesIO(b"email\n"), filename="a.csv", consent_wording="v" * 33, actor=uploader
        )
    assert "consent_wording" in error.value.errors


def test_a_large_file_is_read_in_constant_memory(db, tmp_path):
    path = tmp_path / "large.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("email,first_name,city,phones\n")
        for i in range(20_000):
            out.write(f"person{i}@example.org,Person {i},Utrecht,+3161{i:07d}\n")
    tracemalloc.start()
    try:
        layout = imports.inspect_file(str(path), consent_wording=None)
        rows = sum(1 for _ in imports.data_rows(str(path), layout))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert layout.rows == rows == 20_000
    assert peak < 1024 * 1024, f"reading 20,000 rows ({path.stat().st_size} bytes) peaked at {peak} bytes"


def test_writing_rows_holds_one_batch_in_memory_whatever_the_file_size(db, tmp_path):
    def peak_for(rows: int) -> int:
        path = tmp_path / f"{rows}.csv"
        path.write_text("email,city\n" + "".join(f"r{rows}-{i}@example.org,Delft\n" for i in range(rows)))
        with transaction():
            run = imports.register_file(path, consent_wording=None)
        tracemalloc.start()
        try:
            assert imports.process_run(run.id, batch_size=25).rows_created == rows
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    peak_for(25)  # warm the statement caches
    small, large = peak_for(50), peak_for(250)
    assert large < small + 512 * 1024, f"50 rows peaked at {small} bytes, 250 at {large}"


# --- The command line ----------------------------------------------------------------------------


def cli(app, *args):
    return app.test_cli_runner().invoke(args=["crm", "import-customers", *args])


def test_cli_imports_a_file_with_a_progress_bar_and_prints_counts_and_first_errors(app, db, tmp_path):
    CustomerFactory(email="bob@example.org", city="Delft")
    path = write(
        tmp_path,
        "email,city,marketing_email_consent\nann@example.org,Delft,yes\nbob@example.org,Leiden,\nnope,,\n",
    )
    result = cli(app, str(path), "--consent-wording", "cli-v1")
    assert result.exit_code == 0, result.output
    assert "3 rows: 1 created, 1 updated, 0 unchanged, 1 failed." in result.output
    assert "row 4 (nope): email:" in result.output
    event = db.session.scalar(select(ConsentEvent))
    assert (event.source, event.wording_version, event.recorded_by_id) == ("import", "cli-v1", None)
    run = db.session.scalar(select(ImportRun))
    assert (run.source, run.created_by_id, Path(run.stored_path)) == ("cli", None, path.resolve())
    assert path.exists()  # the operator's file is left where it was


def test_cli_exits_with_1_and_writes_nothing_when_the_file_is_unreadable(app, db, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("email,city\nzoë@example.org,Köln\n".encode("latin-1"))
    result = cli(app, str(path))
    assert result.exit_code == 1
    assert "Nothing was imported. The file is not UTF-8 text" in result.output
    assert count(db, Customer) == 0


def test_cli_refuses_a_file_that_does_not_exist(app, db, tmp_path):
    result = cli(app, str(tmp_path / "missing.csv"))
    assert result.exit_code == 2 and "does not exist" in result.output


# --- A real worker ---------------------------------------------------------------------------------


@pytest.fixture
def queued_app(app, redis_url, committed_db, tmp_path):
    """The app with jobs going to Redis instead of running inline."""
    from redis import Redis
    from rq import Queue

    from app import create_app
    from app.core import jobs

    queued = create_app("testing", JOBS_INLINE=False, CUSTOMER_IMPORT_DIR=str(tmp_path / "uploads"))
    for name in jobs.QUEUES:
        Queue(name, connection=Redis.from_url(redis_url)).empty()
    with queued.app_context():
        yield queued


def test_an_upload_is_imported_by_a_real_rq_worker(queued_app, redis_url):
    from app.core import jobs
    from app.extensions import db

    with queued_app.test_request_context():
        with transaction():
            user = UserFactory(roles=["admin"])
        with transaction():
            run = imports.queue_upload(
                io.BytesIO(b"email;city\nann@example.org;Delft\nbad;Delft\n"),
                filename="list.csv",
                consent_wording=None,
                actor=user,
            )
            assert jobs.get_queue("default").count == 0, "job queued before the commit"
        run_id, stored = run.id, Path(run.stored_path)
        assert jobs.get_queue("default").count == 1

    result = subprocess.run(
        [sys.executable, "worker.py", "--burst"],
        cwd=ROOT,
        env={**os.environ, "APP_ENV": "testing", "REDIS_URL": redis_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr

    db.session.remove()
    run = db.session.get(ImportRun, run_id)
    assert (run.status, run.rows_created, run.rows_failed) == ("done", 1, 1)
    assert run.row_errors[0]["row"] == 3
    assert db.session.scalar(select(Customer.city).where(Customer.email == "ann@example.org")) == "Delft"
    assert not stored.exists()
