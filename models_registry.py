"""Imports every domain's models so SQLModel.metadata knows all tables (for Alembic and tests)."""

from accounts import models as accounts_models
from evidence import models as evidence_models
from ledger import models as ledger_models
from operations import models as operations_models

__all__ = ["accounts_models", "evidence_models", "ledger_models", "operations_models"]
