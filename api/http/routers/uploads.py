"""Photos and signatures from the drivers' phones (`api.services.uploads` holds the rules,
`api.storage.upload_store` the files).

- `POST /uploads` (multipart/form-data: `file`, `job_id`, `kind` = photo | signature; header
  `Idempotency-Key` recommended): 201 with the upload's id, media type, size and SHA-256; 200
  with the first upload for a retry (`Idempotent-Replay: true`). The file's first bytes decide
  its type (JPEG, PNG or WebP; anything else 422); over `FIELDROUTE_UPLOAD_MAX_BYTES` 413.
- `GET /uploads/{id}`: the bytes, with their media type, `Cache-Control: private,
  max-age=86400` (an upload never changes), `X-Content-Type-Options: nosniff` and
  `Content-Disposition: inline`: a browser shows it as the image it is, never as a page.
- `GET /jobs/{job_id}/uploads`: a job's uploads, oldest first (paginated).

Who: the driver whose crew has the job, dispatchers of its region, admins (403 for others).
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Header, HTTPException, Response, UploadFile
from fastapi import status as http_status
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.context import AppContext
from api.http.auth import require
from api.http.deps import CtxDep, SessionDep
from api.http.pages import Page, PageParams, page_params, paginate
from api.principals import OFFICE, Principal, Role
from api.services.job_rows import get_job
from api.services.uploads import (
    UploadKind,
    check_job_reporter,
    check_reader,
    store_upload,
)
from api.storage.driver_models import UploadRow
from api.storage.models import JobRow
from api.storage.upload_store import MEDIA_TYPES, read_file, upload_folder

log = logging.getLogger("api")

router = APIRouter(tags=["uploads"])

#: who may upload and read: the job's crew, and the office
UPLOADERS = (Role.DRIVER, *OFFICE)
#: an upload never changes: a phone keeps it a day without asking again
CACHE_CONTROL = "private, max-age=86400"
_BINARY = {"schema": {"type": "string", "format": "binary"}}


class UploadOut(BaseModel):
    id: str = Field(description="the upload's id (32 hex digits): name it in an event's refs")
    job_id: str
    kind: UploadKind
    media_type: str = Field(description="image/jpeg, image/png or image/webp, by its content")
    bytes: int = Field(description="the file's size")
    sha256: str = Field(description="SHA-256 of the file's bytes, hex")
    created_at: datetime = Field(description="when it was stored (local time, naive)")


def upload_out(row: UploadRow) -> UploadOut:
    return UploadOut(
        id=row.id,
        job_id=row.job_id,
        kind=UploadKind(row.kind),
        media_type=row.media_type,
        bytes=row.bytes,
        sha256=row.sha256,
        created_at=row.created_at,
    )


def _folder(ctx: AppContext) -> Path:
    """The upload folder; 503 when this server has none (see `upload_folder`)."""
    folder = upload_folder(ctx.settings)
    if folder is None:
        log.error("uploads refused: no upload folder (set FIELDROUTE_UPLOAD_DIR)")
        raise HTTPException(
            http_status.HTTP_503_SERVICE_UNAVAILABLE,
            "uploads are not set up on this server: it needs FIELDROUTE_UPLOAD_DIR",
        )
    return folder


def _read_limited(file: UploadFile, limit: int) -> bytes:
    """The file's bytes; 413 when there are more than `limit` (read no further)."""
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(
            http_status.HTTP_413_CONTENT_TOO_LARGE,
            f"the file is larger than the limit of {limit / (1024 * 1024):g} MB "
            f"({limit} bytes): send a smaller photo",
        )
    return data


@router.post(
    "/uploads",
    status_code=201,
    response_model=UploadOut,
    summary="Upload a photo or signature for a job (idempotent with Idempotency-Key)",
    responses={
        200: {
            "model": UploadOut,
            "description": "a retry (same Idempotency-Key): the first upload, "
            "`Idempotent-Replay: true`",
        }
    },
    description="multipart/form-data with `file`, `job_id` and `kind`. The file's first bytes "
    "decide its type: JPEG, PNG or WebP, whatever its name or declared type; anything else is "
    "422 (`file`: not a JPEG, PNG or WebP image), an unknown job 422 (`job_id`), a file over "
    "`FIELDROUTE_UPLOAD_MAX_BYTES` (5 MB) 413. 201 with the new upload; 200 with the first "
    "upload and `Idempotent-Replay: true` for a retry (same `Idempotency-Key` from the same "
    "crew, same file, job and kind); 422 for a key reused for another upload. The driver whose "
    "crew has the job, dispatchers of its region and admins (403 for others).",
)
def post_upload(
    response: Response,
    ctx: CtxDep,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="the image (JPEG, PNG or WebP)")],
    job_id: Annotated[str, Form(min_length=1, max_length=64, description="the job it belongs to")],
    kind: Annotated[UploadKind, Form(description="photo or signature")],
    idempotency_key: str | None = Header(
        None,
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="a unique key per upload (a UUID), repeated unchanged on retries",
    ),
    principal: Principal = Depends(require(*UPLOADERS)),
) -> UploadOut:
    folder = _folder(ctx)
    data = _read_limited(file, ctx.settings.upload_max_bytes)
    row, created = store_upload(
        session, folder, principal, job_id, kind, data, ctx.settings.now(), idempotency_key
    )
    if not created:
        response.status_code = http_status.HTTP_200_OK
        response.headers["Idempotent-Replay"] = "true"
    return upload_out(row)


@router.get(
    "/uploads/{upload_id}",
    response_class=Response,
    summary="A photo or signature's bytes",
    description="The image with its media type, `Cache-Control: private, max-age=86400`, "
    "`X-Content-Type-Options: nosniff`, `Content-Disposition: inline`. The driver whose crew "
    "has its job or uploaded it, dispatchers of the job's region, admins (403 for others).",
    responses={200: {"description": "the image", "content": dict.fromkeys(MEDIA_TYPES, _BINARY)}},
)
def read_upload(
    upload_id: str,
    ctx: CtxDep,
    session: SessionDep,
    principal: Principal = Depends(require(*UPLOADERS)),
) -> Response:
    row = session.get(UploadRow, upload_id) if len(upload_id) <= 32 else None
    if row is None:
        raise HTTPException(http_status.HTTP_404_NOT_FOUND, "no such upload")
    check_reader(principal, row, session.get_one(JobRow, row.job_id))
    folder = upload_folder(ctx.settings)
    data = read_file(folder, row.storage_key) if folder is not None else None
    if data is None:
        log.warning("upload %s has no file here (is the upload folder shared?)", row.id)
        raise HTTPException(http_status.HTTP_404_NOT_FOUND, "the upload's file is missing")
    headers = {
        "Cache-Control": CACHE_CONTROL,
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": "inline",
    }
    return Response(content=data, media_type=row.media_type, headers=headers)


@router.get(
    "/jobs/{job_id}/uploads",
    response_model=Page[UploadOut],
    summary="A job's photos and signatures, oldest first (paginated)",
)
def list_uploads(
    job_id: str,
    session: SessionDep,
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require(*UPLOADERS)),
) -> Page[UploadOut]:
    """By creation time, then id. The driver whose crew has the job, dispatchers of its
    region, admins."""
    job = get_job(session, job_id)
    check_job_reporter(principal, job)
    query = (
        select(UploadRow)
        .where(UploadRow.job_id == job_id)
        .order_by(UploadRow.created_at, UploadRow.id)
    )
    rows, total = paginate(session, query, page)
    return Page[UploadOut](
        items=[upload_out(r) for r in rows], total=total, limit=page.limit, offset=page.offset
    )
