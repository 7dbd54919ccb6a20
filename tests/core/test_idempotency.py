"""Idempotency keys claimed inside the work's own transaction (`idempotency.claim_within`)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.core import idempotency
from app.core.errors import Conflict, InvalidInput
from app.core.models import IdempotencyRecord
from app.core.timeutil import utcnow
from app.core.transaction import transaction
from app.extensions import db as database

SCOPE = "test:claims"
BODY = {"payment_method": "manual"}


def request_for(app):
    return app.test_request_context("/api/v1/store/carts/c/checkout", method="POST", json=BODY)


def keys_stored(key: str) -> int:
    return database.session.scalar(
        select(func.count()).select_from(IdempotencyRecord).where(IdempotencyRecord.key == key)
    )


def test_a_failed_request_leaves_no_key_behind(app, db):
    with request_for(app):
        with pytest.raises(RuntimeError), transaction():
            assert idempotency.claim_within(SCOPE, "fails").record_id is not None
            raise RuntimeError("the work failed")
        assert keys_stored("fails") == 0
        with transaction():  # the client's corrected retry goes first now
            assert idempotency.claim_within(SCOPE, "fails").record_id is not None


def test_a_completed_request_is_replayed_and_another_body_refused(app, db):
    with request_for(app):
        with transaction():
            claim = idempotency.claim_within(SCOPE, "done")
            claim.complete({"number": "100001"}, 201, resource="order:1")
        with transaction():
            replay = idempotency.claim_within(SCOPE, "done").replay
        assert (replay.status_code, replay.get_json()) == (201, {"number": "100001"})
        assert replay.headers[idempotency.REPLAYED_HEADER] == "true"
    with app.test_request_context("/x", method="POST", json={"payment_method": "stripe"}):
        with pytest.raises(InvalidInput) as refused, transaction():
            idempotency.claim_within(SCOPE, "done")
        assert refused.value.code == "idempotency_key_reused"


def test_an_abandoned_attempt_whose_work_committed_is_taken_over_with_its_resource(app, db):
    with transaction():
        database.session.add(
            IdempotencyRecord(
                scope=SCOPE,
                key="abandoned",
                request_hash="",
                status="running",
                resource="order:7",
                created_at=utcnow() - idempotency.STALE_AFTER - timedelta(seconds=1),
            )
        )
    with request_for(app):
        record = database.session.scalar(
            select(IdempotencyRecord).where(IdempotencyRecord.key == "abandoned")
        )
        record.request_hash = idempotency.request_fingerprint()
        database.session.commit()
        with transaction():
            claim = idempotency.claim_within(SCOPE, "abandoned")
    assert (claim.record_id, claim.resource) == (record.id, "order:7")


def test_a_retry_while_the_first_still_runs_is_told_so_at_once_not_made_to_wait(app, concurrent):
    """The first attempt holds its key uncommitted; the retry must answer 409 now (the
    advisory lock), not block on the unique index until the first commits."""
    claimed, release = threading.Event(), threading.Event()
    outcome: dict = {}

    def first() -> None:
        with app.app_context(), request_for(app):
            try:
                with transaction():
                    idempotency.claim_within(SCOPE, "racing")
                    claimed.set()
                    release.wait(timeout=30)
            finally:
                database.session.remove()

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert claimed.wait(timeout=30)
        with app.app_context(), request_for(app):
            began = time.monotonic()
            try:
                with transaction():
                    idempotency.claim_within(SCOPE, "racing")
            except Conflict as refused:
                outcome["code"] = refused.code
            outcome["seconds"] = time.monotonic() - began
            database.session.remove()
    finally:
        release.set()
        thread.join(timeout=30)
    assert outcome["code"] == "idempotency_request_in_progress"
    assert outcome["seconds"] < 5
    with app.app_context():
        assert keys_stored("racing") == 1
