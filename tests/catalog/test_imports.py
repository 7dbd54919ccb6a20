"""Product imports from CSV: products with options and variants created, a re-import
changes nothing, known SKUs updated with their price history, bad rows failing their whole
product (nothing half-saved), unreadable files refused whole, batches ending with a
product, resuming, and the CLI with its progress bar."""

from __future__ import annotations

import tracemalloc
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.blueprints.catalog import import_files, imports
from app.blueprints.catalog.import_models import ProductImportRun
from app.blueprints.catalog.models import Brand, PriceChange, Product, Variant
from app.core.models import AuditEntry
from app.core.transaction import transaction
from tests.factories.auth import UserFactory
from tests.factories.catalog import CategoryFactory, ProductFactory

HEADER = (
    "product_slug,product_name,status,brand,categories,description,"
    "option1_name,option1_value,option2_name,option2_value,sku,price,compare_at_price"
)
SHIRT_COLUMNS = "linen-shirt,Linen shirt,active,Acme,shirts|summer,**Cool** linen"
SHIRT = (
    f"{HEADER}\n"
    f"{SHIRT_COLUMNS},Size,S,Colour,White,LS-S-W,49.00,59.00\n"
    f"{SHIRT_COLUMNS},Size,M,Colour,White,LS-M-W,49.00,59.00\n"
    f"{SHIRT_COLUMNS},Size,M,Colour,Blue,LS-M-B,52.50,\n"
    "mug,Mug,draft,,,,,,,,MUG-1,8.5,\n"
)


@pytest.fixture(autouse=True)
def import_dir(app, tmp_path, monkeypatch):
    folder = tmp_path / "imports"
    monkeypatch.setitem(app.config, "PRODUCT_IMPORT_DIR", str(folder))
    return folder


@pytest.fixture
def categories(db):
    return {slug: CategoryFactory(slug=slug, name=slug.title()) for slug in ("shirts", "summer", "kitchen")}


@pytest.fixture
def uploader(db):
    return UserFactory(roles=["admin"])


def write(tmp_path, text: str, *, name="products.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run_file(path, *, actor=None, **options) -> ProductImportRun:
    with transaction():
        run = imports.register_file(path, actor=actor)
    return imports.process_run(run.id, **options)


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def product(db, slug) -> Product:
    db.session.expire_all()
    return db.session.scalar(select(Product).where(Product.slug == slug))


def variant(db, sku) -> Variant:
    return db.session.scalar(select(Variant).where(Variant.sku == sku))


def counts(run) -> tuple:
    return (run.rows_created, run.rows_updated, run.rows_unchanged, run.rows_failed)


# --- Creating ------------------------------------------------------------------------------


def test_an_import_creates_products_with_their_options_and_variants(db, tmp_path, categories, uploader):
    run = run_file(write(tmp_path, SHIRT), actor=uploader)

    assert (run.status, run.rows_total, run.rows_done) == ("done", 4, 4)
    assert counts(run) == (4, 0, 0, 0)
    shirt = product(db, "linen-shirt")
    assert (shirt.name, shirt.status, shirt.brand.name, shirt.description) == (
        "Linen shirt",
        "active",
        "Acme",
        "**Cool** linen",
    )
    assert [link.category.slug for link in shirt.category_links] == ["shirts", "summer"]
    assert [(o.name, [v.value for v in o.values]) for o in shirt.options] == [
        ("Size", ["S", "M"]),
        ("Colour", ["White", "Blue"]),
    ]
    assert {(v.sku, v.option_key, v.price, v.compare_at_price) for v in shirt.variants} == {
        ("LS-S-W", "Size=S|Colour=White", Decimal("49.00"), Decimal("59.00")),
        ("LS-M-W", "Size=M|Colour=White", Decimal("49.00"), Decimal("59.00")),
        ("LS-M-B", "Size=M|Colour=Blue", Decimal("52.50"), None),
    }
    assert (shirt.min_price, shirt.max_price) == (Decimal("49.00"), Decimal("52.50"))
    mug = product(db, "mug")
    assert [(v.sku, v.option_key, v.price) for v in mug.variants] == [("MUG-1", "", Decimal("8.50"))]
    assert mug.status == "draft" and mug.brand is None
    # Through the services: audited as the uploader.
    created = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "catalog.product.created")
    ).all()
    assert len(created) == 2 and {entry.actor_id for entry in created} == {uploader.id}


