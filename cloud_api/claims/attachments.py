"""Attachments of a claim: checked before they are kept. Rules:

* The type is one of a short list (JPEG, PNG, PDF, MP4, plain text), declared by the request's
  Content-Type and confirmed by the file's first bytes (a file that claims to be a PNG and is
  not is refused, 415): nothing is kept that a browser or a viewer would take for something
  else.
* The size is bounded (``ROBOCOVER_ATTACHMENT_MAX_BYTES``, and the API's body limit before it);
  an empty file is refused.
* The file name is kept for display only, reduced to safe characters; the bytes are stored
  under a key of ours.
* The policyholder (its own tenant's claims) and adjusters attach; a closed claim takes none.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from cloud_api.access.roles import Principal
from cloud_api.claims import repository
from cloud_api.claims.service import actor_of, event, get
from cloud_api.claims.storage import AttachmentStore
from cloud_api.errors import AppError, ConflictError, NotFoundError, UnprocessableError
from database.models import ClaimAttachment, ClaimStatus

MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "application/pdf": (b"%PDF-",),
}


class UnsupportedMediaTypeError(AppError):
    status, title = 415, "Unsupported media type"


def _confirmed(content_type: str, data: bytes) -> bool:
    if content_type in MAGIC:
        return data.startswith(MAGIC[content_type])
    if content_type == "video/mp4":
        return data[4:8] == b"ftyp"
    if content_type == "text/plain":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return "\x00" not in text
    return False


def safe_name(filename: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._ -]", "_", filename.replace("\\", "/").rsplit("/", 1)[-1])
    name = name.strip(" .") or "attachment"
    return name[:200]


def attach(
    session: Session,
    store: AttachmentStore,
    principal: Principal,
    claim_id: uuid.UUID,
    *,
    upload: tuple[str, str, bytes],
    max_bytes: int,
    now: datetime,
) -> ClaimAttachment:
    """``upload``: (file name, declared content type, bytes)."""
    filename, declared, data = upload
    claim = get(session, principal, claim_id)
    if claim.status == ClaimStatus.CLOSED:
        raise ConflictError("a closed claim takes no attachment: reopen it")
    content_type = declared.split(";", 1)[0].strip().lower()
    if content_type not in {*MAGIC, "video/mp4", "text/plain"}:
        raise UnsupportedMediaTypeError(
            f"{content_type!r} is not taken: JPEG, PNG, PDF, MP4 or plain text"
        )
    if not data:
        raise UnprocessableError("the file is empty")
    if len(data) > max_bytes:
        raise UnprocessableError(f"the file has {len(data)} bytes: at most {max_bytes}")
    if not _confirmed(content_type, data):
        raise UnsupportedMediaTypeError(f"the file is not the {content_type} it says it is")
    attachment_id = uuid.uuid4()
    key = f"{claim.id}/{attachment_id}"
    row = ClaimAttachment(
        id=attachment_id,
        claim_id=claim.id,
        filename=safe_name(filename),
        content_type=content_type,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).digest(),
        storage_key=key,
        uploaded_by=actor_of(principal),
        uploaded_at=now,
    )
    store.put(key, data)  # a row without its bytes would be worse than bytes without a row
    repository.add(session, row)
    event(
        session,
        principal,
        claim,
        now,
        kind="attachment",
        detail={"attachment_id": str(row.id), "filename": row.filename, "bytes": len(data)},
    )
    return row


def read(
    session: Session,
    store: AttachmentStore,
    principal: Principal,
    claim_id: uuid.UUID,
    attachment_id: uuid.UUID,
) -> tuple[ClaimAttachment, bytes]:
    claim = get(session, principal, claim_id)
    row = repository.attachment(session, claim.id, attachment_id)
    if row is None:
        raise NotFoundError(f"no attachment {attachment_id}")
    data = store.get(row.storage_key)
    if hashlib.sha256(data).digest() != row.sha256:
        raise ConflictError("the stored file no longer matches its SHA-256")
    return row, data
