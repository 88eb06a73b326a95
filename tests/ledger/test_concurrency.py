"""Several writer processes share one sequencer: contiguous indexes, no duplicates; a writer
killed mid-stream loses nothing it had reported as committed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

import ledger

ROOT = Path(__file__).resolve().parents[2]


def _writer(url: str, count: int, name: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.ledger.writer", url, str(count), name],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _run_writers(engine: Engine, processes: int, count: int) -> list[list[int]]:
    writers = [_writer(_url(engine), count, f"w{n}") for n in range(processes)]
    reported = []
    for proc in writers:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        reported.append([int(line.split()[0]) for line in out.splitlines()])
    return reported


def test_concurrent_writer_processes_on_postgresql_get_contiguous_indexes(
    pg_engine: Engine,
) -> None:
    reported = _run_writers(pg_engine, processes=4, count=200)
    everything = sorted(i for indexes in reported for i in indexes)
    assert everything == list(range(800))
    assert all(indexes == sorted(indexes) for indexes in reported)
    with Session(pg_engine) as session:
        assert ledger.tree_size(session) == 800
        report = ledger.verify(session)
        assert report.ok, report.problem
        writers = {e.envelope()["actor"] for e in ledger.entries(session, 0, 800)}
        assert writers == {"writer:w0", "writer:w1", "writer:w2", "writer:w3"}


def test_concurrent_writer_processes_on_sqlite_get_contiguous_indexes(
    sqlite_engine: Engine,
) -> None:
    reported = _run_writers(sqlite_engine, processes=2, count=60)
    assert sorted(i for indexes in reported for i in indexes) == list(range(120))
    with Session(sqlite_engine) as session:
        assert ledger.verify(session).ok


def test_writer_killed_mid_stream_loses_no_reported_commit(engine: Engine) -> None:
    proc = _writer(_url(engine), 100_000, "doomed")
    assert proc.stdout is not None
    committed: dict[int, str] = {}
    deadline = time.monotonic() + 120
    while len(committed) < 40 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        index, leaf = line.split()
        committed[int(index)] = leaf
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=30)  # drains and closes the pipes
    assert proc.returncode == -signal.SIGKILL
    assert len(committed) >= 40, err
    engine.dispose()  # a restart: fresh connections
    with Session(engine) as session:
        report = ledger.verify(session)
        assert report.ok, report.problem
        assert report.size >= max(committed) + 1
        for index, leaf in committed.items():
            assert ledger.entry_at(session, index).leaf_hash.hex() == leaf
        nxt = ledger.append(session, ledger.Event("test.after_crash", {}))
        session.commit()
        assert nxt.index == report.size