def test_importing_the_same_file_twice_changes_nothing_the_second_time(db, tmp_path, categories):
    path = write(tmp_path, SHIRT)
    run_file(path)
    audited, prices = count(db, AuditEntry), count(db, PriceChange)

    second = run_file(path)

    assert counts(second) == (0, 0, 4, 0)
    assert count(db, Product) == 2 and count(db, Variant) == 4
    assert count(db, PriceChange) == prices
    assert count(db, AuditEntry) == audited + 2  # the second run's own start and finish


def test_a_product_named_without_a_slug_gets_one_and_is_found_again_by_name(db, tmp_path):
    path = write(tmp_path, "product_name,sku,price\nCrème brûlée pot,POT-1,4.00\n")
    run_file(path)
    assert product(db, "creme-brulee-pot").variants[0].sku == "POT-1"
    again = run_file(write(tmp_path, "product_name,sku,price\nCrème brûlée pot,POT-1,4.00\n", name="2.csv"))
    assert counts(again) == (0, 0, 1, 0) and count(db, Product) == 1


def test_an_unknown_brand_is_created_and_a_known_one_matched_by_name(db, tmp_path):
    db.session.add(Brand(name="Acme", slug="acme"))
    db.session.flush()
    run_file(write(tmp_path, "product_name,brand,sku,price\nA,acme,A-1,1\nB,Zeta,B-1,1\n"))
    assert sorted(b.name for b in db.session.scalars(select(Brand))) == ["Acme", "Zeta"]
    assert product(db, "a").brand.name == "Acme" and product(db, "b").brand.name == "Zeta"


# --- Updating by SKU -------------------------------------------------------------------------


def test_a_known_sku_is_updated_and_its_price_change_recorded(db, tmp_path, uploader):
    existing = ProductFactory(slug="tee", name="Tee", price=Decimal("10.00"))
    sku = existing.variants[0].sku
    run = run_file(write(tmp_path, f"sku,price,barcode\n{sku},12.50,871234\n"), actor=uploader)

    assert counts(run) == (0, 1, 0, 0)
    tee = variant(db, sku)
    assert (tee.price, tee.barcode) == (Decimal("12.50"), "871234")
    change = db.session.scalar(select(PriceChange).where(PriceChange.variant_id == tee.id))
    assert (change.old_amount, change.new_amount, change.changed_by_id) == (
        Decimal("10.00"),
        Decimal("12.50"),
        uploader.id,
    )
    assert product(db, "tee").min_price == Decimal("12.50")


def test_empty_cells_change_nothing_and_given_product_columns_do(db, tmp_path, categories):
    run_file(write(tmp_path, SHIRT))
    path = write(
        tmp_path,
        "product_slug,product_name,categories,sku,price,compare_at_price\n"
        "linen-shirt,Linen shirt II,kitchen,LS-S-W,,\n"
        "linen-shirt,,,LS-M-W,47.00,\n",
        name="2.csv",
    )
    run = run_file(path)
    assert counts(run) == (0, 2, 0, 0)
    shirt = product(db, "linen-shirt")
    assert shirt.name == "Linen shirt II" and shirt.description == "**Cool** linen"
    assert [link.category.slug for link in shirt.category_links] == ["kitchen"]
    assert (variant(db, "LS-S-W").price, variant(db, "LS-M-W").price) == (Decimal("49.00"), Decimal("47.00"))
    assert variant(db, "LS-M-W").compare_at_price == Decimal("59.00")


def test_new_option_values_and_variants_are_added_to_a_known_product(db, tmp_path, categories):
    run_file(write(tmp_path, SHIRT))
    path = write(
        tmp_path,
        "product_slug,option1_name,option1_value,option2_name,option2_value,sku,price\n"
        "linen-shirt,Colour,Green,Size,L,LS-L-G,55\n",
        name="2.csv",
    )
    run = run_file(path)
    assert counts(run) == (1, 0, 0, 0), run.row_errors
    shirt = product(db, "linen-shirt")
    assert [[v.value for v in o.values] for o in shirt.options] == [
        ["S", "M", "L"],
        ["White", "Blue", "Green"],
    ]
    assert variant(db, "LS-L-G").option_key == "Size=L|Colour=Green"


def test_a_product_without_options_gets_them_and_its_unstocked_default_variant_goes(db, tmp_path):
    ProductFactory(slug="tee", name="Tee", price=Decimal("10.00"))
    path = write(
        tmp_path,
        "product_slug,option1_name,option1_value,sku,price\ntee,Size,S,TEE-S,10\ntee,Size,M,TEE-M,10\n",
    )
    run = run_file(path)
    assert counts(run) == (2, 0, 0, 0), run.row_errors
    assert sorted(v.sku for v in product(db, "tee").variants) == ["TEE-M", "TEE-S"]


