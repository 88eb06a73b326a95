"""Display labels of the complaint desk's vocabulary and the texts of outbox messages.

Pure: strings are only marked for extraction (``N_``); views translate them with gettext in
the reader's language when they are shown.
"""

from __future__ import annotations

__all__ = ["LABELS", "MESSAGE_TEXTS", "N_"]


def N_(message: str) -> str:
    """Marks a string for extraction; translated where it is shown."""
    return message


# Outbox texts: rendered in the reader's language when shown (replies carry the desk's text).
MESSAGE_TEXTS = {
    "acknowledgement": N_(
        "We have received your report %(number)s. The complaint desk will contact you shortly."
    ),
    "satisfaction_check": N_(
        "Your case %(number)s is closed. Please tell us how satisfied you are (1-5); "
        "you may appeal within %(days)s days."
    ),
}
LABELS = {
    # categories
    "illness": N_("Illness"),
    "foreign_object": N_("Foreign object"),
    "spoiled": N_("Spoiled food"),
    "allergen": N_("Allergen"),
    "temperature": N_("Temperature"),
    "hygiene": N_("Hygiene"),
    "other": N_("Other"),
    # channels
    "phone": N_("Phone"),
    "walk_in": N_("Walk-in"),
    "social_media": N_("Social media"),
    "app": N_("App"),
    # symptoms
    "diarrhoea": N_("Diarrhoea"),
    "bloody_stool": N_("Bloody stool"),
    "vomiting": N_("Vomiting"),
    "nausea": N_("Nausea"),
    "cramps": N_("Cramps"),
    "fever": N_("Fever"),
    "headache": N_("Headache"),
    "neurological": N_("Neurological signs"),
    # medical care
    "none": N_("None"),
    "doctor": N_("Doctor"),
    "er": N_("Emergency room"),
    "hospitalised": N_("Hospitalised"),
    # remedies
    "refund": N_("Refund"),
    "voucher": N_("Voucher"),
    "apology": N_("Apology"),
    "compensation": N_("Compensation"),
    "investigation": N_("Investigation"),
    "statutory": N_("Statutory damages (art. 148)"),
    # statuses
    "new": N_("New"),
    "acknowledged": N_("Acknowledged"),
    "investigating": N_("Investigating"),
    "waiting_for_lab": N_("Waiting for lab"),
    "waiting_for_customer": N_("Waiting for customer"),
    "action_taken": N_("Action taken"),
    "resolved": N_("Resolved"),
    "closed": N_("Closed"),
    # severities
    "critical": N_("Critical"),
    "high": N_("High"),
    "normal": N_("Normal"),
    "low": N_("Low"),
    # SLA targets and notifications
    "first_response": N_("First response"),
    "investigation_report": N_("Investigation report"),
    "closure": N_("Closure"),
    "warning": N_("Warning"),
    "escalation": N_("Escalation"),
    # timeline kinds
    "opened": N_("Opened"),
    "updated": N_("Updated"),
    "transitioned": N_("Status changed"),
    "reopened": N_("Reopened"),
    "assigned": N_("Assigned"),
    "note": N_("Internal note"),
    "reply": N_("Reply"),
    "attachment": N_("Photo added"),
    "feedback": N_("Feedback"),
    "compensation_paid": N_("Compensation paid"),
    # triage rules (complaints/severity_rules.json)
    "bloody_diarrhoea": N_("Bloody diarrhoea"),
    "neurological_signs": N_("Neurological signs"),
    "several_ill": N_("Two or more ill"),
    "injury_or_reaction": N_("Possible injury or reaction"),
    "food_safety": N_("Food safety"),
    "service": N_("Service"),
    # symptom groups (merchant view)
    "gastrointestinal": N_("Gastrointestinal"),
    "systemic": N_("Fever or headache"),
    # sexes
    "female": N_("Female"),
    "male": N_("Male"),
    "undisclosed": N_("Undisclosed"),
    # trace-back and source ranking candidates
    "lot": N_("Lot"),
    "batch": N_("Batch"),
    "supplier": N_("Supplier"),
    "merchant": N_("Merchant"),
    "menu_item": N_("Menu item"),
    "courier": N_("Courier"),
    "on_hold": N_("On hold"),
    "recalled": N_("Recalled"),
    "disposed": N_("Disposed"),
    # order statuses (trace-back)
    "delivered": N_("Delivered"),
    "out_for_delivery": N_("Out for delivery"),
    "placed": N_("Placed"),
    "ready": N_("Ready"),
    "accepted": N_("Accepted"),
    "rejected": N_("Rejected"),
    "cancelled": N_("Cancelled"),
    # cold-chain verdicts and findings (sensors.rules)
    "pass": N_("Pass"),
    "fail": N_("Fail"),
    "insufficient_data": N_("Insufficient data"),
    "delivery_exceeds_time_limit": N_("Delivery took longer than allowed"),
    "excursion_total_exceeds_limit": N_("Too long outside the safe temperature"),
    "no_readings": N_("No readings"),
    "data_gap": N_("Gap in the readings"),
    "impossible_readings": N_("Impossible readings"),
}
