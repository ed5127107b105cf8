"""The service's one `Settings` object: read from the environment (and `.env`), never at import.

Every knob of the service lives here, with a default that works on a laptop: an SQLite file
database in the working directory and a signing secret of this installation's own.

The token signing secret (`Settings.signing_secret`), in this order:

1. `FIELDROUTE_SECRET_KEY`, when set (32 characters or more): what a deployment with several
   servers or a PostgreSQL database sets, the same on every server;
2. the in-source `DEVELOPMENT_SECRET`, only when asked for with
   `FIELDROUTE_USE_DEVELOPMENT_SECRET=1`, only in the `development` environment, and logged as
   a warning at start-up: anyone who has read the source can mint tokens with it;
3. otherwise a secret generated on first use (`dispatch serve`, `dispatch token`) and kept in
   a file readable by its owner only (mode 0600): beside the SQLite file
   (`fieldroute.db.secret-key` for `fieldroute.db`) or `secret-key` in `FIELDROUTE_DATA_DIR`.
   Every installation has its own; `dispatch token` reads the same file as the server.
   A PostgreSQL database has no file to sit beside: name `FIELDROUTE_DATA_DIR` or set the key.

Webhook signing secrets are stored encrypted (`api.storage.webhook_secrets`) with a key
derived (HKDF-SHA256) from `FIELDROUTE_WEBHOOK_SECRET_KEY` or, unset, from the signing secret
(`Settings.webhook_key_material`); webhook targets must be global addresses unless
`webhook_allow_private` or `webhook_allowed_networks` allow more (`api.services.webhook_targets`).

Tokens (`api.http.auth`): each role has a longest lifetime (`token_max_hours_driver`,
`token_max_hours_office`); a longer one is refused when minted and when presented.

Times: the service keeps every time as a naive local time of the region it serves
(`timezone`, Asia/Shanghai by default), the same clock the planner uses. Times sent with an
offset (a phone's device time, say) are converted to it on input.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AliasChoices,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import SettingsConfigDict

from api.quote_config import QuoteConfig
from api.rules_config import RulesConfig
from api.travel_config import TravelConfig
from api.upload_config import UploadConfig
from api.web_config import WebConfig

log = logging.getLogger("api")

#: the in-source signing secret: only with `use_development_secret`, only in development
DEVELOPMENT_SECRET = "development-only-secret-change-me"
#: the shortest signing secret accepted
MIN_SECRET_LENGTH = 32
#: the generated secret's file name in `data_dir` (beside an SQLite file: `<file>.secret-key`)
SECRET_FILE_NAME = "secret-key"
#: no role's token may be configured to last longer than this (90 days); revocations of all
#: of a user's tokens are kept this long (`api.services.token_revocations`)
MAX_TOKEN_HOURS = 24 * 90
#: retention keeps customer data this many days beyond the longest guarantee window (a
#: callback asked for on the guarantee's last day, planned, visited and followed up)
RETENTION_MARGIN_DAYS = 20
#: the shortest retention period: the 180-day repair guarantee (domain.md) and that margin
MIN_RETENTION_DAYS = 200


class SecretKeyError(RuntimeError):
    """The signing secret is missing, too short, refused here or its file is unsafe."""


class Settings(QuoteConfig, RulesConfig, TravelConfig, UploadConfig, WebConfig):
    """Service configuration. Environment variables are `FIELDROUTE_<NAME>`, plus `DATABASE_URL`."""

    model_config = SettingsConfigDict(
        env_prefix="FIELDROUTE_", env_file=".env", extra="ignore", populate_by_name=True
    )

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default="sqlite:///fieldroute.db",
        validation_alias=AliasChoices("DATABASE_URL", "FIELDROUTE_DATABASE_URL", "database_url"),
        description="SQLAlchemy URL: sqlite:///FILE (default) or postgresql+psycopg://...",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="token signing key, 32+ characters; unset: the installation's generated "
        "secret (its file beside the SQLite database or in data_dir)",
    )
    data_dir: Path | None = Field(
        default=None,
        description="where the generated signing secret is kept (file `secret-key`); "
        "default: beside the SQLite file",
    )
    use_development_secret: bool = Field(
        default=False,
        description="sign with the in-source development secret (development only, warned)",
    )
    # token lifetimes (api.http.auth): the default, and the longest per role; a token that
    # would last longer is refused when minted, and when presented (401)
    token_ttl_hours: float = Field(
        default=12.0,
        gt=0,
        le=MAX_TOKEN_HOURS,
        description="lifetime of a token when none is asked for (capped by the role's longest)",
    )
    token_max_hours_driver: float = Field(
        default=72.0,
        gt=0,
        le=MAX_TOKEN_HOURS,
        description="longest lifetime of a driver's token (a phone kept signed in for a few "
        "shifts)",
    )
    token_max_hours_office: float = Field(
        default=12.0,
        gt=0,
        le=MAX_TOKEN_HOURS,
        description="longest lifetime of a dispatcher's, planner's, manager's or admin's token",
    )
    token_revocation_cache_s: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="each server process re-reads the revoked tokens this often; a revocation "
        "made elsewhere (another process, `dispatch user disable`) takes this long at most "
        "(0: on every request)",
    )
    timezone: str = Field(
        default="Asia/Shanghai",
        description="the IANA time zone of the region: every stored time is a local time of it; "
        "fixed when the database is first served and checked at every start "
        "(`api.storage.installation`)",
    )

    # planning
    plan_time_limit_s: float = Field(default=30.0, gt=0)
    plan_solution_limit: int | None = Field(default=None, gt=0)
    plan_workers: int = Field(default=0, ge=0, description="zone solves per plan (0: CPUs)")
    max_running_plans: int = Field(default=1, ge=1, description="plans solved at the same time")

    # season simulations (api.background.simulation_runner): replications run one after another in
    # the worker, or on this Dask scheduler (tcp://host:8786) when one is named
    dask_scheduler: str = Field(
        default="",
        max_length=500,
        description="Dask scheduler address for simulation replications (empty: serial)",
    )

    # input limits
    max_import_rows: int = Field(default=20_000, gt=0)
    max_body_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    page_size_max: int = Field(default=500, gt=0)

    # after-sales rules (domain.md): same fault guaranteed half a year; installs configurable
    repair_guarantee_days: int = Field(default=180, ge=0)
    installation_callback_days: int = Field(default=30, ge=0)

    # retention (api.services.retention, `dispatch retention`): customer data of jobs whose
    # last activity is older than this is anonymised. A repair is guaranteed half a year
    # (domain.md): a callback copies the original job's customer, and follow-up calls and
    # callback figures need it, so the period must outlast the guarantee by a margin
    retention_days: int = Field(
        default=365,
        ge=MIN_RETENTION_DAYS,
        le=36_500,
        description="customer data of finished jobs is anonymised this many days after the "
        "job's last activity; at least 200 and at least the repair guarantee (and the "
        "installation callback window) plus 20 days",
    )

    # webhooks
    webhook_max_attempts: int = Field(default=10, ge=1)
    webhook_backoff_s: float = Field(default=2.0, gt=0)
    webhook_backoff_max_s: float = Field(default=3600.0, gt=0)
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    webhook_poll_s: float = Field(default=1.0, gt=0)
    # where webhooks may point (api.services.webhook_targets): checked when one is registered
    # and again, on the resolved address, before every delivery
    webhook_allow_private: bool = Field(
        default=False,
        description="let webhooks reach loopback, private, link-local and other non-global "
        "addresses (a receiver on the same host or network); never the unspecified address or "
        "multicast",
    )
    webhook_allowed_networks: str = Field(
        default="",
        max_length=2000,
        description="comma-separated networks (10.20.0.0/16, fd00:1::/64, 192.168.1.5) "
        "webhooks may reach although they are not global; the narrow alternative to "
        "webhook_allow_private",
    )
    webhook_secret_key: SecretStr | None = Field(
        default=None,
        description="key (32+ characters) that encrypts webhook signing secrets at rest; "
        "unset: derived from the token signing secret (HKDF-SHA256)",
    )

    # re-plans and customer notices (api.services.notices, api.background.notice_sender)
    eta_tolerance_minutes: int = Field(
        default=30,
        ge=1,
        le=240,
        description="a customer is told again when the arrival time moves by more than this",
    )
    freeze_minutes: int = Field(
        default=60, ge=0, le=600, description="a re-plan keeps stops starting this soon as they are"
    )
    notice_webhook_url: str | None = Field(
        default=None,
        description="where customer notices are POSTed (an SMS gateway's adapter); "
        "`loopback:` (or `loopback:fail=N`) for the in-process test gateway; none: notices stay "
        "pending, visible in the API",
        pattern=r"^(https?://.+|loopback:(fail=\d+)?)$",
    )
    notice_webhook_secret: SecretStr = SecretStr("")

    # the board's map (api/http/routers/web.py): no tile URL draws routes on a plain background,
    # so air-gapped sites and the tests work offline
    #: start the plan runner and webhook sender threads with the app (tests may turn off)
    background_workers: bool = True

    # operations: logs (api.logs), compression (api.http.compression), migrations
    log_format: Literal["json", "text"] = Field(
        default="json",
        description="the service's and workers' log lines on stderr: json (one object per "
        "line) or text (for a terminal)",
    )
    log_level: Literal["debug", "info", "warning", "error", "critical"] = Field(
        default="info", description="the lowest level logged (`dispatch serve --log-level`)"
    )
    compress_responses: bool = Field(
        default=True,
        description="gzip answers of 1 KiB or more for clients that accept it",
    )
    migrate_on_start: Literal["auto"] | bool = Field(
        default="auto",
        description="upgrade the database schema when `dispatch serve`, `dispatch seed` or "
        "`dispatch user` start: auto = for an SQLite database only; otherwise run "
        "`dispatch db upgrade` once per deployment (worker processes never migrate)",
    )

    #: the resolved signing secret and where it came from (`signing_secret`), once per object
    _secret: tuple[str, str, bool] | None = PrivateAttr(default=None)

    def check_for_startup(self) -> None:
        """Resolve the signing secret (creating the installation's secret file on first start)
        and log where it comes from; `SecretKeyError` if it cannot be had. The in-source
        development secret is logged as a warning."""
        secret, origin, created = self._signing_secret()
        if secret == DEVELOPMENT_SECRET:
            log.warning(
                "DEVELOPMENT MODE: tokens are signed with the development secret in the source "
                "code; anyone who has read it can mint an admin token. Never serve real data "
                "like this (unset FIELDROUTE_USE_DEVELOPMENT_SECRET)."
            )
        elif created:
            log.warning("generated a new token signing secret in %s (mode 0600)", origin)
        else:
            log.info("token signing secret: %s", origin)

    def signing_secret(self) -> str:
        """The token signing secret (see the module's docstring), resolved once per `Settings`;
        the first call may create the installation's secret file."""
        return self._signing_secret()[0]

    def signing_secret_origin(self) -> tuple[str, bool]:
        """Where the signing secret comes from, in words, and whether it was generated now."""
        _, origin, created = self._signing_secret()
        return origin, created

    def _signing_secret(self) -> tuple[str, str, bool]:
        if self._secret is None:
            self._secret = self._resolve_secret()
        return self._secret

    def _resolve_secret(self) -> tuple[str, str, bool]:
        if self.secret_key is not None:
            value = self.secret_key.get_secret_value()
            if value == DEVELOPMENT_SECRET:
                self._check_development("FIELDROUTE_SECRET_KEY is the in-source development secret")
                return value, "the in-source development secret", False
            if len(value) < MIN_SECRET_LENGTH:
                raise SecretKeyError(
                    f"FIELDROUTE_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters "
                    "(or unset it: the installation's generated secret is used)"
                )
            return value, "FIELDROUTE_SECRET_KEY", False
        if self.use_development_secret:
            self._check_development("FIELDROUTE_USE_DEVELOPMENT_SECRET is set")
            return DEVELOPMENT_SECRET, "the in-source development secret", False
        path = self.secret_file()
        if path is None:
            raise SecretKeyError(
                "no signing secret: set FIELDROUTE_SECRET_KEY (32+ characters, the same on "
                "every server) or FIELDROUTE_DATA_DIR (a directory for a generated one); "
                "a database that is not an SQLite file has no place beside it for one"
            )
        value, created = _read_or_create_secret(path)
        return value, os.path.abspath(path), created

    def _check_development(self, why: str) -> None:
        if self.environment != "development":
            raise SecretKeyError(
                f"{why}: the development secret is refused outside development (environment "
                f"is {self.environment!r}); unset it to use the installation's own secret"
            )

    def secret_file(self) -> Path | None:
        """Where the generated signing secret is kept: `data_dir/secret-key`, or beside the
        SQLite file; None for another database (or an in-memory one) without `data_dir`."""
        if self.data_dir is not None:
            return self.data_dir / SECRET_FILE_NAME
        from sqlalchemy.engine import make_url  # lazily: `dispatch` starts fast

        url = make_url(self.database_url)
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        if url.database.startswith("file:"):
            return None
        db = Path(url.database)
        return db.with_name(f"{db.name}.{SECRET_FILE_NAME}")

    def shortest_retention_days(self) -> int:
        """The shortest `retention_days` these settings accept: 200, and the longest
        callback window (the repair guarantee, the installation window) plus a margin."""
        longest = max(self.repair_guarantee_days, self.installation_callback_days)
        return max(MIN_RETENTION_DAYS, longest + RETENTION_MARGIN_DAYS)

    @model_validator(mode="after")
    def _retention_outlasts_the_guarantee(self) -> Settings:
        needed = self.shortest_retention_days()
        if self.retention_days < needed:
            raise ValueError(
                f"retention_days ({self.retention_days}) must be at least {needed}: "
                f"{MIN_RETENTION_DAYS} days, and the longest callback window (repair "
                f"guarantee {self.repair_guarantee_days} days, installations "
                f"{self.installation_callback_days}) plus {RETENTION_MARGIN_DAYS} days: "
                "a callback copies the original job's customer"
            )
        return self

    @field_validator("timezone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ValueError, ZoneInfoNotFoundError):
            raise ValueError(
                f"{value!r} is not a time zone of the tz database (an IANA name such as "
                "Asia/Shanghai or Europe/Berlin)"
            ) from None
        return value

    @field_validator("webhook_secret_key")
    @classmethod
    def _long_webhook_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters")
        return value

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        for item in _comma_list(value):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP network (10.0.0.0/8, fd00::/8)") from None
        return value

    def webhook_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """`webhook_allowed_networks` parsed (host bits ignored: `10.1.2.3/8` is `10.0.0.0/8`)."""
        return tuple(
            ipaddress.ip_network(item, strict=False)
            for item in _comma_list(self.webhook_allowed_networks)
        )

    def webhook_key_material(self, *, create: bool = True) -> tuple[str, str]:
        """What the key encrypting webhook secrets is derived from, and its origin in words:
        `webhook_secret_key`, else the token signing secret (`signing_secret`). With
        `create=False` (migrations) no secret file is generated: `SecretKeyError` instead."""
        if self.webhook_secret_key is not None:
            return self.webhook_secret_key.get_secret_value(), "FIELDROUTE_WEBHOOK_SECRET_KEY"
        if not create and self._secret is None and self.secret_key is None:
            path = None if self.use_development_secret else self.secret_file()
            if not self.use_development_secret and (path is None or not path.exists()):
                raise SecretKeyError(
                    "no key for webhook secrets: set FIELDROUTE_WEBHOOK_SECRET_KEY or "
                    "FIELDROUTE_SECRET_KEY (as the service has them), or FIELDROUTE_DATA_DIR / "
                    "DATABASE_URL so that the installation's secret file is found"
                    + (f" (no file {path})" if path is not None else "")
                )
        secret, origin, _ = self._signing_secret()
        return secret, f"the token signing secret ({origin})"

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _lower_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    def migrates_on_start(self) -> bool:
        """Whether `dispatch serve` (and `seed`, `user`) upgrade the schema when they start:
        `migrate_on_start`, where `auto` is yes for an SQLite database (one host, the README's
        two commands) and no for PostgreSQL (a deployment runs `dispatch db upgrade` once)."""
        if self.migrate_on_start == "auto":
            return self.database_url.startswith("sqlite")
        return bool(self.migrate_on_start)

    def token_max_hours(self, role: str) -> float:
        """The longest lifetime of a token of `role` (an `api.principals.Role` value)."""
        return self.token_max_hours_driver if role == "driver" else self.token_max_hours_office

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def now(self) -> datetime:
        """The region's local time now, naive (the service's one clock)."""
        return datetime.now(self.tz).replace(tzinfo=None, microsecond=0)

    def precise_now(self) -> datetime:
        """`now` to the microsecond: the moment of a revocation, compared with tokens' issue
        times (a token issued in the same second, just after, must stay valid)."""
        return datetime.now(self.tz).replace(tzinfo=None)

    def local_from_timestamp(self, timestamp: float) -> datetime:
        """A POSIX timestamp (a token's `iat`, `exp`) as the region's naive local time."""
        return datetime.fromtimestamp(timestamp, UTC).astimezone(self.tz).replace(tzinfo=None)

    def local(self, moment: datetime) -> datetime:
        """A client-sent time in the region's naive local time (naive input is taken as local)."""
        if moment.tzinfo is None:
            return moment
        return moment.astimezone(self.tz).replace(tzinfo=None)


def _comma_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _read_or_create_secret(path: Path) -> tuple[str, bool]:
    """The secret in `path`, or a new random one written there (mode 0600); and whether it
    was made now. Made in a temporary file and linked into place, so servers starting at
    once agree on one secret and nobody reads a half-written file."""
    try:
        return _read_secret(path), False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_urlsafe(48)  # 384 bits
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            os.chmod(temporary, 0o600)  # whatever the umask left
            out.write(value + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:  # another process made it first: use that one
            return _read_secret(path), False
    finally:
        temporary.unlink(missing_ok=True)
    return value, True


def _read_secret(path: Path) -> str:
    """The secret kept in `path`; `SecretKeyError` if others may read it or it is too short."""
    mode = path.stat().st_mode & 0o777
    if os.name == "posix" and mode & 0o077:
        raise SecretKeyError(
            f"the signing secret file {path} may be read by others (mode {mode:04o}): "
            f"run `chmod 600 {path}`"
        )
    value = path.read_text(encoding="utf-8", errors="replace").strip()
    if len(value) < MIN_SECRET_LENGTH:
        raise SecretKeyError(
            f"the signing secret file {path} holds no secret of {MIN_SECRET_LENGTH}+ "
            "characters; delete it to have a new one made (tokens signed with it stop working)"
        )
    return value