def test_archiving_and_deactivating_the_last_variant_in_one_file_works_in_either_order(db, tmp_path):
    """An active product needs an active variant: the import archives first, then
    deactivates; and adds variants before it activates a draft."""
    ProductFactory(slug="tee", name="Tee", price=Decimal("10.00"))
    ProductFactory(slug="cap", name="Cap", status="draft", default_variant=False)
    path = write(
        tmp_path,
        "product_slug,status,variant_active,sku,price\ntee,archived,no,SKU-TEE,\ncap,active,yes,CAP-1,5\n",
    )
    run = run_file(path)
    assert counts(run) == (1, 1, 0, 0), run.row_errors
    assert (product(db, "tee").status, variant(db, "SKU-TEE").is_active) == ("archived", False)
    assert product(db, "cap").status == "active" and product(db, "cap").published_at is not None


# --- Row errors: the whole product fails, the others land ------------------------------------


def report(run) -> dict[int, dict]:
    return {error["row"]: error["errors"] for error in run.row_errors}


def test_a_bad_row_fails_its_whole_product_and_the_other_products_land(db, tmp_path, categories):
    path = write(
        tmp_path,
        f"{HEADER}\n"
        "shirt,Shirt,,,,,Size,S,,,SH-S,10,\n"
        "shirt,Shirt,,,,,Size,M,,,SH-M,-1,\n"  # negative price
        "cap,Cap,,,,,,,,,CAP-1,5,\n",
    )
    run = run_file(path)

    assert counts(run) == (1, 0, 0, 2)
    assert product(db, "shirt") is None and variant(db, "SH-S") is None
    assert product(db, "cap") is not None
    errors = report(run)
    assert errors[3] == {"price": ["Must not be negative."]}
    assert errors[2] == {imports.ROW: ["Not imported with its product: see row 3."]}


@pytest.mark.parametrize(
    ("rows", "row", "column", "message"),
    [
        pytest.param(
            "shirt,Shirt,Size,S,SH-S,10,9\n", 2, "compare_at_price", "below the price", id="compare-at"
        ),
        pytest.param(
            "shirt,Shirt,Size,S,SH-S,10,\nshirt,Shirt,Size,M,SH-S,10,\n",
            3,
            "sku",
            "Also on row 2",
            id="dup-sku",
        ),
        pytest.param(
            "shirt,Shirt,Size,S,SH-S,10,\nshirt,Shirt,Size,S,SH-T,10,\n",
            3,
            "option1_value",
            "Same option values as row 2",
            id="colliding-options",
        ),
        pytest.param("shirt,Shirt,Size,S,SH-S,abc,\n", 2, "price", "Not an amount", id="not-money"),
        pytest.param("shirt,Shirt,Size,S,,10,\n", 2, "sku", "Required", id="no-sku"),
        pytest.param("shirt,Shirt,Size,S,SH-S,,\n", 2, "price", "Required for a new variant", id="no-price"),
        pytest.param(
            "shirt,Shirt,Size,S,SH-S,10,\nshirt,Shirt II,Size,M,SH-M,10,\n",
            3,
            "product_name",
            "Differs from row 2",
            id="rows-disagree",
        ),
        pytest.param(",,Size,S,NEW-1,10,\n", 2, "sku", "Unknown SKU", id="new-sku-without-product"),
    ],
)
def test_row_errors_are_reported_per_column_and_nothing_of_the_product_is_saved(
    db, tmp_path, rows, row, column, message
):
    header = "product_slug,product_name,option1_name,option1_value,sku,price,compare_at_price\n"
    run = run_file(write(tmp_path, header + rows))
    assert run.status == "done" and run.rows_failed == run.rows_done
    assert any(message in text for text in report(run)[row][column]), run.row_errors
    assert count(db, Product) == 0 and count(db, Variant) == 0


def test_an_unknown_category_is_a_row_error(db, tmp_path, categories):
    run = run_file(write(tmp_path, "product_name,categories,sku,price\nShirt,shirts|nope,SH-1,10\n"))
    assert report(run)[2] == {"categories": ["No category has the slug “nope”."]}
    assert count(db, Product) == 0


def test_a_sku_of_another_product_and_options_colliding_with_a_known_variant_are_refused(
    db, tmp_path, categories
):
    run_file(write(tmp_path, SHIRT))
    path = write(
        tmp_path,
        "product_slug,product_name,option1_name,option1_value,option2_name,option2_value,sku,price\n"
        "other,Other,,,,,MUG-1,3\n"
        "linen-shirt,,Size,S,Colour,White,LS-NEW,40\n",
        name="2.csv",
    )
    run = run_file(path)
    errors = report(run)
    assert errors[2] == {"sku": ["The SKU belongs to the product “mug”."]}
    assert errors[3] == {"option1_value": ["The variant LS-S-W has these option values."]}
    assert variant(db, "LS-NEW") is None and product(db, "other") is None


