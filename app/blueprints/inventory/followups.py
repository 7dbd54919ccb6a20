"""What follows a change of stock, once per use case, with all of its changes:

1. free stock that grew at a location that fulfils orders first serves waiting backorders
   (first come, first served), before any new order can take it;
2. low-stock alerts are raised or resolved on the net change per variant and location
   (so a receipt that is at once allocated to backorders does not flap an alert);
3. people waiting for a variant that came back get their email (queued after the commit).
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm.util import identity_key

from app.blueprints.inventory import alerts, back_in_stock, backorders
from app.blueprints.inventory.ledger import LevelChange
from app.blueprints.inventory.models import StockLocation
from app.extensions import db


def serving_location_ids(location_ids: set[int]) -> set[int]:
    """Those of the locations that are active and fulfil orders."""
    if not location_ids:
        return set()
    cached = {db.session.identity_map.get(identity_key(StockLocation, i)) for i in location_ids}
    if None not in cached:  # all loaded already (the usual case): no query
        return {loc.id for loc in cached if loc.is_active and loc.fulfils_orders}
    return set(
        db.session.scalars(
            select(StockLocation.id).where(
                StockLocation.id.in_(sorted(location_ids)),
                StockLocation.is_active,
                StockLocation.fulfils_orders,
            )
        )
    )


def after_changes(changes: list[LevelChange], *, actor) -> list[LevelChange]:
    """Run the follow-ups of `changes`; returns them with the allocations they caused."""
    grown = [change for change in changes if change.available > change.available_before]
    if grown:
        serving = serving_location_ids({change.location_id for change in grown})
        increases: dict[int, list[int]] = defaultdict(list)
        for change in grown:
            if change.location_id in serving:
                increases[change.variant_id].append(change.location_id)
        if increases:
            changes = [*changes, *backorders.allocate_waiting(increases, actor=actor)]
            back_in_stock.queue_notifications(increases)
    alerts.review(changes)
    return changes
