"""First-in, first-out allocation of order lines to the open batches of a menu item: pure.

A `Stock` holds, per menu item, the open batches in the order they were opened with the
portions left; allocating takes from the oldest first, so a line may span two batches. Nothing
is taken when there is not enough: a line is served entirely or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OpenBatch:
    """A menu batch (an opened dish batch) and the portions left in it."""

    menu_batch_id: int
    batch_id: int
    menu_item_id: int
    remaining: int


@dataclass(frozen=True, slots=True)
class Take:
    """Portions of one line served from one batch."""

    menu_batch_id: int
    batch_id: int
    quantity: int


class Shortfall(ValueError):
    """Not enough portions: `available` is what the open batches still hold."""

    def __init__(self, menu_item_id: int, wanted: int, available: int) -> None:
        super().__init__(f"menu item {menu_item_id}: {wanted} wanted, {available} left")
        self.menu_item_id, self.wanted, self.available = menu_item_id, wanted, available


class Stock:
    """Portions left per menu item, FIFO by opening; changed only by `take` and `give_back`."""

    def __init__(self, batches: Iterable[OpenBatch]) -> None:
        self._left: dict[int, list[list[int]]] = {}  # item -> [[menu_batch, batch, left], ...]
        for b in batches:
            self._left.setdefault(b.menu_item_id, []).append(
                [b.menu_batch_id, b.batch_id, b.remaining]
            )

    def available(self, menu_item_id: int) -> int:
        """Portions left across the item's open batches."""
        return sum(left for _, _, left in self._left.get(menu_item_id, []))

    def take(self, menu_item_id: int, quantity: int) -> list[Take]:
        """Serve `quantity` portions oldest batch first; raises Shortfall (taking nothing)."""
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        have = self.available(menu_item_id)
        if have < quantity:
            raise Shortfall(menu_item_id, quantity, have)
        takes = []
        need = quantity
        for slot in self._left[menu_item_id]:
            if need == 0:
                break
            used = min(need, slot[2])
            if used:
                slot[2] -= used
                need -= used
                takes.append(Take(slot[0], slot[1], used))
        return takes

    def take_all(self, wanted: Sequence[tuple[int, int]]) -> list[list[Take]]:
        """Serve every (menu item, quantity) or none: on a Shortfall the stock is unchanged."""
        done: list[tuple[int, list[Take]]] = []
        try:
            for item, quantity in wanted:
                done.append((item, self.take(item, quantity)))
        except Shortfall:
            for item, takes in done:
                self.give_back(item, takes)
            raise
        return [takes for _, takes in done]

    def give_back(self, menu_item_id: int, takes: Iterable[Take]) -> None:
        """Undo takes (used when a later line of the same order falls short)."""
        slots = {slot[0]: slot for slot in self._left.get(menu_item_id, [])}
        for t in takes:
            slots[t.menu_batch_id][2] += t.quantity
