"""Low-stock alerts: one open alert per variant and location while its available stock is
at or below the threshold; resolved once restocked above it.

The threshold is the variant's own, else its location's default, else the app's
LOW_STOCK_DEFAULT (5). The movement that takes available stock across the threshold
raises the alert, so a hundred orders of a low variant raise one, not a hundred; the
periodic `check_low_stock` does the same for everything at once (thresholds that changed,
levels that started low). Two transactions raising at once are both fine: the partial
unique index keeps one open alert and the second INSERT skips quietly, never failing the
order that crossed. Subscribed staff get one email per alert, queued after the commit.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import current_app
from sqlalchemy import and_, exists, func, literal, select, update

from app.blueprints.auth.models import User, holders_of
from app.blueprints.catalog.models import Variant
from app.blueprints.inventory.ledger import LevelChange, insert_ignoring_conflicts
from app.blueprints.inventory.models import StockAlert, StockAlertSubscription, StockLevel, StockLocation
from app.core import audit
from app.core.events import emit
from app.core.jobs import enqueue
from app.core.timeutil import utcnow
from app.extensions import db

DEFAULT_THRESHOLD = 5


def default_threshold() -> int:
    return int(current_app.config.get("LOW_STOCK_DEFAULT", DEFAULT_THRESHOLD))


def threshold_expression():
    """SQL for a level's threshold; needs variants and stock_locations in the FROM."""
    return func.coalesce(
        Variant.low_stock_threshold, StockLocation.low_stock_threshold, literal(default_threshold())
    )


def threshold_for(variant: Variant, location: StockLocation) -> int:
    for value in (variant.low_stock_threshold, location.low_stock_threshold):
        if value is not None:
            return value
    return default_threshold()


def _net_changes(changes: Iterable[LevelChange]) -> dict[tuple[int, int], tuple[int, int, int | None]]:
    """(variant, location) -> (available before the first change, after the last, the
    threshold if the changes read it)."""
    net: dict[tuple[int, int], tuple[int, int, int | None]] = {}
    for change in changes:
        key = (change.variant_id, change.location_id)
        before, _after, known = net.get(key, (change.available_before, None, change.threshold))
        net[key] = (before, change.available, known if known == change.threshold else None)
    return net


def review(changes: Iterable[LevelChange]) -> None:
    """Raise or resolve the alerts the changes of one use case call for."""
    for (variant_id, location_id), (before, after, known) in _net_changes(changes).items():
        if after == before:
            continue
        if known is not None:  # read with the change, variant and location active
            threshold, alertable = known, True
        else:
            variant = db.session.get(Variant, variant_id)
            location = db.session.get(StockLocation, location_id)
            threshold = threshold_for(variant, location)
            alertable = variant.is_active and location.is_active
        if after <= threshold < before and alertable:
            raise_alert(variant_id, location_id, threshold, after)
        elif after > threshold and after > before:
            resolve_alerts(variant_id, location_id)


def raise_alert(variant_id: int, location_id: int, threshold: int, available: int) -> int | None:
    """Open an alert unless one is open; the id of the new one (None if one was open)."""
    alert_id = db.session.scalar(
        insert_ignoring_conflicts(StockAlert)
        .values(
            variant_id=variant_id,
            location_id=location_id,
            threshold=threshold,
            available_at_raise=available,
            status="open",
            raised_at=utcnow(),
        )
        .returning(StockAlert.id)
    )
    if alert_id is not None:
        announce(alert_id, variant_id, location_id)
    return alert_id


def announce(alert_id: int, variant_id: int, location_id: int) -> None:
    from app.blueprints.inventory.jobs import send_alert_email

    emit("inventory.low_stock", alert_id=alert_id, variant_id=variant_id, location_id=location_id)
    enqueue(send_alert_email, alert_id, queue="email")


