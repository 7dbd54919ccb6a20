"""Idempotency-Key for POSTs that move money (after the IETF httpapi Idempotency-Key draft).

    claim = idempotency.claim(scope, key)          # before the work
    with transaction():
        order = place_order(...)
        claim.attach(f"order:{order.id}")          # in the work's transaction
    return claim.complete(body, 201, headers)      # stores the first response

    # or, when the whole answer is known inside the work's transaction:
    with transaction():
        order = place_order(...)
        return claim.complete(body, 201, headers, resource=f"order:{order.id}")

    # or the key claimed in the work's own transaction (the checkout), see claim_within():
    with transaction():
        claim = idempotency.claim_within(scope, key)
        ...

- The key is claimed in its own short transaction, so a retry that arrives while the first
  request still runs finds it and gets a 409 (`idempotency_request_in_progress`).
- The same key with another body is a 422 (`idempotency_key_reused`).
- A completed request is replayed: the stored first response, with
  `Idempotent-Replayed: true`. Stored bodies are encrypted (they may hold secrets such as a
  payment's client secret).
- A request that fails (any error answer) releases its key: nothing was done, so the
  client may fix the problem and retry with the same key.
- `attach()` ties the resource to the key inside the work's transaction. Should the
  process die between that commit and `complete()`, a retry after `STALE_AFTER` finds the
  resource (`claim.resource`) and answers it instead of doing the work again.
- `complete()` inside an open transaction stores the response with the work, in one
  UPDATE (with `resource`, instead of `attach()`): the work and its answer commit together,
  so no retry can find the one without the other.
- Keys are kept `IDEMPOTENCY_KEEP_HOURS` (at least 24) and then pruned.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from flask import Response, current_app, request
from sqlalchemy import bindparam, delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from app.core import crypto
from app.core.errors import Conflict, InvalidInput
from app.core.models import IdempotencyRecord
from app.core.timeutil import UTCDateTime, utcnow
from app.core.transaction import in_transaction, transaction
from app.extensions import db

_RECORDS = IdempotencyRecord.__table__
HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
STALE_AFTER = timedelta(seconds=60)  # a "running" claim older than this was abandoned
DEFAULT_KEEP_HOURS = 24


class KeyMissing(InvalidInput):
    """400: an endpoint that requires the header did not get it."""

    status = 400


def request_fingerprint() -> str:
    """The method, path and body of this request, JSON bodies compared by content (key
    order and whitespace do not make another request)."""
    raw = request.get_data(cache=True)
    try:
        body = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")) if raw else ""
    except ValueError:
        body = raw.decode("utf-8", "replace")
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def openapi_header(*, required: bool) -> dict:
    """The Idempotency-Key header as an operation's OpenAPI parameters document it."""
    first = "A new unique value (a UUID)" if required else "Optional: a new unique value (a UUID)"
    return {
        "in": "header",
        "name": HEADER,
        "required": required,
        "schema": {"type": "string", "maxLength": MAX_KEY_LENGTH},
        "description": f"{first} per attempt, sent again when retrying after a timeout. A replay "
        "answers the first response with `Idempotent-Replayed: true`; the same key with another body "
        "is a 422, a retry while the first still runs a 409.",
    }


def key_from_request(*, required: bool) -> str | None:
    key = request.headers.get(HEADER)
    if key is None or key == "":
        if required:
            raise KeyMissing(
                f"Send an {HEADER} header (a unique value per attempt, e.g. a UUID).",
                code="idempotency_key_required",
                errors={HEADER: ["Required."]},
            )
        return None
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise KeyMissing(
            f"The {HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters.",
            code="idempotency_key_invalid",
            errors={HEADER: [f"1 to {MAX_KEY_LENGTH} printable characters."]},
        )
    return key


