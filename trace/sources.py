"""Finding the lots and batches that production inputs name, in a few batched queries.

An input names its source by id (`kind` + `id`) or by code; a merchant may use its own lots and
batches and the lots transferred to it. Each source comes back as a `ResolvedInput` carrying
what the checks need (owner, status, time, expiry, transfers).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from trace.commands import InputUse, ResolvedInput
from trace.errors import UnknownReference
from trace.models import DishBatch, IngredientLot, LotTransfer
from trace.problems import Problem, chunks


class SourceLookup:
    """Lots and batches named by inputs, fetched in a few batched queries."""

    def __init__(
        self,
        session: Session,
        merchant_id: int,
        uses: Sequence[InputUse],
        *,
        exclude_codes: Iterable[str] = (),
    ) -> None:
        self.merchant_id = merchant_id
        excluded = set(exclude_codes)
        codes = {u.code for u in uses if u.code is not None and u.code not in excluded}
        lot_ids = {u.id for u in uses if u.kind == "lot" and u.id is not None}
        batch_ids = {u.id for u in uses if u.kind == "batch" and u.id is not None}
        transferred = _transferred(session, merchant_id)
        self.lots_by_code: dict[str, list[ResolvedInput]] = {}
        self.batches_by_code: dict[str, ResolvedInput] = {}
        self.lots: dict[int, ResolvedInput] = {}
        self.batches: dict[int, ResolvedInput] = {}
        lot_cols = (
            IngredientLot.id, IngredientLot.tlc, IngredientLot.merchant_id, IngredientLot.status,
            IngredientLot.received_at, IngredientLot.expiry_date,
        )  # fmt: skip
        batch_cols = (
            DishBatch.id, DishBatch.batch_code, DishBatch.merchant_id, DishBatch.status,
            DishBatch.completed_at,
        )  # fmt: skip

        def lot(row: Any) -> ResolvedInput:
            return ResolvedInput(
                "lot",
                row[0],
                row[2],
                row[3],
                row[4],
                row[5],
                transferred.get(row[0], frozenset()),
                code=row[1],
            )

        def batch(row: Any) -> ResolvedInput:
            return ResolvedInput("batch", row[0], row[2], row[3], row[4], code=row[1])

        visible = IngredientLot.merchant_id == self.merchant_id
        if transferred:
            visible = visible | IngredientLot.id.in_(list(transferred))  # type: ignore[attr-defined]
        for part in chunks(codes):
            for row in session.execute(
                select(*lot_cols).where(IngredientLot.tlc.in_(part), visible)
            ):  # type: ignore[attr-defined]
                self.lots_by_code.setdefault(row[1], []).append(lot(row))
            for row in session.execute(
                select(*batch_cols).where(
                    DishBatch.batch_code.in_(part), DishBatch.merchant_id == merchant_id
                )  # type: ignore[attr-defined]
            ):
                self.batches_by_code[row[1]] = batch(row)
        for part in chunks(lot_ids):
            for row in session.execute(select(*lot_cols).where(IngredientLot.id.in_(part))):  # type: ignore[union-attr]
                self.lots[row[0]] = lot(row)
        for part in chunks(batch_ids):
            for row in session.execute(select(*batch_cols).where(DishBatch.id.in_(part))):  # type: ignore[union-attr]
                self.batches[row[0]] = batch(row)

    def find(self, use: InputUse, index: int) -> ResolvedInput | Problem:
        """The source an input names, or the problem naming it."""
        if use.code is not None:
            lots = self.lots_by_code.get(use.code, [])
            own = [lot for lot in lots if lot.merchant_id == self.merchant_id]
            batch = self.batches_by_code.get(use.code)
            candidates = ([batch] if batch else []) + (own or lots)
            if len(candidates) == 1:
                return candidates[0]
            if not candidates:
                return Problem(
                    index,
                    "input_code",
                    f"unknown lot or batch reference {use.code!r}",
                    UnknownReference,
                )
            return Problem(
                index,
                "input_code",
                f"{use.code!r} names more than one lot or batch; give its id",
                UnknownReference,
            )
        table = self.lots if use.kind == "lot" else self.batches
        if use.id is None or use.kind not in ("lot", "batch") or use.id not in table:
            return Problem(index, "inputs", f"unknown input {use.label()}", UnknownReference)
        return table[use.id]


def _transferred(session: Session, merchant_id: int) -> dict[int, frozenset[int]]:
    rows = session.execute(
        select(LotTransfer.lot_id).where(LotTransfer.to_merchant_id == merchant_id)
    )
    return {lot_id: frozenset({merchant_id}) for (lot_id,) in rows}
