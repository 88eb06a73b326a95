import sqlalchemy as sa

from accounts import service as accounts


def test_ledger_verify_passes_then_names_the_tampered_row(app, runner):
    from app import engine_of
    from web.db import get_session

    with app.app_context():
        for i in range(3):
            accounts.create_user(session=get_session(), email=f"u{i}@uni.edu", role="student")
    ok = runner.invoke(args=["ledger", "verify", "--quiet"])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("OK: 3 entries")
    with engine_of(app).begin() as conn:
        conn.execute(sa.text("UPDATE users SET merchant_id = 9 WHERE email = 'u1@uni.edu'"))
    bad = runner.invoke(args=["ledger", "verify", "--quiet"])
    assert bad.exit_code == 1
    assert "users" in bad.output and "TAMPERED" in bad.output


def test_ledger_checkpoint_prints_a_signed_note(app, runner):
    from web.db import get_session

    with app.app_context():
        accounts.create_user(session=get_session(), email="a@uni.edu", role="desk")
    out = runner.invoke(args=["ledger", "checkpoint"]).output
    lines = out.splitlines()
    assert lines[1] == "1" and lines[3] == "" and lines[4].startswith("— ")
