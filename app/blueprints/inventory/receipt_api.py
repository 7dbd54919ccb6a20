"""Staff API for goods in (/api/v1/admin/receipts): purchase receipts as JSON lines or as
CSV text, listed and read back. Reading needs `inventory.read`, receiving `inventory.write`."""

from __future__ import annotations

from flask.views import MethodView
from flask_login import current_user

from app.blueprints.inventory import INVENTORY_READ, INVENTORY_WRITE, api_bp, queries, receipts, services
from app.blueprints.inventory.api import BEARER, ID, location_id_of
from app.blueprints.inventory.schemas import ReceiptArgs, ReceiptCreateSchema, ReceiptCsvSchema, ReceiptSchema
from app.core.errors import InvalidInput
from app.core.permissions import require_permission
from app.core.transaction import transaction
from app.extensions import db


def receive(location_code: str, lines, data: dict):
    with transaction():
        receipt = receipts.receive_stock(
            location=services.location_by_code(location_code),
            lines=lines,
            supplier=data["supplier"],
            supplier_reference=data["supplier_reference"],
            note=data["note"],
            actor=current_user,
        )
        return queries.receipt_views([receipt])[0]


@api_bp.route("/receipts")
class Receipts(MethodView):
    @require_permission(INVENTORY_READ)
    @api_bp.arguments(ReceiptArgs, location="query")
    @api_bp.response(200, ReceiptSchema(many=True))
    @api_bp.paginate(page_size=25, max_page_size=100)
    @api_bp.doc(security=BEARER)
    def get(self, args, pagination_parameters):
        """Purchase receipts, newest first"""
        query = queries.receipt_query(location_id_of(args), args.get("supplier_reference", ""))
        page = db.paginate(
            query, page=pagination_parameters.page, per_page=pagination_parameters.page_size, error_out=False
        )
        pagination_parameters.item_count = page.total
        return queries.receipt_views(page.items)

    @require_permission(INVENTORY_WRITE)
    @api_bp.arguments(ReceiptCreateSchema)
    @api_bp.response(201, ReceiptSchema)
    @api_bp.doc(security=BEARER)
    def post(self, data):
        """Receive stock: lines of SKU, quantity and unit cost into one location

        Waiting backorders of the variants are served first, oldest first. A bad line
        refuses the whole receipt (422 with `lines.<n>.<field>`)."""
        skus = services.variants_by_sku([line["sku"] for line in data["lines"]])
        unknown = {
            f"lines.{index}.sku": [f"No variant has the SKU {line['sku']!r}."]
            for index, line in enumerate(data["lines"])
            if line["sku"].strip() not in skus
        }
        if unknown:
            raise InvalidInput("Some lines name unknown SKUs.", errors=unknown)
        lines = [
            receipts.ReceiptLineInput(skus[line["sku"].strip()].id, line["quantity"], line["unit_cost"])
            for line in data["lines"]
        ]
        return receive(data["location"], lines, data)


@api_bp.route("/receipts/csv")
class ReceiptCsv(MethodView):
    @require_permission(INVENTORY_WRITE)
    @api_bp.arguments(ReceiptCsvSchema)
    @api_bp.response(201, ReceiptSchema)
    @api_bp.doc(security=BEARER)
    def post(self, data):
        """Receive stock from a CSV file, sent as the `csv` string of a JSON body

        API bodies are JSON (as everywhere in this API); the file's text goes in `csv`.
        Its header row names `sku` and `quantity`, optionally `unit_cost`; comma,
        semicolon or tab separated. Errors name the file (`csv`) or the cell
        (`rows.<row>.<column>`, rows numbered as a spreadsheet does, the header being
        row 1); nothing is received then."""
        try:
            lines = receipts.parse_receipt_csv(data["csv"])
        except InvalidInput as refused:
            errors = {
                ("csv" if name == "file" else name): messages for name, messages in refused.errors.items()
            }
            raise InvalidInput(refused.detail, errors=errors) from None
        return receive(data["location"], lines, data)


@api_bp.route(f"/receipts/<{ID}:receipt_id>")
class ReceiptItem(MethodView):
    @require_permission(INVENTORY_READ)
    @api_bp.response(200, ReceiptSchema)
    @api_bp.doc(security=BEARER)
    def get(self, receipt_id):
        """One purchase receipt with its lines"""
        return queries.receipt_views([receipts.get_receipt(receipt_id)])[0]
