"""Complaint rows as plain JSON-able dicts (the API's answers; privacy.py then filters them).

Pure: reads attributes of the row objects it is given and imports no database code.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from complaints.compensation import fen_to_yuan
from complaints.sla import CaseSla, TargetState
from complaints.workflow import next_statuses

__all__ = [
    "attachment_document",
    "case_document",
    "compensation_document",
    "event_document",
    "message_document",
    "notification_document",
    "sla_document",
]


def iso(value: datetime | None) -> str | None:
    """RFC 3339 text of an aware datetime (None stays None)."""
    return None if value is None else value.isoformat()


def case_document(case: Any, order_ids: Sequence[int]) -> dict[str, Any]:
    """Every field of a case (staff view)."""
    return {
        "id": case.id,
        "number": case.number,
        "channel": case.channel,
        "category": case.category,
        "description": case.description,
        "symptoms": list(case.symptoms),
        "onset_at": iso(case.onset_at),
        "n_party": case.n_party,
        "n_ill": case.n_ill,
        "n_exposed": case.n_exposed,
        "ill_persons": list(case.ill_persons),
        "medical_care": case.medical_care,
        "stool_sample": case.stool_sample,
        "leftovers_kept": case.leftovers_kept,
        "other_ill_contacts": case.other_ill_contacts,
        "food_history": case.food_history,
        "order_ids": list(order_ids),
        "remedy_sought": list(case.remedy_sought),
        "consent": {
            "share_with_merchant": case.consent_share_with_merchant,
            "contact_by_phone": case.consent_contact_by_phone,
            "health_data_processing": case.consent_health_data,
        },
        "complainant": {
            "user_id": case.complainant_user_id,
            "name": case.complainant_name,
            "phone": case.complainant_phone,
            "email": case.complainant_email,
        },
        "merchant_id": case.merchant_id,
        "status": case.status,
        "next_statuses": list(next_statuses(case.status)),
        "severity": case.severity,
        "severity_reasons": list(case.severity_reasons),
        "assignee_id": case.assignee_id,
        "resolution": case.resolution,
        "root_cause": case.root_cause,
        "corrective_action": case.corrective_action,
        "opened_at": iso(case.opened_at),
        "opened_by": case.opened_by,
        "closed_at": iso(case.closed_at),
        "ledger_index": case.ledger_index,
    }


def event_document(event: Any) -> dict[str, Any]:
    """One timeline line."""
    return {
        "id": event.id,
        "kind": event.kind,
        "actor": event.actor,
        "at": iso(event.at),
        "from_status": event.from_status,
        "to_status": event.to_status,
        "body": event.body,
        "visible_to_complainant": event.visible_to_complainant,
        "ledger_index": event.ledger_index,
    }


def attachment_document(attachment: Any, url: str) -> dict[str, Any]:
    """A photo's metadata and where to fetch it."""
    return {
        "id": attachment.id,
        "sha256": attachment.sha256,
        "media_type": attachment.media_type,
        "size": attachment.size,
        "filename": attachment.filename,
        "uploaded_at": iso(attachment.uploaded_at),
        "url": url,
        "ledger_index": attachment.ledger_index,
    }


def message_document(message: Any, text: str) -> dict[str, Any]:
    """An outbox message as its recipient reads it (``text`` rendered by the caller)."""
    return {
        "id": message.id,
        "case_id": message.case_id,
        "channel": message.channel,
        "kind": message.kind,
        "text": text,
        "created_at": iso(message.created_at),
    }


def compensation_document(row: Any) -> dict[str, Any]:
    """A compensation decision, amounts in fen and as yuan text."""
    return {
        "id": row.id,
        "case_id": row.case_id,
        "remedy": row.remedy,
        "order_id": row.order_id,
        "price_paid_fen": row.price_paid_fen,
        "loss_fen": row.loss_fen,
        "amount_fen": row.amount_fen,
        "amount_yuan": fen_to_yuan(row.amount_fen),
        "basis": row.basis,
        "payout_key": row.payout_key,
        "status": row.status,
        "decided_at": iso(row.decided_at),
        "paid_at": iso(row.paid_at),
        "payment_reference": row.payment_reference,
        "ledger_index": row.ledger_index,
    }


def notification_document(row: Any) -> dict[str, Any]:
    """An SLA warning or escalation."""
    return {
        "id": row.id,
        "case_id": row.case_id,
        "target": row.target,
        "kind": row.kind,
        "due_at": iso(row.due_at),
        "raised_at": iso(row.raised_at),
        "ledger_index": row.ledger_index,
    }


def target_document(t: TargetState) -> dict[str, Any]:
    """One SLA clock."""
    return {
        "target": t.target,
        "minutes": t.minutes,
        "due_at": iso(t.due_at),
        "remaining_seconds": int(t.remaining.total_seconds()),
        "paused": t.paused,
        "met_at": iso(t.met_at),
        "breached": t.breached,
        "warning": t.warning,
    }


def sla_document(sla: CaseSla) -> dict[str, Any]:
    """A case's clocks and the policy that set them."""
    return {"policy": sla.policy, "targets": [target_document(t) for t in sla.targets]}
