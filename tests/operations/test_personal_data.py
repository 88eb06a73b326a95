"""No personal data in the ledger or the logs: after the demo data and a complaint with full
contact details, no student's email, name, phone or room appears in any ledger entry's bytes
(they are salted digests there) or in anything the app logged."""

from __future__ import annotations

import logging

from sqlalchemy import text

from app import engine_of, session_scope

# (table, column) holding personal data, per the models' comments and DESIGN.md
PERSONAL = (
    ("users", "email"),
    ("users", "display_name"),
    ("orders", "building"),
    ("orders", "room"),
    ("orders", "phone"),
    ("complaint_cases", "complainant_name"),
    ("complaint_cases", "complainant_phone"),
    ("complaint_cases", "complainant_email"),
)
# values shared by many people are not identifying (a building name, a role label)
NOT_IDENTIFYING = 6


def personal_values(engine) -> dict[str, str]:  # type: ignore[no-untyped-def]
    found: dict[str, str] = {}
    with engine.connect() as conn:
        for table, column in PERSONAL:
            query = f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL"  # noqa: S608
            for (value,) in conn.execute(text(query)):
                if isinstance(value, str) and len(value.strip()) >= NOT_IDENTIFYING:
                    found[value.strip()] = f"{table}.{column}"
    return found


def test_the_ledger_and_the_logs_carry_no_personal_data(app, client, caplog):
    from demo import seed

    caplog.set_level(logging.DEBUG)
    with app.app_context(), session_scope(engine_of(app)) as session:
        seed.seed_all(session=session)
    # a request that fails validation and one that is refused are logged too
    client.post("/login", data={"email": "someone.private@uni.edu", "password": "wrong"})
    client.get("/api/v1/me", headers={"Authorization": "Bearer ft_not-a-token"})

    engine = engine_of(app)
    values = personal_values(engine)
    assert any(where == "users.email" for where in values.values())
    assert any(where.startswith("orders.") for where in values.values()), "demo orders exist"
    with engine.connect() as conn:
        entries = [bytes(e) for (e,) in conn.execute(text("SELECT entry FROM ledger_entry"))]
    assert entries
    leaks = sorted(
        {
            f"{where}: {value!r}"
            for value, where in values.items()
            for entry in entries
            if value.encode() in entry
        }
    )
    assert not leaks, "personal data in ledger entries:\n" + "\n".join(leaks[:20])
    logged = "\n".join(record.getMessage() for record in caplog.records)
    in_logs = sorted({where for value, where in values.items() if value in logged})
    assert not in_logs, f"personal data in the logs: {in_logs}"
    assert "someone.private@uni.edu" not in logged
