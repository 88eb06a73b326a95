"""Food-history surveys kept for an investigation: upload, store, analyse (DOMAIN.md §4).

An upload is analysed before anything is stored, so a bad file or mapping (SurveyError, with
row/column details) leaves no trace. A good one is stored under ``<instance>/surveys/<sha256>``
with its mapping in a row whose ledger entry carries the file's digest; analyses re-read the
file and refuse it if it no longer matches that digest.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlmodel import Session, col, select

import ledger
from columns import utcnow
from complaints.attachments import store_blob
from complaints.incubation import incubation_stats, likely_agents
from complaints.models import Survey
from complaints.service import get_case
from complaints.survey import (
    SurveyError,
    SurveyMapping,
    dose_response,
    epidemic_curve,
    read_survey,
    stratified,
    survey_analysis,
    survey_onsets,
)

__all__ = [
    "SurveyAnalysis",
    "SurveyFileAltered",
    "SurveyNotFound",
    "epicurve",
    "get_survey",
    "list_surveys",
    "load_survey",
    "survey_dose_response",
    "survey_result",
    "survey_stratified",
    "upload_survey",
]


class SurveyNotFound(LookupError):
    """No survey with that id."""


class SurveyFileAltered(LookupError):
    """The stored file is missing or no longer matches the digest in the ledger."""


@dataclass(frozen=True, slots=True)
class SurveyAnalysis:
    """A stored survey with its ranked attack-rate table and respondent counts."""

    survey: Survey
    table: list[dict[str, Any]]
    summary: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        """The API answer: id, table, counts."""
        return {
            "id": self.survey.id,
            "case_id": self.survey.case_id,
            "filename": self.survey.filename,
            "sha256": self.survey.sha256,
            "table": self.table,
            "n_respondents": self.summary["respondents"],
            "n_ill": self.summary["ill"],
            "n_not_ill": self.summary["not_ill"],
            "n_missing_illness": self.summary["illness_missing"],
            "ledger_index": self.survey.ledger_index,
        }


def _mapping(raw: Mapping[str, Any], timezone: str) -> tuple[dict[str, Any], SurveyMapping]:
    if not isinstance(raw, Mapping):
        raise SurveyError(
            [{"row": None, "column": None, "reason": "the mapping must be an object"}]
        )
    stored = dict(raw)
    stored.setdefault("timezone", timezone)  # naive onsets are local to the deployment
    return stored, SurveyMapping.from_dict(stored)


def upload_survey(
    *,
    session: Session,
    data: bytes,
    filename: str,
    mapping: Mapping[str, Any],
    actor: str,
    folder: Path,
    case_id: int | None = None,
    timezone: str = "Asia/Shanghai",
    now: datetime | None = None,
) -> SurveyAnalysis:
    """Analyse a CSV/XLSX questionnaire, then store it and record it. Commits."""
    now = now or utcnow()
    stored_mapping, parsed = _mapping(mapping, timezone)
    name = Path(filename or "").name[:200]
    frame = read_survey(io.BytesIO(data), name)
    table, summary = survey_analysis(frame, parsed)
    if case_id is not None:
        get_case(session=session, case_id=case_id)
    digest = store_blob(folder, data)
    survey = Survey(
        case_id=case_id,
        filename=name,
        sha256=digest,
        size=len(data),
        mapping=stored_mapping,
        n_respondents=summary["respondents"],
        n_missing_illness=summary["illness_missing"],
        uploaded_by=actor[:40],
        uploaded_at=now,
    )
    session.add(survey)
    session.flush()
    entry = ledger.append(
        session,
        ledger.Event(
            type="complaint.survey_uploaded",
            actor=actor,
            ts=now,
            subject={"survey": survey.id, **({"case": case_id} if case_id else {})},
            payload={
                "case_id": case_id,
                "filename": name,
                "sha256": digest,
                "size": len(data),
                "mapping": stored_mapping,
                "n_respondents": summary["respondents"],
                "uploaded_at": now,
            },
        ),
    )
    survey.ledger_index = entry.index
    session.commit()
    return SurveyAnalysis(survey, table, summary)


def get_survey(*, session: Session, survey_id: int) -> Survey:
    """The survey row; raises SurveyNotFound."""
    survey = session.get(Survey, survey_id)
    if survey is None:
        raise SurveyNotFound(f"no survey {survey_id}")
    return survey


def list_surveys(*, session: Session, limit: int = 100) -> list[Survey]:
    """The newest surveys."""
    stmt = select(Survey).order_by(col(Survey.uploaded_at).desc()).limit(limit)
    return list(session.exec(stmt).all())


def load_survey(folder: Path, survey: Survey) -> tuple[pd.DataFrame, SurveyMapping]:
    """The stored questionnaire (checked against its digest) and its mapping."""
    try:
        data = (folder / survey.sha256).read_bytes()
    except FileNotFoundError:
        raise SurveyFileAltered(f"the file of survey {survey.id} is missing") from None
    if hashlib.sha256(data).hexdigest() != survey.sha256:
        raise SurveyFileAltered(f"the file of survey {survey.id} was altered")
    return read_survey(io.BytesIO(data), survey.filename), SurveyMapping.from_dict(survey.mapping)


def survey_result(folder: Path, survey: Survey) -> SurveyAnalysis:
    """The ranked table and counts of a stored survey."""
    frame, mapping = load_survey(folder, survey)
    return SurveyAnalysis(survey, *survey_analysis(frame, mapping))


def survey_stratified(folder: Path, survey: Survey, item: str, by: str) -> dict[str, Any]:
    """Mantel-Haenszel RR of ``item`` stratified by ``by`` (another item or any column)."""
    frame, mapping = load_survey(folder, survey)
    return stratified(frame, mapping, item, by)


def survey_dose_response(folder: Path, survey: Survey, item: str) -> dict[str, Any]:
    """Attack rate by portions of ``item`` with the trend test."""
    frame, mapping = load_survey(folder, survey)
    return dose_response(frame, mapping, item)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def epicurve(
    folder: Path, survey: Survey, *, bin_hours: float = 6, exposure_at: datetime | None = None
) -> dict[str, Any]:
    """Onsets of ill respondents per bin, their first/median/last time, and - given the
    common meal's time - incubation statistics and the agents whose range holds the median."""
    frame, mapping = load_survey(folder, survey)
    onsets = sorted(survey_onsets(frame, mapping))
    bins = epidemic_curve(onsets, bin_hours)
    median = None
    if onsets:
        mid = len(onsets) // 2
        median = (
            onsets[mid]
            if len(onsets) % 2
            else onsets[mid - 1] + (onsets[mid] - onsets[mid - 1]) / 2
        )
    incubation = None
    agents: list[dict[str, Any]] = []
    if exposure_at is not None:
        incubation = dict(incubation_stats([exposure_at] * len(onsets), onsets))
        agents = [
            {"id": p.id, "name": p.name, "min_hours": p.min_hours, "max_hours": p.max_hours}
            for p in likely_agents(incubation["median_hours"])
        ]
    return {
        "bin_hours": bin_hours,
        "bins": [
            {"start": _iso(b["start"]), "end": _iso(b["end"]), "cases": b["cases"]} for b in bins
        ],
        "n_onsets": len(onsets),
        "first_onset": _iso(onsets[0]) if onsets else None,
        "median_onset": _iso(median),
        "last_onset": _iso(onsets[-1]) if onsets else None,
        "exposure_at": _iso(exposure_at),
        "incubation": incubation,
        "likely_agents": agents,
        "onset_spread_hours": ((onsets[-1] - onsets[0]).total_seconds() / 3600 if onsets else None),
    }
