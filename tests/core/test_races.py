"""A unique or foreign-key violation that reaches the top is a race between two requests:
a 409 naming the field where the handler knows it, a generic 409 elsewhere, never a 500."""

import pytest
from sqlalchemy.exc import IntegrityError

from app.blueprints.catalog.models import Brand
from app.core.errors import Conflict
from app.core.races import constraint_race_is_a_conflict, handle_integrity_error, is_constraint_race
from app.core.transaction import savepoint
from app.extensions import db as _db


def duplicate_slug_error() -> IntegrityError:
    _db.session.add(Brand(name="Fjord", slug="fjord"))
    _db.session.flush()
    try:
        with savepoint():
            _db.session.add(Brand(name="Fjord two", slug="fjord"))
            _db.session.flush()
    except IntegrityError as error:
        return error
    raise AssertionError("the unique index did not refuse the second row")


def test_a_unique_violation_is_a_race(db):
    assert is_constraint_race(duplicate_slug_error())


def test_a_race_on_a_named_column_is_a_409_on_that_field(db):
    error = duplicate_slug_error()
    with pytest.raises(Conflict) as conflict, constraint_race_is_a_conflict({"slug": "slug"}):
        raise error
    assert conflict.value.code == "slug_taken"
    assert conflict.value.errors == {"slug": ["Already in use."]}


def test_a_race_on_an_unnamed_column_is_a_generic_409(db):
    error = duplicate_slug_error()
    with pytest.raises(Conflict) as conflict, constraint_race_is_a_conflict({"sku": "sku"}):
        raise error
    assert conflict.value.code == "changed_meanwhile"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/api/v1/admin/brands", "application/problem+json"), ("/catalog/brands", "text/html")],
)
def test_a_race_no_handler_named_answers_409_in_the_api_and_the_portal(app, db, path, content_type):
    error = duplicate_slug_error()
    with app.test_request_context(path, method="POST"):
        response = handle_integrity_error(error)
    assert response.status_code == 409
    assert response.mimetype == content_type
