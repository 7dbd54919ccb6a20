"""Storefront API of inventory: "email me when it is back" (POST /api/v1/store/back-in-stock).

Public and rate limited per client IP (`BACK_IN_STOCK_RATE_LIMIT`). A known SKU of an
active product is accepted with 202 whether or not the address asked before (one pending
request per variant and address); an unknown SKU, or one that is not for sale, is a 422
on `sku`, as the product pages that show the button know their SKUs. A customer token,
when sent, links the request to that customer.
"""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint as ApiBlueprint
from marshmallow import validate
from sqlalchemy import select

from app.blueprints.catalog.models import Product, Variant
from app.blueprints.inventory import back_in_stock
from app.core.api import ProblemSchema
from app.core.errors import PROBLEM_JSON, InvalidInput
from app.core.permissions import public
from app.core.transaction import transaction
from app.extensions import db, limiter

store_api_bp = ApiBlueprint(
    "store_inventory_api", __name__, url_prefix="/api/v1/store", description="Storefront stock notifications"
)
PROBLEM = {"schema": ProblemSchema, "content_type": PROBLEM_JSON}
DEFAULT_RATE_LIMIT = "10 per minute;100 per hour"
ACCEPTED = "We will email you once when it is back in stock."


def back_in_stock_rate_limit() -> str:
    return current_app.config.get("BACK_IN_STOCK_RATE_LIMIT", DEFAULT_RATE_LIMIT)


class BackInStockRequestSchema(ma.Schema):
    sku = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    email = ma.fields.String(
        required=True, validate=validate.Length(min=3, max=254), metadata={"format": "email"}
    )


class BackInStockAcceptedSchema(ma.Schema):
    detail = ma.fields.String()


def variant_for_sale(sku: str) -> Variant:
    variant = db.session.scalar(
        select(Variant)
        .join(Product, Product.id == Variant.product_id)
        .where(Variant.sku == sku.strip(), Variant.is_active, Product.status == "active")
    )
    if variant is None:
        raise InvalidInput("No product in the shop has this SKU.", errors={"sku": ["Unknown SKU."]})
    return variant


@store_api_bp.route("/back-in-stock")
class BackInStock(MethodView):
    @public
    @limiter.limit(back_in_stock_rate_limit)
    @store_api_bp.arguments(BackInStockRequestSchema)
    @store_api_bp.response(202, BackInStockAcceptedSchema)
    @store_api_bp.alt_response(429, **PROBLEM, description="Too many requests from this address")
    def post(self, data):
        """Ask for one email when a variant is back in stock

        Asking again for the same SKU and address changes nothing (still 202)."""
        customer_id = getattr(current_user, "customer_id", None) if current_user.is_authenticated else None
        with transaction():
            back_in_stock.request_back_in_stock(variant_for_sale(data["sku"]), data["email"], customer_id)
        return {"detail": ACCEPTED}
