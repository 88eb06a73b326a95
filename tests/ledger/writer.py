"""A ledger writer process for the concurrency and crash tests.

    python -m tests.ledger.writer DATABASE_URL COUNT [NAME]

Appends COUNT events one transaction each and prints "<index> <leaf hash hex>" after each commit.
"""

from __future__ import annotations

import sys

from sqlmodel import Session

import ledger
from app import make_engine


def main(url: str, count: int, name: str) -> None:
    engine = make_engine(url, **({"pool_size": 1} if url.startswith("postgres") else {}))
    for n in range(count):
        with Session(engine) as session:
            entry = ledger.append(
                session, ledger.Event("test.write", {"n": n}, actor=f"writer:{name}")
            )
            session.commit()
        print(entry.index, entry.leaf_hash.hex(), flush=True)
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "w")
