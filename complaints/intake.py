"""What a complaint is made of (DOMAIN.md §3 "Intake") and how raw input becomes one.

Pure: no I/O. :func:`validate_intake` checks a raw mapping (an API body, a web form after
parsing) and returns an :class:`Intake`, or raises :class:`IntakeError` listing every problem
with the field it concerns, so the API can answer one 422 naming them all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypedDict

__all__ = [
    "AGE_BANDS",
    "CATEGORIES",
    "CHANNELS",
    "FOOD_SAFETY_CATEGORIES",
    "MEDICAL_CARE",
    "REMEDIES",
    "SEXES",
    "SYMPTOMS",
    "Complainant",
    "Consent",
    "IllPerson",
    "Intake",
    "IntakeError",
    "Problem",
    "validate_intake",
]

# Vocabularies of DOMAIN.md §3; the order is the order forms show them in.
CHANNELS = ("phone", "walk_in", "social_media", "app")
DESK_CHANNELS = ("phone", "walk_in", "social_media")
CATEGORIES = ("illness", "foreign_object", "spoiled", "allergen", "temperature", "hygiene", "other")
FOOD_SAFETY_CATEGORIES = frozenset(
    {"illness", "foreign_object", "spoiled", "allergen", "temperature"}
)
SYMPTOMS = (
    "diarrhoea",
    "bloody_stool",
    "vomiting",
    "nausea",
    "cramps",
    "fever",
    "headache",
    "neurological",
)
MEDICAL_CARE = ("none", "doctor", "er", "hospitalised")
REMEDIES = ("refund", "voucher", "apology", "compensation", "investigation")
AGE_BANDS = ("0-4", "5-14", "15-24", "25-44", "45-64", "65+")
SEXES = ("female", "male", "other", "undisclosed")

MAX_TEXT = 4000
MAX_PEOPLE = 10_000  # a campus event, not a city: larger numbers are typing errors
MAX_ORDERS = 20
# Phones are sometimes a few minutes ahead of the server: that is not "onset in the future".
ONSET_CLOCK_SKEW = timedelta(minutes=5)
# A complaint about an illness more than a year old cannot be investigated from our records.
ONSET_MAX_AGE = timedelta(days=365)
PHONE_RE = re.compile(r"^\+?[0-9][0-9 \-]{4,30}$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,185}\.[^@\s]{2,}$")


class Problem(TypedDict):
    """One bad input: the field (dotted path) and why."""

    field: str
    reason: str


class IntakeError(ValueError):
    """Input that cannot make a case; ``details`` names every bad field, ``field`` the first."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.details: list[Problem] = list(problems)
        self.field = self.details[0]["field"] if self.details else None
        text = "; ".join(f"{p['field']}: {p['reason']}" for p in self.details[:5])
        super().__init__(f"invalid case: {text}")


@dataclass(frozen=True, slots=True)
class IllPerson:
    """An ill person's age band and sex (both optional)."""

    age_band: str | None = None
    sex: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        """JSON form."""
        return {"age_band": self.age_band, "sex": self.sex}


@dataclass(frozen=True, slots=True)
class Consent:
    """What the complainant agreed to (PIPL: health data needs its own consent)."""

    share_with_merchant: bool = False
    contact_by_phone: bool = False
    health_data_processing: bool = False


@dataclass(frozen=True, slots=True)
class Complainant:
    """A student account, or the contact a desk member took on the phone or at the counter."""

    user_id: int | None = None
    name: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Intake:
    """A validated complaint as reported (the case row adds number, status, severity)."""

    channel: str
    category: str
    description: str
    symptoms: tuple[str, ...] = ()
    onset_at: datetime | None = None
    n_party: int = 1
    n_ill: int = 0
    n_exposed: int | None = None
    ill_persons: tuple[IllPerson, ...] = ()
    medical_care: str = "none"
    stool_sample: bool | None = None
    leftovers_kept: bool | None = None
    other_ill_contacts: bool | None = None
    food_history: str = ""
    order_ids: tuple[int, ...] = ()
    remedy_sought: tuple[str, ...] = ()
    consent: Consent = field(default_factory=Consent)
    complainant: Complainant = field(default_factory=Complainant)
    merchant_id: int | None = None


