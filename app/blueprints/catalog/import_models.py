"""Product imports from CSV: one ProductImportRun per file, its progress and its row report
(the columns and their rules are the shared ImportRunMixin's)."""

from __future__ import annotations

from app.core.import_runs import ImportRunMixin
from app.extensions import db


class ProductImportRun(ImportRunMixin, db.Model):
    """One CSV file of products and variants being (or having been) imported. Its rows
    are counted per variant row: created, updated, unchanged or failed."""

    __tablename__ = "product_import_runs"
