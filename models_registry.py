"""Imports every domain's models so SQLModel.metadata knows all tables (for Alembic and tests)."""

import importlib

import app

MODELS = [
    importlib.import_module(name) for name in ["ledger.models", *app.domain_modules("models")]
]
