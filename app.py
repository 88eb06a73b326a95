"""Composition root: settings from the environment, the Flask app, the Celery app, sessions, CLI.

This is the only module that reads `os.environ`. Nothing connects at import time: `create_app()`
builds the engine, and the Celery app is configured lazily from the same settings.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from celery import Celery
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

ROOT = Path(__file__).resolve().parent
DEFAULT_LEDGER_ORIGIN = "foodtrace.campus.example/ledger"


def _instance_secret(path: Path, nbytes: int = 32) -> str:
    """Read a secret from instance/, creating it (mode 0600) on first run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(nbytes))
    return path.read_text().strip()


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DOMAIN_CONFIG_PREFIXES = ("ORDERS_", "ORDER_RETENTION_DAYS", "COMPLAINTS_")


@dataclass(frozen=True, slots=True)
class Settings:
    """Every configuration value of Foodtrace; see the README's configuration table."""

    instance_path: Path = ROOT / "instance"
    database_url: str = ""
    secret_key: str = ""
    celery_broker_url: str = ""
    celery_result_backend: str = ""
    celery_queue: str = "foodtrace"
    ledger_origin: str = DEFAULT_LEDGER_ORIGIN
    ledger_key_path: Path | None = None
    ledger_checkpoint_seconds: int = 300
    rate_limit_storage_url: str = "memory://"
    max_content_length: int = 16 * 1024 * 1024
    login_max_attempts: int = 5
    login_window_seconds: int = 900
    session_cookie_secure: bool = False
    default_locale: str = "zh_CN"
    cold_chain_profile: str = "gb31654"
    timezone: str = "Asia/Shanghai"
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    in_process_beat: bool = False
    prometheus_multiproc_dir: str = ""
    testing: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(
        cls, env: dict[str, str] | None = None, *, resolve: bool = True, **overrides: Any
    ) -> Settings:
        """Build settings from environment variables (overrides win, for tests)."""
        env = dict(os.environ if env is None else env)
        instance = Path(env.get("FOODTRACE_INSTANCE", str(ROOT / "instance")))
        values: dict[str, Any] = {
            "instance_path": instance,
            "database_url": env.get("DATABASE_URL", ""),
            "secret_key": env.get("SECRET_KEY", ""),
            "celery_broker_url": env.get("CELERY_BROKER_URL", ""),
            "celery_result_backend": env.get("CELERY_RESULT_BACKEND", ""),
            "celery_queue": env.get("CELERY_QUEUE", "foodtrace"),
            "ledger_origin": env.get("LEDGER_ORIGIN", DEFAULT_LEDGER_ORIGIN),
            "ledger_key_path": Path(env["LEDGER_KEY_PATH"]) if env.get("LEDGER_KEY_PATH") else None,
            "ledger_checkpoint_seconds": int(env.get("LEDGER_CHECKPOINT_SECONDS", "300")),
            "rate_limit_storage_url": env.get("RATE_LIMIT_STORAGE_URL", "memory://"),
            "max_content_length": int(env.get("MAX_CONTENT_LENGTH", str(16 * 1024 * 1024))),
            "login_max_attempts": int(env.get("LOGIN_MAX_ATTEMPTS", "5")),
            "login_window_seconds": int(env.get("LOGIN_WINDOW_SECONDS", "900")),
            "session_cookie_secure": _bool(env.get("SESSION_COOKIE_SECURE"), False),
            "default_locale": env.get("DEFAULT_LOCALE", "zh_CN"),
            "cold_chain_profile": env.get("COLD_CHAIN_PROFILE", "gb31654"),
            "timezone": env.get("FOODTRACE_TIMEZONE", "Asia/Shanghai"),
            "mqtt_url": env.get("MQTT_URL", "mqtt://127.0.0.1:1883"),
            "in_process_beat": _bool(env.get("IN_PROCESS_BEAT"), False),
            "prometheus_multiproc_dir": env.get("PROMETHEUS_MULTIPROC_DIR", ""),
            # a domain's own tunables (ORDERS_USER_PER_MINUTE, ...) reach its app.config as is;
            # the domain parses and checks them (orders/rules.py)
            "extra": {k: v for k, v in env.items() if k.startswith(DOMAIN_CONFIG_PREFIXES)},
        }
        values.update(overrides)
        settings = cls(**values)
        return settings.resolved() if resolve else settings

    def resolved(self) -> Settings:
        """Fill defaults that live in instance/ (SQLite file, secret key, ledger key path)."""
        db = self.database_url or f"sqlite:///{self.instance_path / 'foodtrace.sqlite3'}"
        secret = self.secret_key or _instance_secret(self.instance_path / "secret_key")
        key_path = self.ledger_key_path or self.instance_path / "ledger_ed25519.pem"
        return replace(self, database_url=db, secret_key=secret, ledger_key_path=key_path)

    @property
    def embedded(self) -> bool:
        """True when tasks run in-process (no broker configured)."""
        return not self.celery_broker_url


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever scheme the operator wrote."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, read_only: bool = False, **kwargs: Any) -> Engine:
    """Create the SQLAlchemy engine for SQLite (embedded) or PostgreSQL (production).

    SQLite transactions start with BEGIN IMMEDIATE so a writer holds the write lock from its
    first statement: the ledger sequencer and every read-then-write service stay serialised
    across processes instead of failing with SQLITE_BUSY on lock upgrade. A `read_only` engine
    (long verification passes) uses a deferred BEGIN: a WAL snapshot that never blocks writers.
    """
    url = normalise_database_url(url)
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        begin = "BEGIN" if read_only else "BEGIN IMMEDIATE"

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql(begin)

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("connect_timeout", 3)
    return create_engine(url, connect_args=connect_args, **kwargs)


