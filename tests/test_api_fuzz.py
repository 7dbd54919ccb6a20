"""The whole JSON API fuzzed from its own OpenAPI document (schemathesis): whatever a client
sends (wrong types, missing or extra fields, huge numbers, odd strings, odd headers) the
answer is never a 500, its status is one the document lists, and its body is what the
document describes (a client generated from the document can read every answer). Staff
operations are called with a token holding every scope, storefront ones with a customer's
token, so the input gets past sign-in to validation and the use cases. Each operation runs
in the test's transaction, rolled back after it.

FUZZ_EXAMPLES sets the cases per operation (default 6 in the suite; raise it for a deeper
run: `FUZZ_EXAMPLES=200 pytest tests/test_api_fuzz.py`)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

from app import create_app
from app.blueprints.auth.tokens import issue_customer_token
from app.core.permissions import PERMISSIONS
from tests.factories.auth import UserFactory, make_token
from tests.factories.customers import CustomerFactory

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
STORE = "/api/v1/store/"
# Never a 500; every answer a status the document lists, with the body it describes.
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


# The document is read at collection, from an app of its own (it needs no database); cases
# are sent to that app, which works in the test's transaction like every app in the suite.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", create_app("testing", JOBS_INLINE=True))


@dataclass(frozen=True)
class Tokens:
    staff: str
    customer: str


@pytest.fixture
def tokens(db) -> Tokens:
    staff = make_token(UserFactory(roles=["admin"]), sorted(PERMISSIONS))
    _, customer = issue_customer_token(CustomerFactory().id)
    return Tokens(staff=staff, customer=customer)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases on every run: a failure can be run again
    suppress_health_check=list(HealthCheck),
)
def test_no_request_makes_a_500_or_an_answer_the_document_does_not_describe(db, case, tokens):
    token = tokens.customer if case.path.startswith(STORE) else tokens.staff
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