@dataclass
class Claim:
    """A claimed key (or, with no key, a stand-in that stores nothing)."""

    record_id: int | None
    replay: Response | None = None
    resource: str | None = None  # set when an abandoned request had finished its work

    def attach(self, resource: str) -> None:
        """Tie the created resource to the key, inside the work's transaction."""
        if self.record_id is not None:
            db.session.execute(
                _RECORDS.update().where(_RECORDS.c.id == self.record_id).values(resource=resource)
            )

    def complete(
        self, body: dict, status: int, headers: dict | None = None, *, resource: str | None = None
    ) -> Response:
        """Store the first response and return it as the view's answer: in the open
        transaction if there is one (it commits with the work), else in its own."""
        headers = dict(headers or {})
        text = json.dumps(body)
        if self.record_id is not None:
            values = {
                "status": "completed",
                "response_status": status,
                "response_body": crypto.encrypt(text),
                "response_headers": headers,
                "completed_at": utcnow(),
            }
            if resource is not None:
                values["resource"] = resource
            # The table, not the entity: an ORM UPDATE would first look through the session
            # for records to bring in step, and no one reads this one again in the request.
            store = _RECORDS.update().where(_RECORDS.c.id == self.record_id).values(values)
            if in_transaction():
                db.session.execute(store)
            else:
                with transaction():
                    db.session.execute(store)
        return Response(text, status=status, headers=headers, mimetype="application/json")

    def release(self) -> None:
        """The request failed: forget the key so a corrected retry may use it."""
        if self.record_id is not None:
            db.session.rollback()
            with transaction():
                db.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == self.record_id))
            self.record_id = None


def claim(scope: str, key: str | None) -> Claim:
    """Claim `key` for `scope` (see the module docstring). With no key, every request is
    new: the returned claim stores nothing."""
    if key is None:
        return Claim(None)
    fingerprint = request_fingerprint()
    new_record = (
        insert(IdempotencyRecord)
        .values(scope=scope[:200], key=key, request_hash=fingerprint, status="running")
        .returning(IdempotencyRecord.id)
    )
    try:
        with transaction():
            # Its id from the INSERT itself: an ORM object would be expired by the commit
            # and read back.
            record_id = db.session.execute(new_record).scalar_one()
        return Claim(record_id)
    except IntegrityError:
        pass
    existing = db.session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.scope == scope[:200], IdempotencyRecord.key == key)
    )
    if existing is None:  # released meanwhile: this request goes first now
        return claim(scope, key)
    return _settle_existing(existing, fingerprint)


def _settle_existing(existing: IdempotencyRecord, fingerprint: str) -> Claim:
    """A key used before: another body (422), a replay, still running (409), or abandoned
    (taken over)."""
    if existing.request_hash != fingerprint:
        raise InvalidInput(
            f"This {HEADER} was used for a different request.",
            code="idempotency_key_reused",
            errors={HEADER: ["Already used with another body; send a new key for a new request."]},
        )
    if existing.status == "completed":
        return Claim(None, replay=_replay(existing))
    if existing.created_at > utcnow() - STALE_AFTER:
        raise _in_progress()
    return _take_over(existing)


def claim_within(scope: str, key: str | None) -> Claim:
    """`claim`, in the work's own open transaction: the key's row is written with the work
    and commits or rolls back with it, so a failed request leaves no key behind without a
    release, and the claim costs no transaction of its own (the checkout, on every order).

    A concurrent retry must still learn that the first runs (a 409), not wait for it on the
    unique index: on PostgreSQL the row is only inserted under a transaction-scoped
    advisory lock on the key, tried without waiting, in the same statement. A retry that
    cannot take the lock finds no committed row yet: the first is still running. (SQLite
    runs one writing transaction at a time: a retry waits its turn there and then sees
    the committed first request.)"""
    if key is None:
        return Claim(None)
    if not in_transaction():
        raise RuntimeError("claim_within() needs the work's open transaction")
    scope = scope[:200]
    fingerprint = request_fingerprint()
    statement, params = _claim_insert(scope, key, fingerprint)
    record_id = db.session.execute(statement, params).scalar()
    if record_id is not None:
        return Claim(record_id)
    existing = db.session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
    )
    if existing is None:  # another transaction holds the key and has not committed yet
        raise _in_progress()
    return _settle_existing(existing, fingerprint)


