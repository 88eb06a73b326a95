"""The ledger's tables (created by migrations/versions/0002_ledger.py, which adds the triggers).

ledger_entry      append-only: one row per leaf, 0-based `idx`, the entry bytes, its leaf hash
                  and `nodes`, the hashes of the complete subtrees that end at this leaf (level 1
                  upward, 32 bytes each), so any subtree root is one primary-key read.
ledger_head       the sequencer's single row (id 1): tree size and frontier (roots of the
                  maximal complete subtrees, left to right); locked by every append.
ledger_checkpoint append-only: every signed checkpoint note, numbered from 0.
ledger_salt       mutable: the per-entry salt of personal-data digests; delete to erase.

The ledger reads and writes these through SQLAlchemy Core (no per-row ORM objects); the SQLModel
classes exist so that SQLModel.metadata, and so Alembic, knows the tables.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
)
from sqlalchemy import Text as SAText
from sqlmodel import Field, SQLModel

HEAD_ID = 1
# SQLite: INTEGER PRIMARY KEY makes the index the rowid itself (one B-tree, not two)
INDEX = BigInteger().with_variant(Integer(), "sqlite")


class LedgerEntryRow(SQLModel, table=True):
    """One leaf of the log (append-only)."""

    __tablename__ = "ledger_entry"

    idx: int = Field(sa_column=Column(INDEX, primary_key=True, autoincrement=False))
    type: str = Field(sa_column=Column(String(120), nullable=False))
    entry: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    nodes: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LedgerHeadRow(SQLModel, table=True):
    """The sequencer's lock row: current tree size and frontier."""

    __tablename__ = "ledger_head"

    id: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    frontier: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LedgerCheckpointRow(SQLModel, table=True):
    """A signed checkpoint note (append-only)."""

    __tablename__ = "ledger_checkpoint"

    seq: int = Field(sa_column=Column(INDEX, primary_key=True, autoincrement=False))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    root: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    note: str = Field(sa_column=Column(SAText, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class LedgerSaltRow(SQLModel, table=True):
    """The salt of an entry's personal-data digests (deleted to erase)."""

    __tablename__ = "ledger_salt"

    idx: int = Field(
        sa_column=Column(
            INDEX, ForeignKey("ledger_entry.idx"), primary_key=True, autoincrement=False
        )
    )
    salt: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


entry_table = LedgerEntryRow.__table__
head_table = LedgerHeadRow.__table__
checkpoint_table = LedgerCheckpointRow.__table__
salt_table = LedgerSaltRow.__table__
