"""Photos and signatures from the road: who may upload and read them, storing one (once, however
often the phone retries), the references job events make to them, and deleting them.

The phone uploads first (`POST /uploads`, one file per request) and then posts the event that
names the uploads (`signature_ref`, `photo_refs`: upload ids), so an event queued offline is
sent after its uploads. A reference must be an upload of the same job, of the right kind
(`check_event_refs`); anything else is refused, naming the field.

- **Who**: the driver whose crew has the job (the crew it is assigned to on the published
  plan: the same rule as for reporting events, `check_job_reporter`), dispatchers of the
  job's region, admins. Reading: also the driver whose crew uploaded it (the job may have
  moved to another crew since).
- **Idempotent**: with an `Idempotency-Key`, the same key from the same crew (a driver) or
  the same subject (the office) finds the first upload again instead of storing a second one
  (`idempotency_scope`); the same key with another file, job or kind is refused.
- **Storing**: the file is written first (`api.storage.upload_store`), then the row committed;
  if the commit fails (a concurrent retry committed first) the file is deleted again. A crash
  between the two leaves an unreferenced file, never a row without its file.
- **Deleting** (`delete_job_uploads`, retention): files first, then the rows with the batch's
  commit: a run interrupted in between leaves rows whose files are gone, which the next run
  deletes; never a photo nobody can find to delete.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.principals import Forbidden, Principal, Role, check_region
from api.services.errors import Unprocessable
from api.storage.driver_models import UploadRow
from api.storage.models import JobRow
from api.storage.upload_store import (
    delete_file,
    sniff_media_type,
    storage_key,
    write_file,
)
from dispatch.errors import InputError, InputErrors

#: the refusal of a file that is not one of the images taken
NOT_AN_IMAGE = "not a JPEG, PNG or WebP image (checked by its content)"
#: the refusal of an event reference that is not an upload of the event's job
NOT_AN_UPLOAD = (
    "is not an upload of this job: upload the file first (POST /uploads) and send the id it answers"
)


class UploadKind(StrEnum):
    PHOTO = "photo"
    SIGNATURE = "signature"


def check_job_reporter(principal: Principal, job: JobRow) -> None:
    """A driver reports on (and uploads for) only his own crew's jobs, the crew the job is
    assigned to; a region-bound dispatcher only his regions' jobs (`Forbidden`, 403)."""
    check_region(principal, job.region)
    if principal.role is Role.DRIVER and (job.crew_id is None or job.crew_id != principal.crew_id):
        raise Forbidden("a driver may only report on, or upload for, his own crew's jobs")


def check_reader(principal: Principal, upload: UploadRow, job: JobRow) -> None:
    """Who may see an upload: dispatchers of its job's region and admins, the driver whose
    crew has the job or uploaded it (`Forbidden` for the others)."""
    check_region(principal, job.region)
    if principal.role is Role.DRIVER and principal.crew_id not in (upload.crew_id, job.crew_id):
        raise Forbidden("a driver may only see his own crew's photos and signatures")


def idempotency_scope(principal: Principal) -> str:
    """Whose `Idempotency-Key`s one key is unique among: a driver's crew (any phone of the
    crew, whoever signed in), else the subject."""
    if principal.role is Role.DRIVER and principal.crew_id:
        return f"crew:{principal.crew_id}"
    return f"user:{principal.subject}"[:120]


def _find(session: Session, scope: str, key: str) -> UploadRow | None:
    return session.scalar(
        select(UploadRow).where(
            UploadRow.idempotency_scope == scope, UploadRow.idempotency_key == key
        )
    )


def _replay(found: UploadRow, job_id: str, kind: UploadKind, digest: str) -> UploadRow:
    """The upload stored under the same key, if this request is its retry (else 422)."""
    if (found.job_id, found.kind, found.sha256) != (job_id, kind.value, digest):
        raise Unprocessable(
            "the Idempotency-Key was already used for a different upload",
            ["a retry must send the same file, job and kind; a new upload needs a new key"],
        )
    return found