def _claim_insert(scope: str, key: str, fingerprint: str) -> tuple:
    """The claim's statement and its parameters: INSERT ... ON CONFLICT DO NOTHING
    RETURNING id, on PostgreSQL only once the key's advisory lock is taken (no id
    returned: the key is taken or busy)."""
    values = {
        "scope": scope,
        "key": key,
        "request_hash": fingerprint,
        "status": "running",
        "response_headers": {},
        "created_at": utcnow(),
    }
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        lock = hashlib.sha256(f"{scope}\n{key}".encode()).digest()
        values["lock"] = int.from_bytes(lock[:8], "big", signed=True)
    return _claim_statement(dialect), values


# The claim's INSERT per dialect, as text: SQLAlchemy does not cache the compiled form of
# its dialect INSERTs (ON CONFLICT), and every checkout runs this one.
_CLAIM_INSERT = {
    "postgresql": """
        INSERT INTO idempotency_records (scope, key, request_hash, status, response_headers, created_at)
        SELECT CAST(:scope AS VARCHAR), CAST(:key AS VARCHAR), CAST(:request_hash AS VARCHAR),
               CAST(:status AS VARCHAR), CAST(:response_headers AS JSON), :created_at
        WHERE pg_try_advisory_xact_lock(CAST(:lock AS BIGINT))
        ON CONFLICT DO NOTHING
        RETURNING id
    """,
    "sqlite": """
        INSERT INTO idempotency_records (scope, key, request_hash, status, response_headers, created_at)
        VALUES (:scope, :key, :request_hash, :status, :response_headers, :created_at)
        ON CONFLICT DO NOTHING
        RETURNING id
    """,
}


@functools.cache
def _claim_statement(dialect: str):
    """The claim's INSERT for the dialect, built once."""
    headers = IdempotencyRecord.__table__.c.response_headers.type
    return text(_CLAIM_INSERT[dialect]).bindparams(
        bindparam("response_headers", type_=headers), bindparam("created_at", type_=UTCDateTime())
    )


def _in_progress() -> Conflict:
    return Conflict(
        "A request with this Idempotency-Key is still being processed; retry shortly.",
        code="idempotency_request_in_progress",
    )


def _take_over(existing: IdempotencyRecord) -> Claim:
    """The first request died mid-way. Take the key over (one retry wins the UPDATE), in
    the open transaction if there is one (claim_within), else in its own."""
    take = (
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == existing.id, IdempotencyRecord.created_at == existing.created_at)
        .values(created_at=utcnow())
    )
    if in_transaction():
        taken = db.session.execute(take).rowcount
    else:
        with transaction():
            taken = db.session.execute(take).rowcount
    if not taken:
        raise _in_progress()
    return Claim(existing.id, resource=existing.resource)


def _replay(record: IdempotencyRecord) -> Response:
    body = crypto.decrypt(record.response_body or "null")
    response = Response(body, status=record.response_status or 200, mimetype="application/json")
    for name, value in (record.response_headers or {}).items():
        response.headers[name] = value
    response.headers[REPLAYED_HEADER] = "true"
    return response


def prune_idempotency_records() -> int:
    """Forget keys past their keeping time (periodic job)."""
    hours = max(int(current_app.config.get("IDEMPOTENCY_KEEP_HOURS", DEFAULT_KEEP_HOURS)), DEFAULT_KEEP_HOURS)
    with transaction():
        return db.session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.created_at < utcnow() - timedelta(hours=hours))
        ).rowcount


crypto.register_reencryption(
    "stored idempotent response(s)",
    lambda: crypto.reencrypt_column(IdempotencyRecord, IdempotencyRecord.response_body),
)
