"""Ledger: append-only entries and checkpoints, the sequencer's head row, erasable salts.

UPDATE and DELETE (and TRUNCATE on PostgreSQL) on ledger_entry and ledger_checkpoint are
rejected by triggers; ledger_salt rows may be deleted (erasure) but never changed.

Revision ID: 0002_ledger
Revises: 0001_accounts
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_ledger"
down_revision = "0001_accounts"
branch_labels = None
depends_on = None

APPEND_ONLY = ("ledger_entry", "ledger_checkpoint")
# SQLite: INTEGER PRIMARY KEY makes the index the rowid itself (one B-tree, not two)
INDEX = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_entry",
        sa.Column("idx", INDEX, primary_key=True, autoincrement=False),
        sa.Column("type", sa.String(120), nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.Column("nodes", sa.LargeBinary(), nullable=False),
    )
    head = op.create_table(
        "ledger_head",
        sa.Column("id", sa.SmallInteger(), primary_key=True, autoincrement=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_ledger_head_single_row"),
    )
    op.create_table(
        "ledger_checkpoint",
        sa.Column("seq", INDEX, primary_key=True, autoincrement=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "ledger_salt",
        sa.Column(
            "idx",
            INDEX,
            sa.ForeignKey("ledger_entry.idx"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("salt", sa.LargeBinary(), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "size": 0, "frontier": b""}])
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def _sqlite_triggers() -> None:
    for table in APPEND_ONLY:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{action} on {table} rejected: the ledger is "
                f"append-only'); END"
            )
    op.execute(
        "CREATE TRIGGER ledger_salt_no_update BEFORE UPDATE ON ledger_salt "
        "BEGIN SELECT RAISE(ABORT, 'UPDATE on ledger_salt rejected: salts are erased, "
        "never changed'); END"
    )


def _postgresql_triggers() -> None:
    op.execute(
        """
        CREATE FUNCTION ledger_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% on % rejected: the ledger is append-only', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'integrity_constraint_violation';
        END
        $$
        """
    )
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_reject_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION ledger_reject_change()"
        )
    op.execute(
        "CREATE TRIGGER ledger_salt_no_update BEFORE UPDATE ON ledger_salt "
        "FOR EACH ROW EXECUTE FUNCTION ledger_reject_change()"
    )


def downgrade() -> None:
    op.drop_table("ledger_salt")
    op.drop_table("ledger_checkpoint")
    op.drop_table("ledger_head")
    op.drop_table("ledger_entry")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS ledger_reject_change()")
