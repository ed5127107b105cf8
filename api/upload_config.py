"""The service's upload settings: where the drivers' photos and signatures are kept and how large
one may be. A base class of `api.settings.Settings` (its fields are `Settings`' own:
`FIELDROUTE_UPLOAD_DIR`, `FIELDROUTE_UPLOAD_MAX_BYTES`), kept apart so the settings module
stays readable.

* `upload_dir`: the folder upload files are written to (mode 0700, files 0600). Unset: the
  folder `uploads` in `FIELDROUTE_DATA_DIR`, else beside the SQLite file (`fieldroute.db.uploads`
  for `fieldroute.db`, as the signing secret's file sits beside it); a PostgreSQL database
  without either has none, and uploads are refused until one is set
  (`api.storage.upload_store.upload_folder`). Several hosts must share one folder.
* `upload_max_bytes`: the largest file taken (5 MiB); larger is a 413. The request body limit
  (`FIELDROUTE_MAX_BODY_BYTES`, 20 MiB) applies first.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings

#: the largest upload by default: 5 MiB, enough for a phone photo resized by the app
DEFAULT_UPLOAD_MAX_BYTES = 5 * 1024 * 1024


class UploadConfig(BaseSettings):
    """The upload fields of `api.settings.Settings` (see the module docstring)."""

    upload_dir: Path | None = Field(
        default=None,
        description="folder the drivers' photos and signatures are stored in (shared by every "
        "host); unset: `uploads` in data_dir, or beside the SQLite file",
    )
    upload_max_bytes: int = Field(
        default=DEFAULT_UPLOAD_MAX_BYTES,
        gt=0,
        le=1024 * 1024 * 1024,
        description="the largest photo or signature taken, in bytes (larger: 413)",
    )
