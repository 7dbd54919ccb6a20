"""Fixtures of the inventory tests."""

from __future__ import annotations

import pytest

from tests.factories.auth import UserFactory
from tests.factories.catalog import LocationFactory


@pytest.fixture
def staff(db):
    return UserFactory(roles=["admin"])


@pytest.fixture
def warehouse(db):
    return LocationFactory(code="WH1", name="Main warehouse", position=1)


@pytest.fixture
def second_warehouse(db):
    return LocationFactory(code="WH2", name="Overflow warehouse", position=2)
