"""Background jobs of inventory (thin: a transaction around a service). Each is
idempotent: running it twice sends nothing twice and raises nothing twice.

`check_low_stock` is periodic (app/periodic.py); the mail jobs are queued after the
commit of the change that called for them.
"""

from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy import update

from app.blueprints.catalog.models import Variant
from app.blueprints.inventory import alerts, back_in_stock
from app.blueprints.inventory.emails import send_inventory_mail
from app.blueprints.inventory.models import StockAlert
from app.core.timeutil import utcnow
from app.core.transaction import transaction
from app.extensions import db

log = logging.getLogger(__name__)


def check_low_stock() -> dict[str, int]:
    """Raise and resolve low-stock alerts for every level at once (thresholds changed,
    events missed); new alerts are mailed like those raised by a movement."""
    with transaction():
        raised, resolved = alerts.check_low_stock()
    log.info("low-stock check: %s alerts raised, %s resolved", raised, resolved)
    return {"raised": raised, "resolved": resolved}


def send_alert_email(alert_id: int) -> int:
    """Mail one new low-stock alert to each subscriber, once: the alert is claimed by
    setting emailed_at where it is still empty. An alert resolved before the job ran is not
    mailed. With nobody subscribed the alert stays unclaimed (emailed_at empty), so the
    alert does not claim a mail nobody got. Returns the number of messages queued."""
    with transaction():
        recipients = alerts.subscribers()
        if not recipients:
            return 0
        claimed = db.session.execute(
            update(StockAlert)
            .where(StockAlert.id == alert_id, StockAlert.emailed_at.is_(None), StockAlert.status == "open")
            .values(emailed_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        if not claimed:
            return 0
        alert = db.session.get(StockAlert, alert_id)
        variant = db.session.get(Variant, alert.variant_id)
        for user in recipients:
            send_inventory_mail(
                user.email,
                f"Low stock: {variant.sku} at {alert.location.code}",
                "low_stock",
                user=user,
                alert=alert,
                variant=variant,
                product=variant.product,
                location=alert.location,
                portal_url=current_app.config["BASE_URL"],
            )
    return len(recipients)


def send_back_in_stock_emails(variant_id: int) -> int:
    """Mail the people waiting for a variant that can be bought again (once each)."""
    with transaction():
        return back_in_stock.notify_requesters(variant_id)