# --------------------------------------------------------------------------- Celery

# The domains, in dependency order. Each may have models.py (tables, PROJECTIONS for ledger
# verify), views.py and cli.py (with init_app(app)), tasks.py (Celery tasks) and demo.py
# (seed(session=...)); web.factory, models_registry and demo.seed discover them from this list.
DOMAINS = (
    "accounts",
    "operations",
    "evidence",
    "trace",
    "orders",
    "sensors",
    "complaints",
    "reports",
)


def domain_modules(kind: str) -> list[str]:
    """`<domain>.<kind>` for every domain that has such a module, in DOMAINS order."""
    import importlib.util

    return [f"{d}.{kind}" for d in DOMAINS if importlib.util.find_spec(f"{d}.{kind}") is not None]


TASK_MODULES = tuple(domain_modules("tasks"))

celery = Celery("foodtrace", set_as_current=False)
# Workers and beat (`celery -A app:celery ...`) never call create_app(): they read the same
# settings from the environment, lazily, when Celery first needs its configuration.
celery.add_defaults(lambda: celery_config(Settings.from_env(resolve=False)))


BROKER_RETRY_SECONDS = 5.0  # after a failed send, park tasks without trying the broker this long


class _TaskRuntime:
    """What tasks need at run time: a Flask app (for settings and sessions), built lazily."""

    def __init__(self) -> None:
        self.flask_app: Any = None
        self.executor: ThreadPoolExecutor | None = None
        self.broker_down_until = 0.0  # monotonic time before which sends go straight to parking

    def app(self) -> Any:
        if self.flask_app is None:
            self.flask_app = create_app()
        return self.flask_app


task_runtime = _TaskRuntime()