def test_new_options_for_a_known_sku_are_refused_with_the_way_that_exists(db, tmp_path, categories):
    """A variant's options never change; the error says to add a new variant instead."""
    run_file(write(tmp_path, SHIRT))
    path = write(
        tmp_path,
        "product_slug,option1_name,option1_value,option2_name,option2_value,sku,price\n"
        "linen-shirt,Size,L,Colour,White,LS-S-W,49\n",
        name="2.csv",
    )
    errors = report(run_file(path))
    assert errors[2] == {
        "option1_value": [
            "LS-S-W is “S / White”: a variant's options cannot change; add a new variant (new SKU) instead."
        ]
    }
    assert variant(db, "LS-S-W").option_key == "Size=S|Colour=White"


def test_a_service_refusal_while_writing_rolls_the_product_back(db, tmp_path, categories):
    """The services' own checks are the last word: a barcode another variant has is refused
    by update_variant after the product's first row was written, and that write is undone."""
    run_file(write(tmp_path, SHIRT))
    with transaction():
        variant(db, "MUG-1").barcode = "871234"
    prices = count(db, PriceChange)
    path = write(
        tmp_path,
        "product_slug,sku,price,barcode\nlinen-shirt,LS-S-W,40.00,\nlinen-shirt,LS-M-W,,871234\n",
        name="2.csv",
    )
    run = run_file(path)
    assert run.rows_failed == 2 and report(run)[3] == {
        "barcode": ["Another variant has the barcode “871234”."]
    }
    assert variant(db, "LS-S-W").price == Decimal("49.00")
    assert count(db, PriceChange) == prices


# --- Files that cannot be imported -------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param("product_name,price\nShirt,10\n", "one of them must be sku", id="no sku column"),
        pytest.param("sku,price,colour\nA,1,red\n", "unknown column colour", id="unknown column"),
        pytest.param("sku,price,price\nA,1,2\n", "repeated column price", id="repeated column"),
        pytest.param(
            "sku,option1_name\nA,Size\n", "option1_name without option1_value", id="unpaired option"
        ),
        pytest.param("", "The file is empty", id="empty"),
    ],
)
def test_wrong_columns_fail_the_file_before_any_row_is_read(db, tmp_path, content, reason):
    run = run_file(write(tmp_path, content))
    assert run.status == "failed" and reason in run.failure_reason, run.failure_reason
    assert run.rows_done == 0 and count(db, Product) == 0
    assert "product_slug" in run.failure_reason or reason == "The file is empty"  # what is understood


