"""Customer imports from CSV: one ImportRun per file, its progress and its row report."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.import_runs import MAX_ROW_ERRORS as MAX_ROW_ERRORS
from app.core.import_runs import ImportRunMixin
from app.extensions import db


class ImportRun(ImportRunMixin, db.Model):
    """One CSV file of customers being (or having been) imported (the shared columns and
    their rules are ImportRunMixin's); consent values in it are recorded with the wording
    version given when it was started."""

    __tablename__ = "customer_import_runs"

    consent_wording: Mapped[str | None] = mapped_column(String(32))
