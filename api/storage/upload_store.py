"""The files behind the `uploads` rows: where they live, what their bytes are, and writing,
reading and deleting them.

**Where** (`upload_folder`): `FIELDROUTE_UPLOAD_DIR`; unset, the folder `uploads` in
`FIELDROUTE_DATA_DIR`, else beside the SQLite file (`fieldroute.db.uploads` for
`fieldroute.db`, as the signing secret's file); a PostgreSQL database without either has no
folder and uploads are refused until one is set. Several hosts serving one database must
share the folder (a network mount): a file written by one host is read by all.

**Names**: a file is named by its row's id (32 hex digits, `uuid4`), never by the client's
file name, in a sub-folder of the id's first two digits (`ab/ab12...`, so no folder holds
more than a few thousand files); `storage_key` is that relative path and is checked against
its pattern before use, so a row can never point outside the folder. Folders are made mode
0700, files 0600 (photos may show customers' homes).

**What** (`sniff_media_type`): the first bytes decide, never the name or the declared type:
JPEG `FF D8 FF`, PNG `89 50 4E 47 0D 0A 1A 0A`, WebP `RIFF....WEBP`.

**Writing** goes to a temporary file in the same folder, flushed to disk, then renamed into
place: a reader never sees half a file, and a crash leaves at most a stray temporary file.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from api.settings import SECRET_FILE_NAME, Settings

#: the folder's name in `data_dir` (and the suffix beside an SQLite file)
UPLOAD_FOLDER_NAME = "uploads"
#: the media types taken, by their first bytes
JPEG, PNG, WEBP = "image/jpeg", "image/png", "image/webp"
MEDIA_TYPES = (JPEG, PNG, WEBP)
_KEY = re.compile(r"[0-9a-f]{2}/[0-9a-f]{32}")


def upload_folder(settings: Settings) -> Path | None:
    """The folder upload files are kept in (see the module docstring); None when there is
    none (a PostgreSQL database without `upload_dir` or `data_dir`)."""
    if settings.upload_dir is not None:
        return settings.upload_dir
    if settings.data_dir is not None:
        return settings.data_dir / UPLOAD_FOLDER_NAME
    secret = settings.secret_file()  # beside the SQLite file, or None
    if secret is None:
        return None
    stem = secret.name.removesuffix(SECRET_FILE_NAME)
    return secret.with_name(f"{stem}{UPLOAD_FOLDER_NAME}")


def sniff_media_type(data: bytes) -> str | None:
    """The image type `data` starts like (JPEG, PNG or WebP); None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    return None


def storage_key(upload_id: str) -> str:
    """The file's path in the folder: `<first two digits>/<id>`."""
    key = f"{upload_id[:2]}/{upload_id}"
    if not _KEY.fullmatch(key):
        raise ValueError("an upload id is 32 lowercase hex digits")
    return key


def _path(folder: Path, key: str) -> Path:
    if not _KEY.fullmatch(key):  # a row can never point outside the folder
        raise ValueError("not an upload storage key")
    return folder / key


def write_file(folder: Path, key: str, data: bytes) -> None:
    """Store `data` at `key` in `folder` (mode 0600, flushed to disk before it appears)."""
    path = _path(folder, key)
    for parent in (folder, path.parent):
        parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            os.chmod(temporary, 0o600)  # whatever the umask left
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def read_file(folder: Path, key: str) -> bytes | None:
    """The bytes stored at `key`; None when the file is missing (deleted, or written on a
    host whose folder this one does not share)."""
    try:
        return _path(folder, key).read_bytes()
    except FileNotFoundError:
        return None


def delete_file(folder: Path, key: str) -> bool:
    """Delete the file at `key`; whether there was one."""
    try:
        _path(folder, key).unlink()
    except FileNotFoundError:
        return False
    return True