def test_a_file_that_is_not_utf8_is_refused(db, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("sku,product_name,price\nA,Crème,1\n".encode("latin-1"))
    run = run_file(path)
    assert run.status == "failed" and "not UTF-8" in run.failure_reason


def test_semicolons_decimal_commas_and_spreadsheet_headers_are_read(db, tmp_path):
    path = write(tmp_path, "Product Name;SKU;Price\nShirt;SH-1;12,50\n")
    run = run_file(path)
    assert run.rows_created == 1 and variant(db, "SH-1").price == Decimal("12.50")


# --- Batches, progress, resuming ----------------------------------------------------------------


def many_products(tmp_path, products: int, variants: int = 2) -> Path:
    lines = ["product_slug,product_name,option1_name,option1_value,sku,price"]
    for p in range(products):
        lines.extend(f"p-{p},Product {p},Size,S{v},P{p}-{v},{p + 1}.00" for v in range(variants))
    return write(tmp_path, "\n".join(lines) + "\n", name=f"{products}.csv")


def test_batches_end_with_a_products_last_row_and_progress_is_committed_with_each(db, tmp_path):
    seen = []
    run = run_file(many_products(tmp_path, 3, 3), batch_size=4, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(0, 9), (6, 9), (9, 9)]
    assert (run.rows_done, run.rows_created, run.percent) == (9, 9, 100)


def test_an_interrupted_run_resumes_at_the_first_product_not_committed(db, tmp_path, monkeypatch):
    path = many_products(tmp_path, 3)
    with transaction():
        run = imports.register_file(path)
    real = imports.import_group

    def crash_on_p2(group, *args, **kwargs):
        if group.rows[0].product.slug == "p-2":
            raise RuntimeError("database went away")
        return real(group, *args, **kwargs)

    monkeypatch.setattr(imports, "import_group", crash_on_p2)
    with pytest.raises(RuntimeError):
        imports.process_run(run.id, batch_size=2)
    db.session.expire_all()
    assert (run.status, run.rows_done, run.finished_at) == ("failed", 4, None)
    assert "after 4 rows" in run.failure_reason and count(db, Product) == 2

    monkeypatch.setattr(imports, "import_group", real)
    run = imports.process_run(run.id, batch_size=2)
    assert (run.status, run.rows_done, run.rows_created, run.rows_unchanged) == ("done", 6, 6, 0)


def test_a_job_that_reaches_its_time_slice_goes_on_in_a_new_job(db, tmp_path, monkeypatch):
    with transaction():
        run = imports.register_file(many_products(tmp_path, 2))
    queued = []
    monkeypatch.setattr(imports, "jobs_inline", lambda: False)
    monkeypatch.setattr(imports, "JOB_SLICE_SECONDS", 0)
    monkeypatch.setattr(imports, "BATCH_SIZE", 2)
    monkeypatch.setattr(imports, "enqueue", lambda func, *args, **kwargs: queued.append((func, args)))

    imports.run_import(run.id)
    assert (run.status, run.rows_done) == ("running", 2) and queued == [(imports.run_import, (run.id,))]
    imports.run_import(run.id)
    assert (run.status, run.rows_done, run.rows_created) == ("done", 4, 4)


def test_a_product_with_more_rows_than_the_bound_fails_whole(db, tmp_path, monkeypatch):
    monkeypatch.setattr(import_files, "MAX_GROUP_ROWS", 2)
    monkeypatch.setattr(
        imports,
        "product_groups",
        lambda rows, columns: import_files.product_groups(rows, columns, max_rows=2),
    )
    run = run_file(many_products(tmp_path, 1, 3))
    assert run.rows_failed == 3 and count(db, Product) == 0
    assert "at most 2 rows" in report(run)[4][imports.ROW][0]


def test_a_large_file_is_read_in_constant_memory(db, tmp_path):
    path = many_products(tmp_path, 5_000, 4)
    tracemalloc.start()
    try:
        layout = import_files.inspect_file(str(path))
        groups = sum(
            1 for _ in import_files.product_groups(imports.data_rows(str(path), layout), layout.columns)
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert layout.rows == 20_000 and groups == 5_000
    assert peak < 1024 * 1024, f"reading 20,000 rows peaked at {peak} bytes"


# --- Reports and audit ----------------------------------------------------------------------------


def test_start_and_finish_are_audited_and_the_error_report_is_csv(db, tmp_path, uploader):
    run = run_file(write(tmp_path, "product_name,sku,price\nA,A-1,-2\n"), actor=uploader)
    actions = [e.action for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[0] == "catalog.import_started" and actions[-1] == "catalog.import_finished"
    assert "".join(imports.error_report_lines(run)) == (
        "row,sku,column,message\r\n2,A-1,price,Must not be negative.\r\n"
    )


# --- A real worker ---------------------------------------------------------------------------------


@pytest.fixture
def queued_app(app, redis_url, committed_db, tmp_path):
    """The app with jobs going to Redis instead of running inline."""
    from redis import Redis
    from rq import Queue

    from app import create_app
    from app.core import jobs

    queued = create_app("testing", JOBS_INLINE=False, PRODUCT_IMPORT_DIR=str(tmp_path / "uploads"))
    for name in jobs.QUEUES:
        Queue(name, connection=Redis.from_url(redis_url)).empty()
    with queued.app_context():
        yield queued


def test_an_upload_is_imported_by_a_real_rq_worker(queued_app, redis_url):
    import io
    import os
    import subprocess
    import sys

    from app.core import jobs
    from app.extensions import db

    with queued_app.test_request_context():
        with transaction():
            user = UserFactory(roles=["admin"])
        with transaction():
            run = imports.queue_upload(
                io.BytesIO(b"product_name;sku;price\nMug;MUG-1;8,50\nHat;HAT-1;-1\n"),
                filename="list.csv",
                actor=user,
            )
            assert jobs.get_queue("default").count == 0, "job queued before the commit"
        run_id, stored = run.id, Path(run.stored_path)
        assert jobs.get_queue("default").count == 1

    result = subprocess.run(
        [sys.executable, "worker.py", "--burst"],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "APP_ENV": "testing", "REDIS_URL": redis_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    db.session.remove()
    run = db.session.get(ProductImportRun, run_id)
    assert (run.status, run.rows_created, run.rows_failed) == ("done", 1, 1)
    assert db.session.scalar(select(Variant.price).where(Variant.sku == "MUG-1")) == Decimal("8.50")
    assert not stored.exists()
