"""Photos attached to a case: checked by their magic bytes, stored by SHA-256, digest in the
ledger.

Files live under ``<instance>/attachments/<sha256>`` (content-addressed: the same photo sent
twice is stored once; a file that no longer matches its name is refused when read).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import datetime
from pathlib import Path, PurePath

from sqlmodel import Session, col, select

import ledger
from columns import utcnow
from complaints import records
from complaints.models import Attachment
from complaints.service import get_case

__all__ = [
    "MAX_ATTACHMENT_BYTES",
    "AttachmentError",
    "AttachmentNotFound",
    "add_attachment",
    "get_attachment",
    "list_attachments",
    "read_attachment",
    "sniff_image",
    "store_blob",
]

MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024  # issue 7: photos of at most 5 MB each
MEDIA_TYPES = ("image/jpeg", "image/png", "image/webp")


class AttachmentError(ValueError):
    """An upload that is not an accepted photo; ``field`` is the form field."""

    field = "file"


class AttachmentTooLarge(AttachmentError):
    """An upload over the size limit."""


class AttachmentNotFound(LookupError):
    """No such attachment on this case, or its file is gone or altered."""


def sniff_image(data: bytes) -> str:
    """The media type from the file's first bytes: JPEG, PNG or WebP; anything else refused."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise AttachmentError("the file is not a JPEG, PNG or WebP image")


def store_blob(folder: Path, data: bytes) -> str:
    """Write bytes under ``folder/<sha256>`` atomically (once); returns the hex digest."""
    digest = hashlib.sha256(data).hexdigest()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / digest
    if not target.exists():
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return digest


def add_attachment(
    *,
    session: Session,
    case_id: int,
    data: bytes,
    filename: str,
    actor: str,
    folder: Path,
    visible: bool = False,
    now: datetime | None = None,
) -> Attachment:
    """Check and store a photo, record it on the case's timeline and in the ledger. Commits."""
    now = now or utcnow()
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise AttachmentTooLarge(f"a photo is at most {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB")
    if not data:
        raise AttachmentError("the file is empty")
    media_type = sniff_image(data)
    case = get_case(session=session, case_id=case_id)
    digest = store_blob(folder, data)
    name = PurePath(filename or "").name.strip()[:200]
    attachment = Attachment(
        case_id=case_id,
        sha256=digest,
        media_type=media_type,
        size=len(data),
        filename=name,
        uploaded_by=actor[:40],
        uploaded_at=now,
    )
    session.add(attachment)
    session.flush()
    event = records.add_event(
        session, case, kind="attachment", actor=actor, at=now, body=digest, visible=visible
    )
    written = ledger.append(
        session,
        records.entry(
            "complaint.attachment_added",
            actor=actor,
            at=now,
            subject={"case": case_id, "event": event.id, "attachment": attachment.id},
            payload={
                "sha256": digest,
                "media_type": media_type,
                "size": len(data),
                "filename": name,
                **records.event_payload(event),
            },
        ),
    )
    attachment.ledger_index = event.ledger_index = written.index
    session.commit()
    return attachment


def list_attachments(*, session: Session, case_id: int) -> list[Attachment]:
    """The case's photos, oldest first."""
    stmt = select(Attachment).where(Attachment.case_id == case_id).order_by(col(Attachment.id))
    return list(session.exec(stmt).all())


def get_attachment(*, session: Session, case_id: int, attachment_id: int) -> Attachment:
    """One photo of the case; raises AttachmentNotFound."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is None or attachment.case_id != case_id:
        raise AttachmentNotFound(f"no attachment {attachment_id} on case {case_id}")
    return attachment


def read_attachment(folder: Path, attachment: Attachment) -> bytes:
    """The stored bytes, checked against the recorded SHA-256."""
    path = folder / attachment.sha256
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise AttachmentNotFound(f"the file of attachment {attachment.id} is missing") from None
    if hashlib.sha256(data).hexdigest() != attachment.sha256:
        raise AttachmentNotFound(f"the file of attachment {attachment.id} was altered")
    return data