class _Checker:
    """Collects problems while reading a raw mapping."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        self.problems: list[Problem] = []

    def bad(self, name: str, reason: str) -> None:
        self.problems.append({"field": name, "reason": reason})

    def choice(self, name: str, allowed: tuple[str, ...], default: str | None = None) -> str | None:
        value = self.raw.get(name, default)
        if value is None:
            if default is None:
                self.bad(name, f"required; one of {', '.join(allowed)}")
            return None
        if value not in allowed:
            self.bad(name, f"{value!r} is not one of {', '.join(allowed)}")
            return None
        return str(value)

    def text(self, name: str, *, required: bool = False, limit: int = MAX_TEXT) -> str:
        value = self.raw.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.bad(name, "required")
            return ""
        if not isinstance(value, str):
            self.bad(name, "must be text")
            return ""
        if len(value) > limit:
            self.bad(name, f"at most {limit} characters")
        return value.strip()[:limit]

    def count(self, name: str, default: int | None) -> int | None:
        value = self.raw.get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.bad(name, "must be a whole number")
            return default
        if value < 0:
            self.bad(name, "must not be negative")
            return default
        if value > MAX_PEOPLE:
            self.bad(name, f"at most {MAX_PEOPLE}")
            return default
        return value

    def flag(self, name: str, raw: Mapping[str, Any] | None = None) -> bool | None:
        value = (self.raw if raw is None else raw).get(name)
        if value is not None and not isinstance(value, bool):
            self.bad(name, "must be true, false or null")
            return None
        return value

    def choices(self, name: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
        value = self.raw.get(name) or []
        if not isinstance(value, list | tuple):
            self.bad(name, "must be a list")
            return ()
        unknown = [v for v in value if v not in allowed]
        for v in unknown:
            self.bad(name, f"unknown value {v!r}; use {', '.join(allowed)}")
        # Keep the vocabulary's order: the same set always reads (and hashes) the same.
        return tuple(a for a in allowed if a in value)


def _onset(check: _Checker, category: str | None, now: datetime) -> datetime | None:
    value = check.raw.get("onset_at")
    if value is None:
        if category == "illness":
            check.bad("onset_at", "required for an illness: when did the first symptom start?")
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            check.bad("onset_at", "not an ISO 8601 date and time")
            return None
    if not isinstance(value, datetime):
        check.bad("onset_at", "must be a date and time")
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        check.bad("onset_at", "needs a UTC offset (e.g. +08:00)")
        return None
    if value > now + ONSET_CLOCK_SKEW:
        check.bad("onset_at", "is in the future")
    elif value < now - ONSET_MAX_AGE:
        check.bad("onset_at", "is more than a year ago")
    return value


def _ill_persons(check: _Checker, n_ill: int | None) -> tuple[IllPerson, ...]:
    value = check.raw.get("ill_persons") or []
    if not isinstance(value, list | tuple):
        check.bad("ill_persons", "must be a list")
        return ()
    if n_ill is not None and len(value) > n_ill:
        check.bad("ill_persons", f"lists {len(value)} people but n_ill is {n_ill}")
    people = []
    for i, person in enumerate(value):
        if not isinstance(person, Mapping):
            check.bad(f"ill_persons.{i}", "must be an object with age_band and sex")
            continue
        band, sex = person.get("age_band"), person.get("sex")
        if band is not None and band not in AGE_BANDS:
            check.bad(f"ill_persons.{i}.age_band", f"use one of {', '.join(AGE_BANDS)}")
            band = None
        if sex is not None and sex not in SEXES:
            check.bad(f"ill_persons.{i}.sex", f"use one of {', '.join(SEXES)}")
            sex = None
        people.append(IllPerson(band, sex))
    return tuple(people)


def _order_ids(check: _Checker) -> tuple[int, ...]:
    value = check.raw.get("order_ids") or []
    if not isinstance(value, list | tuple):
        check.bad("order_ids", "must be a list of order ids")
        return ()
    ids: list[int] = []
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            check.bad(f"order_ids.{i}", "must be a positive order id")
        elif v not in ids:
            ids.append(v)
    if len(ids) > MAX_ORDERS:
        check.bad("order_ids", f"at most {MAX_ORDERS} orders per case")
    return tuple(sorted(ids))


def _consent(check: _Checker) -> Consent:
    raw = check.raw.get("consent") or {}
    if not isinstance(raw, Mapping):
        check.bad("consent", "must be an object of true/false flags")
        return Consent()
    known = set(Consent.__dataclass_fields__)
    for name in raw:
        if name not in known:
            check.bad(f"consent.{name}", "unknown consent flag")
    flags = {}
    for name in known:
        value = raw.get(name, False)
        if not isinstance(value, bool):
            check.bad(f"consent.{name}", "must be true or false")
            value = False
        flags[name] = value
    return Consent(**flags)


def _complainant(check: _Checker, channel: str | None) -> Complainant:
    raw = check.raw.get("complainant") or {}
    if not isinstance(raw, Mapping):
        check.bad("complainant", "must be an object")
        return Complainant()
    for name in raw:
        if name not in Complainant.__dataclass_fields__:
            check.bad(f"complainant.{name}", "unknown field")
    user_id = raw.get("user_id")
    if user_id is not None and (isinstance(user_id, bool) or not isinstance(user_id, int)):
        check.bad("complainant.user_id", "must be a user id")
        user_id = None
    texts: dict[str, str | None] = {}
    for name, limit in (("name", 120), ("phone", 32), ("email", 254)):
        value = raw.get(name)
        if value is not None and not isinstance(value, str):
            check.bad(f"complainant.{name}", "must be text")
            value = None
        value = value.strip() if value else None
        if value and len(value) > limit:
            check.bad(f"complainant.{name}", f"at most {limit} characters")
        texts[name] = value or None
    if texts["phone"] and not PHONE_RE.match(texts["phone"]):
        check.bad("complainant.phone", "not a phone number")
    if texts["email"] and not EMAIL_RE.match(texts["email"]):
        check.bad("complainant.email", "not an email address")
    if user_id is None:
        if channel == "app":
            check.bad("complainant.user_id", "an app report comes from a student account")
        elif not texts["name"]:
            check.bad("complainant.name", "required when the complainant has no account")
        elif not (texts["phone"] or texts["email"]):
            check.bad("complainant.phone", "give a phone number or an email to reply to")
    return Complainant(user_id, texts["name"], texts["phone"], texts["email"])


def validate_intake(raw: Mapping[str, Any], *, now: datetime) -> Intake:
    """An :class:`Intake` from raw values, or :class:`IntakeError` naming every bad field.

    ``now`` (tz-aware) bounds the onset: not in the future (beyond a few minutes of clock
    skew), not more than a year ago. Counts: ``n_ill`` and ``n_exposed`` never exceed
    ``n_party``; an illness defaults to one ill person.
    """
    check = _Checker(raw)
    channel = check.choice("channel", CHANNELS)
    category = check.choice("category", CATEGORIES)
    description = check.text("description", required=True)
    symptoms = check.choices("symptoms", SYMPTOMS)
    onset = _onset(check, category, now)
    n_party = check.count("n_party", 1)
    n_ill = check.count("n_ill", 1 if category == "illness" else 0)
    n_exposed = check.count("n_exposed", None)
    if n_party is not None and n_party < 1:
        check.bad("n_party", "at least 1: the complainant")
    if n_ill is not None and n_party is not None and n_ill > n_party:
        check.bad("n_ill", f"{n_ill} ill is more than the {n_party} in the party")
    if n_exposed is not None and n_party is not None and n_exposed > n_party:
        check.bad("n_exposed", f"{n_exposed} exposed is more than the {n_party} in the party")
    if category == "illness" and n_ill == 0:
        check.bad("n_ill", "an illness complaint has at least one ill person")
    ill_persons = _ill_persons(check, n_ill)
    medical_care = check.choice("medical_care", MEDICAL_CARE, default="none")
    merchant_id = check.raw.get("merchant_id")
    if merchant_id is not None and (
        isinstance(merchant_id, bool) or not isinstance(merchant_id, int) or merchant_id < 1
    ):
        check.bad("merchant_id", "must be a positive merchant id")
        merchant_id = None
    intake = Intake(
        channel=channel or "",
        category=category or "",
        description=description,
        symptoms=symptoms,
        onset_at=onset,
        n_party=n_party or 1,
        n_ill=n_ill or 0,
        n_exposed=n_exposed,
        ill_persons=ill_persons,
        medical_care=medical_care or "none",
        stool_sample=check.flag("stool_sample"),
        leftovers_kept=check.flag("leftovers_kept"),
        other_ill_contacts=check.flag("other_ill_contacts"),
        food_history=check.text("food_history"),
        order_ids=_order_ids(check),
        remedy_sought=check.choices("remedy_sought", REMEDIES),
        consent=_consent(check),
        complainant=_complainant(check, channel),
        merchant_id=merchant_id,
    )
    known = set(Intake.__dataclass_fields__)
    for name in raw:
        if name not in known:
            check.bad(name, "unknown field")
    if check.problems:
        raise IntakeError(check.problems)
    return intake
