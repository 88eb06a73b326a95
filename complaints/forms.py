"""Web forms as raw values for the services: the intake form and the survey mapping form.

Pure: reads any mapping with ``get`` / ``getlist`` (Werkzeug's MultiDict), imports no Flask.
Values that cannot be read are passed on as typed, so the intake check names their field.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

__all__ = [
    "flag",
    "intake_from_form",
    "local_datetime",
    "mapping_from_form",
    "parse_order_refs",
    "whole",
]


def local_datetime(raw: str, zone: tzinfo) -> datetime | str | None:
    """A datetime-local field (naive: in ``zone``); unreadable text is kept for intake to name."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return raw  # intake names the field
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def whole(raw: str | None) -> int | str | None:
    """A number field: int, None when empty, the text itself when not a number."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        return raw


def flag(raw: str | None) -> bool | None:
    """A yes / no / unknown select."""
    return {"yes": True, "no": False}.get((raw or "").strip())


def parse_order_refs(raw: str) -> list[int | str]:
    """Order numbers typed as "1024, 1025" (or "#1024 #1025") → ints; bad tokens kept for the
    intake check to name."""
    out: list[int | str] = []
    for token in raw.replace(",", " ").replace("，", " ").split():
        token = token.lstrip("#")
        out.append(int(token) if token.isdigit() else token)
    return out


def intake_from_form(form: Any, *, student: bool, zone: tzinfo) -> dict[str, Any]:
    """The intake fields of the new-case / report form as raw values."""
    data: dict[str, Any] = {
        "category": form.get("category") or None,
        "description": form.get("description", ""),
        "symptoms": form.getlist("symptoms"),
        "medical_care": form.get("medical_care") or "none",
        "food_history": form.get("food_history", ""),
        "order_ids": parse_order_refs(form.get("order_refs", "")),
        "remedy_sought": form.getlist("remedy_sought"),
        "consent": {
            "share_with_merchant": form.get("share_with_merchant") == "on",
            "contact_by_phone": form.get("contact_by_phone") == "on",
            "health_data_processing": form.get("health_data_processing") == "on",
        },
    }
    onset = local_datetime(form.get("onset_at", ""), zone)
    if onset is not None:
        data["onset_at"] = onset
    for name in ("n_party", "n_ill", "n_exposed", "merchant_id"):
        value = whole(form.get(name))
        if value is not None:
            data[name] = value
    for name in ("stool_sample", "leftovers_kept", "other_ill_contacts"):
        data[name] = flag(form.get(name))
    band, sex = form.get("age_band") or None, form.get("sex") or None
    if band or sex:
        data["ill_persons"] = [{"age_band": band, "sex": sex}]
    if not student:
        data["channel"] = form.get("channel") or None
        data["complainant"] = {
            "name": form.get("complainant_name") or None,
            "phone": form.get("complainant_phone") or None,
            "email": form.get("complainant_email") or None,
        }
    return data


def _names(raw: str) -> list[str]:
    """Column names typed comma- or line-separated."""
    return [n.strip() for n in raw.replace("\n", ",").split(",") if n.strip()]


def mapping_from_form(form: Any) -> dict[str, Any]:
    """The survey mapping typed into the upload form (see complaints.questionnaire)."""
    mapping: dict[str, Any] = {
        "id_column": form.get("id_column", "").strip(),
        "ill_column": form.get("ill_column", "").strip(),
        "item_columns": _names(form.get("item_columns", "")),
        "onset_columns": _names(form.get("onset_columns", "")),
    }
    portions = {}
    for line in form.get("portion_columns", "").splitlines():
        item, sep, column = line.partition("=")
        if sep:
            portions[item.strip()] = column.strip()
    if portions:
        mapping["portion_columns"] = portions
    for key in ("yes_values", "no_values", "missing_values"):
        if form.get(key, "").strip():
            mapping[key] = [v.strip() for v in form[key].split(",")]
    return mapping
