"""Imports every domain's models so SQLModel.metadata knows all tables (for Alembic and tests)."""

from accounts import models as accounts_models
from operations import models as operations_models

__all__ = ["accounts_models", "operations_models"]
