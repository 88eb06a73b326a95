"""Demo data for `make run`: idempotent, built only through the services."""

from __future__ import annotations

from sqlmodel import Session, select

from accounts import service as accounts
from accounts.models import User

DEMO_PASSWORD = "foodtrace-demo"  # noqa: S105  (demo only; printed by make run)

DEMO_USERS = [
    ("admin@demo.foodtrace", "admin", None, "Campus Admin 管理员"),
    ("desk@demo.foodtrace", "desk", None, "Complaint Desk 投诉台"),
    ("merchant@demo.foodtrace", "merchant", 1, "North Canteen Stall 北区食堂"),
    ("courier@demo.foodtrace", "courier", None, "Courier Li 骑手李"),
    ("student@demo.foodtrace", "student", None, "Student Wang 王同学"),
]


def seed_accounts(*, session: Session) -> list[tuple[str, str]]:
    """The demo users, one per role (merchant bound to merchant 1)."""
    for email, role, merchant_id, name in DEMO_USERS:
        if session.exec(select(User.id).where(User.email == email)).first() is None:
            accounts.create_user(
                session=session,
                email=email,
                role=role,
                password=DEMO_PASSWORD,
                merchant_id=merchant_id,
                display_name=name,
            )
    return [(email, role) for email, role, _m, _n in DEMO_USERS]


def seed_all(*, session: Session) -> list[tuple[str, str]]:
    """Seed everything the demo needs, domain by domain (each `<domain>/demo.py`); idempotent."""
    import importlib

    import app

    accounts = seed_accounts(session=session)
    for name in app.domain_modules("demo"):
        importlib.import_module(name).seed(session=session)
    return accounts
