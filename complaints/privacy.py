"""Who sees what of a case (PIPL / GDPR alike; DOMAIN.md §3 "Privacy"). Pure.

- desk and admin: everything;
- student: their own cases, without the desk's internal fields (notes, assignee, severity);
- merchant: a pseudonymous view of cases about their merchant - case number, order
  references, times, category, symptom category, status. With the complainant's consent to
  share with the merchant, also the contact and the description; with the separate consent
  to process health data as well, the medical details;
- courier, device, anyone else: nothing.

Views are built by whitelisting fields, so a field added to the case later stays hidden from
merchants until someone decides otherwise here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MEDICAL_FIELDS",
    "PSEUDONYMOUS_FIELDS",
    "Viewer",
    "can_see",
    "case_view",
    "symptom_categories",
    "visible_events",
]

STAFF_ROLES = frozenset({"admin", "desk"})
# The pseudonymous case: what a merchant needs to check its food, nothing about the person.
PSEUDONYMOUS_FIELDS = (
    "id",
    "number",
    "status",
    "category",
    "symptom_categories",
    "onset_at",
    "opened_at",
    "closed_at",
    "order_ids",
    "merchant_id",
    "lines",  # dish and batch per order line, filled once orders exist (part 2)
)
CONTACT_FIELDS = ("complainant", "description", "remedy_sought")
MEDICAL_FIELDS = (
    "symptoms",
    "medical_care",
    "ill_persons",
    "stool_sample",
    "other_ill_contacts",
    "n_party",
    "n_ill",
    "n_exposed",
    "food_history",
    "leftovers_kept",
)
# Desk working fields a complainant does not see on their own case.
INTERNAL_FIELDS = frozenset(
    {
        "assignee_id",
        "assignee",
        "severity",
        "severity_reasons",
        "sla",
        "notifications",
        "opened_by",
        "compensations",
        "next_statuses",
    }
)
SYMPTOM_GROUPS = {
    "diarrhoea": "gastrointestinal",
    "bloody_stool": "gastrointestinal",
    "vomiting": "gastrointestinal",
    "nausea": "gastrointestinal",
    "cramps": "gastrointestinal",
    "fever": "systemic",
    "headache": "systemic",
    "neurological": "neurological",
}


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking: role, user id, and the merchant a merchant user speaks for."""

    role: str
    user_id: int | None = None
    merchant_id: int | None = None


def symptom_categories(symptoms: Iterable[str]) -> list[str]:
    """The coarse groups of the symptoms (what a merchant may see instead of the list)."""
    return sorted({SYMPTOM_GROUPS[s] for s in symptoms if s in SYMPTOM_GROUPS})


def can_see(case: Mapping[str, Any], viewer: Viewer) -> bool:
    """Whether the viewer may see this case at all (in any form)."""
    if viewer.role in STAFF_ROLES:
        return True
    if viewer.role == "student":
        owner = (case.get("complainant") or {}).get("user_id")
        return viewer.user_id is not None and owner == viewer.user_id
    if viewer.role == "merchant":
        return viewer.merchant_id is not None and case.get("merchant_id") == viewer.merchant_id
    return False


def case_view(case: Mapping[str, Any], viewer: Viewer) -> dict[str, Any] | None:
    """The case as this viewer may see it, or None when they may not see it at all."""
    if not can_see(case, viewer):
        return None
    if viewer.role in STAFF_ROLES:
        return dict(case)
    if viewer.role == "student":
        return {k: v for k, v in case.items() if k not in INTERNAL_FIELDS}
    consent = case.get("consent") or {}
    out: dict[str, Any] = {k: case[k] for k in PSEUDONYMOUS_FIELDS if k in case}
    out["symptom_categories"] = symptom_categories(case.get("symptoms") or ())
    out["pseudonymous"] = True
    if consent.get("share_with_merchant"):
        out["pseudonymous"] = False
        for k in CONTACT_FIELDS:
            if k in case:
                out[k] = case[k]
        if isinstance(out.get("complainant"), Mapping):
            # The account id links to other records: never needed by a merchant.
            out["complainant"] = {k: v for k, v in out["complainant"].items() if k != "user_id"}
        if consent.get("health_data_processing"):
            out.update({k: case[k] for k in MEDICAL_FIELDS if k in case})
    return out


def visible_events(events: Iterable[Mapping[str, Any]], viewer: Viewer) -> list[Mapping[str, Any]]:
    """Timeline entries the viewer may read: all for staff; for the complainant the
    customer-visible ones, without the desk member's identity and with text only on replies
    (a transition's reason is internal); none for merchants."""
    if viewer.role in STAFF_ROLES:
        return list(events)
    if viewer.role != "student":
        return []
    out: list[Mapping[str, Any]] = []
    for e in events:
        if not e.get("visible_to_complainant"):
            continue
        keep = {k: v for k, v in e.items() if k not in ("actor", "actor_name")}
        if e.get("kind") != "reply":
            keep.pop("body", None)
        out.append(keep)
    return out