def configure_celery(settings: Settings) -> Celery:
    """Point the Celery app at the broker, or run tasks in-process when there is none.

    A process normally configures once; when the broker changes (tests build several apps),
    the cached connection and producer pools of the old broker are dropped.
    """
    conf = celery_config(settings)
    if celery.conf.get("broker_url") != conf.get("broker_url"):
        celery._pool = None  # the next send opens a pool on the new broker
        celery.amqp._producer_pool = None
    celery.conf.update(conf)
    return celery


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings derived from Foodtrace settings."""
    conf: dict[str, Any] = {
        "task_serializer": "json",
        "accept_content": ["json"],
        "timezone": "UTC",
        "enable_utc": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
        "beat_schedule": beat_schedule(settings),
        "task_default_queue": settings.celery_queue,
        "imports": TASK_MODULES,
    }
    if settings.embedded:
        conf.update(task_always_eager=True, task_eager_propagates=True, broker_url="memory://")
    else:
        conf.update(
            task_always_eager=False,
            broker_url=settings.celery_broker_url,
            result_backend=settings.celery_result_backend or None,
            task_ignore_result=not settings.celery_result_backend,
            # an unreachable broker must fail a send in seconds (the task is then parked)
            broker_connection_timeout=2,
            broker_transport_options={
                "visibility_timeout": 3600,
                "socket_connect_timeout": 2,
                "socket_timeout": 5,
            },
        )
    return conf


def beat_schedule(settings: Settings) -> dict[str, Any]:
    """Periodic tasks run by Celery beat (or the in-process scheduler in the embedded mode)."""
    return {
        "heartbeat": {"task": "ops.heartbeat", "schedule": 60.0},
        "relay-parked-tasks": {"task": "ops.relay_parked_tasks", "schedule": 15.0},
        "ledger-checkpoint": {
            "task": "ledger.checkpoint",
            "schedule": float(settings.ledger_checkpoint_seconds),
        },
        # each order carries its own backoff, so a run with nothing due is one indexed query
        "orders-reconcile-payments": {"task": "orders.reconcile_payments", "schedule": 10.0},
        "orders-retention": {"task": "orders.erase_expired_personal_data", "schedule": 86400.0},
        "complaints-check-slas": {"task": "complaints.check_slas", "schedule": 60.0},
        # settled days only; at most exposure_rollups.RUN_DAYS days per run
        "complaints-roll-up-exposures": {
            "task": "complaints.roll_up_exposures",
            "schedule": 3600.0,
        },
        # finished deliveries' cold-chain verdicts for the dashboard (bounded per run)
        "sensors-judge-finished": {"task": "sensors.judge_finished", "schedule": 60.0},
        # summarises the last full week once; running hourly only catches up after downtime
        "reports-weekly-summary": {"task": "reports.weekly_summary", "schedule": 3600.0},
    }


def enqueue(task: Any, *args: Any) -> None:
    """Run a task after the current request: on a worker in production, on a thread otherwise.

    Callers enqueue after their service has committed, so the task always sees the rows.
    """
    app = task_runtime.flask_app
    settings: Settings | None = app.extensions["foodtrace"].settings if app is not None else None
    if settings is not None and not settings.embedded:
        if time.monotonic() < task_runtime.broker_down_until:  # failed moments ago: don't wait
            _park(app, task.name, args, ConnectionError("broker unreachable (recent failure)"))
            return
        try:
            task.apply_async(args=args, retry=False)
        except Exception as exc:  # the broker is unreachable: park it, never fail the request
            task_runtime.broker_down_until = time.monotonic() + BROKER_RETRY_SECONDS
            _park(app, task.name, args, exc)
        return
    if settings is not None and settings.testing:
        task.apply(args=args)  # tests want the effect before the response returns
        return
    if task_runtime.executor is None:
        task_runtime.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="task")
    task_runtime.executor.submit(task.apply, args=args)


def _park(app: Any, name: str, args: tuple[Any, ...], exc: Exception) -> None:
    """Keep a task the broker refused in the database; `ops.relay_parked_tasks` sends it later."""
    from operations import service as operations

    logging.getLogger("foodtrace.tasks").warning("broker unreachable, parking %s: %s", name, exc)
    with session_scope(engine_of(app)) as session:
        operations.park_task(session=session, task=name, args=args, error=repr(exc))


# --------------------------------------------------------------------------- sessions


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session for CLI commands and tasks; services commit, this only closes."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()


def engine_of(app: Any) -> Engine:
    """The engine of a Flask app built by create_app()."""
    return app.extensions["foodtrace"].engine


def create_app(settings: Settings | None = None) -> Any:
    """Build the Flask app: engine, extensions, blueprints, CLI, error handlers."""
    from web.factory import build_app  # late import: web imports this module

    settings = settings or Settings.from_env()
    flask_app = build_app(settings)
    configure_celery(settings)
    if task_runtime.flask_app is None or settings.testing:
        task_runtime.flask_app = flask_app
    if settings.embedded and settings.in_process_beat:
        start_in_process_beat(settings)
    return flask_app


def start_in_process_beat(settings: Settings) -> threading.Thread:
    """The embedded default's stand-in for Celery beat: run periodic tasks on a daemon thread."""
    import importlib

    for module in TASK_MODULES:
        importlib.import_module(module)
    schedule = beat_schedule(settings)

    def loop() -> None:
        due = {name: time.monotonic() + 5 for name in schedule}
        while True:
            now = time.monotonic()
            for name, entry in schedule.items():
                if now >= due[name]:
                    due[name] = now + float(entry["schedule"])
                    try:
                        celery.tasks[entry["task"]].apply()
                    except Exception:
                        logging.getLogger("foodtrace.beat").exception("task %s failed", name)
            time.sleep(1)

    thread = threading.Thread(target=loop, name="in-process-beat", daemon=True)
    thread.start()
    return thread


def create_database(url: str) -> bool:
    """Create the PostgreSQL database `url` names if it does not exist; True if created.

    SQLite creates its file on first use, so this is a no-op there.
    """
    from sqlalchemy.engine import make_url

    target = make_url(normalise_database_url(url))
    if not target.drivername.startswith("postgresql"):
        return False
    maintenance = make_engine(
        target.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
        pool_size=1,
        max_overflow=0,
    )
    try:
        with maintenance.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
            ).first()
            if exists:
                return False
            quoted = conn.dialect.identifier_preparer.quote(str(target.database))
            conn.execute(text(f"CREATE DATABASE {quoted}"))
            return True
    finally:
        maintenance.dispose()


def upgrade_database(engine: Engine, revision: str = "head") -> None:
    """Apply the Alembic migrations to `engine` (SQLite or PostgreSQL) up to `revision`."""
    from alembic import command
    from alembic.config import Config

    import models_registry  # noqa: F401  (every table on SQLModel.metadata for Alembic)

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