def store_upload(
    session: Session,
    folder: Path,
    principal: Principal,
    job_id: str,
    kind: UploadKind,
    data: bytes,
    now: datetime,
    key: str | None = None,
) -> tuple[UploadRow, bool]:
    """Store a photo or signature for `job_id` (committed); the row and whether it is new
    (False: a retry with the same `key`, answered with the first upload).

    Refuses an unknown job or an empty file or one that is no image (`InputError` naming
    `job_id` or `file`), a job the caller may not upload for (`Forbidden`), a key reused for
    another upload (`Unprocessable`). The size is the caller's to check (it reads the body).
    """
    job = session.get(JobRow, job_id)
    if job is None:
        raise InputError("upload", "job_id", "no such job")
    check_job_reporter(principal, job)
    digest = hashlib.sha256(data).hexdigest()
    scope = idempotency_scope(principal)
    if key is not None and (found := _find(session, scope, key)) is not None:
        return _replay(found, job_id, kind, digest), False
    if not data:
        raise InputError("upload", "file", "is empty")
    media_type = sniff_media_type(data)
    if media_type is None:
        raise InputError("upload", "file", NOT_AN_IMAGE)
    upload_id = uuid.uuid4().hex
    row = UploadRow(
        id=upload_id,
        job_id=job_id,
        kind=kind.value,
        media_type=media_type,
        bytes=len(data),
        sha256=digest,
        storage_key=storage_key(upload_id),
        uploaded_by=principal.subject,
        crew_id=principal.crew_id if principal.role is Role.DRIVER else None,
        created_at=now,
        idempotency_scope=scope if key is not None else None,
        idempotency_key=key,
    )
    write_file(folder, row.storage_key, data)
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        # the same key committed meanwhile (the phone retried while this was on its way)
        session.rollback()
        delete_file(folder, row.storage_key)
        found = _find(session, scope, key) if key is not None else None
        if found is None:
            raise
        return _replay(found, job_id, kind, digest), False
    except BaseException:
        session.rollback()
        delete_file(folder, row.storage_key)
        raise
    return row, True


def check_event_refs(
    session: Session, job_id: str, signature_ref: str | None, photo_refs: Sequence[str]
) -> None:
    """An event's `signature_ref` must be a signature, and each of its `photo_refs` a photo,
    uploaded for the same job; every offending field is named (`photo_refs[1]`), never the
    value sent (`InputErrors`)."""
    wanted = [("signature_ref", signature_ref, UploadKind.SIGNATURE)] if signature_ref else []
    wanted += [(f"photo_refs[{i}]", ref, UploadKind.PHOTO) for i, ref in enumerate(photo_refs)]
    if not wanted:
        return
    ids = sorted({ref for _, ref, _ in wanted})
    rows = {r.id: r for r in session.scalars(select(UploadRow).where(UploadRow.id.in_(ids)))}
    errors = []
    for field, ref, kind in wanted:
        row = rows.get(ref)
        if row is None or row.job_id != job_id:
            errors.append(InputError("event", field, NOT_AN_UPLOAD))
        elif row.kind != kind.value:
            errors.append(InputError("event", field, f"is a {row.kind} upload, not a {kind}"))
    if errors:
        raise InputErrors(errors)


def delete_job_uploads(
    session: Session, folder: Path | None, job_ids: Sequence[str], *, files: bool = True
) -> int:
    """Delete the uploads of `job_ids`: their files (unless `files` is False: a dry run), then
    their rows (flushed, committed by the caller). How many rows."""
    rows = list(session.scalars(select(UploadRow).where(UploadRow.job_id.in_(list(job_ids)))))
    for row in rows:
        if files and folder is not None:
            delete_file(folder, row.storage_key)
        session.delete(row)
    session.flush()
    return len(rows)
