"""The API documentation renders from the app's own files, with every other host cut off."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_swagger_ui_renders_the_operations_offline(page, problems, foreign_requests, screenshot):
    response = page.goto("/api/v1/docs")

    assert response.status == 200
    expect(page.locator(".opblock").first).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/admin/me").first).to_be_visible()
    expect(page.locator(".info .title")).to_contain_text("CRM Commerce API")
    page.wait_for_load_state("networkidle")
    screenshot("e2e-api-docs.png")
    assert foreign_requests == [], f"the docs page tried to reach other hosts: {foreign_requests}"
    assert problems.all() == []
