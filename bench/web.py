"""Baseline web benchmark: requests/s of /healthz against a bare WSGI app on the same server.

Run with `make bench` (or `.venv/bin/python bench/web.py`). BENCH_SCALE scales the request count.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.request import urlopen

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from werkzeug.serving import WSGIRequestHandler, make_server

import app as composition
from bench.harness import record, write

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
REQUESTS = max(200, int(3000 * SCALE))
CLIENTS = 8


class QuietHandler(WSGIRequestHandler):
    """No access log lines on the terminal."""

    def log_request(self, *args: object, **kwargs: object) -> None:
        pass


def bare_app(environ, start_response):  # type: ignore[no-untyped-def]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b'{"status":"ok"}']


def requests_per_second(wsgi_app, path: str) -> float:  # type: ignore[no-untyped-def]
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}{path}"

    def hit(_: int) -> int:
        with urlopen(url, timeout=10) as resp:
            return resp.status

    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(hit, range(50)))  # warm-up
            t0 = time.perf_counter()
            statuses = list(pool.map(hit, range(REQUESTS)))
            elapsed = time.perf_counter() - t0
    finally:
        server.shutdown()
    assert all(s == 200 for s in statuses)
    return REQUESTS / elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = composition.Settings.from_env(
            env={}, instance_path=Path(tmp), database_url=f"sqlite:///{tmp}/bench.sqlite3"
        )
        flask_app = composition.create_app(settings)
        composition.upgrade_database(composition.engine_of(flask_app))
        baseline = requests_per_second(bare_app, "/")
        value = requests_per_second(flask_app, "/healthz")
    record(
        "web.healthz_requests_per_s",
        value=value,
        unit="req/s",
        target=None,
        higher_is_better=True,
        baseline=baseline,
        baseline_label="bare WSGI app, same server and clients",
        note=f"{CLIENTS} client threads, werkzeug threaded server, SQLite",
    )
    write()


if __name__ == "__main__":
    main()
