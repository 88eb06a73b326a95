"""The ordering rules as configuration: defaults from order_rules.json (each with its source),
overridable per deployment through the app config keys named in `CONFIG_KEYS`.

Pure: no Flask here. Views, tasks and the CLI read their app's config and call
`OrdersConfig.from_mapping(app.config)`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any

RULES_FILE = Path(__file__).with_name("order_rules.json")

# config key -> rule name in order_rules.json
CONFIG_KEYS = {
    "ORDER_RETENTION_DAYS": "retention_days",
    "ORDERS_MAX_QUANTITY": "max_quantity_per_line",
    "ORDERS_MAX_LINES": "max_lines_per_order",
    "ORDERS_PAYMENT_TIMEOUT_SECONDS": "payment_timeout_seconds",
    "ORDERS_PAYMENT_RETRY_BASE_SECONDS": "payment_retry_base_seconds",
    "ORDERS_PAYMENT_RETRY_MAX_SECONDS": "payment_retry_max_seconds",
    "ORDERS_PENDING_PAYMENT_GRACE_SECONDS": "pending_payment_grace_seconds",
    "ORDERS_USER_PER_MINUTE": "user_orders_per_minute",
    "ORDERS_MERCHANT_PER_SECOND": "merchant_orders_per_second",
    "ORDERS_MAX_IN_FLIGHT": "max_in_flight",
    "ORDERS_MAX_IN_FLIGHT_PER_PROCESS": "max_in_flight_per_process",
    "ORDERS_VOUCHER_VALID_DAYS": "voucher_valid_days",
}


class RulesError(ValueError):
    """The rules file or a configured value is malformed."""


@cache
def default_rules() -> dict[str, Any]:
    """Rule name -> default value, from order_rules.json."""
    raw = json.loads(RULES_FILE.read_text(encoding="utf-8"))
    return {name: entry["value"] for name, entry in raw.items()}


@dataclass(frozen=True, slots=True)
class OrdersConfig:
    """Every tunable of the ordering flow (see order_rules.json for defaults and sources)."""

    retention_days: int
    max_quantity_per_line: int
    max_lines_per_order: int
    payment_timeout_seconds: float
    payment_retry_base_seconds: float
    payment_retry_max_seconds: float
    pending_payment_grace_seconds: float
    user_orders_per_minute: int
    merchant_orders_per_second: int
    max_in_flight: int
    max_in_flight_per_process: int
    voucher_valid_days: int = 90
    group_commit: bool = True
    edge_gate: bool = True  # ORDERS_EDGE_GATE: admit API orders in the WSGI gate (orders.edge)

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any] | None = None) -> OrdersConfig:
        """Defaults from the rules file, overridden by `config[ORDERS_...]` when present."""
        values = dict(default_rules())
        config = config or {}
        for key, name in CONFIG_KEYS.items():
            if config.get(key) is not None:
                values[name] = config[key]
        kinds = {f.name: f.type for f in fields(cls)}
        out: dict[str, Any] = {}
        for name, value in values.items():
            if name not in kinds:
                continue
            try:
                out[name] = float(value) if kinds[name] == "float" else int(value)
            except (TypeError, ValueError):
                raise RulesError(f"{name} must be a number, not {value!r}") from None
            if out[name] <= 0:
                raise RulesError(f"{name} must be greater than 0")
        # a process's share never exceeds the deployment's limit
        out["max_in_flight_per_process"] = min(
            out["max_in_flight_per_process"], out["max_in_flight"]
        )
        out["group_commit"] = bool(config.get("ORDERS_GROUP_COMMIT", True))
        out["edge_gate"] = bool(config.get("ORDERS_EDGE_GATE", True))
        return cls(**out)
