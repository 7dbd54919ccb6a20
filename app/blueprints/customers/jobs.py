"""Background jobs of the customers domain (thin: a transaction around a service).

`recompute_rfm_bands` is periodic (nightly, app/periodic.py) and idempotent: a second run
changes nothing.
"""

from __future__ import annotations

import logging

from app.blueprints.customers import purchase_figures
from app.core.transaction import transaction

log = logging.getLogger(__name__)


def recompute_rfm_bands() -> int:
    """Rank every customer with orders into RFM bands again (one set-based UPDATE)."""
    with transaction():
        changed = purchase_figures.recompute_rfm_bands()
    log.info("RFM bands: %s customers changed", changed)
    return changed
