"""Devices and verdicts as plain JSON for the API (never a device's token)."""

from __future__ import annotations

from typing import Any

from sensors.models import Device
from sensors.rules import DeliveryVerdict


def device_json(device: Device) -> dict[str, Any]:
    """A device as plain JSON (never its token)."""
    return {
        "device_id": device.device_id,
        "kind": device.kind,
        "box_id": device.box_id,
        "calibrated_on": device.calibrated_on.isoformat() if device.calibrated_on else None,
        "user_id": device.user_id,
        "registered_at": device.registered_at.isoformat(),
        "revoked_at": device.revoked_at.isoformat() if device.revoked_at else None,
        "ledger_index": device.ledger_index,
    }


def verdict_summary(verdict: DeliveryVerdict) -> dict[str, Any]:
    """The verdict as plain JSON (API)."""
    return {
        "profile": verdict.profile,
        "food_class": verdict.food_class,
        "window_start": verdict.window_start.isoformat(),
        "window_end": verdict.window_end.isoformat(),
        "in_progress": verdict.in_progress,
        "excursion_in_progress": verdict.excursion_in_progress,
        "verdict": verdict.verdict,
        "n_readings": verdict.n_readings,
        "n_impossible": verdict.n_impossible,
        "min_c": verdict.min_c,
        "max_c": verdict.max_c,
        "mean_c": verdict.mean_c,
        "minutes_outside": verdict.minutes_outside,
        "excursions": [
            {
                "start": e.start.isoformat(),
                "end": e.end.isoformat(),
                "peak_c": e.peak_c,
                "minutes": e.minutes,
            }
            for e in verdict.excursions
        ],
        "gaps": [
            {"start": g.start.isoformat(), "end": g.end.isoformat(), "minutes": g.minutes}
            for g in verdict.gaps
        ],
        "reasons": [{"code": r.code, "message": r.message} for r in verdict.reasons],
    }
