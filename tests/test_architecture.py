"""Import rules of DESIGN.md, checked by reading the source."""

import ast
import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOMAINS = (
    "trace",
    "orders",
    "sensors",
    "complaints",
    "reports",
    "ledger",
    "accounts",
    "operations",
)
# Entry points may speak Flask (views, CLI) or Celery (tasks); everything else may not.
FLASK_OK = {"views.py", "cli.py"}
CELERY_OK = {"tasks.py"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def domain_modules():
    for domain in DOMAINS:
        for path in sorted((ROOT / domain).rglob("*.py")):
            yield domain, path


def top(name: str) -> str:
    return name.split(".")[0]


def test_only_views_and_cli_import_flask_and_only_tasks_import_celery():
    offenders = []
    for _domain, path in domain_modules():
        tops = {top(n) for n in imports_of(path)}
        if (
            tops & {"flask", "flask_openapi3", "flask_babel", "werkzeug"}
            and path.name not in FLASK_OK
        ):
            offenders.append(f"{path.relative_to(ROOT)} imports Flask")
        if "celery" in tops and path.name not in CELERY_OK:
            offenders.append(f"{path.relative_to(ROOT)} imports Celery")
    assert offenders == []


def test_ledger_imports_no_other_project_package_and_only_ledger_imports_pymerkle():
    project = set(DOMAINS) | {"app", "web", "demo", "columns", "models_registry"}
    offenders = []
    for domain, path in domain_modules():
        tops = {top(n) for n in imports_of(path)}
        if domain == "ledger" and tops & (project - {"ledger"}):
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(tops & project)}")
        if domain != "ledger" and "pymerkle" in tops:
            offenders.append(f"{path.relative_to(ROOT)} imports pymerkle")
    for path in (ROOT / "web").rglob("*.py"):
        if "pymerkle" in {top(n) for n in imports_of(path)}:
            offenders.append(f"{path.relative_to(ROOT)} imports pymerkle")
    assert offenders == []


def test_domains_never_import_another_domains_views():
    offenders = []
    for domain, path in domain_modules():
        for name in imports_of(path):
            parts = name.split(".")
            if parts[0] in DOMAINS and parts[0] != domain and parts[-1] == "views":
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_pure_modules_do_no_io_framework_imports():
    pure = [
        p
        for _d, p in domain_modules()
        if p.name not in FLASK_OK | CELERY_OK | {"service.py", "models.py", "__init__.py"}
    ]
    for path in pure:
        tops = {top(n) for n in imports_of(path)}
        assert not tops & {"flask", "celery", "web", "app"}, path


def test_import_trace_resolves_to_the_projects_package():
    module = importlib.import_module("trace")
    assert Path(module.__file__).resolve().parent == ROOT / "trace"


def test_only_app_reads_the_environment():
    offenders = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in {".venv", "tests", "bench", "migrations"} or rel.name == "app.py":
            continue
        if "os.environ" in path.read_text() or "getenv(" in path.read_text():
            offenders.append(str(rel))
    assert offenders == []