def resolve_alerts(variant_id: int, location_id: int) -> int:
    return db.session.execute(
        update(StockAlert)
        .where(
            StockAlert.variant_id == variant_id,
            StockAlert.location_id == location_id,
            StockAlert.status == "open",
        )
        .values(status="resolved", resolved_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount


def check_low_stock() -> tuple[int, int]:
    """Bring every alert in line with stock now, set-based: resolve open alerts whose level
    is above its threshold (or whose variant or location is no longer active), raise one for
    every active level at or below it that has none. Returns (raised, resolved)."""
    threshold = threshold_expression()
    available = StockLevel.on_hand - StockLevel.reserved
    levels = (
        select(StockLevel.variant_id, StockLevel.location_id)
        .join(Variant, Variant.id == StockLevel.variant_id)
        .join(StockLocation, StockLocation.id == StockLevel.location_id)
    )
    still_low = levels.where(
        StockLevel.variant_id == StockAlert.variant_id,
        StockLevel.location_id == StockAlert.location_id,
        Variant.is_active,
        StockLocation.is_active,
        available <= threshold,
    )
    resolved = db.session.execute(
        update(StockAlert)
        .where(StockAlert.status == "open", ~still_low.exists())
        .values(status="resolved", resolved_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    open_alert = exists().where(
        StockAlert.variant_id == StockLevel.variant_id,
        StockAlert.location_id == StockLevel.location_id,
        StockAlert.status == "open",
    )
    low = (
        select(
            StockLevel.variant_id,
            StockLevel.location_id,
            threshold,
            available,
            literal("open"),
            literal(utcnow(), StockAlert.raised_at.type),
        )
        .join(Variant, Variant.id == StockLevel.variant_id)
        .join(StockLocation, StockLocation.id == StockLevel.location_id)
        .where(and_(Variant.is_active, StockLocation.is_active, available <= threshold, ~open_alert))
    )
    raised = db.session.execute(
        insert_ignoring_conflicts(StockAlert)
        .from_select(
            ["variant_id", "location_id", "threshold", "available_at_raise", "status", "raised_at"], low
        )
        .returning(StockAlert.id, StockAlert.variant_id, StockAlert.location_id)
    ).all()
    for alert_id, variant_id, location_id in raised:
        announce(alert_id, variant_id, location_id)
    return len(raised), resolved


# ---- subscriptions ---------------------------------------------------------------------


def _unproxied(user):
    """The User behind flask_login's `current_user` proxy (audit names the target's type)."""
    return user._get_current_object() if hasattr(user, "_get_current_object") else user


def is_subscribed(user: User) -> bool:
    return db.session.get(StockAlertSubscription, user.id) is not None


def subscribe(user: User, *, actor) -> StockAlertSubscription:
    """Email `user` each new low-stock alert. Idempotent."""
    user = _unproxied(user)
    subscription = db.session.get(StockAlertSubscription, user.id)
    if subscription is None:
        db.session.execute(insert_ignoring_conflicts(StockAlertSubscription).values(user_id=user.id))
        subscription = db.session.get(StockAlertSubscription, user.id)
        audit.record(
            "inventory.alerts_subscribed", actor=actor, target=user, summary=f"{user.email} subscribed"
        )
    return subscription


def unsubscribe(user: User, *, actor) -> None:
    user = _unproxied(user)
    subscription = db.session.get(StockAlertSubscription, user.id)
    if subscription is not None:
        db.session.delete(subscription)
        db.session.flush()
        audit.record(
            "inventory.alerts_unsubscribed", actor=actor, target=user, summary=f"{user.email} unsubscribed"
        )


def subscribers() -> list[User]:
    """Active staff who subscribed and may still see stock."""
    query = (
        select(User)
        .join(StockAlertSubscription, StockAlertSubscription.user_id == User.id)
        .where(User.active.is_(True), User.id.in_(holders_of("inventory.read")))
        .order_by(User.id)
    )
    return list(db.session.scalars(query))
