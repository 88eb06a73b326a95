"""Shared plumbing for benchmarks: record figures beside a baseline and write the results files.

Every benchmark script calls `record(...)` for each figure and `write()` at the end; figures from
all scripts accumulate in `bench/results.json`, from which `bench/RESULTS.md` is regenerated.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS_JSON = HERE / "results.json"
RESULTS_MD = HERE / "RESULTS.md"


def machine() -> str:
    """A one-line description of the machine the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem_gib = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} cores {cpu}{mem_gib}, Python {platform.python_version()}"


def timed(fn: Callable[[], Any], *, repeat: int = 1) -> float:
    """Median wall-clock seconds of `repeat` calls of fn."""
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


_pending: dict[str, dict[str, Any]] = {}


def record(
    name: str,
    *,
    value: float,
    unit: str,
    target: float | None,
    higher_is_better: bool,
    baseline: float | None = None,
    baseline_label: str = "",
    note: str = "",
) -> None:
    """Keep one figure; printed at once and written by `write()`."""
    entry = {
        "value": round(value, 6),
        "unit": unit,
        "target": target,
        "higher_is_better": higher_is_better,
        "baseline": None if baseline is None else round(baseline, 6),
        "baseline_label": baseline_label,
        "note": note,
        "machine": machine(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _pending[name] = entry
    verdict = _verdict(entry)
    base = (
        f" (baseline {entry['baseline']} {unit} {baseline_label})" if baseline is not None else ""
    )
    print(f"{name}: {entry['value']} {unit} target {target} -> {verdict}{base}", flush=True)


def _verdict(entry: dict[str, Any]) -> str:
    target = entry["target"]
    if target is None:
        return "reported"
    ok = entry["value"] >= target if entry["higher_is_better"] else entry["value"] <= target
    return "meets target" if ok else "MISSES target"


def write() -> None:
    """Merge pending figures into results.json and regenerate RESULTS.md."""
    existing: dict[str, Any] = {}
    if RESULTS_JSON.exists():
        existing = json.loads(RESULTS_JSON.read_text())
    existing.update(_pending)
    _pending.clear()
    RESULTS_JSON.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (bench/harness.py). Each figure stands beside its target and a",
        "baseline measured in the same run on the same machine.",
        "",
        "| benchmark | value | target | verdict | baseline | machine | measured |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in sorted(existing):
        e = existing[name]
        cmp = ">=" if e["higher_is_better"] else "<="
        target = "-" if e["target"] is None else f"{cmp} {e['target']} {e['unit']}"
        base = (
            "-" if e["baseline"] is None else f"{e['baseline']} {e['unit']} {e['baseline_label']}"
        )
        value = f"{e['value']} {e['unit']}" + (f" ({e['note']})" if e.get("note") else "")
        lines.append(
            f"| {name} | {value} | {target} | {_verdict(e)} | {base} | {e['machine']} "
            f"| {e['measured_at']} |"
        )
    RESULTS_MD.write_text("\n".join(lines) + "\n")
