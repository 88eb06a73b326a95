"""The report's machine-readable evidence: one JSON document holding, per cited record, a
ledger proof bundle (`ledger/verify_proof.py` format), and its check after the fact.

Pure: no database. `bundle_document` assembles the attachment, `qr_payload` names it by its
SHA-256, `extract` pulls it back out of a PDF, and `check` verifies every record's bundle
against the log's published key (never the key the document itself carries).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from ledger.verify_proof import InvalidProof, verify_bundle

FORMAT = "foodtrace-report-proofs/1"
ATTACHMENT = "report-proofs.json"


class NotAReport(ValueError):
    """The upload is neither a Foodtrace report PDF nor its proof document."""


@dataclass(frozen=True, slots=True)
class RecordCheck:
    label: str
    index: int | None
    ok: bool
    message: str


def bundle_document(
    *, report: dict[str, Any], records: Sequence[tuple[str, dict[str, Any]]]
) -> bytes:
    """The attachment: report identity and [{label, index, bundle}] as sorted, compact JSON."""
    doc = {
        "format": FORMAT,
        "report": report,
        "records": [
            {"label": label, "index": bundle["index"], "bundle": bundle}
            for label, bundle in records
        ],
    }
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def qr_payload(*, number: str, version: int, language: str, document: bytes) -> str:
    """What the cover's QR code says: the report and the SHA-256 of its proof document."""
    digest = hashlib.sha256(document).hexdigest()
    return f"foodtrace-report:{number};v={version};lang={language};proofs-sha256={digest}"


def extract(upload: bytes) -> bytes:
    """The proof document from a report PDF, or the upload itself when it is the JSON."""
    if upload.lstrip()[:1] == b"{":
        return upload
    if not upload.startswith(b"%PDF"):
        raise NotAReport("upload a report PDF or its report-proofs.json")
    try:
        attachments = PdfReader(io.BytesIO(upload)).attachments
        found = attachments.get(ATTACHMENT)
    except (PdfReadError, ValueError, KeyError) as exc:
        raise NotAReport(f"the PDF cannot be read: {exc}") from exc
    if not found:
        raise NotAReport(f"the PDF carries no {ATTACHMENT} attachment")
    return found[0]


def check(
    document: bytes, public_key: Ed25519PublicKey
) -> tuple[dict[str, Any], list[RecordCheck]]:
    """The report identity and, per cited record, whether its proof verifies under the key."""
    try:
        doc = json.loads(document)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotAReport(f"the proof document is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise NotAReport(f"not a {FORMAT} document")
    records = doc.get("records")
    if not isinstance(records, list):
        raise NotAReport("the proof document lists no records")
    results = []
    for item in records:
        item = item if isinstance(item, dict) else {}
        label, bundle = str(item.get("label", "?")), item.get("bundle")
        index = item.get("index") if isinstance(item.get("index"), int) else None
        try:
            if not isinstance(bundle, dict):
                raise InvalidProof("no bundle")
            if bundle.get("index") != index:
                raise InvalidProof("the listed index differs from the bundle's")
            results.append(RecordCheck(label, index, True, verify_bundle(bundle, public_key)))
        except (InvalidProof, ValueError, TypeError) as exc:
            results.append(RecordCheck(label, index, False, f"FAILED: {exc}"))
    report = doc.get("report") if isinstance(doc.get("report"), dict) else {}
    return report, results
